package dev.tether.wamp.error

import dev.tether.core.TetherException

/**
 * Root of every failure the WAMP client reports. Callers that only care that "the WAMP operation failed" catch
 * this type; the subclasses say why.
 */
public sealed class WampException(message: String, cause: Throwable? = null) : TetherException(message, cause)

/**
 * A peer sent bytes that are not a valid WAMP message (bad encoding, unknown message type, wrong field types).
 * The connection that produced it should be closed: the peer does not speak WAMP as this client does.
 */
public class ProtocolViolationException(message: String, cause: Throwable? = null) : WampException(message, cause)

/**
 * A value could not be serialized (for example NaN in JSON, or a type the value model does not know). Nothing
 * was sent; fix the argument.
 */
public class SerializationException(message: String, cause: Throwable? = null) : WampException(message, cause)

/**
 * The router refused the RawSocket handshake with [errorCode] (1 serializer unsupported, 2 length unacceptable,
 * 3 reserved bits used, 4 connection limit reached), or answered with bytes that are not a handshake.
 */
public class RawSocketHandshakeException(public val errorCode: Int, message: String) : WampException(message)

/**
 * A message is longer than the limit the receiving side announced. Outbound: nothing was sent (split the payload
 * or raise the peer's limit). Inbound: the connection was closed because the peer broke this side's limit.
 */
public class MessageTooLongException(public val length: Long, public val limit: Long, outbound: Boolean) :
    WampException(
        if (outbound) {
            "message of $length bytes exceeds the peer's limit of $limit bytes; nothing was sent"
        } else {
            "peer sent a message of $length bytes, over this side's limit of $limit bytes; connection closed"
        },
    )

/**
 * The router refused or ended the session with ABORT: [reason] is its URI (e.g.
 * `wamp.error.authentication_failed`, `wamp.error.no_such_realm`), [details] its details, and the message
 * includes `details.message` when the router sent one.
 */
public class AbortException(public val reason: String, public val details: Map<String, Any?>) :
    WampException("router aborted the session: $reason${(details["message"] as? String)?.let { ": $it" } ?: ""}")

/**
 * A request got an ERROR reply. [error] is the error URI; [args], [kwargs] and [details] come from the ERROR
 * message. A call's failure is the subclass [RpcException].
 */
public open class WampErrorException(
    /** The error URI. */
    public val error: String,
    /** The ERROR's positional arguments. */
    public val args: List<Any?> = emptyList(),
    /** The ERROR's keyword arguments. */
    public val kwargs: Map<String, Any?> = emptyMap(),
    /** The ERROR's details. */
    public val details: Map<String, Any?> = emptyMap(),
    message: String = "$error${args.firstOrNull()?.let { ": $it" } ?: ""}",
) : WampException(message)

/**
 * A call failed with an ERROR: [error] URI, [args], [kwargs] and [details] as the callee or router sent them.
 * Invocation handlers throw it to answer a call with that error.
 */
public class RpcException @JvmOverloads constructor(
    error: String,
    args: List<Any?> = emptyList(),
    kwargs: Map<String, Any?> = emptyMap(),
    details: Map<String, Any?> = emptyMap(),
) : WampErrorException(error, args, kwargs, details)

/**
 * The router did not answer a request within the session's response timeout. The request may still take effect
 * on the router; a late reply is logged and dropped.
 */
public class ResponseTimeoutException(public val request: String, public val timeoutMillis: Long) :
    WampException("no reply to $request within $timeoutMillis ms")

/**
 * The session ended (GOODBYE, ABORT, connection loss or close) while the operation was pending or before it started.
 * Reconnect with a new session, or use [dev.tether.wamp.WampClient], which does. [WampConnectionLostException] is the
 * case where the connection was lost.
 */
public open class WampSessionClosedException(message: String, cause: Throwable? = null) : WampException(message, cause)

/**
 * The connection to the router was lost (closed, reset, keepalive expired) while the operation was pending, or
 * there was no connection to run it on. [cause] is the transport's `dev.tether.core.ConnectionException` when
 * there is one. Whether a call that was in flight took effect on the callee is unknown: retry only what is safe to
 * repeat. A [dev.tether.wamp.WampClient] reconnects by itself; a plain [dev.tether.wamp.WampSession] is over.
 */
public class WampConnectionLostException(
    message: String,
    cause: Throwable? = null,
) : WampSessionClosedException(message, cause)

/**
 * A [dev.tether.wamp.WampClient] gave up reconnecting: [attempts] consecutive attempts failed
 * ([dev.tether.wamp.ReconnectPolicy.maxAttempts]); the last one's failure is the [cause]. The client is closed; create
 * a new one to try again.
 */
public class ReconnectExhaustedException(public val attempts: Int, cause: Throwable?) :
    WampException("gave up reconnecting after $attempts failed attempts${cause?.message?.let { ": $it" } ?: ""}", cause)

/**
 * An invocation handler tried to send a progressive result the caller cannot receive: the caller did not ask
 * for progress (`receive_progress`), or the invocation was already answered. Nothing was sent; send the data in
 * the final result instead.
 */
public class ProgressNotAcceptedException(message: String) : WampException(message)

/**
 * A progressive call's chunks arrived faster than the streaming handler of invocation [invocation] took them, and its
 * buffer of [capacity] chunks ([dev.tether.wamp.SessionConfig.invocationChunkBuffer]) was full. The handler's chunk
 * stream ends with this exception after the chunks buffered before it (none is skipped silently); later chunks are
 * dropped. A handler that lets it escape answers the call with ERROR [ERROR]. WAMP has no flow control from callee to
 * caller: take chunks faster (hand slow work to another coroutine) or raise the buffer.
 */
public class ChunkBufferOverflowException(public val invocation: Long, public val capacity: Int) :
    WampException(
        "invocation $invocation: more than $capacity chunks waiting for the handler; the rest of the call's chunks " +
            "were dropped",
    ) {
    /** The error URI of this failure. */
    public companion object {
        /** The error URI the caller gets when a handler lets this exception escape. */
        public const val ERROR: String = "dev.tether.error.chunk_buffer_overflow"
    }
}

/**
 * Progressive results of call [request] arrived faster than its progress callback took them, and [capacity] of them
 * (`SessionConfig.progressBuffer`) were already waiting. The call fails with this exception and is cancelled (CANCEL
 * with the call's cancel mode); results still waiting are not delivered. WAMP has no flow control from callee to
 * caller: keep the callback quick (hand slow work to another coroutine) or raise the buffer.
 */
public class ProgressBufferOverflowException(public val request: Long, public val capacity: Int) :
    WampException(
        "call $request: more than $capacity progressive results waiting for the progress callback; the call was " +
            "cancelled",
    )

/**
 * This client refused to answer the router's CHALLENGE for [authMethod]: answering would cost more than the client
 * allows (a WAMP-CRA challenge asking for more PBKDF2 iterations or a longer key than `AuthHandler.wampCra` caps
 * them to). The join is aborted with `wamp.error.authentication_failed`. Raise the cap only for a router you trust.
 */
public class ChallengeRefusedException(public val authMethod: String, message: String) : WampException(message)
