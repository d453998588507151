package dev.tether.wamp.rawsocket

import dev.tether.core.InternalTetherApi

/**
 * WAMP RawSocket: the handshake and framing used over TCP, TLS and Unix domain sockets.
 *
 * ```
 * Handshake, client -> router (4 bytes):        Router reply, accepted:        Router reply, refused:
 * +----------+-----------+--------+--------+    +------+-----------+------+------+ +------+-----------+------+------+
 * |   0x7F   | LLLL SSSS |  0x00  |  0x00  |    | 0x7F | LLLL SSSS | 0x00 | 0x00 | | 0x7F | EEEE 0000 | 0x00 | 0x00 |
 * +----------+-----------+--------+--------+    +------+-----------+------+------+ +------+-----------+------+------+
 *   magic     L: max length 2^(9+L) bytes that this side will receive; S: serializer; E: error code
 *
 * Frame (after the handshake, both directions):
 * +-----------+-----------------------------------+---------------------------+
 * | 00000 TTT |  length (24-bit big-endian)       |  payload (length bytes)   |
 * +-----------+-----------------------------------+---------------------------+
 *   T: 0 WAMP message, 1 PING, 2 PONG (a PONG echoes the PING's payload); the high 5 bits are ignored
 * ```
 *
 * Each side sends at most the maximum length the PEER announced, and closes the connection when it receives a
 * frame longer than its own announced maximum.
 *
 * Tether-internal (`@InternalTetherApi`): shared with the testkit router; users should not rely on it.
 */
@InternalTetherApi
public object RawSocketProtocol {
    /** First byte of every handshake. */
    public const val MAGIC: Int = 0x7F

    /** Length of the handshake request and reply. */
    public const val HANDSHAKE_LENGTH: Int = 4

    /** Length of a frame header: type byte plus 24-bit length. */
    public const val FRAME_HEADER_LENGTH: Int = 4

    /** Frame type: one serialized WAMP message. */
    public const val TYPE_MESSAGE: Int = 0

    /** Frame type: PING; the receiver answers PONG with the same payload. */
    public const val TYPE_PING: Int = 1

    /** Frame type: PONG, the answer to a PING. */
    public const val TYPE_PONG: Int = 2

    /** Mask of the frame type bits in the first header byte. */
    public const val TYPE_MASK: Int = 0x07

    /** Length exponents are offsets from 2^9: exponent L announces 2^(9+L) bytes. */
    public const val BASE_EXPONENT: Int = 9

    /** The largest length exponent (15 announces 2^24 = 16 MiB). */
    public const val MAX_LENGTH_EXPONENT: Int = 15

    /** Smallest announceable maximum message length (exponent 0). */
    public const val MIN_MAX_LENGTH: Int = 1 shl BASE_EXPONENT

    /** Largest announceable maximum message length (exponent 15), also the default receive limit. */
    public const val DEFAULT_MAX_LENGTH: Int = 1 shl (BASE_EXPONENT + MAX_LENGTH_EXPONENT)

    /** Largest length the 24-bit header can carry. */
    public const val MAX_FRAME_LENGTH: Int = (1 shl 24) - 1

    /** Handshake error: the serializer is not supported. */
    public const val ERROR_SERIALIZER_UNSUPPORTED: Int = 1

    /** Handshake error: the announced maximum message length is not acceptable. */
    public const val ERROR_MAX_LENGTH_UNACCEPTABLE: Int = 2

    /** Handshake error: reserved bits (bytes 3 and 4) were used. */
    public const val ERROR_RESERVED_BITS_USED: Int = 3

    /** Handshake error: the router reached its connection limit. */
    public const val ERROR_MAX_CONNECTIONS: Int = 4

    /**
     * The length exponent announcing [recvLimit]: the smallest L in 0..14 with 2^(9+L) >= recvLimit, else 15;
     * a limit <= 0 means the default (15, 16 MiB).
     */
    @JvmStatic
    public fun exponentFor(recvLimit: Long): Int {
        if (recvLimit <= 0) return MAX_LENGTH_EXPONENT
        for (n in 0 until MAX_LENGTH_EXPONENT) if ((1L shl (BASE_EXPONENT + n)) >= recvLimit) return n
        return MAX_LENGTH_EXPONENT
    }

    /** The maximum message length exponent [exponent] announces: 2^(9+exponent). */
    @JvmStatic
    public fun maxLengthOf(exponent: Int): Int {
        require(exponent in 0..MAX_LENGTH_EXPONENT) { "length exponent must be 0..15, got $exponent" }
        return 1 shl (BASE_EXPONENT + exponent)
    }

    /** [recvLimit] rounded up to the power of two the handshake can announce (512 B .. 16 MiB). */
    @JvmStatic
    public fun roundRecvLimit(recvLimit: Long): Int = maxLengthOf(exponentFor(recvLimit))

    /** A human-readable meaning of handshake error [code]. */
    @JvmStatic
    public fun errorText(code: Int): String = when (code) {
        ERROR_SERIALIZER_UNSUPPORTED -> "serializer unsupported"
        ERROR_MAX_LENGTH_UNACCEPTABLE -> "maximum message length unacceptable"
        ERROR_RESERVED_BITS_USED -> "use of reserved bits (unsupported feature)"
        ERROR_MAX_CONNECTIONS -> "maximum connection count reached"
        else -> "error $code"
    }
}
