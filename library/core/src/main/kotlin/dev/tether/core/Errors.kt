@file:OptIn(InternalTetherApi::class)

package dev.tether.core

/**
 * Why a WebSocket could not be opened or stopped working. Each subclass names one cause; callers that only care
 * about "the connection is gone" catch this type.
 */
public sealed class ConnectionException(message: String, cause: Throwable? = null) : TetherException(message, cause)

/**
 * The dial did not complete within the configured dial timeout. Check the address and the network path. [url] is
 * the address with its credentials masked (as in every message here).
 */
public class DialTimeoutException(url: String, public val timeoutMillis: Long) :
    ConnectionException("dial to ${redactUrl(url)} did not complete within $timeoutMillis ms") {
    /** The address dialled, user info and query values masked. */
    public val url: String = redactUrl(url)
}

/** The TCP or TLS connection could not be made (refused, unreachable, bad certificate, …). */
public class DialFailedException(url: String, cause: Throwable) :
    ConnectionException("dial to ${redactUrl(url)} failed: ${cause.message ?: cause::class.simpleName}", cause) {
    /** The address dialled, user info and query values masked. */
    public val url: String = redactUrl(url)
}

/**
 * The server answered the upgrade request with [status] instead of 101 Switching Protocols. [retryAfterSeconds]
 * carries a `Retry-After` header when the server sent one.
 */
public open class HandshakeRejectedException(
    url: String,
    /** The HTTP status of the refusal. */
    public val status: Int,
    /** The `Retry-After` header in seconds, or null when the server sent none (or an HTTP date). */
    public val retryAfterSeconds: Long? = null,
    message: String = "server at ${redactUrl(url)} refused the WebSocket upgrade with HTTP $status",
) : ConnectionException(message) {
    /** The address dialled, user info and query values masked. */
    public val url: String = redactUrl(url)
}

/**
 * The server refused the credentials (HTTP 401 or 403). Retrying with the same token will not help: rotate the
 * token or fix the token provider.
 */
public class AuthenticationFailedException(url: String, status: Int) :
    HandshakeRejectedException(
        url,
        status,
        null,
        "server at ${redactUrl(url)} rejected the credentials with HTTP $status; supply a valid token",
    )

/** The connection was closed by either side; [code] and [reason] are from the close frame when there was one. */
public class ConnectionClosedException(
    /** The close frame's status code, or null when the connection ended without one. */
    public val code: Int?,
    /** The close frame's reason text, or null without a close frame. */
    public val reason: String?,
    cause: Throwable? = null,
) : ConnectionException(
    closedMessage(code, reason, cause),
    cause,
)

private fun closedMessage(code: Int?, reason: String?, cause: Throwable?): String = when {
    code != null -> "connection closed with $code ${reason.orEmpty()}".trim()
    cause != null -> "connection closed: ${cause.message}"
    else -> "connection closed"
}

/** No pong answered a client ping within the pong timeout: the peer or the path is dead. */
public class KeepAliveExpiredException(public val timeoutMillis: Long) :
    ConnectionException("no pong within $timeoutMillis ms; the connection is presumed dead")

/** An inbound message exceeded the maximum message size; the connection was closed with 1009. */
public class MessageTooLargeException(public val limitBytes: Long) :
    ConnectionException("inbound message exceeds the $limitBytes-byte limit")
