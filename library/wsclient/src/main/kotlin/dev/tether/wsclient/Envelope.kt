package dev.tether.wsclient

import kotlinx.serialization.DeserializationStrategy
import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.serializer
import java.time.Clock
import java.time.Instant
import java.time.LocalDateTime
import java.time.OffsetDateTime
import java.time.ZoneOffset

/**
 * One WebSocket text message of the nexus `wsclient` protocol: a JSON object with the fields `kind`, `id`,
 * `in_reply_to`, `ts`, `payload` and `target_aspect`.
 *
 * Instances are immutable and always valid: [kind] is never empty, [ts] can always be written, and [payload] is
 * always compact, well-formed JSON. Build them with the factories of the companion ([create], [request],
 * [response]) and adjust them with the `with…` copy methods; read them with [decode]; write them with [encode].
 *
 * [encode] produces exactly the bytes the upstream Go implementation (`nexus/frames`, `encoding/json`) produces
 * for the same envelope: field order `kind, id, in_reply_to, ts, payload, target_aspect`; empty optional fields
 * omitted; `ts` always present, as RFC 3339 with trailing fractional zeros trimmed; `<`, `>`, `&`, U+2028 and
 * U+2029 escaped as `\u003c` and so on in every string, the payload included.
 *
 * From Java every factory is a static method and every property a getter:
 * ```java
 * Envelope req = Envelope.request("register", "{\"name\":\"a\"}");
 * String wire = req.encode();
 * Envelope back = Envelope.decode(wire);
 * String id = back.getId();
 * ```
 */
public class Envelope private constructor(
    /** Message type, for example `register` or `chat.send`; never empty. Unknown kinds are accepted. */
    public val kind: String,
    /** Correlation id of a request (a ULID for the requests we create); `null` when absent. Never empty. */
    public val id: String?,
    /** Id of the request this message answers; `null` when absent. Never empty. */
    public val inReplyTo: String?,
    /**
     * Time stamp with the offset it was written with (UTC for envelopes we create). An absent or `null` `ts`
     * on the wire decodes to [ZERO_TIME], which is also what is written for an unset time.
     */
    public val ts: OffsetDateTime,
    /**
     * The payload as JSON text exactly as it is written on the wire, or `null` when the envelope has no payload.
     * That text is compact (whitespace removed; key order, number spelling and escapes kept) and HTML-escaped the
     * way Go writes it: `<`, `>`, `&`, U+2028 and U+2029 inside strings appear as `\u003c`, `\u003e`, `\u0026`,
     * `\u2028`, `\u2029` (the same JSON value). The four characters `null` are a payload (the JSON literal),
     * not an absent one.
     */
    public val payload: String?,
    /** Optional routing hint naming the aspect that should handle the message; `null` when absent. */
    public val targetAspect: String?,
) {

    /** A copy with [id] replaced; `null` or an empty string removes it. */
    public fun withId(id: String?): Envelope = Envelope(kind, id.nullIfEmpty(), inReplyTo, ts, payload, targetAspect)

    /** A copy with [inReplyTo] replaced; `null` or an empty string removes it. */
    public fun withInReplyTo(inReplyTo: String?): Envelope =
        Envelope(kind, id, inReplyTo.nullIfEmpty(), ts, payload, targetAspect)

    /** A copy with [targetAspect] replaced; `null` or an empty string removes it. */
    public fun withTargetAspect(targetAspect: String?): Envelope =
        Envelope(kind, id, inReplyTo, ts, payload, targetAspect.nullIfEmpty())

    /**
     * A copy with [ts] replaced. The offset is kept and written as given (`Z` when it is zero).
     *
     * @throws IllegalArgumentException if the year is outside 0..9999 or the offset has a seconds part: neither
     *   can be written as RFC 3339 the way the Go side reads it.
     */
    public fun withTs(ts: OffsetDateTime): Envelope = Envelope(kind, id, inReplyTo, checkTs(ts), payload, targetAspect)

    /** A copy with [ts] set to [instant] in UTC. @throws IllegalArgumentException if the year is outside 0..9999. */
    public fun withTs(instant: Instant): Envelope = withTs(instant.atOffset(ZoneOffset.UTC))

    /**
     * A copy with the payload replaced by [payloadJson] (any JSON value; compacted). `null` or an empty string
     * removes the payload; the text `null` sets the JSON literal.
     *
     * @throws IllegalArgumentException if [payloadJson] is not a single valid JSON value.
     */
    public fun withPayloadJson(payloadJson: String?): Envelope =
        Envelope(kind, id, inReplyTo, ts, compactOrNull(payloadJson), targetAspect)

    /**
     * A copy with the payload replaced by [payload]; `null` removes it and [kotlinx.serialization.json.JsonNull] sets
     * the literal `null`.
     */
    public fun withPayload(payload: JsonElement?): Envelope =
        Envelope(kind, id, inReplyTo, ts, compactOrNull(payload?.toString()), targetAspect)

    /**
     * The payload parsed as a [JsonElement] (numbers keep their literal text), `null` when there is none, and
     * [kotlinx.serialization.json.JsonNull] for the literal `null`.
     */
    public fun payloadJson(): JsonElement? = payload?.let { PayloadJson.parseToJsonElement(it) }

    /**
     * The payload decoded with [deserializer] and [json] (by default a [Json] that ignores unknown keys, as the
     * Go side does).
     *
     * Unlike Go, where decoding the literal `null` leaves the target untouched, the literal `null` is handed to
     * [deserializer]: a nullable deserializer returns `null`, a non-nullable one fails.
     *
     * @throws MalformedEnvelopeException if there is no payload or it does not match [deserializer].
     */
    @JvmOverloads
    public fun <T> payloadAs(deserializer: DeserializationStrategy<T>, json: Json = PayloadJson): T {
        val text = payload
            ?: throw MalformedEnvelopeException("malformed envelope: no payload (kind \"${kind.clip()}\")")
        return try {
            json.decodeFromString(deserializer, text)
        } catch (e: SerializationException) {
            throw payloadMismatch(deserializer, e)
        } catch (e: IllegalArgumentException) {
            throw payloadMismatch(deserializer, e)
        }
    }

    private fun payloadMismatch(deserializer: DeserializationStrategy<*>, e: Exception) = MalformedEnvelopeException(
        "malformed envelope: payload of kind \"${kind.clip()}\" is not a " +
            "${deserializer.descriptor.serialName}: ${e.message}",
        e,
    )

    /**
     * The envelope as one JSON object, byte for byte what the upstream Go `frames.Encode` writes. Never throws:
     * every [Envelope] is valid by construction.
     */
    public fun encode(): String = EnvelopeCodec.encode(this)

    override fun equals(other: Any?): Boolean = this === other || (
        other is Envelope && kind == other.kind && id == other.id && inReplyTo == other.inReplyTo &&
            ts == other.ts && payload == other.payload && targetAspect == other.targetAspect
        )

    override fun hashCode(): Int {
        var h = kind.hashCode()
        h = 31 * h + (id?.hashCode() ?: 0)
        h = 31 * h + (inReplyTo?.hashCode() ?: 0)
        h = 31 * h + ts.hashCode()
        h = 31 * h + (payload?.hashCode() ?: 0)
        h = 31 * h + (targetAspect?.hashCode() ?: 0)
        return h
    }

    /** A short description for logs; long values (the payload in particular) are truncated. */
    override fun toString(): String = buildString {
        append("Envelope(kind=").append(kind.clip())
        id?.let { append(", id=").append(it.clip()) }
        inReplyTo?.let { append(", inReplyTo=").append(it.clip()) }
        append(", ts=").append(ts)
        targetAspect?.let { append(", targetAspect=").append(it.clip()) }
        payload?.let { append(", payload=").append(it.clip(TO_STRING_PAYLOAD_CHARS)) }
        append(')')
    }

    /** Builders, decoding and the envelope constants. */
    public companion object {
        /** Deepest nesting [decode] accepts; the envelope object itself is level 1. */
        public const val MAX_DEPTH: Int = EnvelopeCodec.MAX_DEPTH

        /** The unset time, written as `0001-01-01T00:00:00Z` (Go's zero `time.Time`). */
        @JvmField
        public val ZERO_TIME: OffsetDateTime = OffsetDateTime.of(1, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC)

        private const val TO_STRING_CHARS = 64
        private const val TO_STRING_PAYLOAD_CHARS = 200
        private val PayloadJson = Json { ignoreUnknownKeys = true }
        private val utcClock: Clock = Clock.systemUTC()

        /**
         * An envelope without id or payload, stamped now (UTC, with the clock's full precision).
         * @throws IllegalArgumentException if [kind] is empty ("missing kind").
         */
        @JvmStatic
        public fun create(kind: String): Envelope = build(kind, null, null, null)

        /**
         * Upstream `New(kind, payload)`: an envelope without id, stamped now (UTC). [payloadJson] is any JSON
         * value as text; it is validated and compacted. `null` or an empty string means no payload; the text
         * `null` is the JSON literal (upstream: a typed nil). The stored text is the wire form (see [payload]).
         *
         * From Java, `create(kind, null)` is ambiguous between the overloads: use [create] with the kind alone.
         * @throws IllegalArgumentException if [kind] is empty, or [payloadJson] is not a single valid JSON value
         *   or nests deeper than [MAX_DEPTH] - 1 levels (so that the envelope around it stays decodable).
         */
        @JvmStatic
        public fun create(kind: String, payloadJson: String?): Envelope = build(kind, null, null, payloadJson)

        /**
         * Like [create], with the payload given as a [JsonElement] (`null` = no payload, `JsonNull` = literal `null`).
         */
        @JvmStatic
        public fun create(kind: String, payload: JsonElement?): Envelope = build(kind, null, null, payload?.toString())

        /** Upstream `NewRequest`: like [create] plus a fresh id from the process-wide generator ([Ulid.next]). */
        @JvmStatic
        public fun request(kind: String): Envelope = build(kind, Ulid.next(), null, null)

        /** Upstream `NewRequest(kind, payload)`: [create] plus a fresh ULID id. */
        @JvmStatic
        public fun request(kind: String, payloadJson: String?): Envelope = build(kind, Ulid.next(), null, payloadJson)

        /** Upstream `NewRequest(kind, payload)` with a [JsonElement] payload. */
        @JvmStatic
        public fun request(kind: String, payload: JsonElement?): Envelope =
            build(kind, Ulid.next(), null, payload?.toString())

        /**
         * Upstream `NewResponse`: an envelope answering the request [requestId] (`in_reply_to`), without id or
         * payload. As upstream, an empty [requestId] (answering a request that had no id) leaves `in_reply_to`
         * absent.
         * @throws IllegalArgumentException if [kind] is empty.
         */
        @JvmStatic
        public fun response(kind: String, requestId: String): Envelope =
            build(kind, null, requestId.nullIfEmpty(), null)

        /** Upstream `NewResponse(kind, requestId, payload)` with the payload as JSON text (see [create]). */
        @JvmStatic
        public fun response(kind: String, requestId: String, payloadJson: String?): Envelope =
            build(kind, null, requestId.nullIfEmpty(), payloadJson)

        /** Upstream `NewResponse(kind, requestId, payload)` with a [JsonElement] payload. */
        @JvmStatic
        public fun response(kind: String, requestId: String, payload: JsonElement?): Envelope =
            build(kind, null, requestId.nullIfEmpty(), payload?.toString())

        /**
         * Reads one envelope, following Go's `encoding/json` rules: keys match exactly or case-insensitively,
         * the last duplicate key wins, unknown keys are ignored, `null` leaves a field as it was, an absent or
         * `null` `ts` is [ZERO_TIME] and a written offset is kept. The payload is kept in its wire form (see
         * [payload]), so `decode(e.encode())` equals `e`.
         *
         * @throws MalformedEnvelopeException if [text] is not exactly one JSON object, a known field has the
         *   wrong type, `ts` is not an RFC 3339 time, `kind` is absent, empty or null, or the nesting is deeper
         *   than [MAX_DEPTH].
         */
        @JvmStatic
        public fun decode(text: String): Envelope = EnvelopeCodec.decode(text)

        /** Builds a decoded envelope; the codec has already checked every field. */
        @JvmSynthetic
        internal fun trusted(
            kind: String,
            id: String?,
            inReplyTo: String?,
            ts: OffsetDateTime,
            payload: String?,
            targetAspect: String?,
        ): Envelope = Envelope(kind, id.nullIfEmpty(), inReplyTo.nullIfEmpty(), ts, payload, targetAspect.nullIfEmpty())

        private fun build(kind: String, id: String?, inReplyTo: String?, payloadJson: String?): Envelope {
            require(kind.isNotEmpty()) { "missing kind: an envelope kind must not be empty" }
            return Envelope(kind, id, inReplyTo, nowUtc(), compactOrNull(payloadJson), null)
        }

        /**
         * `OffsetDateTime.now(utcClock)` without its per-call cost: that asks the zone for its rules, and a
         * [ZoneOffset] builds a fresh `ZoneRules` object every time. Every envelope we build is stamped.
         */
        private fun nowUtc(): OffsetDateTime {
            val now = utcClock.instant()
            val utc = LocalDateTime.ofEpochSecond(now.epochSecond, now.nano, ZoneOffset.UTC)
            return OffsetDateTime.of(utc, ZoneOffset.UTC)
        }

        private fun compactOrNull(payloadJson: String?): String? =
            if (payloadJson.isNullOrEmpty()) null else EnvelopeCodec.compactPayload(payloadJson)

        private fun checkTs(ts: OffsetDateTime): OffsetDateTime {
            require(ts.year in 0..9999) { "ts year ${ts.year} is outside 0..9999 and cannot be written as RFC 3339" }
            require(ts.offset.totalSeconds % 60 == 0) {
                "ts offset ${ts.offset} has seconds; RFC 3339 offsets are whole minutes"
            }
            return ts
        }

        private fun String?.nullIfEmpty(): String? = if (this.isNullOrEmpty()) null else this

        private fun String.clip(max: Int = TO_STRING_CHARS): String {
            if (length <= max) return this
            val cut = if (this[max - 1].isHighSurrogate()) max - 1 else max
            return substring(0, cut) + "…(+${length - cut} chars)"
        }
    }
}

/**
 * Kotlin shorthand for [Envelope.payloadAs] with the serializer of [T]. @throws MalformedEnvelopeException as
 * [Envelope.payloadAs].
 */
public inline fun <reified T> Envelope.payloadAs(): T = payloadAs(serializer<T>())
