package dev.tether.wamp.serializer

import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageArrays

/**
 * The three WAMP serializations, with their WebSocket subprotocol and RawSocket serializer id.
 */
public enum class Serialization(
    /** The WebSocket subprotocol, e.g. `wamp.2.json`. */
    public val subprotocol: String,
    /** The serializer id in the RawSocket handshake (1 json, 2 msgpack, 3 cbor). */
    public val rawSocketId: Int,
    /** True if WebSocket frames are text (JSON), false for binary frames. */
    public val isText: Boolean,
) {
    /** JSON text; bytes as `"\u0000"` + base64 strings. */
    JSON("wamp.2.json", 1, true),

    /** MessagePack; strings and binaries are distinct. */
    MSGPACK("wamp.2.msgpack", 2, false),

    /** CBOR; byte strings are native. */
    CBOR("wamp.2.cbor", 3, false),
    ;

    /** A serializer for this serialization with default options. */
    public fun serializer(): Serializer = when (this) {
        JSON -> JsonSerializer()
        MSGPACK -> MsgPackSerializer()
        CBOR -> CborSerializer()
    }

    /** Lookups by wire identifier. */
    public companion object {
        /** The serialization whose WebSocket subprotocol is [subprotocol], or null. */
        @JvmStatic
        public fun fromSubprotocol(subprotocol: String?): Serialization? =
            entries.firstOrNull { it.subprotocol == subprotocol }

        /** The serialization whose RawSocket serializer id is [id], or null. */
        @JvmStatic
        public fun fromRawSocketId(id: Int): Serialization? = entries.firstOrNull { it.rawSocketId == id }
    }
}

/**
 * Turns WAMP messages into bytes and back. Implementations are stateless and thread-safe.
 *
 * Decoding never crashes on hostile input: anything malformed is a [ProtocolViolationException]. Encoding a value
 * outside the model of [dev.tether.wamp.message.WampValues] is a [dev.tether.wamp.error.SerializationException].
 */
public interface Serializer {
    /** Which serialization this is. */
    public val serialization: Serialization

    /** Encodes one value of the neutral model. */
    public fun encodeValue(value: Any?): ByteArray

    /** Decodes one value; the whole input must be exactly one value. */
    public fun decodeValue(bytes: ByteArray): Any?

    /** Encodes [message] as its wire array. */
    public fun encode(message: Message): ByteArray = encodeValue(MessageArrays.toArray(message))

    /** Decodes one message. */
    public fun decode(bytes: ByteArray): Message = MessageArrays.fromArray(decodeValue(bytes))
}

/** Nesting limit for decoders: deeper input is rejected instead of overflowing the stack. */
internal const val MAX_DEPTH: Int = 256

internal fun tooDeep(): Nothing = throw ProtocolViolationException("value nested deeper than $MAX_DEPTH levels")
