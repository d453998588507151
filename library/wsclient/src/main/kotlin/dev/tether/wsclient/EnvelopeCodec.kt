package dev.tether.wsclient

import java.time.OffsetDateTime

/**
 * Hand-written envelope encoder and decoder (no reflection, no intermediate tree).
 *
 * The output is what Go's `encoding/json` writes for the upstream `frames.Envelope`; the input rules are those of
 * `encoding/json` decoding into that struct. Payloads are copied token by token, so key order, number spelling
 * and string escapes survive unchanged; whitespace is dropped and Go's HTML escaping is applied inside strings,
 * which makes the stored payload identical to its wire form (encoding just copies it).
 */
internal object EnvelopeCodec {
    const val MAX_DEPTH: Int = 512

    // ------------------------------------------------------------------------------------------------- encoding

    fun encode(e: Envelope): String {
        val payload = e.payload
        val sb = StringBuilder(
            48 + e.kind.length + (e.id?.length ?: 0) + (e.inReplyTo?.length ?: 0) + (payload?.length ?: 0) +
                (e.targetAspect?.length ?: 0) + 64,
        )
        sb.append("{\"kind\":")
        GoJson.appendString(sb, e.kind)
        e.id?.let {
            sb.append(",\"id\":")
            GoJson.appendString(sb, it)
        }
        e.inReplyTo?.let {
            sb.append(",\"in_reply_to\":")
            GoJson.appendString(sb, it)
        }
        sb.append(",\"ts\":\"")
        GoTime.appendTs(sb, e.ts)
        sb.append('"')
        if (payload != null) sb.append(",\"payload\":").append(payload) // stored exactly as written
        e.targetAspect?.let {
            sb.append(",\"target_aspect\":")
            GoJson.appendString(sb, it)
        }
        sb.append('}')
        return sb.toString()
    }

    // ------------------------------------------------------------------------------------------------- decoding

    fun decode(text: String): Envelope = try {
        JsonScanner(text).readEnvelope()
    } catch (e: JsonSyntaxError) {
        throw MalformedEnvelopeException("malformed envelope: ${e.message}")
    }

    /**
     * Validates [json] as exactly one JSON value and returns it as it is written on the wire: without whitespace
     * and with Go's HTML escaping inside strings (`<`, `>`, `&`, U+2028, U+2029 as `\u003c` and so on); key
     * order, numbers and existing escapes unchanged. Nesting is limited so that the payload, placed in an
     * envelope, stays within [MAX_DEPTH].
     */
    fun compactPayload(json: String): String = try {
        JsonScanner(json).readStandalonePayload()
    } catch (e: JsonSyntaxError) {
        throw IllegalArgumentException("invalid payload JSON: ${e.message}")
    }

    private const val F_UNKNOWN = 0
    private const val F_KIND = 1
    private const val F_ID = 2
    private const val F_IN_REPLY_TO = 3
    private const val F_TS = 4
    private const val F_PAYLOAD = 5
    private const val F_TARGET_ASPECT = 6

    /**
     * Which envelope field the key `s[from, to)` names (escapes already resolved), matching like `encoding/json`:
     * exact, else Unicode simple case folding.
     */
    private fun fieldOf(s: String, from: Int, to: Int): Int = when (to - from) {
        2 -> if (foldEquals(s, from, "id")) {
            F_ID
        } else if (foldEquals(s, from, "ts")) {
            F_TS
        } else {
            F_UNKNOWN
        }

        4 -> if (foldEquals(s, from, "kind")) F_KIND else F_UNKNOWN

        7 -> if (foldEquals(s, from, "payload")) F_PAYLOAD else F_UNKNOWN

        11 -> if (foldEquals(s, from, "in_reply_to")) F_IN_REPLY_TO else F_UNKNOWN

        13 -> if (foldEquals(s, from, "target_aspect")) F_TARGET_ASPECT else F_UNKNOWN

        else -> F_UNKNOWN
    }

    /**
     * [name] is lower-case ASCII, as long as the key at `s[from]`. The simple case folding orbit of an ASCII letter
     * is its other case, plus KELVIN SIGN for `k` and LATIN SMALL LETTER LONG S for `s` (both one UTF-16 unit).
     */
    private fun foldEquals(s: String, from: Int, name: String): Boolean {
        for (i in name.indices) {
            val k = s[from + i]
            val c = name[i]
            if (k == c) continue
            if (c in 'a'..'z' && k == c - 32) continue
            if (c == 'k' && k == '\u212A') continue
            if (c == 's' && k == '\u017F') continue
            return false
        }
        return true
    }

    // Envelope fields read off the scanner: the one place that knows what an envelope holds.

    private fun JsonScanner.readEnvelope(): Envelope {
        skipWs()
        if (pos >= n) unexpectedEnd()
        var kind: String? = null
        var id: String? = null
        var inReplyTo: String? = null
        var ts: OffsetDateTime? = null
        var payload: String? = null
        var targetAspect: String? = null
        when (s[pos]) {
            '{' -> {
                pos++
                skipWs()
                if (pos < n && s[pos] == '}') {
                    pos++
                } else {
                    while (true) {
                        if (pos >= n) unexpectedEnd()
                        if (s[pos] != '"') {
                            fail("invalid character ${describe(s[pos])} looking for beginning of object key string")
                        }
                        val field = readKeyField()
                        skipWs()
                        expectColon()
                        skipWs()
                        when (field) {
                            // JSON null leaves a field as it was (Go ignores null for strings and time.Time)
                            F_KIND -> kind = readStringField("kind") ?: kind

                            F_ID -> id = readStringField("id") ?: id

                            F_IN_REPLY_TO -> inReplyTo = readStringField("in_reply_to") ?: inReplyTo

                            F_TARGET_ASPECT -> targetAspect = readStringField("target_aspect") ?: targetAspect

                            F_TS -> ts = readTsField() ?: ts

                            F_PAYLOAD -> payload = readPayload()

                            else -> copyValue(null, 1)
                        }
                        skipWs()
                        if (pos >= n) unexpectedEnd()
                        val c = s[pos]
                        if (c == ',') {
                            pos++
                            skipWs()
                        } else if (c == '}') {
                            pos++
                            break
                        } else {
                            fail("invalid character ${describe(c)} after object key:value pair")
                        }
                    }
                }
            }

            'n' -> readLiteral("null")

            // Go: decoding null into the struct leaves it empty -> missing kind
            else -> {
                val what = valueName(s[pos])
                copyValue(null, 0)
                expectEnd()
                throw JsonSyntaxError("expected a JSON object, found $what")
            }
        }
        expectEnd()
        val k = kind
        if (k.isNullOrEmpty()) throw JsonSyntaxError("missing kind")
        return Envelope.trusted(k, id, inReplyTo, ts ?: Envelope.ZERO_TIME, payload, targetAspect)
    }

    /**
     * The field the object key at [pos] names. A key without escapes (every key a peer normally sends) is
     * matched where it stands; only an escaped one is unescaped into a string first.
     */
    private fun JsonScanner.readKeyField(): Int {
        val start = pos + 1
        var i = start
        while (i < n) {
            val c = s[i]
            if (c == '"') {
                pos = i + 1
                return fieldOf(s, start, i)
            }
            if (c == '\\' || c < ' ' || c.isSurrogate()) break
            i++
        }
        val key = readString()
        return fieldOf(key, 0, key.length)
    }

    /** A string field; JSON `null` returns null (the field keeps its value, as in Go). */
    private fun JsonScanner.readStringField(name: String): String? {
        if (pos >= n) unexpectedEnd()
        return when (s[pos]) {
            '"' -> readString()

            'n' -> {
                readLiteral("null")
                null
            }

            else -> typeMismatch(name, "a string")
        }
    }

    private fun JsonScanner.readTsField(): OffsetDateTime? {
        if (pos >= n) unexpectedEnd()
        return when (s[pos]) {
            '"' -> {
                // A time has no escapes in practice: parse it where it stands, else unescape it first.
                val start = pos + 1
                var i = start
                while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= ' ' && !s[i].isSurrogate()) i++
                if (i < n && s[i] == '"') {
                    pos = i + 1
                    GoTime.parseTs(s, start, i)
                } else {
                    GoTime.parseTs(readString())
                }
            }

            'n' -> {
                readLiteral("null")
                null
            }

            else -> typeMismatch("ts", "an RFC 3339 string")
        }
    }

    private fun JsonScanner.typeMismatch(name: String, expected: String): Nothing {
        val at = pos
        val what = valueName(s[pos])
        copyValue(null, 1) // a syntax error in the value is reported as such
        throw JsonSyntaxError("field \"$name\" must be $expected, found $what at offset $at")
    }
}
