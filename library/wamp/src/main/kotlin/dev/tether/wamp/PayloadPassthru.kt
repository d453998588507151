package dev.tether.wamp

import dev.tether.wamp.message.WampValues

/**
 * Payload passthru mode (the WAMP advanced profile's `payload_passthru_mode`): the options `ppt_scheme`,
 * `ppt_serializer`, `ppt_cipher` and `ppt_keyid` that travel with a CALL, PUBLISH, YIELD or ERROR and that the router
 * copies unchanged into the INVOCATION, EVENT, RESULT or ERROR details it forwards, without looking inside the
 * payload. Typical uses are end-to-end encryption (scheme `wamp`, with [cipher] and [keyId]), MQTT bridging (`mqtt`)
 * and payloads in an application's own format (a scheme starting with `x_`).
 *
 * With the [NATIVE] serializer (the default) the payload is the message's ordinary args and kwargs. With any other
 * serializer the payload is one opaque binary argument, already encoded by the application: this client sends it
 * as that single bytes value and never re-encodes or decodes it; the receiver reads it back with
 * [CallResult.passthruPayload], [Invocation.passthruPayload] or [Event.passthruPayload].
 *
 * ```kotlin
 * val ppt = PayloadPassthru("x_acme", serializer = "cbor")
 * session.call("com.acme.store", listOf(cborBytes), options = CallOptions { payloadPassthru(ppt) })
 * ```
 * ```java
 * PayloadPassthru ppt = PayloadPassthru.of("x_acme", "cbor");
 * CallOptions options = CallOptions.builder().payloadPassthru(ppt).build();
 * session.callAsync("com.acme.store", List.of(cborBytes), Map.of(), options);
 * ```
 *
 * A router that supports the feature refuses these options from a peer that did not announce
 * `payload_passthru_mode` (this client always announces it), and answers a call whose callee did not announce it
 * with `wamp.error.feature_not_supported`.
 */
public class PayloadPassthru private constructor(
    /** `ppt_scheme`: `wamp` (end-to-end encryption), `mqtt`, or an application scheme starting with `x_`. */
    public val scheme: String,
    /**
     * `ppt_serializer`: [NATIVE] (the payload is the message's args and kwargs) or the name of the format the single
     * binary argument is encoded in (`cbor`, `msgpack`, `json`, `flatbuffers`, ...).
     */
    public val serializer: String,
    /** `ppt_cipher`: the cipher of an encrypted payload (scheme `wamp`, e.g. `xsalsa20poly1305`); null: none. */
    public val cipher: String?,
    /** `ppt_keyid`: which key encrypted the payload; null: none. */
    public val keyId: String?,
    checked: Boolean,
) {
    /**
     * Passthru options to send; throws IllegalArgumentException for a [scheme] other than `wamp`, `mqtt` or `x_...`,
     * or an empty [serializer], [cipher] or [keyId].
     */
    @JvmOverloads
    public constructor(
        scheme: String,
        serializer: String = NATIVE,
        cipher: String? = null,
        keyId: String? = null,
    ) : this(scheme, serializer, cipher, keyId, checked = true)

    init {
        if (checked) {
            require(scheme == "wamp" || scheme == "mqtt" || (scheme.startsWith("x_") && scheme.length > 2)) {
                "ppt_scheme must be wamp, mqtt or start with x_, was '$scheme'"
            }
            require(serializer.isNotEmpty()) { "ppt_serializer must not be empty" }
            cipher?.let { require(it.isNotEmpty()) { "ppt_cipher must not be empty when set" } }
            keyId?.let { require(it.isNotEmpty()) { "ppt_keyid must not be empty when set" } }
        }
    }

    /** True when the payload is the message's ordinary args and kwargs ([NATIVE]), false for one binary argument. */
    public val isNative: Boolean get() = serializer == NATIVE

    /** The options on the wire: `ppt_scheme`, `ppt_serializer`, and `ppt_cipher`, `ppt_keyid` when set. */
    public fun toMap(): Map<String, Any?> = buildMap {
        put(SCHEME, scheme)
        put(SERIALIZER, serializer)
        cipher?.let { put(CIPHER, it) }
        keyId?.let { put(KEY_ID, it) }
    }

    override fun equals(other: Any?): Boolean = other is PayloadPassthru && toMap() == other.toMap()
    override fun hashCode(): Int = toMap().hashCode()
    override fun toString(): String = "PayloadPassthru(${toMap()})"

    /** The serializer name of an ordinary payload, the option keys, and reading them back. */
    public companion object {
        /** `ppt_serializer` of a payload carried as the message's ordinary args and kwargs. */
        public const val NATIVE: String = "native"

        /** The option key `ppt_scheme`. */
        public const val SCHEME: String = "ppt_scheme"

        /** The option key `ppt_serializer`. */
        public const val SERIALIZER: String = "ppt_serializer"

        /** The option key `ppt_cipher`. */
        public const val CIPHER: String = "ppt_cipher"

        /** The option key `ppt_keyid`. */
        public const val KEY_ID: String = "ppt_keyid"

        /** Every option key of payload passthru mode. */
        internal val KEYS: Set<String> = setOf(SCHEME, SERIALIZER, CIPHER, KEY_ID)

        /** Java: `PayloadPassthru.of("x_acme", "cbor")`. */
        @JvmStatic
        @JvmOverloads
        public fun of(scheme: String, serializer: String = NATIVE): PayloadPassthru =
            PayloadPassthru(scheme, serializer)

        /**
         * The passthru options of a message's options or details (`ppt_scheme` and the rest), or null when it has no
         * `ppt_scheme`. Values a peer sent that this class would refuse to build (an unknown scheme) are still read:
         * they came from the network and are reported as they are. A missing `ppt_serializer` reads as [NATIVE].
         */
        @JvmStatic
        public fun fromDetails(details: Map<String, Any?>): PayloadPassthru? {
            val scheme = details[SCHEME] as? String ?: return null
            val serializer = (details[SERIALIZER] as? String)?.takeIf { it.isNotEmpty() } ?: NATIVE
            return PayloadPassthru(scheme, serializer, details[CIPHER] as? String, details[KEY_ID] as? String, false)
        }

        /**
         * The single binary argument of a non-native passthru payload: [args]' only element as bytes (a JSON peer's
         * `"\u0000"` + base64 string, or nexus's plain base64, decoded), or null when [details] carry no passthru
         * options, the serializer is [NATIVE], or the arguments are not one binary value.
         */
        @JvmStatic
        public fun payloadOf(args: List<Any?>, details: Map<String, Any?>): ByteArray? {
            val ppt = fromDetails(details) ?: return null
            if (ppt.isNative || args.size != 1) return null
            return WampValues.asBytes(args[0], acceptPlainBase64 = true)
        }

        /**
         * Checks that [args] and [kwargs] fit the passthru [options] (a map of CALL, PUBLISH, YIELD options or ERROR
         * details): a non-native payload must be exactly one [ByteArray] argument and no kwargs. Throws
         * IllegalArgumentException otherwise; does nothing without `ppt_scheme`.
         */
        internal fun checkPayload(options: Map<String, Any?>, args: List<Any?>, kwargs: Map<String, Any?>) {
            val ppt = fromDetails(options) ?: return
            if (ppt.isNative) return
            require(args.size == 1 && args[0] is ByteArray && kwargs.isEmpty()) {
                "with ppt_serializer '${ppt.serializer}' the payload must be one ByteArray argument and no kwargs " +
                    "(was ${args.size} args, ${kwargs.size} kwargs)"
            }
        }
    }
}
