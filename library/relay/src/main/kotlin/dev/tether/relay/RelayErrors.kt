package dev.tether.relay

import dev.tether.core.TetherException

/** Errors of the relay client, connections, manager and codec. */
public sealed class RelayException(message: String, cause: Throwable? = null) : TetherException(message, cause)

/**
 * A connection to peer [peerId] already exists on this relay client, or is still waiting for the peer to come
 * online (upstream ErrConnAlreadyExists). Close the existing connection first.
 */
public class ConnAlreadyExistsException(
    /** The peer that already has a connection. */
    public val peerId: PeerId,
) : RelayException("connection already exists for peer $peerId; close it before opening another")

/**
 * The relay client has no live session (upstream ErrRelayClientNotConnected): it was never connected, or its
 * session ended, also while openConn waited for its peer ([cause] is then why the session ended). Connect a client
 * (or wait for the manager's guard).
 */
public class RelayClientNotConnectedException(
    detail: String = "relay client not connected",
    cause: Throwable? = null,
) : RelayException("$detail; call connect() or wait for the reconnect", cause)

/** A payload of [size] bytes exceeds the [limit] a relay message can carry; split it (upstream breaks the session). */
public class PayloadTooLargeException(
    /** The payload's size in bytes. */
    public val size: Int,
    /** The largest payload a relay message carries. */
    public val limit: Int = RelayProtocol.MAX_PAYLOAD_SIZE,
) : RelayException("payload of $size bytes exceeds the relay limit of $limit bytes; split it into smaller messages")

/**
 * An auth token is unusable: management's form could not be decoded (bad base64 signature, empty payload), or the
 * token does not fit in an Auth message.
 */
public class InvalidTokenException(detail: String, cause: Throwable? = null) :
    RelayException("invalid relay token: $detail", cause)

/** An inbound relay message could not be decoded; it is skipped (client) or the session is closed (server). */
public class MalformedRelayMessageException(detail: String) : RelayException("malformed relay message: $detail")

/**
 * The relay handshake with [url] failed: the server closed the socket without an AuthResponse (it does so for an
 * invalid or expired token, an unknown peer id format, or a refused login), answered with something else, or did not
 * answer within the handshake timeout ([timedOut]).
 */
public class RelayHandshakeException(
    /** The relay URL the handshake was with. */
    public val url: String,
    detail: String,
    cause: Throwable? = null,
    /** True when no AuthResponse came within [RelayClientConfig.handshakeTimeout]. */
    public val timedOut: Boolean = false,
) : RelayException("relay handshake with $url failed: $detail", cause)

/** The relay at [url] could not be reached (dial failed or timed out); [cause] is the transport error. */
public class RelayDialException(
    /** The relay URL that could not be reached. */
    public val url: String,
    cause: Throwable,
) : RelayException("cannot reach relay $url: ${cause.message}", cause)

/** Peer [peerId] did not come online within [timeoutMillis] (30 s by default, or the caller's bound). */
public class PeerNotOnlineException(
    /** The peer waited for. */
    public val peerId: PeerId,
    /** How long openConn waited. */
    public val timeoutMillis: Long,
) : RelayException("peer $peerId did not come online within $timeoutMillis ms")

/**
 * The relay connection is closed (net.ErrClosed): by [close][RelayConn.close], because the remote peer went offline,
 * or because the relay session ended; [reason] says which.
 */
public class ConnClosedException(
    /** Why the connection closed. */
    public val reason: String,
    cause: Throwable? = null,
) : RelayException("relay connection closed: $reason", cause)

/** A read or write deadline passed before the operation completed; the connection stays usable. */
public class DeadlineExceededException(
    /** `read` or `write`. */
    public val operation: String,
) : RelayException("$operation deadline exceeded; set a later deadline to retry")

/** How a relay session was lost (the [RelaySessionLostException.loss] of a session that ended by itself). */
public enum class RelaySessionLoss {
    /** No health check arrived within [RelayClientConfig.healthCheckTimeout]: the server is presumed dead. */
    HEALTH_CHECK_TIMEOUT,

    /** The server ended the session with a Close message (shutdown or restart). */
    SERVER_CLOSED,

    /** The socket dropped, or the server sent something the protocol does not allow. */
    CONNECTION_LOST,
}

/**
 * The relay session ended without the client closing it; [loss] says how. A [RelayClient] ends with it (see
 * [RelayClient.awaitClosed]); the [Manager] reconnects.
 */
public class RelaySessionLostException(
    /** How the session was lost. */
    public val loss: RelaySessionLoss,
    detail: String,
    cause: Throwable? = null,
) : RelayException("relay session lost: $detail", cause)

/**
 * Every relay URL failed ([failures] has one error per URL that answered), none was configured, or the pick ran out
 * of time ([timedOut]).
 */
public class NoRelayAvailableException(
    /** One error per URL that failed. */
    public val failures: List<Throwable>,
    /** True when the pick's bound passed before every URL had answered. */
    public val timedOut: Boolean = false,
) : RelayException(message(failures, timedOut), failures.firstOrNull()) {
    init {
        failures.drop(1).forEach { addSuppressed(it) }
    }

    private companion object {
        fun message(failures: List<Throwable>, timedOut: Boolean): String {
            val parts = failures.map { it.message ?: it.toString() } +
                (if (timedOut) listOf("no relay server connected in time") else emptyList())
            return if (parts.isEmpty()) {
                "no relay server available: the URL list is empty"
            } else {
                "no relay server available: " + parts.joinToString("; ")
            }
        }
    }
}

/** The client or manager was closed by its owner; it accepts no more work. */
public class RelayClosedException(what: String) : RelayException("$what is closed")
