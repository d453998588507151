package dev.tether.relay

/**
 * Wire constants of the netbird relay protocol, version 1 (specs/netbird-relay.md §2-§8).
 *
 * Every relay message is exactly one binary WebSocket message; the WebSocket framing delimits it, so there are no
 * length fields:
 * ```
 *  0         1         2
 * +---------+---------+--------------------------------------------------------------+
 * | version |  type   | body (depends on type)                                       |
 * |  0x01   |  3..11  |                                                              |
 * +---------+---------+--------------------------------------------------------------+
 *
 * Transport (3)          | 36-byte peer id (C->S: destination, S->C: source) | payload ... |
 * Close (4), HealthCheck (5): empty body
 * Auth (6)               | 21 12 A4 42 | 36-byte own peer id | token: 01 | 32-byte HMAC | expiry ASCII |
 * AuthResponse (7)       | UTF-8 instance URL of the server (at least 1 byte)                       |
 * Subscribe (8), Unsubscribe (9), PeersOnline (10), PeersWentOffline (11)
 *                        | N x 36-byte peer ids, N <= 244 per message                               |
 *
 * peer id = "sha-" (73 68 61 2d) || SHA-256(UTF-8 peer key)
 * ```
 */
public object RelayProtocol {
    /** The only protocol version; byte 0 of every message. */
    public const val VERSION: Byte = 1

    /** Unknown / unset type; never sent. */
    public const val TYPE_UNKNOWN: Int = 0

    /** Legacy Hello (rejected by servers since v0.75); never sent. */
    public const val TYPE_HELLO: Int = 1

    /** Legacy HelloResponse; never sent. */
    public const val TYPE_HELLO_RESPONSE: Int = 2

    /** Data for or from a peer: peer id + payload. */
    public const val TYPE_TRANSPORT: Int = 3

    /** Graceful end of the relay session, either direction. */
    public const val TYPE_CLOSE: Int = 4

    /** Server ping; the client echoes the same two bytes. */
    public const val TYPE_HEALTH_CHECK: Int = 5

    /** First client message: magic, own peer id, auth token. */
    public const val TYPE_AUTH: Int = 6

    /** Server answer to a valid Auth: the server's instance URL. */
    public const val TYPE_AUTH_RESPONSE: Int = 7

    /** Client asks to be told when the listed peers come online or go offline. */
    public const val TYPE_SUBSCRIBE_PEER_STATE: Int = 8

    /** Client withdraws interest in the listed peers. */
    public const val TYPE_UNSUBSCRIBE_PEER_STATE: Int = 9

    /** Server: the listed peers are online. */
    public const val TYPE_PEERS_ONLINE: Int = 10

    /** Server: the listed peers went offline. */
    public const val TYPE_PEERS_WENT_OFFLINE: Int = 11

    /** Size of the version + type header. */
    public const val HEADER_SIZE: Int = 2

    /** Magic cookie that opens the Auth body. */
    public val AUTH_MAGIC: ByteArray get() = byteArrayOf(0x21, 0x12, 0xA4.toByte(), 0x42)

    /** Size of a hashed peer id on the wire. */
    public const val PEER_ID_SIZE: Int = 36

    /** Size of the `sha-` prefix of a peer id. */
    public const val PEER_ID_PREFIX_SIZE: Int = 4

    /** Both sides read each message into a buffer of this size; a longer message breaks the server's reader. */
    public const val MAX_MESSAGE_SIZE: Int = 8820

    /** Largest Transport payload: [MAX_MESSAGE_SIZE] minus header and peer id. */
    public const val MAX_PAYLOAD_SIZE: Int = MAX_MESSAGE_SIZE - HEADER_SIZE - PEER_ID_SIZE

    /** Peer ids that fit in one peer-state message: (8820 - 2) / 36. */
    public const val MAX_PEERS_PER_MESSAGE: Int = (MAX_MESSAGE_SIZE - HEADER_SIZE) / PEER_ID_SIZE

    /** Largest Auth message the server reads (MaxHandshakeSize). */
    public const val MAX_AUTH_SIZE: Int = 212

    /** Largest token an Auth message can carry: 212 - 2 - 4 - 36. */
    public const val MAX_TOKEN_SIZE: Int = MAX_AUTH_SIZE - HEADER_SIZE - 4 - PEER_ID_SIZE

    /** Largest AuthResponse the client accepts (MaxHandshakeRespSize). */
    public const val MAX_AUTH_RESPONSE_SIZE: Int = 8192

    /** Token algorithm byte for HMAC-SHA256. */
    public const val TOKEN_ALGO_HMAC_SHA256: Byte = 1

    /** Raw HMAC-SHA256 signature length in a token. */
    public const val TOKEN_SIGNATURE_SIZE: Int = 32

    /** Shortest accepted token payload (a 10-digit Unix expiry). */
    public const val TOKEN_MIN_PAYLOAD_SIZE: Int = 10

    /** WebSocket path of the relay endpoint. */
    public const val WEBSOCKET_PATH: String = "/relay"

    /** Plain relay address scheme (dialled as `ws`). */
    public const val SCHEME_PLAIN: String = "rel"

    /** TLS relay address scheme (dialled as `wss`). */
    public const val SCHEME_TLS: String = "rels"

    /** Client: how long to wait for the AuthResponse (serverResponseTimeout). */
    public const val HANDSHAKE_TIMEOUT_MILLIS: Long = 8_000

    /** Server: the handshake must complete within this time. */
    public const val SERVER_HANDSHAKE_TIMEOUT_MILLIS: Long = 10_000

    /** Server sends a health check this often. */
    public const val HEALTH_CHECK_INTERVAL_MILLIS: Long = 25_000

    /** Server: close a peer that did not answer a health check within this time (25 + 20 s). */
    public const val SERVER_HEALTH_TIMEOUT_MILLIS: Long = 45_000

    /** Client: declare the server dead when no health check arrived within this time (25 + 10 s). */
    public const val CLIENT_HEALTH_TIMEOUT_MILLIS: Long = 35_000

    /** Server write timeout per message. */
    public const val SERVER_WRITE_TIMEOUT_MILLIS: Long = 10_000

    /** Messages a relay connection queues for its reader (upstream's fixed size; configurable here). */
    public const val CONN_QUEUE_SIZE: Int = 100

    /** openConn waits at most this long for the peer to come online (OpenConnectionTimeout). */
    public const val OPEN_CONN_TIMEOUT_MILLIS: Long = 30_000

    /** An early message (peer without a connection yet) is kept this long. */
    public const val EARLY_BUFFER_TTL_MILLIS: Long = 5_000

    /** Sources the early buffer holds a message for, at most. */
    public const val EARLY_BUFFER_CAPACITY: Int = 10_000

    /** Per-attempt dial timeout (DefaultConnectionTimeout). */
    public const val DIAL_TIMEOUT_MILLIS: Long = 30_000

    /** Guard: wait before reconnecting the same client (quickReconnectBudget). */
    public const val QUICK_RECONNECT_DELAY_MILLIS: Long = 1_500

    /** Picker: most dials in flight at once. */
    public const val PICKER_MAX_CONCURRENCY: Int = 7

    /** Picker: overall bound of one pick. */
    public const val PICKER_TIMEOUT_MILLIS: Long = 30_000

    /** Manager: how often unused foreign relays are looked for. */
    public const val CLEANUP_INTERVAL_MILLIS: Long = 60_000

    /** Manager: a foreign relay younger than this is never cleaned up. */
    public const val KEEP_UNUSED_SERVER_MILLIS: Long = 5_000

    /** Management token TTL (relay CredentialsTTL). */
    public const val TOKEN_TTL_MILLIS: Long = 12 * 3_600_000L
}
