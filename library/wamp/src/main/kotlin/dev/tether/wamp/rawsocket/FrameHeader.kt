package dev.tether.wamp.rawsocket

import dev.tether.core.InternalTetherApi
import dev.tether.wamp.rawsocket.RawSocketProtocol as P

/**
 * A RawSocket frame header: [type] (0 message, 1 PING, 2 PONG; see [RawSocketProtocol]) and payload [length].
 *
 * Tether-internal (`@InternalTetherApi`): shared with the testkit router; users should not rely on it.
 */
@InternalTetherApi
public data class FrameHeader(val type: Int, val length: Int) {
    init {
        require(length in 0..P.MAX_FRAME_LENGTH) { "frame length must fit 24 bits, got $length" }
    }

    /** The four header bytes. */
    public fun encode(): ByteArray =
        byteArrayOf(type.toByte(), (length ushr 16).toByte(), (length ushr 8).toByte(), length.toByte())

    /** Decoding of frame headers. */
    public companion object {
        /** Reads a header from the first four bytes of [bytes]; only the low three bits of the type byte count. */
        @JvmStatic
        public fun decode(bytes: ByteArray): FrameHeader {
            require(bytes.size >= P.FRAME_HEADER_LENGTH) { "a frame header is ${P.FRAME_HEADER_LENGTH} bytes" }
            val length =
                ((bytes[1].toInt() and 0xff) shl 16) or ((bytes[2].toInt() and 0xff) shl 8) or
                    (bytes[3].toInt() and 0xff)
            return FrameHeader(bytes[0].toInt() and P.TYPE_MASK, length)
        }
    }
}
