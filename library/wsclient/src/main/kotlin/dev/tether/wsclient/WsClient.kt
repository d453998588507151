package dev.tether.wsclient

import dev.tether.core.AuthenticationFailedException
import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionException
import dev.tether.core.ConnectionState
import dev.tether.core.ConnectionStatus
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.InternalTetherApi
import dev.tether.core.Lifecycle
import dev.tether.core.MessageListener
import dev.tether.core.MessageTooLargeException
import dev.tether.core.TetherScope
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WsMessage
import dev.tether.core.javaFuture
import dev.tether.core.redactUrl
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.selects.select
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicBoolean
import java.util.function.Consumer
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.toKotlinDuration

/**
 * A persistent WebSocket to a nexus-style broker that reconnects on its own and correlates requests with their
 * replies (upstream `wsclient.Client`).
 *
 * Make one with the constructor (no I/O), then [connect] (waits for the first connection) or [start] (dials in the
 * background); suspend [send] and [request]; [state] and [events] for the connection; [closeAndJoin] to end it and
 * [awaitClosed] to wait for the end. Java: [connectAsync], [start], [sendAsync], [requestAsync], [onState],
 * [onEvent], [closeAsync], [closedFuture]. A reply completes its future on the connection's I/O thread, so
 * dependent stages added with `thenApply` run there too: use `thenApplyAsync` for anything slow or blocking.
 * Cancelling a future cancels the operation.
 *
 * Differences from upstream, all on purpose: reconnect delays have jitter and a connection that drops within a
 * second backs off; a duplicate pending id is refused; a drop fails pending requests with [ConnectionLostException],
 * distinct from [RequestTimeoutException]; FailFirstConnect only concerns the first dial; a failing token
 * provider falls back to the last accepted token; a 401 is reported as [ConnectionEvent.AuthenticationFailed] and
 * backed off; a caller's timeout never touches the shared socket; the handler runs off the read loop, behind a
 * bounded queue ([WsClientConfig.handlerQueueSize]): a frame that finds it full is dropped and counted
 * ([WsClientStats.handlerDrops]) rather than held in memory without limit or left to stall the replies behind it.
 */
@OptIn(InternalTetherApi::class)
public class WsClient(public val config: WsClientConfig) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("tether-wsclient"))

    /** Why the client ended: [ClientClosedException], or [InitialConnectException] under FailFirstConnect. */
    private val lifecycle = Lifecycle<WsClientException>(scope)

    /** Every connection of this client runs on one I/O thread, so [dispatcher] survives reconnects. */
    private val pinned = config.dialer.transport.pinned()
    private val dialer = WebSocketDialer(config.dialer.toBuilder().transport(pinned.transport).build())
    private val status = ConnectionStatus(scope)
    private val live = MutableStateFlow<WebSocketConnection?>(null)
    private val pending = ConcurrentHashMap<String, PendingRequest>()
    private val handlerQueue = Channel<Envelope>(config.handlerQueueSize)
    private val started = AtomicBoolean(false)
    private val counters = WsClientStats.Counters()

    @Volatile private var loop: Job? = null

    // Converted once: the default arguments are evaluated on every call.
    private val defaultRequestTimeout = config.requestTimeout.toKotlinDuration()
    private val defaultSendTimeout = config.sendTimeout.toKotlinDuration()

    /** Times out pending requests: one thread per client instead of a coroutine or a timer task per request. */
    private val timeouts = RequestTimeouts(pending, ::timedOut)

    /**
     * The I/O thread this client's connections run on (across reconnects), as a dispatcher: latency-critical code
     * that never blocks may run here (`withContext(client.dispatcher) { client.request(…) }`), so that its requests
     * and the replies that resume it need no thread hand-off. Blocking here stalls the connection.
     */
    public val dispatcher: CoroutineDispatcher get() = pinned.dispatcher

    /** Java face of [dispatcher]: the I/O thread as an executor (`thenApplyAsync(fn, client.getExecutor())`). */
    public val executor: Executor get() = pinned.dispatcher.asExecutor()

    init {
        val handlerContext = config.handlerExecutor?.asCoroutineDispatcher() ?: Dispatchers.IO
        scope.launch(handlerContext + CoroutineName("tether-wsclient-handler")) {
            for (envelope in handlerQueue) {
                try {
                    config.handler.handle(envelope)
                } catch (e: Exception) {
                    counters.handlerErrors.incrementAndGet()
                    log.warn("handler threw on a {} frame", envelope.kind, e)
                }
            }
        }
    }

    /** The connection state (conflated view). */
    public val state: StateFlow<ConnectionState> get() = status.state

    /**
     * Every connection event from the moment collection starts, in order. A collector that falls more than
     * [ConnectionStatus.EVENT_BUFFER] events behind loses the oldest ones (counted in [WsClientStats.eventsDropped]).
     */
    public val events: Flow<ConnectionEvent> get() = status.events

    /** True while a WebSocket is up (upstream `Connected`). */
    public val isConnected: Boolean get() = live.value?.isOpen == true

    /** Counters of what the client saw and refused; a snapshot. */
    public fun stats(): WsClientStats = counters.snapshot(pending.size, status.droppedEvents)

    /**
     * Java: calls [listener] with every state transition, in order (a listener more than
     * [ConnectionStatus.EVENT_BUFFER] behind loses the oldest). Close the handle to stop.
     */
    public fun onState(listener: Consumer<ConnectionState>): AutoCloseable = status.onState(listener)

    /** Java: calls [listener] with every connection event, in order, bounded as [onState]. Close the handle to stop. */
    public fun onEvent(listener: Consumer<ConnectionEvent>): AutoCloseable = status.onEvent(listener)

    /**
     * Starts dialling in the background and returns at once: the dial/serve/reconnect loop runs in the client's own
     * scope until [close]. Idempotent. Throws the end reason once the client has ended. Under FailFirstConnect a
     * failed first dial ends the client with [InitialConnectException] ([awaitClosed] returns it); [connect] is the
     * call that waits for that outcome.
     */
    public fun start() {
        lifecycle.checkNotEnded()
        if (!started.compareAndSet(false, true)) return
        loop = scope.launch(CoroutineName("tether-wsclient-loop")) { connectLoop() }
    }

    /**
     * [start]s the client and returns it once the first connection is up. Throws [InitialConnectException] when
     * FailFirstConnect is set and the first dial fails (the client is then closed), [ClientClosedException] when
     * the client is closed first. Without FailFirstConnect it waits through redials: bound it with `withTimeout`.
     */
    @JvmSynthetic
    public suspend fun connect(): WsClient {
        start()
        try {
            connection()
        } catch (e: InitialConnectException) {
            closeAndJoin() // the client is over: release what it holds before the caller hears why
            throw e
        }
        return this
    }

    /**
     * Java face of [connect]: completes with this client once the first connection is up, or fails with the typed
     * reason. Bound it with `orTimeout` when FailFirstConnect is not set.
     */
    public fun connectAsync(): CompletableFuture<WsClient> =
        // Not on the client's scope: a failed connect closes the client, and that close joins the scope.
        TetherScope.javaFuture { connect() }

    /**
     * Suspends until the client has ended for good and returns why: [ClientClosedException] after [close], or
     * [InitialConnectException] when FailFirstConnect is set and the first dial failed.
     */
    @JvmSynthetic
    public suspend fun awaitClosed(): WsClientException = lifecycle.awaitEnd()

    /** Java face of [awaitClosed]: completes normally with the reason once the client has ended. */
    public fun closedFuture(): CompletableFuture<WsClientException> = lifecycle.endFuture()

    /** Suspends until a connection is up (bound it with `withTimeout`). */
    @JvmSynthetic
    public suspend fun awaitConnected() {
        connection()
    }

    /** Java face of [awaitConnected], bounded by [timeout] (fails with [NotConnectedException]). */
    public fun awaitConnectedAsync(timeout: Duration): CompletableFuture<Void?> = lifecycle.future {
        withTimeoutOrNull(timeout.toKotlinDuration()) { connection() }
            ?: throw NotConnectedException(timeout.toMillis())
        null
    }

    /**
     * Sends [envelope] without waiting for a reply. Waits up to [timeout] for a connection; a frame that never
     * reached the socket is retried on the next connection, one that did is never resent.
     */
    @JvmSynthetic
    public suspend fun send(envelope: Envelope, timeout: kotlin.time.Duration = defaultSendTimeout) {
        val text = envelope.encode()
        if (writeNow(text) != null) return
        val sent = withTimeoutOrNull(timeout) { write(text) }
        if (sent == null) throw NotConnectedException(timeout.inWholeMilliseconds)
    }

    /** Java face of [send] with the configured send timeout. */
    public fun sendAsync(envelope: Envelope): CompletableFuture<Void?> = lifecycle.future {
        send(envelope)
        null
    }

    /** Java face of [send]. */
    public fun sendAsync(envelope: Envelope, timeout: Duration): CompletableFuture<Void?> = lifecycle.future {
        send(envelope, timeout.toKotlinDuration())
        null
    }

    /**
     * Sends a request and returns the frame whose `in_reply_to` equals its id (whatever its kind: an `.error` kind
     * is a reply too). Throws [RequestTimeoutException] after [timeout] (waiting for a connection included),
     * [ConnectionLostException] when the connection drops first, [DuplicateRequestIdException] when the id is
     * already pending and [IllegalArgumentException] when the envelope has no id.
     */
    @JvmSynthetic
    public suspend fun request(envelope: Envelope, timeout: kotlin.time.Duration = defaultRequestTimeout): Envelope {
        val id = envelope.id
        require(!id.isNullOrEmpty()) { "envelope has no id: build requests with Envelope.request(kind, payload)" }
        lifecycle.checkNotEnded()
        val text = envelope.encode()
        val timeoutNanos = timeout.inWholeNanoseconds
        val entry = PendingRequest(RequestTimeouts.deadlineAfter(timeoutNanos), timeoutNanos / 1_000_000)
        if (pending.putIfAbsent(id, entry) != null) throw DuplicateRequestIdException(id)
        try {
            timeouts.watch(entry)
            // Fast path: a live connection with room in its queue takes the frame without suspending.
            val conn = writeNow(text, entry) ?: writeWithin(text, entry, timeoutNanos) ?: run {
                timedOut(id, entry)
                return entry.await()
            }
            // The socket may have died between the write and now; its drop sweep may have missed us.
            if (!conn.isOpen) entry.fail(ConnectionLostException(id, true, conn.awaitClosed()))
            return entry.await()
        } finally {
            pending.remove(id, entry)
        }
    }

    private fun timedOut(id: String, entry: PendingRequest) {
        // Counted before the caller resumes, so stats read right after the failure include it.
        entry.fail(RequestTimeoutException(id, entry.timeoutMillis)) { counters.requestsTimedOut.incrementAndGet() }
    }

    /** [write] bounded by what is left of [entry]'s timeout; null when it ran out first. */
    private suspend fun writeWithin(text: String, entry: PendingRequest, timeoutNanos: Long): WebSocketConnection? {
        val leftMillis = if (entry.deadline == RequestTimeouts.NEVER) {
            timeoutNanos / 1_000_000
        } else {
            ((entry.deadline - System.nanoTime()) / 1_000_000).coerceAtLeast(0)
        }
        return withTimeoutOrNull(leftMillis) { write(text, entry) }
    }

    /** Java face of [request] with the configured request timeout. */
    public fun requestAsync(envelope: Envelope): CompletableFuture<Envelope> = lifecycle.future { request(envelope) }

    /** Java face of [request]. */
    public fun requestAsync(envelope: Envelope, timeout: Duration): CompletableFuture<Envelope> =
        lifecycle.future { request(envelope, timeout.toKotlinDuration()) }

    /**
     * Closes the socket (1000 "client shutdown"), fails pending requests and stops every coroutine, blocking the
     * calling thread for at most a few seconds (each step is bounded). Idempotent. Kotlin code in a coroutine
     * should prefer [closeAndJoin]; Java code that must not block, [closeAsync].
     */
    override fun close(): Unit = lifecycle.closeBlocking(::shutdown)

    /**
     * Suspending [close]: returns once the socket is closed and every coroutine of the client has ended (each step
     * bounded). Concurrent and later calls wait for the same shutdown. Not cancellable once started.
     */
    @JvmSynthetic
    public suspend fun closeAndJoin(): Unit = lifecycle.close(::shutdown)

    /** Java face of [closeAndJoin]: completes once the client is fully closed; idempotent. */
    public fun closeAsync(): CompletableFuture<Void?> = lifecycle.closeAsync(::shutdown)

    private suspend fun shutdown() {
        // Pending callers learn "closed" (not "connection lost") because their entries fail before the socket goes.
        // A failed first dial ended the client earlier: it keeps that reason and its Closed event.
        val ours = lifecycle.end(ClientClosedException())
        for (entry in pending.values) entry.fail(ClientClosedException())
        withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { live.value?.close(1000, "client shutdown") }
        withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { loop?.cancelAndJoin() }
        handlerQueue.close()
        if (ours) status.emit(ConnectionEvent.Closed(null))
        status.complete()
        dialer.close()
        // Listeners and the handler drain what they were given, within a bound, before their coroutines go.
        val job = scope.coroutineContext.job
        withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { job.children.forEach { it.join() } }
        job.cancel()
        // A listener stuck in blocking code cannot be cancelled; do not let it hang close().
        withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { job.join() }
        timeouts.stop()
    }

    private suspend fun connection(): WebSocketConnection {
        live.value?.let { if (it.isOpen) return it }
        lifecycle.checkNotEnded()
        // Wait for the next connection, or for the client to finish (close, failed first dial).
        return coroutineScope {
            val next = async { live.first { it != null && it.isOpen }!! }
            val ended = async { lifecycle.awaitEnd() }
            select {
                next.onAwait {
                    ended.cancel()
                    it
                }
                ended.onAwait {
                    next.cancel()
                    throw it
                }
            }
        }
    }

    /**
     * Queues [text] on the live connection without suspending and returns it; null when there is none, its queue
     * is full or it just ended ([write] then waits). A request's [entry] learns the connection before the frame
     * is queued, so that a drop sweep finds it.
     */
    private fun writeNow(text: String, entry: PendingRequest? = null): WebSocketConnection? {
        val conn = live.value?.takeIf { it.isOpen } ?: return null
        entry?.connection = conn
        return try {
            if (conn.trySend(text)) conn else null
        } catch (e: ConnectionException) {
            null
        }
    }

    /** Writes [text] on a live connection, retrying on the next one when it never reached a socket. */
    private suspend fun write(text: String, entry: PendingRequest? = null): WebSocketConnection {
        while (true) {
            val conn = connection()
            entry?.connection = conn
            try {
                conn.send(text)
                return conn
            } catch (e: ConnectionException) {
                live.first { it !== conn }
            }
        }
    }

    private suspend fun connectLoop() {
        val schedule = config.backoff.newSchedule()
        var attempt = 0
        var everConnected = false
        while (true) {
            attempt++
            status.emit(ConnectionEvent.Connecting(attempt))
            val conn = try {
                dialer.dial(inbound)
            } catch (e: ConnectionException) {
                if (config.failFirstConnect && !everConnected) {
                    if (lifecycle.end(InitialConnectException(e))) status.emit(ConnectionEvent.Closed(e))
                    return
                }
                var wait = schedule.nextDelayAfterFailedDial().inWholeMilliseconds
                if (e is HandshakeRejectedException) e.retryAfterSeconds?.let { wait = maxOf(wait, it * 1000) }
                log.info("dial to {} failed ({}); retrying in {} ms", redactUrl(config.dialer.url), e.message, wait)
                status.emit(
                    if (e is AuthenticationFailedException) {
                        ConnectionEvent.AuthenticationFailed(e.status, wait)
                    } else {
                        ConnectionEvent.DialFailed(e, wait)
                    },
                )
                delay(wait)
                continue
            }
            everConnected = true
            attempt = 0
            val since = System.nanoTime()
            live.value = conn // before the event, so a listener reacting to CONNECTED finds the client usable
            status.emit(ConnectionEvent.Connected(config.dialer.url))
            log.info("connected to {}", redactUrl(config.dialer.url))
            val cause = try {
                serve(conn)
            } finally {
                live.compareAndSet(conn, null)
            }
            failPendingOn(conn, cause)
            if (lifecycle.isClosing) return // our own close() ended it: no Disconnected, no redial
            if (cause is MessageTooLargeException) counters.oversizeMessages.incrementAndGet()
            counters.drops.incrementAndGet()
            val lived = (System.nanoTime() - since) / 1_000_000
            val wait = schedule.nextDelayAfterDrop(lived.milliseconds).inWholeMilliseconds
            log.info(
                "connection to {} dropped after {} ms ({}); redial in {} ms",
                config.dialer.url,
                lived,
                cause.message,
                wait,
            )
            status.emit(ConnectionEvent.Disconnected(cause, wait))
            delay(wait)
        }
    }

    /** Inbound messages, routed on the connection's read loop: routing never blocks (the handler has its queue). */
    private val inbound = MessageListener { message ->
        when (message) {
            is WsMessage.Text -> route(message.text)

            is WsMessage.Binary -> {
                counters.binaryFrames.incrementAndGet()
                log.debug("ignoring a {}-byte binary message: the protocol is text only", message.bytes.size)
            }
        }
    }

    private suspend fun serve(conn: WebSocketConnection): ConnectionException {
        try {
            return conn.awaitClosed()
        } catch (e: CancellationException) {
            withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { conn.close(1000, "client shutdown") }
            throw e
        }
    }

    private fun route(text: String) {
        val envelope = try {
            Envelope.decode(text)
        } catch (e: MalformedEnvelopeException) {
            counters.malformedFrames.incrementAndGet()
            log.warn("dropping a malformed frame: {}", e.message)
            return
        }
        val replyTo = envelope.inReplyTo
        if (!replyTo.isNullOrEmpty()) {
            val entry = pending[replyTo]
            if (entry != null && entry.complete(envelope)) return
            counters.lateReplies.incrementAndGet()
        }
        val queued = handlerQueue.trySend(envelope)
        if (queued.isFailure && !queued.isClosed) {
            // The handler is behind by a whole queue: drop rather than grow without limit or stall the read loop
            // (and with it every reply and the server's pings).
            val drops = counters.handlerDrops.incrementAndGet()
            if (drops == 1L || drops % DROP_LOG_EVERY == 0L) {
                log.warn(
                    "handler is {} frames behind: dropped a {} frame ({} dropped so far)",
                    config.handlerQueueSize,
                    envelope.kind,
                    drops,
                )
            }
        }
    }

    private fun failPendingOn(conn: WebSocketConnection, cause: Throwable) {
        for ((id, entry) in pending) {
            if (entry.connection === conn) entry.fail(ConnectionLostException(id, true, cause))
        }
    }

    private companion object {
        private val log = LoggerFactory.getLogger(WsClient::class.java)
        const val CLOSE_TIMEOUT_MILLIS = 1_000L

        /** A handler drop is logged the first time and then once per this many. */
        private const val DROP_LOG_EVERY = 1_000L
    }
}
