package dev.tether.wsclient

import java.time.Month
import java.time.OffsetDateTime
import java.time.Year
import java.time.ZoneOffset

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

    private const val HEX = "0123456789abcdef"

    /** ASCII characters that a JSON string written Go's way cannot carry as they are. */
    private val NEEDS_ESCAPE = BooleanArray(128).also { t ->
        for (c in 0 until 0x20) t[c] = true
        for (c in "\"\\<>&") t[c.code] = true
    }

    // ------------------------------------------------------------------------------------------------- encoding

    fun encode(e: Envelope): String {
        val payload = e.payload
        val sb = StringBuilder(
            48 + e.kind.length + (e.id?.length ?: 0) + (e.inReplyTo?.length ?: 0) + (payload?.length ?: 0) +
                (e.targetAspect?.length ?: 0) + 64,
        )
        sb.append("{\"kind\":")
        appendString(sb, e.kind)
        e.id?.let { sb.append(",\"id\":"); appendString(sb, it) }
        e.inReplyTo?.let { sb.append(",\"in_reply_to\":"); appendString(sb, it) }
        sb.append(",\"ts\":\"")
        appendTs(sb, e.ts)
        sb.append('"')
        if (payload != null) sb.append(",\"payload\":").append(payload) // stored exactly as written
        e.targetAspect?.let { sb.append(",\"target_aspect\":"); appendString(sb, it) }
        sb.append('}')
        return sb.toString()
    }

    /**
     * A JSON string as Go writes it with HTML escaping: short escapes for `"`, `\`, `\n`, `\r`, `\t`, `\b`, `\f`
     * (the last two as Go 1.22 and later write them), `\u00xx` for other control characters and for `<`, `>`,
     * `&`, `\u2028`/`\u2029` for the line separators, `\ufffd` for an unpaired surrogate (Go: invalid UTF-8);
     * everything else unchanged.
     */
    fun appendString(sb: StringBuilder, s: String) {
        sb.append('"')
        var start = 0
        var i = 0
        val n = s.length
        while (i < n) {
            val c = s[i]
            if (c.code < 128) {
                if (!NEEDS_ESCAPE[c.code]) {
                    i++
                    continue
                }
            } else if (c != '\u2028' && c != '\u2029') {
                if (!c.isSurrogate()) {
                    i++
                    continue
                }
                if (c.isHighSurrogate() && i + 1 < n && s[i + 1].isLowSurrogate()) {
                    i += 2
                    continue
                }
            }
            sb.append(s, start, i)
            when (c) {
                '"' -> sb.append("\\\"")
                '\\' -> sb.append("\\\\")
                '\n' -> sb.append("\\n")
                '\r' -> sb.append("\\r")
                '\t' -> sb.append("\\t")
                '\b' -> sb.append("\\b")
                '\u000c' -> sb.append("\\f")
                else -> if (c.isSurrogate()) sb.append("\\ufffd") else appendUnicodeEscape(sb, c)
            }
            i++
            start = i
        }
        sb.append(s, start, n)
        sb.append('"')
    }

    private fun appendUnicodeEscape(sb: StringBuilder, c: Char) {
        val v = c.code
        sb.append('\\').append('u')
            .append(HEX[(v shr 12) and 15]).append(HEX[(v shr 8) and 15])
            .append(HEX[(v shr 4) and 15]).append(HEX[v and 15])
    }

    /** Go's `time.RFC3339Nano`: fractional zeros trimmed, `Z` for a zero offset, else `±hh:mm`. Year is 0..9999. */
    fun appendTs(sb: StringBuilder, t: OffsetDateTime) {
        // Every envelope carries one: digits are written with constant divisors, which the JIT turns into multiplies.
        val year = t.year
        append2(sb, year / 100)
        append2(sb, year % 100)
        sb.append('-')
        append2(sb, t.monthValue)
        sb.append('-')
        append2(sb, t.dayOfMonth)
        sb.append('T')
        append2(sb, t.hour)
        sb.append(':')
        append2(sb, t.minute)
        sb.append(':')
        append2(sb, t.second)
        var nano = t.nano
        if (nano != 0) {
            var digits = 9
            while (nano % 10 == 0) {
                nano /= 10
                digits--
            }
            sb.append('.')
            var length = 1 // of nano in decimal, to pad it with leading zeros to its place
            var power = 10
            while (length < digits && nano >= power) {
                length++
                power *= 10
            }
            repeat(digits - length) { sb.append('0') }
            sb.append(nano)
        }
        val offset = t.offset.totalSeconds
        if (offset == 0) {
            sb.append('Z')
        } else {
            sb.append(if (offset < 0) '-' else '+')
            val minutes = Math.abs(offset) / 60
            append2(sb, minutes / 60)
            sb.append(':')
            append2(sb, minutes % 60)
        }
    }

    /** [value] (0..99) as two digits. */
    private fun append2(sb: StringBuilder, value: Int) {
        sb.append('0' + value / 10).append('0' + value % 10)
    }

    // ------------------------------------------------------------------------------------------------- decoding

    fun decode(text: String): Envelope = try {
        Reader(text).readEnvelope()
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
        Reader(json).readStandalonePayload()
    } catch (e: JsonSyntaxError) {
        throw IllegalArgumentException("invalid payload JSON: ${e.message}")
    }

    /**
     * Parses RFC 3339 as Go 1.20+ `time.Time.UnmarshalJSON` does: `YYYY-MM-DDTHH:MM:SS`, optional fraction
     * (digits past nanoseconds ignored), then `Z` or `±hh:mm`; upper-case `T` and `Z` only; calendar ranges
     * checked. Offsets beyond ±18:00 (legal for Go, not representable in java.time) are rejected.
     */
    internal fun parseTs(v: String): OffsetDateTime = parseTs(v, 0, v.length)

    /**
     * [parseTs] of `s[from, to)`, in place. The usual form, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with values in
     * range, is read in one straight pass; anything else takes the checking path, which names what is wrong.
     */
    private fun parseTs(s: String, from: Int, to: Int): OffsetDateTime {
        if (to - from < 20 || s[to - 1] != 'Z' || s[from + 4] != '-' || s[from + 7] != '-' || s[from + 10] != 'T' ||
            s[from + 13] != ':' || s[from + 16] != ':'
        ) {
            return parseTsChecked(s, from, to)
        }
        val year = digits2(s, from) * 100 + digits2(s, from + 2)
        val month = digits2(s, from + 5)
        val day = digits2(s, from + 8)
        val hour = digits2(s, from + 11)
        val minute = digits2(s, from + 14)
        val second = digits2(s, from + 17)
        // digits2 is negative for a non-digit, which every range check below refuses
        if (year < 0 || month !in 1..12 || day !in 1..28 || hour !in 0..23 || minute !in 0..59 || second !in 0..59) {
            return parseTsChecked(s, from, to) // days 29-31 are checked against the month there
        }
        var nano = 0
        var i = from + 19
        if (i < to - 1) {
            if (s[i] != '.') return parseTsChecked(s, from, to)
            i++
            var digits = 0
            while (i < to - 1) {
                val c = s[i]
                if (c !in '0'..'9') return parseTsChecked(s, from, to)
                if (digits < 9) { // like Go, digits beyond nanoseconds are ignored
                    nano = nano * 10 + (c - '0')
                    digits++
                }
                i++
            }
            if (digits == 0) return parseTsChecked(s, from, to)
            while (digits < 9) {
                nano *= 10
                digits++
            }
        }
        return OffsetDateTime.of(year, month, day, hour, minute, second, nano, ZoneOffset.UTC)
    }

    /** The two decimal digits at [at] as a number, or a negative value when either is not a digit. */
    private fun digits2(s: String, at: Int): Int {
        val hi = s[at] - '0'
        val lo = s[at + 1] - '0'
        return if (hi in 0..9 && lo in 0..9) hi * 10 + lo else -1
    }

    /** [parseTs] with every check and a message for each way the text can be wrong. */
    private fun parseTsChecked(s: String, from: Int, to: Int): OffsetDateTime {
        val len = to - from
        fun bad(why: String): Nothing {
            val shown = if (len <= 64) s.substring(from, to) else s.substring(from, from + 64) + "…"
            throw JsonSyntaxError("field \"ts\" is not an RFC 3339 time (\"$shown\"): $why")
        }
        fun num(at: Int, digits: Int, min: Int, max: Int, what: String): Int {
            var r = 0
            for (i in from + at until from + at + digits) {
                val c = s[i]
                if (c !in '0'..'9') bad("expected digits for the $what")
                r = r * 10 + (c - '0')
            }
            if (r < min || r > max) bad("$what $r out of range")
            return r
        }
        if (len < 20) bad("too short for YYYY-MM-DDTHH:MM:SSZ")
        if (s[from + 4] != '-' || s[from + 7] != '-' || s[from + 10] != 'T' || s[from + 13] != ':' || s[from + 16] != ':') {
            bad("expected the layout YYYY-MM-DDTHH:MM:SS")
        }
        val year = num(0, 4, 0, 9999, "year")
        val month = num(5, 2, 1, 12, "month")
        val day = num(8, 2, 1, Month.of(month).length(Year.isLeap(year.toLong())), "day")
        val hour = num(11, 2, 0, 23, "hour")
        val minute = num(14, 2, 0, 59, "minute")
        val second = num(17, 2, 0, 59, "second")
        var i = from + 19
        var nano = 0
        if (i + 1 < to && s[i] == '.' && s[i + 1] in '0'..'9') {
            i++
            var digits = 0
            while (i < to && s[i] in '0'..'9') {
                if (digits < 9) { // like Go, digits beyond nanoseconds are ignored
                    nano = nano * 10 + (s[i] - '0')
                    digits++
                }
                i++
            }
            while (digits < 9) {
                nano *= 10
                digits++
            }
        }
        val offsetSeconds: Int = when {
            to - i == 1 && s[i] == 'Z' -> 0
            to - i == 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' -> {
                val hh = num(i - from + 1, 2, 0, 23, "offset hour")
                val mm = num(i - from + 4, 2, 0, 59, "offset minute")
                val total = hh * 3600 + mm * 60
                if (total > 18 * 3600) bad("offsets beyond ±18:00 are not supported")
                if (s[i] == '-') -total else total
            }
            else -> bad("expected Z or ±hh:mm after the seconds")
        }
        val offset = if (offsetSeconds == 0) ZoneOffset.UTC else ZoneOffset.ofTotalSeconds(offsetSeconds)
        return OffsetDateTime.of(year, month, day, hour, minute, second, nano, offset)
    }

    /** Internal syntax or type error; carries no stack trace, the public entry points turn it into their own type. */
    internal class JsonSyntaxError(message: String) : RuntimeException(message, null, false, false)

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
        2 -> if (foldEquals(s, from, "id")) F_ID else if (foldEquals(s, from, "ts")) F_TS else F_UNKNOWN
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

    /** A cursor over one JSON text. All methods leave [pos] just after what they consumed. */
    private class Reader(private val s: String) {
        private var pos = 0
        private val n = s.length
        // Container kinds by depth (true = array): the first 64 levels as bits, deeper ones in an array made on
        // demand, so that the flat payloads of most envelopes allocate nothing for it.
        private var shallow = 0L
        private var deep: BooleanArray? = null

        private fun setArrayAt(depth: Int, isArray: Boolean) {
            if (depth < 64) {
                shallow = if (isArray) shallow or (1L shl depth) else shallow and (1L shl depth).inv()
                return
            }
            var d = deep ?: BooleanArray(64).also { deep = it }
            if (depth - 64 >= d.size) d = d.copyOf(d.size * 2).also { deep = it }
            d[depth - 64] = isArray
        }

        private fun isArrayAt(depth: Int): Boolean =
            if (depth < 64) (shallow ushr depth) and 1L != 0L else deep!![depth - 64]

        /** Set when a scanned value holds whitespace or characters that its wire form escapes. */
        private var rewrite = false

        fun readEnvelope(): Envelope {
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
                            if (s[pos] != '"') fail("invalid character ${describe(s[pos])} looking for beginning of object key string")
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
                'n' -> readLiteral("null") // Go: decoding null into the struct leaves it empty -> missing kind
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
        private fun readKeyField(): Int {
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

        fun readStandalonePayload(): String {
            val payload = readPayload()
            expectEnd()
            return payload
        }

        /**
         * One JSON value (the payload, nested in the envelope) in its wire form. Text that is already compact and
         * escaped, as Go writes it, is returned as a substring after one validating pass; anything else is
         * copied again with whitespace dropped and HTML characters escaped.
         */
        private fun readPayload(): String {
            skipWs()
            val start = pos
            rewrite = false
            copyValue(null, 1)
            val end = pos
            if (!rewrite) return if (start == 0 && end == n) s else s.substring(start, end)
            val sb = StringBuilder(end - start + 16)
            pos = start
            copyValue(sb, 1)
            return sb.toString()
        }

        /** A string field; JSON `null` returns null (the field keeps its value, as in Go). */
        private fun readStringField(name: String): String? {
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

        private fun readTsField(): OffsetDateTime? {
            if (pos >= n) unexpectedEnd()
            return when (s[pos]) {
                '"' -> {
                    // A time has no escapes in practice: parse it where it stands, else unescape it first.
                    val start = pos + 1
                    var i = start
                    while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= ' ' && !s[i].isSurrogate()) i++
                    if (i < n && s[i] == '"') {
                        pos = i + 1
                        parseTs(s, start, i)
                    } else {
                        parseTs(readString())
                    }
                }
                'n' -> {
                    readLiteral("null")
                    null
                }
                else -> typeMismatch("ts", "an RFC 3339 string")
            }
        }

        private fun typeMismatch(name: String, expected: String): Nothing {
            val at = pos
            val what = valueName(s[pos])
            copyValue(null, 1) // a syntax error in the value is reported as such
            throw JsonSyntaxError("field \"$name\" must be $expected, found $what at offset $at")
        }

        private fun valueName(c: Char): String = when (c) {
            '{' -> "an object"
            '[' -> "an array"
            '"' -> "a string"
            't', 'f' -> "a boolean"
            'n' -> "null"
            else -> "a number"
        }

        /**
         * Validates one JSON value starting at [pos] (after optional whitespace) and, when [out] is not null,
         * appends it without whitespace. Iterative: nesting costs no stack. [baseDepth] is the nesting level of
         * the enclosing container.
         */
        fun copyValue(out: StringBuilder?, baseDepth: Int) {
            var depth = 0
            while (true) {
                // at the start of a value
                skipWs()
                if (pos >= n) unexpectedEnd()
                val c = s[pos]
                when (c) {
                    '{', '[' -> {
                        if (baseDepth + depth + 1 > MAX_DEPTH) {
                            throw JsonSyntaxError("nested deeper than $MAX_DEPTH levels at offset $pos")
                        }
                        val isArray = c == '['
                        setArrayAt(depth++, isArray)
                        out?.append(c)
                        pos++
                        skipWs()
                        if (pos >= n) unexpectedEnd()
                        val close = if (isArray) ']' else '}'
                        if (s[pos] == close) {
                            out?.append(close)
                            pos++
                            depth--
                        } else {
                            if (!isArray) copyKeyAndColon(out)
                            continue
                        }
                    }
                    '"' -> copyString(out)
                    't' -> copyLiteral("true", out)
                    'f' -> copyLiteral("false", out)
                    'n' -> copyLiteral("null", out)
                    else -> if (c == '-' || c in '0'..'9') {
                        copyNumber(out)
                    } else {
                        fail("invalid character ${describe(c)} looking for beginning of value")
                    }
                }
                // after a complete value: close containers until one continues with ','
                while (true) {
                    if (depth == 0) return
                    skipWs()
                    if (pos >= n) unexpectedEnd()
                    val d = s[pos]
                    val inArray = isArrayAt(depth - 1)
                    if (d == ',') {
                        out?.append(',')
                        pos++
                        if (!inArray) {
                            skipWs()
                            copyKeyAndColon(out)
                        }
                        break
                    }
                    if (d == (if (inArray) ']' else '}')) {
                        out?.append(d)
                        pos++
                        depth--
                        continue
                    }
                    fail(
                        "invalid character ${describe(d)} " +
                            if (inArray) "after array element" else "after object key:value pair",
                    )
                }
            }
        }

        private fun copyKeyAndColon(out: StringBuilder?) {
            if (pos >= n) unexpectedEnd()
            if (s[pos] != '"') fail("invalid character ${describe(s[pos])} looking for beginning of object key string")
            copyString(out)
            skipWs()
            expectColon()
            out?.append(':')
        }

        private fun expectColon() {
            if (pos >= n) unexpectedEnd()
            if (s[pos] != ':') fail("invalid character ${describe(s[pos])} after object key")
            pos++
        }

        /**
         * Validates a string and copies it verbatim (escapes kept) except for Go's HTML escaping of `<`, `>`, `&`,
         * U+2028 and U+2029; an unpaired surrogate becomes `\ufffd` (Go: invalid UTF-8).
         */
        private fun copyString(out: StringBuilder?) {
            var run = pos
            var i = pos + 1
            while (true) {
                if (i >= n) unexpectedEnd()
                val c = s[i]
                when {
                    c == '"' -> {
                        i++
                        break
                    }
                    c == '\\' -> i = skipEscape(i)
                    c < ' ' -> fail("invalid character ${describe(c)} in string literal", i)
                    c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029' -> {
                        rewrite = true
                        if (out != null) {
                            out.append(s, run, i)
                            appendUnicodeEscape(out, c)
                        }
                        i++
                        run = i
                    }
                    c.isSurrogate() -> if (c.isHighSurrogate() && i + 1 < n && s[i + 1].isLowSurrogate()) {
                        i += 2
                    } else {
                        rewrite = true
                        out?.append(s, run, i)?.append("\\ufffd")
                        i++
                        run = i
                    }
                    else -> i++
                }
            }
            out?.append(s, run, i)
            pos = i
        }

        /** Validates the escape at [i] (a backslash) and returns the index after it. */
        private fun skipEscape(i: Int): Int {
            if (i + 1 >= n) unexpectedEnd()
            return when (s[i + 1]) {
                '"', '\\', '/', 'b', 'f', 'n', 'r', 't' -> i + 2
                'u' -> {
                    hex4(i + 2)
                    i + 6
                }
                else -> fail("invalid character ${describe(s[i + 1])} in string escape code", i + 1)
            }
        }

        private fun hex4(at: Int): Int {
            var r = 0
            for (j in at until at + 4) {
                if (j >= n) unexpectedEnd()
                val c = s[j]
                val d = when (c) {
                    in '0'..'9' -> c - '0'
                    in 'a'..'f' -> c - 'a' + 10
                    in 'A'..'F' -> c - 'A' + 10
                    else -> fail("invalid character ${describe(c)} in \\u hexadecimal character escape", j)
                }
                r = (r shl 4) or d
            }
            return r
        }

        /** Reads a string value with escapes resolved; invalid surrogates become U+FFFD as in Go. */
        fun readString(): String {
            val start = pos + 1
            var i = start
            while (i < n) { // fast path: nothing to unescape
                val c = s[i]
                if (c == '"') {
                    pos = i + 1
                    return s.substring(start, i)
                }
                if (c == '\\' || c < ' ') break
                if (c.isSurrogate()) {
                    if (c.isHighSurrogate() && i + 1 < n && s[i + 1].isLowSurrogate()) {
                        i += 2
                        continue
                    }
                    break
                }
                i++
            }
            val sb = StringBuilder(i - start + 16).append(s, start, i)
            while (true) {
                if (i >= n) unexpectedEnd()
                val c = s[i]
                when {
                    c == '"' -> {
                        pos = i + 1
                        return sb.toString()
                    }
                    c == '\\' -> i = readEscape(i, sb)
                    c < ' ' -> fail("invalid character ${describe(c)} in string literal", i)
                    c.isSurrogate() -> if (c.isHighSurrogate() && i + 1 < n && s[i + 1].isLowSurrogate()) {
                        sb.append(c).append(s[i + 1])
                        i += 2
                    } else {
                        sb.append('\uFFFD')
                        i++
                    }
                    else -> {
                        sb.append(c)
                        i++
                    }
                }
            }
        }

        private fun readEscape(i: Int, sb: StringBuilder): Int {
            if (i + 1 >= n) unexpectedEnd()
            when (val e = s[i + 1]) {
                '"', '\\', '/' -> sb.append(e)
                'b' -> sb.append('\b')
                'f' -> sb.append('\u000c')
                'n' -> sb.append('\n')
                'r' -> sb.append('\r')
                't' -> sb.append('\t')
                'u' -> {
                    val r = hex4(i + 2)
                    if (r in 0xD800..0xDFFF) {
                        // only a high surrogate escape directly followed by a low surrogate escape is a pair
                        if (r < 0xDC00 && i + 11 < n && s[i + 6] == '\\' && s[i + 7] == 'u' && isHex4(i + 8)) {
                            val low = hex4(i + 8)
                            if (low in 0xDC00..0xDFFF) {
                                sb.append(r.toChar()).append(low.toChar())
                                return i + 12
                            }
                        }
                        sb.append('\uFFFD')
                    } else {
                        sb.append(r.toChar())
                    }
                    return i + 6
                }
                else -> fail("invalid character ${describe(e)} in string escape code", i + 1)
            }
            return i + 2
        }

        private fun isHex4(at: Int): Boolean {
            if (at + 4 > n) return false
            for (j in at until at + 4) {
                val c = s[j]
                if (c !in '0'..'9' && c !in 'a'..'f' && c !in 'A'..'F') return false
            }
            return true
        }

        private fun copyNumber(out: StringBuilder?) {
            val start = pos
            if (s[pos] == '-') pos++
            if (pos >= n) unexpectedEnd()
            when (s[pos]) {
                '0' -> pos++
                in '1'..'9' -> skipDigits()
                else -> fail("invalid character ${describe(s[pos])} in numeric literal")
            }
            if (pos < n && s[pos] == '.') {
                pos++
                if (pos >= n) unexpectedEnd()
                if (s[pos] !in '0'..'9') fail("invalid character ${describe(s[pos])} after decimal point in numeric literal")
                skipDigits()
            }
            if (pos < n && (s[pos] == 'e' || s[pos] == 'E')) {
                pos++
                if (pos < n && (s[pos] == '+' || s[pos] == '-')) pos++
                if (pos >= n) unexpectedEnd()
                if (s[pos] !in '0'..'9') fail("invalid character ${describe(s[pos])} in exponent of numeric literal")
                skipDigits()
            }
            out?.append(s, start, pos)
        }

        private fun skipDigits() {
            while (pos < n && s[pos] in '0'..'9') pos++
        }

        private fun copyLiteral(lit: String, out: StringBuilder?) {
            readLiteral(lit)
            out?.append(lit)
        }

        private fun readLiteral(lit: String) {
            for (j in lit.indices) {
                if (pos >= n) unexpectedEnd()
                val c = s[pos]
                if (c != lit[j]) fail("invalid character ${describe(c)} in literal $lit (expecting ${describe(lit[j])})")
                pos++
            }
        }

        private fun skipWs() {
            while (pos < n) {
                val c = s[pos]
                if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return
                pos++
                rewrite = true
            }
        }

        private fun expectEnd() {
            skipWs()
            if (pos < n) fail("invalid character ${describe(s[pos])} after top-level value")
        }

        private fun unexpectedEnd(): Nothing = throw JsonSyntaxError("unexpected end of JSON input")

        private fun fail(what: String, at: Int = pos): Nothing = throw JsonSyntaxError("$what at offset $at")

        private fun describe(c: Char): String = when {
            c == '\'' -> "'\\''"
            c == '"' -> "'\"'"
            c.code < 0x20 || c.isSurrogate() || c == '\u2028' || c == '\u2029' ->
                "'\\u" + HEX[(c.code shr 12) and 15] + HEX[(c.code shr 8) and 15] + HEX[(c.code shr 4) and 15] + HEX[c.code and 15] + "'"
            else -> "'$c'"
        }
    }
}
