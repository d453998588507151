package dev.tether.relay

import dev.tether.core.TetherException

/** Errors of the relay client, connections, manager and codec. */
public sealed class RelayException(message: String, cause: Throwable? = null) : TetherException(message, cause)

/**
 * A connection to peer [peerId] already exists on this relay client, or is still waiting for the peer to come
 * online (upstream ErrConnAlreadyExists). Close the existing connection first.
 */
public class ConnAlreadyExistsException(public val peerId: PeerId) :
    RelayException("connection already exists for peer $peerId; close it before opening another")

/** The relay client has no live session (upstream ErrRelayClientNotConnected). Connect it (or wait for the guard). */
public class RelayClientNotConnectedException(detail: String = "relay client not connected") :
    RelayException("$detail; call connect() or wait for the reconnect")

/** A payload of [size] bytes exceeds the [limit] a relay message can carry; split it (upstream breaks the session). */
public class PayloadTooLargeException(public val size: Int, public val limit: Int = RelayProtocol.MAX_PAYLOAD_SIZE) :
    RelayException("payload of $size bytes exceeds the relay limit of $limit bytes; split it into smaller messages")

/** The auth token does not fit in an Auth message ([size] > [limit] bytes). */
public class TokenTooLargeException(public val size: Int, public val limit: Int = RelayProtocol.MAX_TOKEN_SIZE) :
    RelayException("auth token of $size bytes exceeds the $limit-byte limit of the Auth message")

/** A token from management could not be decoded (bad base64 signature or empty payload). */
public class InvalidTokenException(detail: String, cause: Throwable? = null) : RelayException("invalid relay token: $detail", cause)

/** An inbound relay message could not be decoded; it is skipped (client) or the session is closed (server). */
public class MalformedRelayMessageException(detail: String) : RelayException("malformed relay message: $detail")

/**
 * The relay handshake with [url] failed: the server closed the socket without an AuthResponse (it does so for an
 * invalid or expired token, an unknown peer id format, or a refused login) or answered with something else.
 */
public class RelayHandshakeException(public val url: String, detail: String, cause: Throwable? = null) :
    RelayException("relay handshake with $url failed: $detail", cause)

/** No AuthResponse from [url] within [timeoutMillis] (8 s by default). */
public class RelayHandshakeTimeoutException(public val url: String, public val timeoutMillis: Long) :
    RelayException("no AuthResponse from $url within $timeoutMillis ms")

/** The relay at [url] could not be reached (dial failed or timed out); [cause] is the transport error. */
public class RelayDialException(public val url: String, cause: Throwable) :
    RelayException("cannot reach relay $url: ${cause.message}", cause)

/** Peer [peerId] did not come online within [timeoutMillis] (30 s by default, or the caller's bound). */
public class PeerNotOnlineException(public val peerId: PeerId, public val timeoutMillis: Long) :
    RelayException("peer $peerId did not come online within $timeoutMillis ms")

/** The relay session ended while openConn waited for [peerId] to come online. Retry after the reconnect. */
public class PeerWaitCancelledException(public val peerId: PeerId, cause: Throwable? = null) :
    RelayException("wait for peer $peerId to come online has been cancelled: the relay session ended", cause)

/**
 * The relay connection is closed (net.ErrClosed): by [close], because the remote peer went offline, or because the
 * relay session ended; [reason] says which.
 */
public class ConnClosedException(public val reason: String, cause: Throwable? = null) :
    RelayException("relay connection closed: $reason", cause)

/** A read or write deadline passed before the operation completed; the connection stays usable. */
public class DeadlineExceededException(public val operation: String) :
    RelayException("$operation deadline exceeded; set a later deadline to retry")

/** No server sent a health check within [timeoutMillis]; the session was closed and will be re-established. */
public class HealthCheckTimeoutException(public val timeoutMillis: Long) :
    RelayException("no health check from the relay server within $timeoutMillis ms; the server is presumed dead")

/** The relay server ended the session with a Close message (shutdown or restart). */
public class ServerClosedException : RelayException("the relay server closed the session")

/** The relay session ended because the socket dropped or a protocol violation arrived. */
public class RelaySessionLostException(detail: String, cause: Throwable? = null) :
    RelayException("relay session lost: $detail", cause)

/** Every relay URL failed ([failures] has one error per URL), or none was configured. */
public class NoRelayAvailableException(public val failures: List<Throwable>) :
    RelayException(
        if (failures.isEmpty()) "no relay server available: the URL list is empty"
        else "no relay server available: " + failures.joinToString("; ") { it.message ?: it.toString() },
        failures.firstOrNull(),
    ) {
    init {
        failures.drop(1).forEach { addSuppressed(it) }
    }
}

/** The manager (or client) was closed; it accepts no more work. */
public class RelayClosedException(what: String) : RelayException("$what is closed")

/** No relay server answered within the picker's bound of [timeoutMillis]. */
public class ServerPickTimeoutException(public val timeoutMillis: Long) :
    RelayException("no relay server connected within $timeoutMillis ms")
