@file:OptIn(InternalTetherApi::class, InternalCoroutinesApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionException
import dev.tether.core.DeadlineSweeper
import dev.tether.core.InternalTetherApi
import dev.tether.wamp.error.ProgressBufferOverflowException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.transport.WampTransport
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Delay
import kotlinx.coroutines.InternalCoroutinesApi
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.Logger
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater
import java.util.concurrent.atomic.AtomicLong
import kotlin.coroutines.ContinuationInterceptor
import kotlin.coroutines.coroutineContext
import kotlin.time.toKotlinDuration

/**
 * Matches a session's requests with their replies: it hands out request ids, keeps one [Pending] per request that
 * waits for a reply, and completes it where the reply is read ([reply], [progress]). Requests are bounded; a call
 * its caller abandons is cancelled with CANCEL. [failAll] ends every pending request when the session ends.
 *
 * [checkOpen] throws the session's "ended" error once it has ended; [sessionId] is for logs and messages.
 */
internal class RequestCorrelator(
    private val peer: WampTransport,
    private val config: SessionConfig,
    private val log: Logger,
    private val sessionId: Long,
    private val checkOpen: () -> Unit,
) {
    private val requestIds = AtomicLong(0)
    private val pending = ConcurrentHashMap<Long, Pending>()

    /** Times out the requests of callers whose dispatcher has no timer of its own (see [awaitReply]). */
    private val sweeper = DeadlineSweeper(::sweep)

    /**
     * One request awaiting its reply; [progress] receives progressive RESULTs of a progressive call; [onReply] runs
     * inline where the reply is read, before the next inbound message (it must not block or run user code).
     */
    class Pending(
        val requestType: Int,
        val reply: CompletableDeferred<Message>,
        val progress: Channel<CallResult>? = null,
        val onReply: ((Message) -> Unit)? = null,
    ) {
        /** When [sweeper] fails this request (System.nanoTime), or [DeadlineSweeper.NEVER]. */
        @Volatile var deadline: Long = DeadlineSweeper.NEVER

        /**
         * When a CALL started (System.nanoTime), for its round trip; 0 for other requests: only calls are timed, so
         * only they read the clock.
         */
        val startedAt: Long = if (requestType == MessageCodes.CALL) System.nanoTime() else 0L

        /** 1 once the call's outcome is counted in [calls]: its answer and its abandonment may race. */
        @Volatile @JvmField
        var counted: Int = 0

        fun claimCount(): Boolean = COUNTED.compareAndSet(this, 0, 1)

        private companion object {
            val COUNTED: AtomicIntegerFieldUpdater<Pending> =
                AtomicIntegerFieldUpdater.newUpdater(Pending::class.java, "counted")
        }
    }

    /** How this session's calls ended ([SessionStats]). */
    val calls = CallCounters()

    /** Requests awaiting their reply now. */
    val pendingCount: Int get() = pending.size

    /** The next request id: 1 up to 2^53, then 1 again (WAMP's session scope ids). */
    fun nextRequestId(): Long {
        while (true) {
            val current = requestIds.get()
            val next = if (current >= WampValues.MAX_ID) 1 else current + 1
            if (requestIds.compareAndSet(current, next)) return next
        }
    }

    /** Registers [entry] as waiting for the reply to [requestId]; the caller removes it with [forget]. */
    fun expect(requestId: Long, entry: Pending) {
        pending[requestId] = entry
    }

    /** Stops waiting for the reply to [requestId]; a reply that still comes is logged and dropped. */
    fun forget(requestId: Long) {
        pending.remove(requestId)
    }

    /** A reply read from the router: completes its request if the request is still waiting for that kind. */
    fun reply(request: Long, m: Message, requestType: Int) {
        val p = pending[request]
        if (p == null || p.requestType != requestType) {
            log.debug(
                "WAMP session {}: late or unknown reply {} for request {} dropped",
                sessionId,
                MessageCodes.nameOf(m.code),
                request,
            )
            return
        }
        pending.remove(request)
        if (requestType == MessageCodes.CALL && p.claimCount()) {
            if (m is ResultMessage) calls.answered(System.nanoTime() - p.startedAt) else calls.failed()
        }
        p.onReply?.invoke(m)
        p.reply.complete(m)
    }

    /** A progressive RESULT: queued for the call's progress callback, in order. */
    fun progress(m: ResultMessage) {
        val p = pending[m.request]
        if (p?.progress == null || p.requestType != MessageCodes.CALL) {
            log.debug(
                "WAMP session {}: progressive RESULT for request {} that did not ask for progress dropped",
                sessionId,
                m.request,
            )
            return
        }
        // The read path never waits for the caller's progress callback: a full buffer fails the call instead, whose
        // caller then cancels it (request, StreamingCall).
        val queued = p.progress.trySend(CallResult(m.args, m.kwargs, m.details))
        if (queued.isFailure && !queued.isClosed) {
            val overflow = ProgressBufferOverflowException(m.request, config.progressBuffer)
            if (p.reply.completeExceptionally(overflow)) log.warn("WAMP session {}: {}", sessionId, overflow.message)
        }
    }

    /** A buffer for the progressive results of one call, bounded by [SessionConfig.progressBuffer]. */
    fun progressChannel(): Channel<CallResult> = Channel(config.progressBuffer)

    /** Fails every pending request with [error]: the session has ended. */
    fun failAll(error: Throwable) {
        sweeper.stop()
        for (p in pending.values) p.reply.completeExceptionally(error)
        pending.clear()
    }

    /**
     * Sends the request [build] makes and waits up to [timeout] (null: as long as the caller) for its reply. With
     * [cancelOnAbandon] (calls), a caller that gives up (cancellation or [timeout]) sends CANCEL and then, as
     * nexus does, waits up to the response timeout for the router's ERROR before giving up for good, so the
     * ERROR is consumed here instead of arriving as an unknown reply.
     */
    suspend fun request(
        requestType: Int,
        timeout: Duration?,
        progress: Channel<CallResult>? = null,
        cancelOnAbandon: Boolean = false,
        cancelMode: CancelMode = config.cancelMode,
        onReply: ((Message) -> Unit)? = null,
        build: (Long) -> Message,
    ): Message {
        checkOpen()
        val requestId = nextRequestId()
        val reply = CompletableDeferred<Message>()
        expect(requestId, Pending(requestType, reply, progress, onReply))
        val name = MessageCodes.nameOf(requestType) ?: "request"
        var sent = false
        try {
            // The session's end publishes its reason before failing pending requests: one of us sees the other.
            checkOpen()
            peer.send(build(requestId))
            sent = true
            if (timeout == null) return reply.await()
            val answer = awaitReply(requestId, reply, timeout)
            if (answer == null) {
                // after a sweep the request waits on a fresh entry, which catches the router's answer to CANCEL
                val current = pending[requestId]?.reply ?: reply
                if (cancelOnAbandon) cancelAndAwaitError(requestId, current, cancelMode, timedOut = true)
                throw ResponseTimeoutException("$name $requestId", timeout.toMillis())
            }
            return answer
        } catch (e: ProgressBufferOverflowException) {
            withContext(NonCancellable) { cancelAndAwaitError(requestId, reply, cancelMode) }
            throw e
        } catch (e: CancellationException) {
            if (cancelOnAbandon && sent) {
                withContext(NonCancellable) { cancelAndAwaitError(requestId, reply, cancelMode) }
            }
            throw e
        } catch (e: ConnectionException) {
            throw WampConnectionLostException("WAMP session $sessionId: connection lost while sending $name", e)
        } finally {
            forget(requestId)
        }
    }

    /**
     * Sends CANCEL with [mode] for call [requestId] and waits up to the response timeout for its answer; counts the
     * call as [timedOut] or cancelled unless its answer came first.
     */
    suspend fun cancelAndAwaitError(
        requestId: Long,
        reply: CompletableDeferred<Message>,
        mode: CancelMode,
        timedOut: Boolean = false,
    ) {
        if (pending[requestId]?.claimCount() == true) calls.abandoned(timedOut)
        if (runCatching { checkOpen() }.isFailure) return
        sendQuietly(Cancel(requestId, mapOf("mode" to mode.wire)))
        val answer = withTimeoutOrNull(config.responseTimeout.toKotlinDuration()) {
            runCatching { reply.await() }.getOrNull() ?: Unit
        }
        if (answer == null) {
            log.debug(
                "WAMP session {}: no answer to CANCEL of call {} within {}",
                sessionId,
                requestId,
                config.responseTimeout,
            )
        }
    }

    /** Sends [m], logging instead of throwing when it cannot go out (answers nobody waits for). */
    suspend fun sendQuietly(m: Message) {
        try {
            peer.send(m)
        } catch (e: Exception) {
            log.debug("WAMP session {}: could not send {}: {}", sessionId, MessageCodes.nameOf(m.code), e.message)
        }
    }

    /**
     * The reply, or null once [timeout] has passed. A dispatcher with its own timer (a Netty event loop, a test
     * dispatcher's virtual clock) runs `withTimeoutOrNull`; on one without (`Dispatchers.Default`, executors) every
     * `withTimeoutOrNull` would wake kotlinx's timer thread, a context switch per call, so the request's deadline goes
     * to the shared [DeadlineSweeper] instead, which wakes only for the earliest deadline.
     */
    private suspend fun awaitReply(requestId: Long, reply: CompletableDeferred<Message>, timeout: Duration): Message? {
        // withTimeoutOrNull, not withTimeout: a caller's own timeout must stay a cancellation.
        if (coroutineContext[ContinuationInterceptor] is Delay) {
            return withTimeoutOrNull(timeout.toKotlinDuration()) { reply.await() }
        }
        val entry = pending[requestId] ?: return reply.await() // already answered (or the session ended)
        entry.deadline = DeadlineSweeper.deadlineAfter(timeout.toNanos())
        sweeper.watch(entry.deadline)
        return try {
            reply.await()
        } catch (e: SweptTimeout) {
            null
        }
    }

    /**
     * On the shared deadline thread: fails each request whose deadline has passed with [SweptTimeout], after
     * putting a fresh entry (no deadline, no progress, no reply hook) in its place that catches a late answer, and
     * returns the earliest deadline still ahead.
     */
    private fun sweep(now: Long): Long = DeadlineSweeper.sweepEntries(pending, now, { it.deadline }) { id, p ->
        if (pending.replace(id, p, Pending(p.requestType, CompletableDeferred()))) {
            p.reply.completeExceptionally(SweptTimeout)
        }
    }

    /** A swept request's marker; it never leaves [awaitReply], so one instance without a stack trace will do. */
    private object SweptTimeout : Exception("request timed out", null, false, false) {
        private fun readResolve(): Any = SweptTimeout
    }

    companion object {
        /** The error a reply that is not the expected answer stands for: the ERROR's, or a protocol violation. */
        fun fail(reply: Message): Nothing {
            if (reply is ErrorMessage) {
                if (reply.requestType == MessageCodes.CALL) {
                    throw RpcException(reply.error, reply.args, reply.kwargs, reply.details)
                }
                throw WampErrorException(reply.error, reply.args, reply.kwargs, reply.details)
            }
            throw ProtocolViolationException("unexpected reply ${MessageCodes.nameOf(reply.code)}")
        }
    }
}
