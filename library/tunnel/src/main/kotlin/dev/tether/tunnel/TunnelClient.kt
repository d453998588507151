package dev.tether.tunnel

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.ConnectionStatus
import dev.tether.core.InternalTetherApi
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketTransport
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxProtocol
import dev.tether.mux.MuxException
import dev.tether.mux.Session
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
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.cancelChildren
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.selects.select
import kotlinx.coroutines.async
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.withContext
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
 * Create it with [connect] (Kotlin) or [connectAsync] (Java).
 */
@OptIn(InternalTetherApi::class)
public class TunnelClient private constructor(
    /** The configuration the client was created with. */
    public val config: TunnelConfig,
    private val muxConfig: MuxConfig,
    private val registration: Registration,
    first: Registered,
) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("tether-tunnel"))
    private val status = ConnectionStatus(scope)
    private val sessions = MutableStateFlow(Current(first.connection))

    /** The running [forward] and [serve] calls, which take every viewer stream as it arrives; guarded by itself. */
    private val servers = ArrayList<StreamServer>(1)
    private var nextServer = 0 // guarded by servers
    private val publicUrl = MutableStateFlow(first.publicUrl)
    private val closed = AtomicBoolean(false)
    private val shutdownDone = CompletableDeferred<Unit>()

    /** Completed with the error every later call gets: [TunnelClosedException], or why reconnecting failed. */
    private val terminal = CompletableDeferred<Throwable>()

    init {
        status.emit(ConnectionEvent.Connecting(1))
        status.emit(ConnectionEvent.Connected(config.proxyUrl))
        scope.launch(CoroutineName("tether-tunnel-reconnect")) { reconnectLoop() }
    }

    /** The public URL viewers use, as the proxy announced it at the last registration ("" if it sent none). */
    public val url: String get() = publicUrl.value

    /** The public URL over time (it is re-announced after every reconnect). */
    public val urls: StateFlow<String> get() = publicUrl.asStateFlow()

    /** The connection state. */
    public val state: StateFlow<ConnectionState> get() = status.state

    /** Every connection event from the moment collection starts, in order. */
    public val events: Flow<ConnectionEvent> get() = status.events

    /** Java: calls [listener] with every state transition, in order. Close the handle to stop. */
    public fun onState(listener: Consumer<ConnectionState>): AutoCloseable = status.onState(listener)

    /** Java: calls [listener] with every connection event, in order. Close the handle to stop. */
    public fun onEvent(listener: Consumer<ConnectionEvent>): AutoCloseable = status.onEvent(listener)

    /** The mux session currently carrying the tunnel (replaced after a reconnect). */
    public val session: Session get() = sessions.value.session

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
     * The next viewer stream. Waits across reconnects. Throws [TunnelClosedException] after [close], or the error
     * that ended reconnecting ([dev.tether.core.backoff.RetryTimedOutException], [TunnelAuthFailedException], ...).
     * While [forward] or [serve] runs, viewer streams go there and a waiting accept gets none.
     */
    @JvmSynthetic
    public suspend fun accept(): Stream {
        while (true) {
            if (terminal.isCompleted) throw terminal.getCompleted()
            val holder = sessions.value
            val current = holder.session
            if (!current.isClosed) {
                val stream = coroutineScope {
                    val next = async { runCatching { current.accept() } }
                    // The session's end also ends the wait (an accept on a dead session must not hang).
                    val ended = async { current.awaitClosed() }
                    select<Result<Stream>?> {
                        next.onAwait { it }
                        ended.onAwait { next.cancel(); Result.failure(it) }
                        terminal.onAwait { next.cancel(); null }
                    }.also { ended.cancel() }
                }
                when {
                    stream == null -> throw terminal.getCompleted()
                    stream.isSuccess -> return stream.getOrThrow()
                    stream.exceptionOrNull() !is MuxException -> throw stream.exceptionOrNull()!!
                }
            }
            // The session ended: wait for the reconnect loop to install the next one, or to give up.
            coroutineScope {
                val next = async { sessions.first { it !== holder } }
                select<Unit> {
                    next.onAwait { }
                    terminal.onAwait { next.cancel() }
                }
            }
        }
    }

    /** Java face of [accept]. */
    public fun acceptAsync(): CompletableFuture<Stream> = javaFuture { accept() }

    /** Java: blocks until the next viewer stream (see [accept]); interrupting the thread abandons the wait. */
    @JvmName("accept")
    public fun acceptBlocking(): Stream = try {
        acceptAsync().get()
    } catch (e: java.util.concurrent.ExecutionException) {
        throw e.cause ?: e
    }

    /**
     * Pipes every viewer stream to [origin] (`http://host:port`, `ws://host:port` or `host:port`) until the client
     * is closed: HTTP requests and WebSocket viewers both work, because the origin sees the bytes the proxy wrote.
     * Each stream gets its own TCP connection, closed when the stream ends; an origin that cannot be reached is
     * answered `502 Bad Gateway`.
     *
     * On the Netty transport (the default) the origin connections share the tunnel connection's I/O thread
     * ([dispatcher]) and every byte is copied there: a viewer request crosses no thread inside the client. While a
     * [forward] or [serve] runs, viewer streams go to it (to each in turn when several run), not to [accept].
     */
    @JvmSynthetic
    public suspend fun forward(origin: String) {
        val target = OriginAddress.parse(origin)
        serveStreams { stream, current ->
            val loop = current.loop
            if (loop != null) OriginPipe(stream, target, loop).run() else BlockingOriginPipe(stream, target).run()
        }
    }

    /** Java face of [forward]: completes when the client closes (normally) or fails for good. */
    public fun forwardAsync(origin: String): CompletableFuture<Void?> = javaFuture { forward(origin); null }

    /**
     * Answers every viewer HTTP request with [handler], in process (for users without a local server), until the
     * client is closed. Requests are read with their bodies (up to [maxBodyBytes]); a WebSocket upgrade request is
     * answered 501. The request is read and the answer written on the tunnel connection's I/O thread; [handler]
     * runs on [handlerExecutor] ([TunnelConfig.handlerExecutor] unless given; null: a library thread where it may
     * block). A handler that never blocks may run on [executor] and save two thread hand-offs per request.
     */
    @JvmSynthetic
    public suspend fun serve(handler: TunnelHandler, maxBodyBytes: Int = DEFAULT_MAX_BODY, handlerExecutor: Executor? = config.handlerExecutor) {
        val handlerContext = handlerExecutor?.asCoroutineDispatcher() ?: Dispatchers.IO
        serveStreams { stream, _ -> HttpExchange(stream, config.flavour, maxBodyBytes).serve(handler, handlerContext) }
    }

    /** Java face of [serve]. */
    @JvmOverloads
    public fun serveAsync(handler: TunnelHandler, maxBodyBytes: Int = DEFAULT_MAX_BODY, handlerExecutor: Executor? = config.handlerExecutor): CompletableFuture<Void?> =
        javaFuture { serve(handler, maxBodyBytes, handlerExecutor); null }

    /**
     * Runs [each] for every viewer stream until the client closes (returns) or fails for good (throws): the sessions
     * hand their streams over inline as they arrive ([Session.acceptInline]), each to a coroutine started on its
     * connection's dispatcher, a child of this call.
     */
    private suspend fun serveStreams(each: suspend (Stream, Current) -> Unit) {
        coroutineScope {
            val server = StreamServer(this, each)
            addServer(server)
            try {
                val reason = terminal.await()
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
        sessions.value.installAcceptor()
    }

    private fun removeServer(server: StreamServer) = synchronized(servers) {
        servers.remove(server)
        sessions.value.installAcceptor()
    }

    /** One viewer stream, on the loop that read its SYN: to the next server, in a coroutine of that server's. */
    private fun dispatch(stream: Stream, current: Current) {
        val server = synchronized(servers) { if (servers.isEmpty()) null else servers[Math.floorMod(nextServer++, servers.size)] }
        if (server == null) {
            log.debug("viewer stream {} arrived as the last forward/serve ended; closed", stream.id)
            stream.close()
            return
        }
        log.debug("accepted viewer stream {}", stream.id)
        // Started right here when this is the stream's own loop: the pipe's first steps need no task at all.
        val loop = current.loop
        val start = if (loop == null || loop.inEventLoop()) CoroutineStart.UNDISPATCHED else CoroutineStart.DEFAULT
        server.scope.launch(current.dispatcher, start) {
            try {
                server.each(stream, current)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                log.info("tunnel stream {} ended with {}", stream.id, e.toString())
            } finally {
                stream.close()
            }
        }
    }

    /**
     * Closes the session and stops reconnecting; waiting [accept] calls fail with [TunnelClosedException] at once.
     * Blocks for a bounded time. Idempotent.
     */
    override fun close(): Unit = runBlocking { closeAndJoin() }

    /** Suspending [close]: returns once every coroutine of the client has ended. */
    @JvmSynthetic
    public suspend fun closeAndJoin() {
        if (!closed.compareAndSet(false, true)) return shutdownDone.await()
        try {
            withContext(NonCancellable) {
                terminal.complete(TunnelClosedException())
                sessions.value.session.close()
                val job = scope.coroutineContext[Job]!!
                status.emit(ConnectionEvent.Closed(null))
                status.complete()
                withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { job.children.forEach { it.join() } }
                job.cancelAndJoin()
                registration.close()
            }
        } finally {
            shutdownDone.complete(Unit)
        }
    }

    /** Java face of [closeAndJoin]. */
    public fun closeAsync(): CompletableFuture<Void?> =
        CoroutineScope(Dispatchers.Default + CoroutineName("tether-tunnel-close")).future { closeAndJoin(); null }

    private suspend fun reconnectLoop() {
        while (true) {
            val current = sessions.value.session
            val cause = current.awaitClosed()
            if (closed.get()) return
            log.info("tunnel {} lost its session ({}); registering again", config.id, cause.message)
            status.emit(ConnectionEvent.Disconnected(cause, 0))
            status.emit(ConnectionEvent.Connecting(1))
            val next = try {
                registration.register()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                log.warn("tunnel {} could not register again: {}", config.id, e.message)
                if (terminal.complete(e)) status.emit(ConnectionEvent.Closed(e))
                return
            }
            if (closed.get()) {
                next.connection.closeAsync()
                return
            }
            publicUrl.value = next.publicUrl
            val installed = Current(next.connection)
            synchronized(servers) {
                sessions.value = installed
                installed.installAcceptor()
            }
            status.emit(ConnectionEvent.Connected(config.proxyUrl))
        }
    }

    /** One registered connection and the mux session on it. */
    private inner class Current(val connection: WebSocketConnection) {
        val session: Session = Session.client(connection, muxConfig)

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

    private fun <T> javaFuture(block: suspend () -> T): CompletableFuture<T> =
        if (terminal.isCompleted) CompletableFuture.failedFuture(terminal.getCompleted()) else scope.future { block() }

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
        public fun defaultMuxConfig(): MuxConfig =
            MuxConfig { streamBufferSize(MuxProtocol.PROXY_CAPACITY); peerCapacity(MuxProtocol.PROXY_CAPACITY) }

        /**
         * Registers with the proxy (retrying under [TunnelConfig.retry]) and returns the connected client.
         * @throws TunnelAuthFailedException, RetryFailedException, BadTokenException,
         *   dev.tether.core.backoff.RetryTimedOutException
         */
        @JvmSynthetic
        public suspend fun connect(config: TunnelConfig, muxConfig: MuxConfig = defaultMuxConfig()): TunnelClient =
            connect(config, muxConfig, WebSocketTransport.default())

        /** [connect] on a given WebSocket transport (tests run both). */
        internal suspend fun connect(config: TunnelConfig, muxConfig: MuxConfig, transport: WebSocketTransport): TunnelClient {
            val registration = Registration(config, muxConfig.keepAliveInterval, transport = transport)
            try {
                val first = registration.register()
                return TunnelClient(config, muxConfig, registration, first)
            } catch (e: Throwable) {
                registration.close()
                throw e
            }
        }

        /** Java face of [connect]. */
        @JvmStatic
        @JvmOverloads
        public fun connectAsync(config: TunnelConfig, muxConfig: MuxConfig = defaultMuxConfig()): CompletableFuture<TunnelClient> =
            CoroutineScope(Dispatchers.Default + CoroutineName("tether-tunnel-connect")).future { connect(config, muxConfig) }
    }
}
