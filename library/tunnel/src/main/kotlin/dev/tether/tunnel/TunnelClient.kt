package dev.tether.tunnel

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.ConnectionStatus
import dev.tether.core.InternalTetherApi
import dev.tether.core.Lifecycle
import dev.tether.core.TetherException
import dev.tether.core.TetherScope
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketTransport
import dev.tether.core.javaFuture
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxProtocol
import dev.tether.mux.MuxSession
import dev.tether.mux.Stream
import dev.tether.mux.StreamAcceptor
import io.netty.channel.EventLoop
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.cancelChildren
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.selects.select
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicBoolean
import java.util.function.Consumer

/**
 * A tunnel registered with a webhook proxy (upstream whclient `Client`, a `net.Listener`): viewers reach
 * [url], and each of their requests arrives here as one [Stream] from [accept]. [forward] pipes every stream to a
 * local origin; [serve] answers requests in process.
 *
 * When the session drops, the client registers again in the background under [TunnelConfig.retry] and keeps
 * [url] current; [accept] callers simply wait for the next session. If the retry budget runs out (or the proxy
 * refuses the token), every waiting and later [accept] fails with that error. Unlike upstream, [close] unblocks a
 * waiting [accept] at once, and a reconnect never holds accept callers behind a lock.
 *
 * Make one with the constructor (no I/O), then [connect] (Kotlin) or [connectAsync] (Java) registers it; [close],
 * [closeAndJoin] or [closeAsync] end it, [awaitClosed] / [closedFuture] wait for the end and say why.
 */
@OptIn(InternalTetherApi::class)
public class TunnelClient internal constructor(
    /** The configuration the client was created with. */
    public val config: TunnelConfig,
    private val muxConfig: MuxConfig,
    transport: WebSocketTransport,
) : AutoCloseable {
    /**
     * A client for [config] whose mux sessions use [muxConfig] ([defaultMuxConfig]: the proxy's 4096-byte stream
     * buffers), bounded to [TunnelConfig.maxStreams] viewer streams. Does no I/O: [connect] registers with the proxy.
     */
    @JvmOverloads
    public constructor(config: TunnelConfig, muxConfig: MuxConfig = defaultMuxConfig()) :
        this(config, muxConfig, WebSocketTransport.default())

    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("tether-tunnel"))
    private val lifecycle = Lifecycle<TetherException>(scope)
    private val status = ConnectionStatus(scope)
    private val registration = Registration(config, muxConfig.keepAliveInterval, transport = transport)

    /** Every session's settings: [muxConfig] with the viewer stream bound of [TunnelConfig.maxStreams]. */
    private val sessionConfig = muxConfig.toBuilder().maxStreams(config.maxStreams).build()
    private val counters = TunnelStats.Counters()

    /** Viewer streams refused by the sessions before the current one; guarded by [servers]. */
    private var earlierRefusals = 0L

    /** TLS towards `https` origins, made by the first [forward] to one. */
    private val originTls by lazy { OriginTls.of(config) }

    /** The session carrying the tunnel; null until the first registration. */
    private val sessions = MutableStateFlow<Current?>(null)

    /** The running [forward] and [serve] calls, which take every viewer stream as it arrives; guarded by itself. */
    private val servers = ArrayList<StreamServer>(1)
    private var nextServer = 0 // guarded by servers
    private val publicUrl = MutableStateFlow("")
    private val started = AtomicBoolean(false)

    /** Completed by the first registration, or failed with why the client ended before it. */
    private val firstRegistration = CompletableDeferred<Unit>()

    /**
     * The public URL viewers use, as the proxy announced it at the last registration ("" if it sent none, or before
     * [connect]).
     */
    public val url: String get() = publicUrl.value

    /** The public URL over time (it is re-announced after every reconnect). */
    public val urls: StateFlow<String> get() = publicUrl.asStateFlow()

    /** The connection state. */
    public val state: StateFlow<ConnectionState> get() = status.state

    /**
     * Every connection event from the moment collection starts, in order. A collector that falls more than
     * [ConnectionStatus.EVENT_BUFFER] events behind loses the oldest ones.
     */
    public val events: Flow<ConnectionEvent> get() = status.events

    /** Java: calls [listener] with every state transition, in order. Close the handle to stop. */
    public fun onState(listener: Consumer<ConnectionState>): AutoCloseable = status.onState(listener)

    /** Java: calls [listener] with every connection event, in order. Close the handle to stop. */
    public fun onEvent(listener: Consumer<ConnectionEvent>): AutoCloseable = status.onEvent(listener)

    /** True while a registered session carries the tunnel. */
    public val isConnected: Boolean get() = sessions.value?.session?.isOpen == true

    /** The mux session currently carrying the tunnel (replaced after a reconnect); null before [connect]. */
    public val session: MuxSession? get() = sessions.value?.session

    /**
     * A snapshot of what the client has done across all its sessions: registrations and reconnects, viewers served
     * and refused, requests forwarded or answered, and the errors by cause.
     */
    public fun stats(): TunnelStats = synchronized(servers) {
        counters.snapshot(earlierRefusals + (sessions.value?.session?.stats()?.streamsRefused ?: 0))
    }

    /**
     * Registers with the proxy (retrying under [TunnelConfig.retry]) and returns this client once the tunnel is up;
     * after that the client registers again on its own whenever the session drops. Idempotent: a second call waits
     * for the same registration. When registering fails the client ends (and cleans up) with the reason, which this
     * call throws: [TunnelAuthFailedException], [RetryFailedException], [BadTokenException],
     * [dev.tether.core.backoff.RetryTimedOutException]; [TunnelClosedException] when [close] came first.
     */
    @JvmSynthetic
    public suspend fun connect(): TunnelClient {
        lifecycle.checkNotEnded()
        if (started.compareAndSet(false, true)) {
            scope.launch(CoroutineName("tether-tunnel-connect")) { connectLoop() }
        }
        try {
            firstRegistration.await()
        } catch (e: TetherException) {
            // The client is over: release what it holds before the caller hears why.
            closeAndJoin()
            throw lifecycle.reason ?: e
        }
        return this
    }

    /** Java face of [connect]: completes with this client once registered, or fails with the reason. */
    public fun connectAsync(): CompletableFuture<TunnelClient> =
        // Not on the client's scope: a failed connect closes the client, and that close joins the scope.
        TetherScope.javaFuture { connect() }

    /**
     * Suspends until the client has ended for good and returns why: [TunnelClosedException] after [close], or the
     * error that ended registering ([dev.tether.core.backoff.RetryTimedOutException], [TunnelAuthFailedException],
     * ...).
     */
    @JvmSynthetic
    public suspend fun awaitClosed(): TetherException = lifecycle.awaitEnd()

    /** Java face of [awaitClosed]: completes normally with the reason once the client has ended. */
    public fun closedFuture(): CompletableFuture<TetherException> = lifecycle.endFuture()

    /**
     * The I/O thread every connection of this client runs on (across reconnects), as a dispatcher: where [forward]
     * moves every viewer's bytes. Short, non-blocking work only ([kotlinx.coroutines.Dispatchers.Default] on the
     * Ktor transport, which has no such thread).
     */
    public val dispatcher: CoroutineDispatcher get() = registration.dispatcher

    /**
     * Java face of [dispatcher]: the I/O thread as an executor, for a [serve] handler that never blocks
     * (`serveAsync(handler, max, client.getExecutor())`).
     */
    public val executor: Executor get() = registration.dispatcher.asExecutor()

    /**
     * The next viewer stream. Waits across reconnects (and, before [connect], for the first registration). Throws
     * [TunnelClosedException] after [close], or the error that ended the client
     * ([dev.tether.core.backoff.RetryTimedOutException], [TunnelAuthFailedException], ...). While [forward] or
     * [serve] runs, viewer streams go there and a waiting accept gets none.
     */
    @JvmSynthetic
    public suspend fun accept(): Stream {
        while (true) {
            lifecycle.checkNotEnded()
            val holder = sessions.value
            val current = holder?.session
            if (current != null && current.isOpen) {
                val stream = coroutineScope {
                    val next = async { runCatching { current.accept() } }
                    // The session's end also ends the wait (an accept on a dead session must not hang).
                    val lost = async { current.awaitClosed() }
                    val ended = async { lifecycle.awaitEnd() }
                    select<Result<Stream>?> {
                        next.onAwait { it }
                        lost.onAwait { Result.failure(it) }
                        ended.onAwait { null }
                    }.also {
                        next.cancel()
                        lost.cancel()
                        ended.cancel()
                    }
                }
                when {
                    stream == null -> lifecycle.checkNotEnded()
                    stream.isSuccess -> return stream.getOrThrow().also { counters.viewersServed.increment() }
                    stream.exceptionOrNull() !is MuxException -> throw stream.exceptionOrNull()!!
                }
            }
            // No session yet, or it ended: wait for the connect loop to install the next one, or to give up.
            coroutineScope {
                val next = async { sessions.first { it !== holder } }
                val ended = async { lifecycle.awaitEnd() }
                select<Unit> {
                    next.onAwait { }
                    ended.onAwait { }
                }
                next.cancel()
                ended.cancel()
            }
        }
    }

    /** Java face of [accept]. */
    public fun acceptAsync(): CompletableFuture<Stream> = lifecycle.future { accept() }

    /** Java: blocks until the next viewer stream (see [accept]); interrupting the thread abandons the wait. */
    @JvmName("accept")
    public fun acceptBlocking(): Stream = try {
        acceptAsync().get()
    } catch (e: java.util.concurrent.ExecutionException) {
        throw e.cause ?: e
    }

    /**
     * Pipes every viewer stream to [origin] (`http://host:port`, `ws://host:port` or `host:port`; `https://` or
     * `wss://` for TLS) until the client is closed: HTTP requests and WebSocket viewers both work, because the origin
     * sees the bytes the proxy wrote. Each stream gets its own TCP connection, closed when the stream ends; an origin
     * that cannot be reached is answered `502 Bad Gateway`.
     *
     * TLS to an `https` origin is verified as every TLS connection of Tether is: the chain against the JVM's trust
     * store (or [TunnelConfig.originTrustManager] / [TunnelConfig.originSslContext]) and the host name against the
     * certificate, which is also asked for by SNI. A failed handshake is an [OriginTlsException]: logged, counted in
     * [TunnelStats.originTlsFailures], and the viewer is answered `502`.
     *
     * On the Netty transport (the default) the origin connections share the tunnel connection's I/O thread
     * ([dispatcher]) and every byte is copied there: a viewer request crosses no thread inside the client. While a
     * [forward] or [serve] runs, viewer streams go to it (to each in turn when several run), not to [accept].
     */
    @JvmSynthetic
    public suspend fun forward(origin: String) {
        val target = OriginAddress.parse(origin)
        val tls = if (target.tls) originTls else null
        serveStreams { stream, current ->
            val loop = current.loop
            if (loop != null) {
                OriginPipe(stream, target, loop, tls, counters).run()
            } else {
                BlockingOriginPipe(stream, target, tls, counters).run()
            }
        }
    }

    /** Java face of [forward]: completes when the client closes (normally) or fails for good. */
    public fun forwardAsync(origin: String): CompletableFuture<Void?> = lifecycle.future {
        forward(origin)
        null
    }

    /**
     * Answers every viewer HTTP request with [handler], in process (for users without a local server), until the
     * client is closed. Requests are read with their bodies (up to [maxBodyBytes]); a WebSocket upgrade request is
     * answered 501, a request whose head does not arrive within [TunnelConfig.requestHeadTimeout], or whose body does
     * not follow within [TunnelConfig.requestBodyTimeout], 408. The request is read and the answer written on the
     * tunnel connection's I/O thread; [handler] runs on [handlerExecutor] ([TunnelConfig.handlerExecutor] unless
     * given; null: a library thread where it may block). A handler that never blocks may run on [executor] and save
     * two thread hand-offs per request.
     */
    @JvmSynthetic
    public suspend fun serve(
        handler: TunnelHandler,
        maxBodyBytes: Int = DEFAULT_MAX_BODY,
        handlerExecutor: Executor? = config.handlerExecutor,
    ) {
        val handlerContext = handlerExecutor?.asCoroutineDispatcher() ?: Dispatchers.IO
        serveStreams { stream, _ ->
            val timeouts = HttpExchange.Timeouts(config.requestHeadTimeout, config.requestBodyTimeout)
            HttpExchange(stream, config.flavour, maxBodyBytes, timeouts, counters).serve(handler, handlerContext)
        }
    }

    /** Java face of [serve]. */
    @JvmOverloads
    public fun serveAsync(
        handler: TunnelHandler,
        maxBodyBytes: Int = DEFAULT_MAX_BODY,
        handlerExecutor: Executor? = config.handlerExecutor,
    ): CompletableFuture<Void?> = lifecycle.future {
        serve(handler, maxBodyBytes, handlerExecutor)
        null
    }

    /**
     * Runs [each] for every viewer stream until the client closes (returns) or fails for good (throws): the sessions
     * hand their streams over inline as they arrive ([MuxSession.acceptInline]), each to a coroutine started on its
     * connection's dispatcher, a child of this call.
     */
    private suspend fun serveStreams(each: suspend (Stream, Current) -> Unit) {
        coroutineScope {
            val server = StreamServer(this, each)
            addServer(server)
            try {
                val reason = lifecycle.awaitEnd()
                // The session is gone with the client: a pipe still waiting on its origin has nothing left to do.
                coroutineContext.cancelChildren()
                if (reason !is TunnelClosedException) throw reason
            } finally {
                removeServer(server)
            }
        }
    }

    private fun addServer(server: StreamServer) = synchronized(servers) {
        servers.add(server)
        sessions.value?.installAcceptor()
    }

    private fun removeServer(server: StreamServer) = synchronized(servers) {
        servers.remove(server)
        sessions.value?.installAcceptor()
    }

    /** One viewer stream, on the loop that read its SYN: to the next server, in a coroutine of that server's. */
    private fun dispatch(stream: Stream, current: Current) {
        val server = synchronized(servers) {
            if (servers.isEmpty()) null else servers[Math.floorMod(nextServer++, servers.size)]
        }
        if (server == null) {
            log.debug("viewer stream {} arrived as the last forward/serve ended; closed", stream.id)
            stream.close()
            return
        }
        log.debug("accepted viewer stream {}", stream.id)
        // Started right here when this is the stream's own loop: the pipe's first steps need no task at all.
        val loop = current.loop
        val start = if (loop == null || loop.inEventLoop()) CoroutineStart.UNDISPATCHED else CoroutineStart.DEFAULT
        counters.viewersServed.increment()
        counters.viewersActive.incrementAndGet()
        server.scope.launch(current.dispatcher, start) {
            try {
                server.each(stream, current)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                counters.streamErrors.increment()
                log.info("tunnel stream {} ended with {}", stream.id, e.toString())
            }
        }.invokeOnCompletion {
            // Also when the server's scope was cancelled before the coroutine could start.
            counters.viewersActive.decrementAndGet()
            stream.close()
        }
    }

    /**
     * Closes the session and stops reconnecting; waiting [accept] calls fail with [TunnelClosedException] at once.
     * Blocks for a bounded time. Idempotent. Code in a coroutine should call [closeAndJoin], code that must not block
     * [closeAsync].
     */
    override fun close(): Unit = lifecycle.closeBlocking(::shutdown)

    /**
     * Suspending [close]: returns once the session is closed and every coroutine of the client has ended (each step
     * bounded). Concurrent and later calls wait for the same shutdown.
     */
    @JvmSynthetic
    public suspend fun closeAndJoin(): Unit = lifecycle.close(::shutdown)

    /** Java face of [closeAndJoin]: completes once the client is fully closed; idempotent. */
    public fun closeAsync(): CompletableFuture<Void?> = lifecycle.closeAsync(::shutdown)

    private suspend fun shutdown() {
        // An ending that came first (a failed registration) keeps its reason and its Closed event.
        val reason = TunnelClosedException()
        if (lifecycle.end(reason)) status.emit(ConnectionEvent.Closed(null))
        firstRegistration.completeExceptionally(lifecycle.reason ?: reason)
        // First the session, whose end releases the connect loop and every accept waiting on it.
        sessions.value?.session?.closeAndJoin()
        status.complete()
        val job = scope.coroutineContext.job
        withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { job.children.forEach { it.join() } }
        withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { job.cancelAndJoin() }
        // A registration that completed while we closed installs nothing, but its session is closed here too.
        sessions.value?.session?.closeAndJoin()
        registration.close()
    }

    private suspend fun connectLoop() {
        status.emit(ConnectionEvent.Connecting(1))
        val first = try {
            registration.register()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            val reason = typed(e)
            log.info("tunnel {} could not register: {}", config.id, reason.message)
            if (lifecycle.end(reason)) status.emit(ConnectionEvent.Closed(reason))
            firstRegistration.completeExceptionally(reason)
            return
        }
        if (!install(first)) return
        firstRegistration.complete(Unit)
        reconnectLoop()
    }

    private suspend fun reconnectLoop() {
        while (true) {
            val current = sessions.value?.session ?: return
            val cause = current.awaitClosed()
            if (lifecycle.isClosing || lifecycle.isEnded) return
            log.info("tunnel {} lost its session ({}); registering again", config.id, cause.message)
            status.emit(ConnectionEvent.Disconnected(cause, 0))
            status.emit(ConnectionEvent.Connecting(1))
            val next = try {
                registration.register()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                val reason = typed(e)
                log.warn("tunnel {} could not register again: {}", config.id, reason.message)
                if (lifecycle.end(reason)) status.emit(ConnectionEvent.Closed(reason))
                return
            }
            if (!install(next)) return
        }
    }

    /** Makes [next] the current session; false (and its connection dropped) when the client is closing. */
    private fun install(next: Registered): Boolean {
        if (lifecycle.isClosing || lifecycle.isEnded) {
            next.connection.closeAsync()
            return false
        }
        publicUrl.value = next.publicUrl
        val installed = Current(next.connection)
        counters.registrations.increment()
        synchronized(servers) {
            // The session replaced has ended: its refusals are final.
            earlierRefusals += sessions.value?.session?.stats()?.streamsRefused ?: 0
            sessions.value = installed
            installed.installAcceptor()
        }
        status.emit(ConnectionEvent.Connected(config.proxyUrl))
        return true
    }

    private fun typed(e: Exception): TetherException =
        e as? TetherException ?: TetherException("tunnel ${config.id} could not register: ${e.message}", e)

    /** One registered connection and the mux session on it. */
    private inner class Current(val connection: WebSocketConnection) {
        val session: MuxSession = MuxSession.client(connection, sessionConfig)

        /** The Netty loop that reads the connection (null on the Ktor transport). */
        val loop: EventLoop? = connection.eventLoop

        /** Where this connection's streams are served: its I/O thread. */
        val dispatcher: CoroutineDispatcher = connection.dispatcher

        private val acceptor = StreamAcceptor { stream -> dispatch(stream, this) }

        /** Hands streams over inline while a forward or serve runs; queues them for [accept] otherwise. */
        fun installAcceptor() {
            session.acceptInline(if (servers.isEmpty()) null else acceptor)
        }
    }

    /** A running [forward] or [serve]: [scope] is the call's, so its stream coroutines end with it. */
    private class StreamServer(val scope: CoroutineScope, val each: suspend (Stream, Current) -> Unit)

    /** Defaults shared by every tunnel client. */
    public companion object {
        private val log = LoggerFactory.getLogger(TunnelClient::class.java)
        private const val CLOSE_TIMEOUT_MILLIS = 1_000L

        /** Default bound of a request body read by [serve]. */
        public const val DEFAULT_MAX_BODY: Int = 64 shl 20

        /**
         * Mux settings of the client session: the proxy's buffer size (4096), both for our streams and as what the
         * proxy, the only opener, holds ([MuxConfig.peerCapacity]); the default keepalive.
         */
        @JvmStatic
        public fun defaultMuxConfig(): MuxConfig = MuxConfig {
            streamBufferSize(MuxProtocol.PROXY_CAPACITY)
            peerCapacity(MuxProtocol.PROXY_CAPACITY)
        }
    }
}
