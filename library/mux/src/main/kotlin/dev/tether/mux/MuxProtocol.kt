package dev.tether.mux

/**
 * Wire constants of taskcluster's wsmux (specs/webhooktunnel.md §1-8, §14).
 *
 * Every frame is exactly one binary WebSocket message; message boundaries are the only framing.
 * ```
 *   0        1        2        3        4        5                     n+5
 *  +--------+--------+--------+--------+--------+--- ... ---------------+
 *  |  type  |      stream id (uint32, LITTLE-endian)   |  payload (n)    |
 *  +--------+--------+--------+--------+--------+--- ... ---------------+
 *
 *  DAT 0x00  payload = stream bytes (n >= 1; never sent empty)
 *  SYN 0x01  no payload: open stream id
 *  ACK 0x02  payload = uint32 LITTLE-endian credit (exactly 4 bytes sent; the first 4 read)
 *  FIN 0x03  no payload: half-close, the sender writes no more on this stream
 * ```
 * Server sessions open even ids from 0, client sessions odd ids from 1, +2 per open (uint32, wrapping).
 * ACKs are additive credits, one per application read; the opener's first ACK also accepts the stream.
 */
public object MuxProtocol {
    /** Type byte plus the 4-byte little-endian stream id. */
    public const val HEADER_SIZE: Int = 5

    /** Stream data. */
    public const val TYPE_DAT: Int = 0x00

    /** Opens a stream. */
    public const val TYPE_SYN: Int = 0x01

    /** Grants send credit (and, first time, accepts a stream). */
    public const val TYPE_ACK: Int = 0x02

    /** Half-closes a stream. */
    public const val TYPE_FIN: Int = 0x03

    /** Highest type any version understands; later ones are ignored (B/C). */
    public const val MAX_TYPE: Int = TYPE_FIN

    /** Size of an ACK's credit field; shorter ACKs crash real peers, so they are never sent and dropped on receipt. */
    public const val ACK_PAYLOAD_SIZE: Int = 4

    /**
     * Go's DefaultCapacity: the stream receive buffer (and announced window) of sessions with a zero config, and so
     * the most an acceptor may send before the opener's ACKs unless it knows the opener holds more.
     */
    public const val DEFAULT_CAPACITY: Int = 1024

    /** The webhooktunnel proxy's StreamBufferSize. */
    public const val PROXY_CAPACITY: Int = 4096

    /**
     * Largest DAT payload this side sends. A bigger write goes out as several DATs, so a reader that keeps up can
     * consume and credit the first while the rest is on its way, instead of the window moving one round trip at a
     * time. Receivers take DATs of any size up to their window.
     */
    public const val MAX_DATA_PAYLOAD: Int = 16 * 1024

    /** Un-accepted incoming streams a session holds; one more aborts the session (defaultStreamQueueSize). */
    public const val ACCEPT_QUEUE_SIZE: Int = 200

    /**
     * Default of [MuxConfig.maxStreams]: streams the peer may have open at once. Not upstream's (it has no bound;
     * its 200 bounds un-accepted streams only): 10 000 idle streams cost a session about 2 MB, and 10 000 full
     * default windows 10 MiB more.
     */
    public const val DEFAULT_MAX_STREAMS: Int = 10_000

    /** Default interval between keepalive pings, and the pong deadline (defaultKeepAliveInterval). */
    public const val DEFAULT_KEEPALIVE_INTERVAL_MILLIS: Long = 20_000

    /** How long an opener waits for the first ACK (defaultStreamAcceptDeadline). */
    public const val DEFAULT_ACCEPT_DEADLINE_MILLIS: Long = 30_000

    /** Period of the sweep that forgets dead, drained streams (deadCheckDuration). */
    public const val DEAD_STREAM_SWEEP_MILLIS: Long = 2_000

    /** First id a client session opens. */
    public const val FIRST_CLIENT_ID: Int = 1

    /** First id a server session opens. */
    public const val FIRST_SERVER_ID: Int = 0

    /** Id step between two opens of one session. */
    public const val ID_STEP: Int = 2
}
