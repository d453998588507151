package dev.tether.wamp.rawsocket

import dev.tether.core.InternalTetherApi
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.rawsocket.RawSocketProtocol as P

/**
 * One side's RawSocket handshake: the maximum message length it will receive ([lengthExponent], see
 * [RawSocketProtocol.maxLengthOf]) and the serializer id. Write with [encode]; read a router's reply with
 * [parseReply] and a client's request with [parseRequest].
 *
 * Tether-internal (`@InternalTetherApi`): shared with the testkit router; users should not rely on it.
 */
@InternalTetherApi
public data class Handshake(val lengthExponent: Int, val serializerId: Int) {
    init {
        require(lengthExponent in 0..P.MAX_LENGTH_EXPONENT) { "length exponent must be 0..15" }
        require(serializerId in 0..15) { "serializer id must be 0..15" }
    }

    /** The maximum message length this handshake announces. */
    val maxLength: Int get() = P.maxLengthOf(lengthExponent)

    /** The four handshake bytes. */
    public fun encode(): ByteArray =
        byteArrayOf(P.MAGIC.toByte(), ((lengthExponent shl 4) or serializerId).toByte(), 0, 0)

    /** What a router makes of a client's handshake bytes. */
    public sealed interface Request {
        /** A well-formed handshake. Whether the serializer is supported is the router's decision. */
        public data class Valid(val handshake: Handshake) : Request

        /** Reply with error [errorCode] ([errorReply]) and close. */
        public data class Refuse(val errorCode: Int) : Request

        /** Not a RawSocket client (wrong magic, serializer 0): close without a reply, as nexus does. */
        public data object Drop : Request
    }

    /** Encoding and decoding of handshakes. */
    public companion object {
        /** The error reply bytes for [errorCode]: `7F, code<<4, 00, 00`. */
        @JvmStatic
        public fun errorReply(errorCode: Int): ByteArray =
            byteArrayOf(P.MAGIC.toByte(), (errorCode shl 4).toByte(), 0, 0)

        /**
         * Reads a router's reply; throws [RawSocketHandshakeException] carrying the error code when the router
         * refused (code 0 when the bytes are not a handshake reply).
         */
        @JvmStatic
        public fun parseReply(bytes: ByteArray): Handshake {
            if (bytes.size != P.HANDSHAKE_LENGTH || (bytes[0].toInt() and 0xff) != P.MAGIC) {
                throw RawSocketHandshakeException(0, "router's RawSocket handshake reply is malformed: ${bytes.hex()}")
            }
            val b1 = bytes[1].toInt() and 0xff
            val serializer = b1 and 0x0f
            if (serializer == 0) {
                val code = b1 ushr 4
                throw RawSocketHandshakeException(
                    code,
                    "router refused the RawSocket handshake: ${P.errorText(code)} (error $code)",
                )
            }
            return Handshake(b1 ushr 4, serializer)
        }

        /** Classifies a client's handshake bytes as nexus's router does. */
        @JvmStatic
        public fun parseRequest(bytes: ByteArray): Request {
            if (bytes.size != P.HANDSHAKE_LENGTH || (bytes[0].toInt() and 0xff) != P.MAGIC) return Request.Drop
            val b1 = bytes[1].toInt() and 0xff
            if (bytes[2].toInt() != 0 || bytes[3].toInt() != 0) return Request.Refuse(P.ERROR_RESERVED_BITS_USED)
            if (b1 and 0x0f == 0) return Request.Drop
            return Request.Valid(Handshake(b1 ushr 4, b1 and 0x0f))
        }

        private fun ByteArray.hex(): String = joinToString("") { "%02x".format(it) }
    }
}
