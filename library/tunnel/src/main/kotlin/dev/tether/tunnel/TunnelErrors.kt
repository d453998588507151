package dev.tether.tunnel

import dev.tether.core.TetherException

/**
 * Errors of the tunnel client. Names follow upstream whclient (`ErrAuthFailed`, `ErrRetryFailed`, `ErrBadToken`,
 * `ErrClientClosed`); running out of the retry budget is core's [dev.tether.core.backoff.RetryTimedOutException].
 */
public sealed class TunnelException(message: String, cause: Throwable? = null) : TetherException(message, cause)

/** The proxy answered 401: the token was refused. Not retried; supply a token signed with the proxy's secret. */
public class TunnelAuthFailedException(
    /** The proxy that refused the token. */
    public val proxyUrl: String,
    /** The HTTP status it answered (401). */
    public val status: Int,
) : TunnelException(
    "auth failed: the proxy at $proxyUrl refused the token with HTTP $status; " +
        "check the signing secret and the tid claim",
)

/**
 * The proxy refused the registration in a way retrying cannot fix (a 4xx other than 401, or a 2xx that is not an
 * upgrade). [status] is the HTTP status.
 */
public class RetryFailedException(
    /** The proxy that refused the registration. */
    public val proxyUrl: String,
    /** The HTTP status it answered. */
    public val status: Int,
) : TunnelException(
    "retry failed: the proxy at $proxyUrl answered the registration with HTTP $status; " +
        "check the proxy URL and the tunnel id",
)

/** The token generator failed, or produced a token that is not currently valid. */
public class BadTokenException(message: String, cause: Throwable? = null) :
    TunnelException("bad auth token: $message", cause)

/** The tunnel client was closed; it cannot be used again. */
public class TunnelClosedException : TunnelException("client closed")

/**
 * The TLS handshake with an `https` (or `wss`) origin of [TunnelClient.forward] failed: the origin's certificate is
 * not trusted, or does not name the origin's host. The viewer is answered `502 Bad Gateway` with this message, and
 * [TunnelStats.originTlsFailures] counts it. If the origin is yours and has a private or self-signed certificate,
 * trust it with [TunnelConfig.Builder.originTrustManager] (verification stays on).
 */
public class OriginTlsException(
    /** The origin, as given to [TunnelClient.forward] (host and port). */
    public val origin: String,
    cause: Throwable?,
) : TunnelException(
    "TLS with the origin $origin failed (${cause?.message ?: cause?.javaClass?.simpleName}); if the origin is " +
        "yours, trust its certificate with TunnelConfig.originTrustManager",
    cause,
)
