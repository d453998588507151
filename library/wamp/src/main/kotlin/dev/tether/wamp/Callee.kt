package dev.tether.wamp

import dev.tether.core.ConnectionException
import dev.tether.wamp.error.ChunkBufferOverflowException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.Interrupt
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Yield
import dev.tether.wamp.transport.WampTransport
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.delay
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.slf4j.Logger
import java.util.concurrent.ConcurrentHashMap
import kotlin.time.toKotlinDuration

/**
 * The callee side of a session: its registrations, and the invocations running their handlers. An INVOCATION
 * starts the handler in its own coroutine ([SessionConfig.handlerExecutor]); its result or error is sent as YIELD
 * or ERROR; INTERRUPT and a forwarded call timeout cancel it. Chunks of a progressive invocation go to a streaming
 * handler's bounded queue ([SessionConfig.invocationChunkBuffer]).
 */
internal class Callee(
    private val scope: CoroutineScope,
    private val handlerContext: CoroutineDispatcher,
    private val correlator: RequestCorrelator,
    private val peer: WampTransport,
    private val config: SessionConfig,
    private val log: Logger,
    private val sessionId: Long,
) {
    /**
     * A registered handler under its [key] (procedure and match policy, so that removal is one keyed remove);
     * [streaming] handlers (registerStreaming) get the invocation's chunks, the others get null and only the first
     * chunk of a progressive call.
     */
    private class Registration(
        val key: UriKey,
        val streaming: Boolean,
        val handler: suspend (Invocation, ReceiveChannel<CallChunk>?) -> InvokeResult,
    ) {
        val procedure: String get() = key.uri
    }

    /**
     * A progressive invocation whose last chunk has not arrived yet; [chunks] feeds a streaming handler, null for
     * a handler that does not stream (its later chunks are dropped).
     */
    private class InvocationStream(val chunks: Channel<CallChunk>?)

    private val registrations = ConcurrentHashMap<Long, Registration>()

    // The session's scope on the handlers' dispatcher, joined once: every invocation is launched in it.
    private val handlerScope = CoroutineScope(scope.coroutineContext + handlerContext)

    // By procedure and match policy: one session may register a URI twice with different policies.
    private val procedures = ConcurrentHashMap<UriKey, Long>()
    private val invocations = ConcurrentHashMap<Long, Running>()
    private val streams = ConcurrentHashMap<Long, InvocationStream>()

    /**
     * Invocations refused for [SessionConfig.maxConcurrentInvocations]; written by the reading thread only, read by
     * [WampSession.stats] from any thread.
     */
    @Volatile var refused = 0L
        private set

    /** Invocations whose handler runs now. */
    val running: Int get() = invocations.size

    /**
     * Progressive invocations answered before their last chunk arrived: chunks the router sends for them meanwhile
     * are dropped, not taken for new calls. Bounded: router ids do not recur soon.
     */
    private val endedStreams = object : LinkedHashMap<Long, Unit>() {
        override fun removeEldestEntry(eldest: MutableMap.MutableEntry<Long, Unit>?): Boolean = size > ENDED_STREAMS
    }

    /** The registration id for [procedure] with [match], or null when not registered. */
    fun idOf(procedure: String, match: MatchPolicy): Long? = procedures[UriKey(procedure, match)]

    /** The registrations of [procedure] by match policy. */
    fun idsOf(procedure: String): Map<MatchPolicy, Long> = UriKey.byPolicy(procedure, procedures)

    /**
     * Registers [handler] for [procedure] with the router and returns the registration id; a [streaming] handler
     * gets the invocation's chunks, the others null.
     */
    suspend fun register(
        procedure: String,
        options: Map<String, Any?>,
        streaming: Boolean,
        handler: suspend (Invocation, ReceiveChannel<CallChunk>?) -> InvokeResult,
    ): Long {
        val key = UriKey.of(procedure, options)
        val entry = Registration(key, streaming, handler)
        // Installed where REGISTERED is read: an INVOCATION right behind it finds the handler.
        val install: (Message) -> Unit = { m ->
            if (m is Registered) {
                registrations[m.registration] = entry
                procedures[key] = m.registration
            }
        }
        val reply = try {
            correlator.request(MessageCodes.REGISTER, config.responseTimeout, onReply = install) {
                dev.tether.wamp.message.Register(it, WampValues.normalizeMap(options), procedure)
            }
        } catch (e: Throwable) {
            // A reply that raced the caller's timeout or cancellation: the caller never learns the id, so drop it.
            procedures[key]?.let {
                if (registrations[it] === entry) {
                    registrations.remove(it)
                    procedures.remove(key, it)
                }
            }
            throw e
        }
        if (reply !is Registered) RequestCorrelator.fail(reply)
        return reply.registration
    }

    /** Forgets registration [regId] after UNREGISTERED. */
    fun remove(regId: Long) {
        registrations.remove(regId)?.let { procedures.remove(it.key, regId) }
    }

    /** The router revoked a registration (UNREGISTERED with request 0 and its details). */
    fun revoke(details: Map<String, Any?>) {
        remove(WampValues.asLong(details["registration"]) ?: return)
    }

    /** The session ended: a streaming handler waiting for chunks learns that none will come. */
    fun closeStreams(error: Throwable) {
        for (s in streams.values) s.chunks?.close(error)
    }

    /** INTERRUPT: cancels the invocation's handler, which then answers `wamp.error.canceled`. */
    fun interrupt(m: Interrupt) {
        val running = invocations[m.request]
        if (running == null) {
            log.debug("WAMP session {}: INTERRUPT for unknown invocation {} dropped", sessionId, m.request)
            return
        }
        // Cancelling runs the handler's cancellation callbacks (user code) in the cancelling thread: not this one.
        scope.launch { running.cancel("interrupted by router") }
    }

    /** INVOCATION: starts the registration's handler, or hands a later chunk to a running streaming handler. */
    fun invoke(m: InvocationMessage) {
        val progressive = m.details["progress"] == true
        // A progressive call's later chunks carry the invocation id of its first.
        streams[m.request]?.let {
            continueStream(m, it, progressive)
            return
        }
        if (synchronized(endedStreams) { endedStreams.containsKey(m.request) }) {
            log.debug(
                "WAMP session {}: chunk for invocation {} that was already answered dropped",
                sessionId,
                m.request,
            )
            return
        }
        if (invocations.containsKey(m.request)) {
            log.debug(
                "WAMP session {}: INVOCATION {} repeats an invocation still running; dropped",
                sessionId,
                m.request,
            )
            return
        }
        if (invocations.size >= config.maxConcurrentInvocations) {
            // Checked and started on the one thread that reads the connection: the count cannot grow meanwhile.
            refused++
            if (refused % REFUSALS_PER_LOG == 1L) {
                log.warn(
                    "WAMP session {}: {} invocations running, the most allowed (maxConcurrentInvocations); " +
                        "INVOCATION {} answered with {} ({} so far)",
                    sessionId,
                    config.maxConcurrentInvocations,
                    m.request,
                    SessionConfig.TOO_MANY_INVOCATIONS,
                    refused,
                )
            }
            val why = listOf("more than ${config.maxConcurrentInvocations} invocations running; try again later")
            val error =
                ErrorMessage(MessageCodes.INVOCATION, m.request, emptyMap(), SessionConfig.TOO_MANY_INVOCATIONS, why)
            scope.launch { correlator.sendQuietly(error) }
            return
        }
        val reg = registrations[m.registration]
        if (reg == null) {
            log.debug("WAMP session {}: INVOCATION for unknown registration {}", sessionId, m.registration)
            val error = ErrorMessage(MessageCodes.INVOCATION, m.request, emptyMap(), "wamp.error.no_such_registration")
            scope.launch { correlator.sendQuietly(error) }
            return
        }
        start(m, reg, progressive)
    }

    private fun start(m: InvocationMessage, reg: Registration, progressive: Boolean) {
        // The entry exists before the handler can run (an inline handler may answer before launch returns), and
        // ATOMIC start runs the body even when an INTERRUPT cancels it at once, so an interrupted invocation is
        // always answered (a LAZY job cancelled before it started never ran its body and never answered).
        val running = Running()
        invocations[m.request] = running
        val invocation = Invocation(m.registration, m.args, m.kwargs, m.details)
        invocation.scope = scope
        invocation.registeredProcedure = reg.procedure
        // A streaming handler reads every chunk, this first one included; the buffer holds at least one.
        val chunks = if (reg.streaming) Channel<CallChunk>(config.invocationChunkBuffer) else null
        chunks?.trySend(CallChunk.fromInvocation(m))
        if (progressive) streams[m.request] = InvocationStream(chunks) else chunks?.close()
        if (invocation.receiveProgress) invocation.progressSink = { r -> sendProgress(m.request, r) }
        // A forwarded call timeout (forward_timeout registrations): this side enforces it. A flag, not withTimeout,
        // tells our own expiry from a timeout the handler hit inside itself.
        val timer = invocation.timeout?.let { t ->
            scope.launch(CoroutineName("wamp-call-timeout")) {
                delay(t.toKotlinDuration())
                running.timedOut = true
                running.cancel("call timeout")
            }
        }
        val job = handlerScope.launch(start = CoroutineStart.ATOMIC) {
            val answer: Message = try {
                val r = reg.handler(invocation, chunks)
                invocation.finish()
                val options = if (r.options.containsKey("progress")) r.options - "progress" else r.options
                Yield(m.request, options, r.args, r.kwargs)
            } catch (e: CancellationException) {
                val error = if (running.timedOut) "wamp.error.timeout" else "wamp.error.canceled"
                val args = if (running.timedOut) listOf("call timeout") else emptyList()
                ErrorMessage(MessageCodes.INVOCATION, m.request, emptyMap(), error, args)
            } catch (e: Exception) {
                failure(m.request, reg, e)
            } finally {
                timer?.cancel()
                invocation.finish()
                endStream(m.request)
                chunks?.cancel()
                invocations.remove(m.request, running)
                running.answered()
            }
            // The answer goes out even when the invocation was cancelled (it says so). Once answered, no INTERRUPT or
            // timer cancels it any more, so only an already cancelled coroutine pays for leaving cancellation behind.
            if (isActive) {
                correlator.sendQuietly(answer)
            } else {
                withContext(NonCancellable) { correlator.sendQuietly(answer) }
            }
        }
        running.start(job)
    }

    /**
     * An invocation whose handler runs: its coroutine, set once launched (a cancellation asked for before that, by
     * a timer on another thread, is applied then); once [answered], INTERRUPT and the timer no longer cancel it, so
     * they cannot stop its answer on the way out.
     */
    private class Running {
        @Volatile var timedOut = false
        private var job: Job? = null
        private var cancelled: String? = null
        private var done = false

        fun start(job: Job) {
            val why = synchronized(this) {
                if (done) return
                this.job = job
                cancelled
            }
            if (why != null) job.cancel(CancellationException(why))
        }

        fun cancel(why: String) {
            val job = synchronized(this) {
                if (done) return
                if (job == null) cancelled = why
                job
            }
            job?.cancel(CancellationException(why))
        }

        fun answered() {
            synchronized(this) { done = true }
        }
    }

    /** The ERROR that answers an invocation whose handler threw [e]. */
    private fun failure(request: Long, reg: Registration, e: Exception): ErrorMessage = when (e) {
        is RpcException -> ErrorMessage(MessageCodes.INVOCATION, request, e.details, e.error, e.args, e.kwargs)

        is ChunkBufferOverflowException ->
            ErrorMessage(
                MessageCodes.INVOCATION,
                request,
                emptyMap(),
                ChunkBufferOverflowException.ERROR,
                listOf(e.message),
            )

        else -> {
            log.warn("WAMP session {}: handler for {} failed", sessionId, reg.procedure, e)
            val why = listOf(e.message ?: e::class.java.name)
            ErrorMessage(MessageCodes.INVOCATION, request, emptyMap(), "wamp.error.runtime_error", why)
        }
    }

    private suspend fun sendProgress(request: Long, r: InvokeResult) {
        try {
            peer.send(Yield(request, r.options + ("progress" to true), r.args, r.kwargs))
        } catch (e: ConnectionException) {
            throw WampConnectionLostException("WAMP session $sessionId: connection lost while sending progress", e)
        }
    }

    /** Hands a later chunk of a progressive invocation to its handler; the chunk without `progress` is the last. */
    private fun continueStream(m: InvocationMessage, stream: InvocationStream, progressive: Boolean) {
        if (!progressive) streams.remove(m.request, stream)
        val chunks = stream.chunks
        if (chunks == null) {
            log.debug(
                "WAMP session {}: chunk of invocation {} dropped: its handler does not stream (registerStreaming)",
                sessionId,
                m.request,
            )
            return
        }
        val sent = chunks.trySend(CallChunk.fromInvocation(m))
        if (sent.isFailure && !sent.isClosed) {
            // Full: the read path never waits for a handler. The stream fails after what it holds, so no chunk
            // goes missing unnoticed; later chunks find it closed and are dropped.
            log.warn(
                "WAMP session {}: invocation {}: chunk buffer of {} full; the handler's chunk stream fails",
                sessionId,
                m.request,
                config.invocationChunkBuffer,
            )
            chunks.close(ChunkBufferOverflowException(m.request, config.invocationChunkBuffer))
        } else if (sent.isClosed) {
            log.debug(
                "WAMP session {}: chunk of invocation {} dropped: the handler stopped reading",
                sessionId,
                m.request,
            )
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

    private companion object {
        // How many answered progressive invocations are remembered so that their late chunks are dropped.
        const val ENDED_STREAMS = 1024

        // One warning per this many refused invocations: a flood must not flood the log too.
        const val REFUSALS_PER_LOG = 1000L
    }
}
