@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionException
import dev.tether.wamp.message.Abort
import dev.tether.wamp.message.Authenticate
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.Challenge
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.Interrupt
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Publish
import dev.tether.wamp.message.Published
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Unregister
import dev.tether.wamp.message.Unregistered
import dev.tether.wamp.message.Unsubscribe
import dev.tether.wamp.message.Unsubscribed
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.transport.Peer
import dev.tether.wamp.transport.PeerListener
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.cancelChildren
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.consumeAsFlow
import kotlinx.coroutines.future.asCompletableFuture
import kotlinx.coroutines.future.await
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.Executor
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import java.util.function.BiFunction
import java.util.function.Consumer
import java.util.function.Function
import kotlin.time.toKotlinDuration
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.ResultMessage

/**
 * A joined WAMP session: RPC (call, register) and PubSub (publish, subscribe) over one peer connection (nexus's
 * Client). Create with [connect] (by URL scheme), [join] (over a [WampTransport] you connected yourself) or
 * `WampRouter.connectLocal` in the testkit.
 *
 * Threading: the session's per-message work (decoding, matching replies to requests, completing them, queueing
 * events and invocations) runs where the connection is read and never runs user code: inline on the transport's
 * I/O thread (a Netty event loop, `tether-io-N`) for the WebSocket and RawSocket transports of [connect], in one
 * reader coroutine for a [WampTransport] of your own or a [SessionConfig.socketDialer] socket. Invocation handlers run on [Dispatchers.Default], each in its
 * own coroutine; event handlers run on [Dispatchers.Default], one coroutine per subscription, so events of one
 * subscription arrive in order ([SessionConfig.handlerExecutor] picks another executor). A reply completes its Java
 * future on the I/O thread, so stages added with `thenApply` run there: use `thenApplyAsync` for slow work. A
 * suspended caller resumes on its own dispatcher; [dispatcher] is the I/O thread for callers that never block.
 *
 * Progressive call results: [callProgress] asks for them and runs a callback per progressive RESULT, in order;
 * a handler sends them with [Invocation.sendProgress] when the caller asked. Progressive call invocations: a caller
 * streams its arguments in chunks with [callStreaming]; a handler registered with [registerStreaming] receives
 * them in order.
 *
 * Every request that has a reply is bounded: calls by [SessionConfig.callTimeout] (or the caller's own
 * cancellation, which sends CANCEL), everything else by [SessionConfig.responseTimeout]. Replies that arrive after
 * their request gave up are logged and dropped.
 *
 * [close] leaves the realm with GOODBYE and releases everything; the session cannot be reused.
 */
public class WampSession private constructor(
    private val peer: WampTransport,
    private val config: SessionConfig,
    welcome: Welcome,
) : AutoCloseable {
    private val log = config.logger ?: LoggerFactory.getLogger(WampSession::class.java)
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("wamp-session-${welcome.session}"))

    /** Where invocation and event handlers run ([SessionConfig.handlerExecutor], else [Dispatchers.Default]). */
    private val handlerContext: CoroutineDispatcher = config.handlerExecutor?.asCoroutineDispatcher() ?: Dispatchers.Default

    /**
     * The I/O thread that reads this session's connection, as a dispatcher ([Dispatchers.Default] for a transport
     * without one): latency-critical code that never blocks may run here (`withContext(session.dispatcher) { … }`),
     * so that its calls and the replies that resume it need no thread hand-off. Blocking here stalls the session.
     */
    public val dispatcher: CoroutineDispatcher = (peer as? Peer)?.dispatcher ?: Dispatchers.Default

    /** Java face of [dispatcher]: the I/O thread as an executor. */
    public val executor: Executor get() = dispatcher.asExecutor()
    private val requestIds = AtomicLong(0)
    private val counters = SessionCounters()
    private val pending = ConcurrentHashMap<Long, Pending>()
    private val registrations = ConcurrentHashMap<Long, RegistrationEntry>()
    private val procedures = ConcurrentHashMap<String, Long>()
    private val subscriptions = ConcurrentHashMap<Long, SubscriptionEntry>()
    private val topics = ConcurrentHashMap<String, Long>()
    private val invocations = ConcurrentHashMap<Long, Job>()
    private val goodbyeReceived = CompletableDeferred<Goodbye>()
    private val closing = AtomicBoolean(false)
    private val ended = CompletableDeferred<String>()

    private val endClaimed = AtomicBoolean(false)
    private val endReasonRef = java.util.concurrent.atomic.AtomicReference<String?>(null)
    private val endReason: String get() = endReasonRef.get() ?: ""

    /** What ended the session: the transport's failure, a protocol error, or null (GOODBYE, ABORT, close). */
    @Volatile internal var endCause: Exception? = null
        private set

    /** True once the session ended because its connection failed. */
    internal val connectionLost: Boolean get() = endCause.let { it != null && it !is WampException }

    private fun endedError(): WampSessionClosedException =
        if (connectionLost) WampConnectionLostException("WAMP session $id has ended: $endReason", endCause)
        else WampSessionClosedException("WAMP session $id has ended: $endReason")

    /** The session id the router assigned. */
    public val id: Long = welcome.session

    /** The WELCOME details: authid, authrole, authmethod, authprovider, the router's roles. */
    public val realmDetails: Map<String, Any?> = welcome.details

    /** The realm joined. */
    public val realm: String get() = config.realm

    /** WELCOME `authid`, if the router sent one. */
    public val authId: String? get() = realmDetails["authid"] as? String

    /** WELCOME `authrole`, if the router sent one. */
    public val authRole: String? get() = realmDetails["authrole"] as? String

    /** True until the session ended (GOODBYE, ABORT, connection loss, [close]). */
    public val isOpen: Boolean get() = endReasonRef.get() == null

    /**
     * One request awaiting its reply; [progress] receives progressive RESULTs of a progressive call; [onReply] runs
     * inline where the reply is read, before the next inbound message (it must not block or run user code).
     */
    private class Pending(
        val requestType: Int,
        val reply: CompletableDeferred<Message>,
        val progress: Channel<CallResult>? = null,
        val onReply: ((Message) -> Unit)? = null,
    )

    /**
     * A registered handler; [streaming] handlers (registerStreaming) get the invocation's chunks, the others get
     * null and only the first chunk of a progressive call.
     */
    private class RegistrationEntry(
        val procedure: String,
        val streaming: Boolean,
        val handler: suspend (Invocation, ReceiveChannel<CallChunk>?) -> InvokeResult,
    )

    /**
     * A progressive invocation whose last chunk has not arrived yet; [chunks] feeds a streaming handler, null for
     * a handler that does not stream (its later chunks are dropped).
     */
    private class InvocationStream(val chunks: Channel<CallChunk>?)

    private val streams = ConcurrentHashMap<Long, InvocationStream>()

    /**
     * Progressive invocations answered before their last chunk arrived: chunks the router sends for them meanwhile
     * are dropped, not taken for new calls. Bounded: router ids do not recur soon.
     */
    private val endedStreams = object : LinkedHashMap<Long, Unit>() {
        override fun removeEldestEntry(eldest: MutableMap.MutableEntry<Long, Unit>?): Boolean = size > ENDED_STREAMS
    }

    private class SubscriptionEntry(val topic: String, val events: Channel<Event>, val job: Job)

    /** Set once the push path has stopped handling inbound traffic (the session ended). */
    private val inlineDone = AtomicBoolean(false)

    init {
        // Last in the constructor: a pushing peer may deliver at once, on its own thread.
        if (!((peer as? Peer)?.listen(Inline()) ?: false)) scope.launch(CoroutineName("wamp-read")) { readLoop() }
    }

    /** Why and how a message ended the session: the reason, and a reply to send before closing (GOODBYE's). */
    private class Ending(val reason: String, val reply: Message?)

    // ---------------------------------------------------------------- inbound (never runs user code)

    /** The pull path, for transports that cannot push: one coroutine reads and dispatches. */
    private suspend fun readLoop() {
        var reason = "connection closed"
        var cause: Exception? = null
        try {
            while (true) {
                val ending = dispatch(peer.receive()) ?: continue
                reason = ending.reason
                ending.reply?.let { runCatching { peer.send(it) } }
                break
            }
        } catch (e: CancellationException) {
            reason = "session closed"
            throw e
        } catch (e: ConnectionException) {
            reason = "connection lost: ${e.message}"
            cause = e
        } catch (e: WampException) {
            reason = "protocol error: ${e.message}"
            cause = e
            log.warn("WAMP session {}: {}; closing", id, e.message)
            withContext(NonCancellable) {
                runCatching { peer.send(protocolAbort(e)) }
            }
        } catch (e: Exception) {
            // A user-supplied WampTransport may fail with any exception: treat it as a lost connection.
            reason = "connection lost: ${e.message ?: e::class.java.name}"
            cause = e
            log.warn("WAMP session {}: transport {} failed: {}", id, peer.description, e.toString())
        } finally {
            end(reason, cause)
            withContext(NonCancellable) { runCatching { peer.close() } }
        }
    }

    /**
     * The push path: the peer hands each message over on its I/O thread, where [dispatch] runs inline. Whatever
     * has to wait (the farewell message, closing the socket) goes to a coroutine.
     */
    private inner class Inline : PeerListener {
        override fun onMessage(message: Message) {
            if (inlineDone.get()) return
            val ending = try {
                dispatch(message)
            } catch (e: WampException) {
                protocolError(e)
                return
            } ?: return
            finish(ending.reason, ending.reply, null)
        }

        override fun onEnd(cause: Exception) {
            if (inlineDone.get()) return
            when (cause) {
                is ConnectionException -> finish("connection lost: ${cause.message}", null, cause)
                is WampException -> protocolError(cause)
                else -> finish("connection lost: ${cause.message ?: cause::class.java.name}", null, cause)
            }
        }

        private fun protocolError(e: WampException) {
            log.warn("WAMP session {}: {}; closing", id, e.message)
            finish("protocol error: ${e.message}", protocolAbort(e), e)
        }

        /** Ends the session now; sends [reply] (if any) and closes the connection off this thread. */
        private fun finish(reason: String, reply: Message?, cause: Exception?) {
            if (!inlineDone.compareAndSet(false, true)) return
            end(reason, cause)
            CoroutineScope(Dispatchers.Default).launch(CoroutineName("wamp-end-$id")) {
                if (reply != null) withTimeoutOrNull(config.responseTimeout.toKotlinDuration()) { runCatching { peer.send(reply) } }
                runCatching { peer.close() }
            }
        }
    }

    private fun protocolAbort(e: WampException): Message = Abort(mapOf("message" to (e.message ?: "")), "wamp.error.protocol_violation")

    /**
     * Handles one inbound message without suspending or running user code; returns how the session ends when this
     * message ends it (GOODBYE, ABORT), else null. Throws [ProtocolViolationException] for a message that has no
     * place in an established session.
     */
    private fun dispatch(m: Message): Ending? {
        when (m) {
            is ResultMessage -> if (m.details["progress"] == true) progress(m) else reply(m.request, m, MessageCodes.CALL)
            is Published -> reply(m.request, m, MessageCodes.PUBLISH)
            is Subscribed -> reply(m.request, m, MessageCodes.SUBSCRIBE)
            is Unsubscribed -> if (m.request == 0L && m.details != null) revokeSubscription(m.details) else reply(m.request, m, MessageCodes.UNSUBSCRIBE)
            is Registered -> reply(m.request, m, MessageCodes.REGISTER)
            is Unregistered -> if (m.request == 0L && m.details != null) revokeRegistration(m.details) else reply(m.request, m, MessageCodes.UNREGISTER)
            is ErrorMessage -> reply(m.request, m, m.requestType)
            is EventMessage -> deliverEvent(m)
            is InvocationMessage -> invoke(m)
            is Interrupt -> interrupt(m)
            is Goodbye -> {
                if (closing.get()) {
                    goodbyeReceived.complete(m)
                    return Ending("session closed", null)
                }
                log.info("WAMP session {}: router said GOODBYE {}", id, m.reason)
                return Ending("session ended by router (${m.reason})", Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
            }
            is Abort -> {
                log.warn("WAMP session {}: router sent ABORT {} {}", id, m.reason, m.details["message"] ?: "")
                return Ending(if (closing.get()) "session closed" else "session ended by router (${m.reason})", null)
            }
            else -> throw ProtocolViolationException("unexpected ${MessageCodes.nameOf(m.code)} in an established session")
        }
        return null
    }

    private fun interrupt(m: Interrupt) {
        val job = invocations[m.request]
        if (job == null) {
            log.debug("WAMP session {}: INTERRUPT for unknown invocation {} dropped", id, m.request)
            return
        }
        // Cancelling runs the handler's cancellation callbacks (user code) in the cancelling thread: not this one.
        scope.launch { job.cancel(CancellationException("interrupted by router")) }
    }

    private fun reply(request: Long, m: Message, requestType: Int) {
        val p = pending[request]
        if (p == null || p.requestType != requestType) {
            log.debug("WAMP session {}: late or unknown reply {} for request {} dropped", id, MessageCodes.nameOf(m.code), request)
            return
        }
        pending.remove(request)
        p.onReply?.invoke(m)
        p.reply.complete(m)
    }

    private fun progress(m: ResultMessage) {
        val p = pending[m.request]
        if (p?.progress == null || p.requestType != MessageCodes.CALL) {
            log.debug("WAMP session {}: progressive RESULT for request {} that did not ask for progress dropped", id, m.request)
            return
        }
        // Unlimited: the read loop never waits for the caller's progress callback; order is kept.
        p.progress.trySend(CallResult(m.args, m.kwargs, m.details))
    }

    private fun deliverEvent(m: EventMessage) {
        val sub = subscriptions[m.subscription]
        if (sub == null) {
            log.debug("WAMP session {}: EVENT for unknown subscription {} dropped", id, m.subscription)
            return
        }
        // Bounded (SessionConfig.eventBuffer): the read path never waits for a slow handler; order is kept.
        val event = Event(m.subscription, m.publication, m.args, m.kwargs, m.details)
        event.subscribedTopic = sub.topic
        val sent = sub.events.trySend(event)
        when {
            sent.isSuccess -> counters.queued()
            !sent.isClosed -> {
                val drops = counters.dropped(sub.topic)
                // Once per thousand drops of a topic: a handler that cannot keep up would flood the log.
                if (drops % 1000 == 1L) log.warn("WAMP session {}: the handler of {} is {} events behind; dropped {} events of it so far", id, sub.topic, config.eventBuffer, drops)
            }
        }
    }

    private fun invoke(m: InvocationMessage) {
        val progressive = m.details["progress"] == true
        // A progressive call's later chunks carry the invocation id of its first.
        streams[m.request]?.let { continueStream(m, it, progressive); return }
        if (synchronized(endedStreams) { endedStreams.containsKey(m.request) }) {
            log.debug("WAMP session {}: chunk for invocation {} that was already answered dropped", id, m.request)
            return
        }
        if (invocations.containsKey(m.request)) {
            log.debug("WAMP session {}: INVOCATION {} repeats an invocation still running; dropped", id, m.request)
            return
        }
        val reg = registrations[m.registration]
        if (reg == null) {
            log.debug("WAMP session {}: INVOCATION for unknown registration {}", id, m.registration)
            scope.launch { sendQuietly(ErrorMessage(MessageCodes.INVOCATION, m.request, emptyMap(), "wamp.error.no_such_registration")) }
            return
        }
        // The entry exists before the handler can run, and ATOMIC start runs the body even when an INTERRUPT
        // cancels it at once, so an interrupted invocation is always answered (a LAZY job cancelled before it
        // started never ran its body and never answered).
        val job = Job(scope.coroutineContext[Job])
        invocations[m.request] = job
        val invocation = Invocation(m.registration, m.args, m.kwargs, m.details)
        invocation.scope = scope
        invocation.registeredProcedure = reg.procedure
        // A streaming handler reads every chunk, this first one included; the buffer holds at least one.
        val chunks = if (reg.streaming) Channel<CallChunk>(config.invocationChunkBuffer) else null
        chunks?.trySend(CallChunk(m.args, m.kwargs))
        if (progressive) streams[m.request] = InvocationStream(chunks) else chunks?.close()
        if (invocation.receiveProgress) {
            invocation.progressSink = { r ->
                try {
                    peer.send(Yield(m.request, r.options + ("progress" to true), r.args, r.kwargs))
                } catch (e: ConnectionException) {
                    throw WampConnectionLostException("WAMP session $id: connection lost while sending progress", e)
                }
            }
        }
        // A forwarded call timeout (forward_timeout registrations): this side enforces it. A flag, not withTimeout,
        // tells our own expiry from a timeout the handler hit inside itself.
        val timedOut = AtomicBoolean(false)
        val timer = invocation.timeout?.let { t ->
            scope.launch(CoroutineName("wamp-call-timeout")) {
                delay(t.toKotlinDuration())
                timedOut.set(true)
                job.cancel(CancellationException("call timeout"))
            }
        }
        scope.launch(handlerContext + job, start = kotlinx.coroutines.CoroutineStart.ATOMIC) {
            val answer: Message = try {
                val r = reg.handler(invocation, chunks)
                invocation.finish()
                Yield(m.request, r.options - "progress", r.args, r.kwargs)
            } catch (e: RpcException) {
                ErrorMessage(MessageCodes.INVOCATION, m.request, e.details, e.error, e.args, e.kwargs)
            } catch (e: ChunkBufferOverflowException) {
                ErrorMessage(MessageCodes.INVOCATION, m.request, emptyMap(), ChunkBufferOverflowException.ERROR, listOf(e.message))
            } catch (e: CancellationException) {
                if (timedOut.get()) {
                    ErrorMessage(MessageCodes.INVOCATION, m.request, emptyMap(), "wamp.error.timeout", listOf("call timeout"))
                } else {
                    ErrorMessage(MessageCodes.INVOCATION, m.request, emptyMap(), "wamp.error.canceled")
                }
            } catch (e: Exception) {
                log.warn("WAMP session {}: handler for {} failed", id, reg.procedure, e)
                ErrorMessage(MessageCodes.INVOCATION, m.request, emptyMap(), "wamp.error.runtime_error", listOf(e.message ?: e::class.java.name))
            } finally {
                timer?.cancel()
                invocation.finish()
                endStream(m.request)
                chunks?.cancel()
                invocations.remove(m.request, job)
            }
            withContext(NonCancellable) { sendQuietly(answer) }
        }.invokeOnCompletion { job.complete() }
    }

    /** Hands a later chunk of a progressive invocation to its handler; the chunk without `progress` is the last. */
    private fun continueStream(m: InvocationMessage, stream: InvocationStream, progressive: Boolean) {
        if (!progressive) streams.remove(m.request, stream)
        val chunks = stream.chunks
        if (chunks == null) {
            log.debug("WAMP session {}: chunk of invocation {} dropped: its handler does not stream (registerStreaming)", id, m.request)
            return
        }
        val sent = chunks.trySend(CallChunk(m.args, m.kwargs))
        if (sent.isFailure && !sent.isClosed) {
            // Full: the read path never waits for a handler. The stream fails after what it holds, so no chunk
            // goes missing unnoticed; later chunks find it closed and are dropped.
            log.warn("WAMP session {}: invocation {}: chunk buffer of {} full; the handler's chunk stream fails", id, m.request, config.invocationChunkBuffer)
            chunks.close(ChunkBufferOverflowException(m.request, config.invocationChunkBuffer))
        } else if (sent.isClosed) {
            log.debug("WAMP session {}: chunk of invocation {} dropped: the handler stopped reading", id, m.request)
        }
        if (!progressive) chunks.close()
    }

    /** Forgets a progressive invocation that has been answered; chunks still on their way are dropped. */
    private fun endStream(request: Long) {
        val stream = streams[request] ?: return
        // Remembered before it is removed: a chunk read meanwhile finds one or the other, never neither.
        synchronized(endedStreams) { endedStreams[request] = Unit }
        streams.remove(request, stream)
        stream.chunks?.cancel()
    }

    private suspend fun sendQuietly(m: Message) {
        try {
            peer.send(m)
        } catch (e: Exception) {
            log.debug("WAMP session {}: could not send {}: {}", id, MessageCodes.nameOf(m.code), e.message)
        }
    }

    private fun revokeSubscription(details: Map<String, Any?>) {
        val subId = WampValues.asLong(details["subscription"]) ?: return
        subscriptions.remove(subId)?.let { topics.remove(it.topic, subId); it.events.close() }
    }

    private fun revokeRegistration(details: Map<String, Any?>) {
        val regId = WampValues.asLong(details["registration"]) ?: return
        registrations.remove(regId)?.let { procedures.remove(it.procedure, regId) }
    }

    /**
     * Ends the session for [reason] (the first call wins); pending requests fail with [cause] as the cause, as
     * [WampConnectionLostException] when the connection failed (a cause that is not a protocol error).
     */
    private fun end(reason: String, cause: Exception? = null) {
        if (!endClaimed.compareAndSet(false, true)) return
        endCause = cause // before the reason, so whoever sees the reason sees the cause
        endReasonRef.set(reason)
        ended.complete(reason)
        val error = if (connectionLost) WampConnectionLostException("WAMP session $id ended: $reason", cause) else WampSessionClosedException("WAMP session $id ended: $reason", cause)
        for (p in pending.values) p.reply.completeExceptionally(error)
        pending.clear()
        // A streaming handler waiting for chunks learns that none will come.
        for (s in streams.values) s.chunks?.close(error)
        for (s in subscriptions.values) s.events.close()
    }

    // ---------------------------------------------------------------- requests

    private fun nextRequestId(): Long {
        while (true) {
            val current = requestIds.get()
            val next = if (current >= WampValues.MAX_ID) 1 else current + 1
            if (requestIds.compareAndSet(current, next)) return next
        }
    }

    /**
     * Sends the request [build] makes and waits up to [timeout] (null: as long as the caller) for its reply. With
     * [cancelOnAbandon] (calls), a caller that gives up (cancellation or [timeout]) sends CANCEL and then, as
     * nexus does, waits up to the response timeout for the router's ERROR before giving up for good, so the
     * ERROR is consumed here instead of arriving as an unknown reply.
     */
    private suspend fun request(
        requestType: Int,
        timeout: java.time.Duration?,
        progress: Channel<CallResult>? = null,
        cancelOnAbandon: Boolean = false,
        cancelMode: CancelMode = config.cancelMode,
        onReply: ((Message) -> Unit)? = null,
        build: (Long) -> Message,
    ): Message {
        if (endReasonRef.get() != null) throw endedError()
        val requestId = nextRequestId()
        val reply = CompletableDeferred<Message>()
        pending[requestId] = Pending(requestType, reply, progress, onReply)
        val name = MessageCodes.nameOf(requestType) ?: "request"
        var sent = false
        try {
            // end() publishes its reason before failing pending requests: one of us sees the other.
            if (endReasonRef.get() != null) throw endedError()
            peer.send(build(requestId))
            sent = true
            if (timeout == null) return reply.await()
            // withTimeoutOrNull, not withTimeout: a caller's own timeout must stay a cancellation.
            val answer = withTimeoutOrNull(timeout.toKotlinDuration()) { reply.await() }
            if (answer == null) {
                if (cancelOnAbandon) cancelAndAwaitError(requestId, reply, cancelMode)
                throw ResponseTimeoutException("$name $requestId", timeout.toMillis())
            }
            return answer
        } catch (e: CancellationException) {
            if (cancelOnAbandon && sent) withContext(NonCancellable) { cancelAndAwaitError(requestId, reply, cancelMode) }
            throw e
        } catch (e: ConnectionException) {
            throw WampConnectionLostException("WAMP session $id: connection lost while sending $name", e)
        } finally {
            pending.remove(requestId)
        }
    }

    /** Sends CANCEL with [mode] for call [requestId] and waits up to the response timeout for its answer. */
    private suspend fun cancelAndAwaitError(requestId: Long, reply: CompletableDeferred<Message>, mode: CancelMode) {
        if (ended.isCompleted) return
        sendQuietly(Cancel(requestId, mapOf("mode" to mode.wire)))
        val answer = withTimeoutOrNull(config.responseTimeout.toKotlinDuration()) { runCatching { reply.await() }.getOrNull() ?: Unit }
        if (answer == null) log.debug("WAMP session {}: no answer to CANCEL of call {} within {}", id, requestId, config.responseTimeout)
    }

    private fun fail(reply: Message): Nothing {
        if (reply is ErrorMessage) {
            if (reply.requestType == MessageCodes.CALL) throw RpcException(reply.error, reply.args, reply.kwargs, reply.details)
            throw WampErrorException(reply.error, reply.args, reply.kwargs, reply.details)
        }
        throw ProtocolViolationException("unexpected reply ${MessageCodes.nameOf(reply.code)}")
    }

    /**
     * Calls [procedure] and returns its result. Throws [RpcException] with the ERROR's URI, args, kwargs and
     * details. Cancelling the calling coroutine, or [SessionConfig.callTimeout] passing, sends CANCEL (mode
     * [SessionConfig.cancelMode], `killnowait` by default) and then waits up to [SessionConfig.responseTimeout] for the router's answer to it (nexus
     * behaviour), so cancellation completes once the router has acknowledged it; a later result is dropped.
     */
    @JvmSynthetic
    public suspend fun call(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
    ): CallResult = callWith(procedure, args, kwargs, options, null)

    /**
     * [call] with typed [options]: the router-side timeout, caller disclosure, and the [CancelMode] used when the
     * call is abandoned (else [SessionConfig.cancelMode]).
     */
    @JvmSynthetic
    public suspend fun call(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: CallOptions,
    ): CallResult = callWith(procedure, args, kwargs, options.toMap(), null, options.cancelMode ?: config.cancelMode)

    private suspend fun callWith(
        procedure: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: Map<String, Any?>,
        progress: Channel<CallResult>?,
        cancelMode: CancelMode = config.cancelMode,
    ): CallResult {
        val reply = request(MessageCodes.CALL, config.callTimeout, progress, cancelOnAbandon = true, cancelMode = cancelMode) { id ->
            Call(id, WampValues.normalizeMap(options), procedure, WampValues.normalize(args) as List<Any?>, WampValues.normalizeMap(kwargs))
        }
        if (reply is ResultMessage) return CallResult(reply.args, reply.kwargs, reply.details)
        fail(reply)
    }

    /**
     * Calls [procedure] asking for progressive results (nexus's CallProgress): sends `receive_progress: true`, runs
     * [onProgress] for each progressive RESULT, in order and one at a time, then returns the final result. Every
     * progress callback has returned before this function returns, and none runs afterwards. The call timeout
     * ([SessionConfig.callTimeout]) covers the whole call, progress included. If [onProgress] throws, the call is
     * canceled (CANCEL with the session's or the options' cancel mode) and the exception is rethrown. A callee that sends no progress is fine: the
     * final result alone is returned.
     */
    @JvmSynthetic
    public suspend fun callProgress(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
        onProgress: suspend (CallResult) -> Unit,
    ): CallResult = callProgressWith(procedure, args, kwargs, options, config.cancelMode, onProgress)

    /** [callProgress] with typed [options] (see [CallOptions]). */
    @JvmSynthetic
    public suspend fun callProgress(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: CallOptions,
        onProgress: suspend (CallResult) -> Unit,
    ): CallResult = callProgressWith(procedure, args, kwargs, options.toMap(), options.cancelMode ?: config.cancelMode, onProgress)

    private suspend fun callProgressWith(
        procedure: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: Map<String, Any?>,
        cancelMode: CancelMode,
        onProgress: suspend (CallResult) -> Unit,
    ): CallResult = coroutineScope {
        val progress = Channel<CallResult>(Channel.UNLIMITED)
        val consumer = launch(CoroutineName("wamp-progress-$procedure")) {
            for (p in progress) onProgress(p)
        }
        val result = try {
            callWith(procedure, args, kwargs, options + ("receive_progress" to true), progress, cancelMode)
        } finally {
            progress.close()
        }
        consumer.join() // progress received before the final result is delivered before returning
        result
    }

    /**
     * Java face of [callProgress]: [onProgress] receives each progressive result in order (on a library thread,
     * never the socket's) before the future completes with the final result. Cancelling the future sends CANCEL.
     */
    @JvmOverloads
    public fun callProgressAsync(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
        onProgress: Consumer<CallResult>,
    ): CompletableFuture<CallResult> = scope.future { callProgress(procedure, args, kwargs, options) { onProgress.accept(it) } }

    /** Java face of [callProgress] with typed [options]. */
    public fun callProgressAsync(
        procedure: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: CallOptions,
        onProgress: Consumer<CallResult>,
    ): CompletableFuture<CallResult> = scope.future { callProgress(procedure, args, kwargs, options) { onProgress.accept(it) } }

    /** Java face of [call]; cancelling the future sends CANCEL. */
    @JvmOverloads
    public fun callAsync(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<CallResult> = javaFuture { call(procedure, args, kwargs, options) }

    /** Java face of [call] with typed [options]; cancelling the future sends CANCEL with their cancel mode. */
    public fun callAsync(
        procedure: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: CallOptions,
    ): CompletableFuture<CallResult> = javaFuture { call(procedure, args, kwargs, options) }

    /**
     * Calls [procedure] with its arguments streamed in [chunks] (progressive call invocations; nexus's
     * CallProgressive) and returns the final result. Every chunk goes out as a CALL with the same request id, in
     * order: all but the last with `progress: true`, the last, sent once the flow completes, without it (so one
     * chunk is held back until the next arrives or the flow ends). The first CALL carries [options] (timeout,
     * disclosure, ...); later ones only `progress` and `receive_progress`, as the router keeps the first's. A flow of
     * one chunk is a plain call; an empty flow calls with no arguments.
     *
     * With [onProgress] the call asks for progressive results too and runs it for each, in order, as [callProgress]
     * does, so a callee can answer while the caller is still streaming. If the callee answers before the last
     * chunk, the result (or its error) is returned at once and the remaining chunks are not sent.
     *
     * The call ends with CANCEL ([CallOptions.cancelMode], else [SessionConfig.cancelMode], `killnowait` by default)
     * when the caller is cancelled, [SessionConfig.callTimeout] (which covers the whole stream) passes, [chunks]
     * throws, or a chunk cannot be sent (for example [MessageTooLongException]); that exception is rethrown. A router
     * that did not announce `progressive_call_invocations` would abort the session: then, before anything is sent,
     * this throws [RpcException] `wamp.error.feature_not_supported`. A callee without the feature answers that error
     * too. `progress` and `receive_progress` in [CallOptions.extra] are ignored: the session sets them.
     */
    @JvmSynthetic
    public suspend fun callStreaming(
        procedure: String,
        chunks: Flow<CallChunk>,
        options: CallOptions = CallOptions.DEFAULT,
        onProgress: (suspend (CallResult) -> Unit)? = null,
    ): CallResult {
        if (endReasonRef.get() != null) throw endedError()
        val cancelMode = options.cancelMode ?: config.cancelMode
        val receive = if (onProgress != null) mapOf("receive_progress" to true) else emptyMap()
        val firstOptions = WampValues.normalizeMap(options.toMap()) - "progress" - "receive_progress" + receive
        val requestId = nextRequestId()
        val reply = CompletableDeferred<Message>()
        val progress = if (onProgress != null) Channel<CallResult>(Channel.UNLIMITED) else null
        pending[requestId] = Pending(MessageCodes.CALL, reply, progress)
        // Set once a CALL may have reached the router: from then on, abandoning the call needs CANCEL.
        val started = AtomicBoolean(false)

        suspend fun send(chunk: CallChunk, first: Boolean, last: Boolean) {
            if (!last && !routerAnnounces("dealer", "progressive_call_invocations")) {
                throw RpcException("wamp.error.feature_not_supported", listOf("the router did not announce progressive_call_invocations"))
            }
            val opts = when {
                first && last -> firstOptions
                first -> firstOptions + ("progress" to true)
                last -> receive
                else -> receive + ("progress" to true)
            }
            if (endReasonRef.get() != null) throw endedError()
            val message = Call(requestId, opts, procedure, WampValues.normalize(chunk.args) as List<Any?>, WampValues.normalizeMap(chunk.kwargs))
            try {
                peer.send(message)
            } catch (e: ConnectionException) {
                throw WampConnectionLostException("WAMP session $id: connection lost while sending CALL", e)
            } catch (e: CancellationException) {
                started.set(true) // it may have gone out
                throw e
            }
            started.set(true)
        }

        suspend fun stopSending(sender: Job) {
            // No CALL may follow the CANCEL; a flow that ignores cancellation is not waited for long.
            withTimeoutOrNull(config.responseTimeout.toKotlinDuration()) { sender.cancelAndJoin() }
        }

        val answer = coroutineScope {
            val consumer = if (progress == null || onProgress == null) null else {
                launch(CoroutineName("wamp-progress-$procedure")) { for (p in progress) onProgress(p) }
            }
            val sender = launch(CoroutineName("wamp-stream-$procedure")) {
                var held: CallChunk? = null
                var first = true
                chunks.collect { next ->
                    held?.let { send(it, first, last = false); first = false }
                    held = next
                }
                send(held ?: CallChunk.EMPTY, first, last = true)
            }
            val answer = try {
                val timeout = config.callTimeout
                val answer = if (timeout == null) reply.await() else withTimeoutOrNull(timeout.toKotlinDuration()) { reply.await() }
                if (answer == null) {
                    stopSending(sender)
                    if (started.get()) cancelAndAwaitError(requestId, reply, cancelMode)
                    throw ResponseTimeoutException("CALL $requestId", timeout!!.toMillis())
                }
                answer
            } catch (e: CancellationException) {
                // The caller gave up, the chunk flow failed, a chunk could not be sent, or a progress callback threw.
                withContext(NonCancellable) {
                    stopSending(sender)
                    if (started.get()) cancelAndAwaitError(requestId, reply, cancelMode)
                }
                throw e
            } finally {
                pending.remove(requestId)
                sender.cancel() // answered before the last chunk: the rest is not sent
                progress?.close()
            }
            consumer?.join() // progress received before the final result is delivered before returning
            answer
        }
        if (answer is ResultMessage) return CallResult(answer.args, answer.kwargs, answer.details)
        fail(answer)
    }

    /**
     * Java face of [callStreaming]: the chunks come from a `java.util.concurrent.Flow.Publisher`, requested one at a
     * time (a `SubmissionPublisher` you `submit` to and then `close`, or any Reactive Streams publisher through its
     * library's adapter); completing it sends the last chunk, failing it cancels the call. The subscription is made
     * before this returns, so a hot publisher may submit at once. [onProgress], when given, receives progressive
     * results in order on a library thread. Cancelling the future cancels the subscription and the call (CANCEL).
     */
    @JvmOverloads
    public fun callStreamingAsync(
        procedure: String,
        chunks: java.util.concurrent.Flow.Publisher<CallChunk>,
        options: CallOptions = CallOptions.DEFAULT,
        onProgress: Consumer<CallResult>? = null,
    ): CompletableFuture<CallResult> {
        val subscriber = OneByOneSubscriber<CallChunk>()
        chunks.subscribe(subscriber)
        // ATOMIC: the body runs even if the session's scope is gone, so the subscription is always ended.
        return scope.future(start = kotlinx.coroutines.CoroutineStart.ATOMIC) {
            try {
                val listener: (suspend (CallResult) -> Unit)? = if (onProgress == null) null else { r -> onProgress.accept(r) }
                callStreaming(procedure, kotlinx.coroutines.flow.flow { subscriber.emitTo(this) }, options, listener)
            } finally {
                subscriber.cancel()
            }
        }
    }

    /** True when the router's WELCOME announced [feature] for [role] (`roles.<role>.features.<feature>`). */
    private fun routerAnnounces(role: String, feature: String): Boolean {
        val roles = realmDetails["roles"] as? Map<*, *> ?: return false
        val features = (roles[role] as? Map<*, *>)?.get("features") as? Map<*, *> ?: return false
        return features[feature] == true
    }

    /**
     * Registers [handler] for [procedure] (options such as `match`, `invoke`) and returns the registration id.
     * The handler runs on [Dispatchers.Default]; its return value becomes YIELD, an [RpcException] becomes ERROR,
     * an INTERRUPT cancels it and answers `wamp.error.canceled`, and a call timeout the router forwarded
     * ([Invocation.timeout]) cancels it when it passes and answers `wamp.error.timeout`.
     */
    @JvmSynthetic
    public suspend fun register(
        procedure: String,
        options: Map<String, Any?> = emptyMap(),
        handler: suspend (Invocation) -> InvokeResult,
    ): Long = registerEntry(procedure, options, RegistrationEntry(procedure, false) { inv, _ -> handler(inv) })

    private suspend fun registerEntry(procedure: String, options: Map<String, Any?>, entry: RegistrationEntry): Long {
        // Installed where REGISTERED is read: an INVOCATION right behind it finds the handler.
        val install: (Message) -> Unit = { m ->
            if (m is Registered) {
                registrations[m.registration] = entry
                procedures[procedure] = m.registration
            }
        }
        val reply = try {
            request(MessageCodes.REGISTER, config.responseTimeout, onReply = install) { Register(it, WampValues.normalizeMap(options), procedure) }
        } catch (e: Throwable) {
            // A reply that raced the caller's timeout or cancellation: the caller never learns the id, so drop it.
            procedures[procedure]?.let { if (registrations[it] === entry) { registrations.remove(it); procedures.remove(procedure, it) } }
            throw e
        }
        if (reply !is Registered) fail(reply)
        return reply.registration
    }

    /**
     * Registers a handler that receives a progressive call's arguments as they arrive (progressive call
     * invocations, [callStreaming] on the caller's side): [handler] gets the invocation (details, caller, the first
     * chunk as [Invocation.args]) and a flow of every chunk in order, the first included, that completes after the
     * caller's last chunk. A call that does not stream is a flow of one chunk. Collect it once; the handler's return
     * value answers the call, whether or not it read every chunk (the rest are dropped), and it may send
     * progressive results meanwhile ([Invocation.sendProgress]).
     *
     * At most [SessionConfig.invocationChunkBuffer] chunks wait for the handler; past that the flow fails with
     * [ChunkBufferOverflowException] after the chunks it holds. An INTERRUPT, the session's end or a forwarded
     * timeout cancel the handler as for [register]. Handlers registered with [register] get only the first chunk
     * of a progressive call ([Invocation.isProgressive] tells them it is one); its later chunks are dropped.
     */
    @JvmSynthetic
    public suspend fun registerStreaming(
        procedure: String,
        options: RegisterOptions = RegisterOptions.DEFAULT,
        handler: suspend (Invocation, Flow<CallChunk>) -> InvokeResult,
    ): Long = registerEntry(procedure, options.toMap(), RegistrationEntry(procedure, true) { inv, chunks -> handler(inv, chunks!!.consumeAsFlow()) })

    /**
     * Java face of [registerStreaming]: [handler] gets the invocation and a `Flow.Publisher` of its chunks (one
     * subscriber; chunks go out on demand, in order, on the handler executor, and the stream completes after the
     * caller's last chunk or fails with [ChunkBufferOverflowException]) and returns a future of the result.
     * [CallChunk.consume] reads the publisher one chunk at a time. Once the returned future completes the
     * publisher stops.
     */
    @JvmOverloads
    public fun registerStreamingAsync(
        procedure: String,
        handler: BiFunction<Invocation, java.util.concurrent.Flow.Publisher<CallChunk>, CompletableFuture<InvokeResult>>,
        options: RegisterOptions = RegisterOptions.DEFAULT,
    ): CompletableFuture<Long> = javaFuture {
        registerEntry(
            procedure, options.toMap(),
            RegistrationEntry(procedure, true) { inv, chunks ->
                coroutineScope {
                    try {
                        javaHandler { handler.apply(it, ChunkPublisher(chunks!!, this)) }(inv)
                    } finally {
                        coroutineContext.cancelChildren() // the publisher's delivery, if the handler left it waiting
                    }
                }
            },
        )
    }

    /**
     * [register] with typed [options]: pattern-based ([RegisterOptions.match]) and shared
     * ([RegisterOptions.invoke]) registration, caller disclosure, a forwarded call timeout.
     */
    @JvmSynthetic
    public suspend fun register(
        procedure: String,
        options: RegisterOptions,
        handler: suspend (Invocation) -> InvokeResult,
    ): Long = register(procedure, options.toMap(), handler)

    /** Java face of [register]: the handler returns a future of the result (fail it with [RpcException]). */
    @JvmOverloads
    public fun registerAsync(
        procedure: String,
        handler: Function<Invocation, CompletableFuture<InvokeResult>>,
        options: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<Long> = javaFuture { register(procedure, options, javaHandler(handler)) }

    /** Java face of [register] with typed [options]. */
    public fun registerAsync(
        procedure: String,
        handler: Function<Invocation, CompletableFuture<InvokeResult>>,
        options: RegisterOptions,
    ): CompletableFuture<Long> = javaFuture { register(procedure, options.toMap(), javaHandler(handler)) }

    private fun javaHandler(handler: Function<Invocation, CompletableFuture<InvokeResult>>): suspend (Invocation) -> InvokeResult = { inv ->
        try {
            handler.apply(inv).await()
        } catch (e: java.util.concurrent.CompletionException) {
            throw e.cause ?: e
        }
    }

    /** Removes the registration of [procedure]; throws [WampErrorException] if the router refuses. */
    @JvmSynthetic
    public suspend fun unregister(procedure: String) {
        val regId = procedures[procedure] ?: throw WampErrorException("wamp.error.no_such_registration", listOf("not registered: $procedure"))
        val reply = request(MessageCodes.UNREGISTER, config.responseTimeout) { Unregister(it, regId) }
        if (reply !is Unregistered) fail(reply)
        registrations.remove(regId)
        procedures.remove(procedure, regId)
    }

    /** Java face of [unregister]. */
    public fun unregisterAsync(procedure: String): CompletableFuture<Void?> = javaFuture { unregister(procedure); null }

    /** The registration id for [procedure], or null when not registered. */
    public fun registrationId(procedure: String): Long? = procedures[procedure]

    /**
     * Publishes to [topic]. With option `acknowledge: true` waits for PUBLISHED and returns the publication id
     * (errors become [WampErrorException]); otherwise returns null once the message is sent.
     */
    @JvmSynthetic
    public suspend fun publish(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
    ): Long? {
        val normalizedArgs = WampValues.normalize(args) as List<Any?>
        val normalizedKwargs = WampValues.normalizeMap(kwargs)
        val opts = WampValues.normalizeMap(options)
        if (opts["acknowledge"] != true) {
            if (endReasonRef.get() != null) throw endedError()
            try {
                peer.send(Publish(nextRequestId(), opts, topic, normalizedArgs, normalizedKwargs))
            } catch (e: ConnectionException) {
                throw WampConnectionLostException("WAMP session $id: connection lost while publishing", e)
            }
            return null
        }
        val reply = request(MessageCodes.PUBLISH, config.responseTimeout) { Publish(it, opts, topic, normalizedArgs, normalizedKwargs) }
        if (reply !is Published) fail(reply)
        return reply.publication
    }

    /**
     * [publish] with typed [options]: acknowledgement, publisher exclusion, subscriber black- and whitelists by
     * session id, authid and authrole, publisher disclosure. Returns the publication id when
     * [PublishOptions.acknowledge] is set, else null.
     */
    @JvmSynthetic
    public suspend fun publish(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: PublishOptions,
    ): Long? = publish(topic, args, kwargs, options.toMap())

    /** Java face of [publish]; the future holds the publication id when acknowledged, else null. */
    @JvmOverloads
    public fun publishAsync(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<Long?> = javaFuture { publish(topic, args, kwargs, options) }

    /** Java face of [publish] with typed [options]; the future holds the publication id when acknowledged, else null. */
    public fun publishAsync(
        topic: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: PublishOptions,
    ): CompletableFuture<Long?> = javaFuture { publish(topic, args, kwargs, options.toMap()) }

    /**
     * Subscribes [handler] to [topic] (options such as `match`) and returns the subscription id. Events of this
     * subscription reach the handler one at a time, in arrival order, on [Dispatchers.Default]. At most
     * [SessionConfig.eventBuffer] wait for it; later ones are dropped and counted in [stats].
     */
    @JvmSynthetic
    public suspend fun subscribe(
        topic: String,
        options: Map<String, Any?> = emptyMap(),
        handler: suspend (Event) -> Unit,
    ): Long {
        // Installed where SUBSCRIBED is read: an EVENT right behind it is delivered, not dropped as unknown.
        val installed = java.util.concurrent.atomic.AtomicReference<SubscriptionEntry?>()
        val install: (Message) -> Unit = { m ->
            // The router reuses one subscription per topic: the first handler keeps it.
            if (m is Subscribed && subscriptions[m.subscription] == null) {
                val events = Channel<Event>(config.eventBuffer)
                val job = scope.launch(handlerContext + CoroutineName("wamp-events-$topic")) {
                    for (event in events) {
                        try {
                            handler(event)
                        } catch (e: CancellationException) {
                            throw e
                        } catch (e: Exception) {
                            log.warn("WAMP session {}: event handler for {} failed", id, topic, e)
                        }
                    }
                }
                val entry = SubscriptionEntry(topic, events, job)
                installed.set(entry)
                subscriptions[m.subscription] = entry
                topics[topic] = m.subscription
            }
        }
        val reply = try {
            request(MessageCodes.SUBSCRIBE, config.responseTimeout, onReply = install) { Subscribe(it, WampValues.normalizeMap(options), topic) }
        } catch (e: Throwable) {
            // A reply that raced the caller's timeout or cancellation: the caller never learns the id, so drop it.
            installed.get()?.let { entry ->
                subscriptions.entries.removeIf { it.value === entry }
                topics.remove(topic)
                entry.events.close()
            }
            throw e
        }
        if (reply !is Subscribed) fail(reply)
        return reply.subscription
    }

    /** [subscribe] with typed [options]: pattern-based subscription ([SubscribeOptions.match]). */
    @JvmSynthetic
    public suspend fun subscribe(
        topic: String,
        options: SubscribeOptions,
        handler: suspend (Event) -> Unit,
    ): Long = subscribe(topic, options.toMap(), handler)

    /** Java face of [subscribe]. */
    @JvmOverloads
    public fun subscribeAsync(topic: String, handler: Consumer<Event>, options: Map<String, Any?> = emptyMap()): CompletableFuture<Long> =
        javaFuture { subscribe(topic, options) { handler.accept(it) } }

    /** Java face of [subscribe] with typed [options]. */
    public fun subscribeAsync(topic: String, handler: Consumer<Event>, options: SubscribeOptions): CompletableFuture<Long> =
        javaFuture { subscribe(topic, options.toMap()) { handler.accept(it) } }

    /** Removes the subscription to [topic]; events already received are still delivered. */
    @JvmSynthetic
    public suspend fun unsubscribe(topic: String) {
        val subId = topics[topic] ?: throw WampErrorException("wamp.error.no_such_subscription", listOf("not subscribed: $topic"))
        val reply = request(MessageCodes.UNSUBSCRIBE, config.responseTimeout) { Unsubscribe(it, subId) }
        if (reply !is Unsubscribed) fail(reply)
        subscriptions.remove(subId)?.events?.close()
        topics.remove(topic, subId)
    }

    /** Java face of [unsubscribe]. */
    public fun unsubscribeAsync(topic: String): CompletableFuture<Void?> = javaFuture { unsubscribe(topic); null }

    /** The subscription id for [topic], or null when not subscribed. */
    public fun subscriptionId(topic: String): Long? = topics[topic]

    /** What this session received and dropped so far (events dropped for slow handlers: [SessionConfig.eventBuffer]). */
    public fun stats(): SessionStats = counters.snapshot()

    // ---------------------------------------------------------------- lifecycle

    /** Completes with a description of why the session ended (GOODBYE, ABORT, connection loss, close). */
    public fun closedFuture(): CompletableFuture<String> =
        ended.asCompletableFuture().thenApplyAsync({ it }, Dispatchers.Default.asExecutor())

    /** Suspends until the session has ended; returns the reason. */
    @JvmSynthetic
    public suspend fun awaitClosed(): String = ended.await()

    /**
     * Leaves the realm: sends GOODBYE `wamp.close.close_realm`, waits up to twice the response timeout for the
     * router's GOODBYE, closes the connection and cancels everything the session started. Idempotent.
     */
    @JvmSynthetic
    public suspend fun leave() {
        if (closing.compareAndSet(false, true) && !ended.isCompleted) {
            try {
                peer.send(Goodbye(emptyMap(), "wamp.close.close_realm"))
                withTimeout(config.responseTimeout.toKotlinDuration() * 2) { goodbyeReceived.await() }
            } catch (e: Exception) {
                if (e is CancellationException && e !is TimeoutCancellationException) throw e
                log.debug("WAMP session {}: no GOODBYE reply: {}", id, e.message)
            }
        }
        end("session closed")
        scope.coroutineContext[Job]!!.cancelAndJoin()
        withContext(NonCancellable) { runCatching { peer.close() } }
    }

    /** Java face of [leave]. */
    public fun leaveAsync(): CompletableFuture<Void?> = CoroutineScope(Dispatchers.Default).future { leave(); null }

    /** Blocking [leave] for try-with-resources; bounded by twice the response timeout. */
    override fun close() {
        runBlocking { leave() }
    }

    override fun toString(): String = "WampSession(id=$id, realm=${config.realm}, ${peer.description})"

    /**
     * A Java face of a request: runs [block] in the caller's thread until it waits; the reply completes the future
     * where it arrives (the I/O thread), with no thread hand-off. Cancelling the future cancels the request.
     */
    private fun <T> javaFuture(block: suspend () -> T): CompletableFuture<T> =
        scope.future(Dispatchers.Unconfined, kotlinx.coroutines.CoroutineStart.UNDISPATCHED) { block() }

    public companion object {
        // How many answered progressive invocations are remembered so that their late chunks are dropped.
        private const val ENDED_STREAMS = 1024

        /**
         * Connects to the router at [url] and joins [config]'s realm. The scheme picks the transport: `ws`, `wss`,
         * `http`, `https` (WebSocket), `tcp`, `tcps` (RawSocket), `unix:///path` (RawSocket over a Unix socket).
         * Throws [AbortException] if the router refuses, [ResponseTimeoutException] if it does not answer,
         * a [dev.tether.core.ConnectionException] if the connection fails.
         */
        @JvmSynthetic
        public suspend fun connect(url: String, config: SessionConfig): WampSession = join(Transports.open(url, config), config)

        /** Java face of [connect]. */
        @JvmStatic
        public fun connectAsync(url: String, config: SessionConfig): CompletableFuture<WampSession> =
            CoroutineScope(Dispatchers.Default).future { connect(url, config) }

        /**
         * Joins [config]'s realm over an already connected [transport] (nexus's NewClient): HELLO, authentication,
         * WELCOME, bounded by [SessionConfig.responseTimeout]. The session then owns the transport and closes it
         * when it ends; the transport is closed too if joining fails. Transport settings of [config] (URLs, TLS,
         * dial, limits, keepalive) do not apply: the transport has them already. Throws as [connect].
         */
        @JvmSynthetic
        public suspend fun join(transport: WampTransport, config: SessionConfig): WampSession {
            val peer = transport
            try {
                val welcome = withTimeout(config.responseTimeout.toKotlinDuration()) { handshake(peer, config) }
                return WampSession(peer, config, welcome)
            } catch (e: TimeoutCancellationException) {
                withContext(NonCancellable) { runCatching { peer.close() } }
                throw ResponseTimeoutException("HELLO to realm ${config.realm}", config.responseTimeout.toMillis())
            } catch (e: Throwable) {
                withContext(NonCancellable) { runCatching { peer.close() } }
                throw e
            }
        }

        /** Java face of [join]. */
        @JvmStatic
        public fun joinAsync(transport: WampTransport, config: SessionConfig): CompletableFuture<WampSession> =
            CoroutineScope(Dispatchers.Default).future { join(transport, config) }

        internal fun helloDetails(config: SessionConfig): Map<String, Any?> {
            val details = LinkedHashMap<String, Any?>(WampValues.normalizeMap(config.helloDetails))
            details.putIfAbsent("roles", Roles.CLIENT)
            if (config.authHandlers.isNotEmpty()) {
                details.putIfAbsent("authmethods", config.authHandlers.keys.toList())
                val extra = LinkedHashMap<String, Any?>()
                (details["authextra"] as? Map<*, *>)?.let { extra.putAll(WampValues.normalizeMap(it)) }
                for (h in config.authHandlers.values) for ((k, v) in h.helloAuthExtra()) extra.putIfAbsent(k, v)
                if (extra.isNotEmpty()) details["authextra"] = extra
            }
            return details
        }

        private suspend fun handshake(peer: WampTransport, config: SessionConfig): Welcome {
            peer.send(Hello(config.realm, helloDetails(config)))
            var authenticated = false
            while (true) {
                when (val m = peer.receive()) {
                    is Welcome -> return m
                    is Abort -> throw AbortException(m.reason, m.details)
                    is Challenge -> {
                        val handler = config.authHandlers[m.authMethod]
                        if (handler == null || authenticated) {
                            val why = if (handler == null) "no handler for auth method ${m.authMethod}" else "second CHALLENGE"
                            runCatching { peer.send(Abort(mapOf("message" to why), "wamp.error.authentication_failed")) }
                            throw AbortException("wamp.error.authentication_failed", mapOf("message" to why))
                        }
                        authenticated = true
                        // Signing (PBKDF2 in particular) is CPU work: keep it off the I/O path.
                        val answer: Authenticate = withContext(Dispatchers.Default) { handler.authenticate(m) }
                        peer.send(answer)
                    }
                    else -> {
                        val why = "unexpected ${MessageCodes.nameOf(m.code)} before WELCOME"
                        runCatching { peer.send(Abort(mapOf("message" to why), "wamp.error.protocol_violation")) }
                        throw ProtocolViolationException(why)
                    }
                }
            }
        }
    }
}
