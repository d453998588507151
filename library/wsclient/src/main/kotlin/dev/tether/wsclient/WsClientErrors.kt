package dev.tether.wsclient

import dev.tether.core.TetherException

/** Errors of the correlating client. */
public sealed class WsClientException(message: String, cause: Throwable? = null) : TetherException(message, cause)

/**
 * No reply to request [requestId] arrived within [timeoutMillis]. The pending entry is freed; a reply arriving
 * later goes to the handler. The connection is untouched.
 */
public class RequestTimeoutException(public val requestId: String, public val timeoutMillis: Long) :
    WsClientException("no reply to request $requestId within $timeoutMillis ms")

/**
 * The connection dropped while request [requestId] waited for its reply. When [requestSent] is true the server may
 * have received and acted on it (the outcome is unknown); nothing is resent automatically.
 */
public class ConnectionLostException(public val requestId: String, public val requestSent: Boolean, cause: Throwable?) :
    WsClientException(
        "connection dropped before the reply to request $requestId" +
            if (requestSent) " (it was sent; its outcome is unknown)" else " (it was not sent)",
        cause,
    )

/** A request with id [requestId] is already waiting for its reply; ids must be unique among pending requests. */
public class DuplicateRequestIdException(public val requestId: String) :
    WsClientException("request id $requestId is already pending; use a fresh id (Envelope.request makes one)")

/** FailFirstConnect is set and the first dial failed; [cause] says why. */
public class InitialConnectException(cause: Throwable) :
    WsClientException("initial connect failed: ${cause.message}", cause)

/** The client was closed; it accepts no more work. */
public class ClientClosedException : WsClientException("client closed")

/** Nothing could be sent within [timeoutMillis] because no connection was up. */
public class NotConnectedException(public val timeoutMillis: Long) :
    WsClientException("no connection within $timeoutMillis ms; the client is still trying to connect")
