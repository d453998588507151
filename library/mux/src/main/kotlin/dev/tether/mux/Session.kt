package dev.tether.mux

import dev.tether.core.InternalTetherApi
import dev.tether.core.WebSocketConnection
import io.ktor.websocket.WebSocketSession
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.future.asCompletableFuture
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.coroutines.CoroutineContext

/**
 * A wsmux session over one WebSocket (upstream `wsmux.Session`): [open] and [accept] streams, both ways.
 *
 * A client session opens odd ids from 1, a server session even ids from 0 (+2 per open, skipping ids still in
 * use). An incoming SYN waits in the accept queue (200 deep; one more aborts the session) until [accept] ACKs it
 * with this side's [MuxConfig.streamBufferSize]. Keepalive pings the peer every [MuxConfig.keepAliveInterval] and
 * aborts with [KeepAliveExpiredException] when no pong came since the previous ping. Ending the session (here, by
 * the peer or by the network) fails every stream that has not seen its peer's FIN, runs the close callback, and
 * makes [open] and [accept] throw the reason.
 *
 * Kotlin: `Session.client(connection)` then suspend [open]/[accept]. Java: [openAsync]/[acceptAsync] futures, which
 * complete on a library thread; cancelling one cancels the operation.
 */
@OptIn(InternalTetherApi::class)
public class Session internal constructor(
    private val transport: MuxTransport,
    /** This session's configuration. */
    public val config: MuxConfig,
    /** True for a client session (odd ids), false for a server session (even ids). */
    public val isClient: Boolean,
    context: CoroutineContext = Dispatchers.Default,
) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + context + CoroutineName(if (isClient) "wsmux-client" else "wsmux-server"))
    private val lock = Any()
    private val streams = HashMap<Int, Stream>() // guarded by lock
    private var nextId = if (isClient) MuxProtocol.FIRST_CLIENT_ID else MuxProtocol.FIRST_SERVER_ID // guarded by lock
    private val acceptQueue = Channel<Stream>(MuxProtocol.ACCEPT_QUEUE_SIZE)
    private var inlineAcceptor: StreamAcceptor? = null // guarded by lock
    private val ended = CompletableDeferred<MuxException>()
    private val callbackRan = AtomicBoolean(false)
    @Volatile private var closeCallback: Runnable? = config.closeCallback

    init {
        transport.start(scope, ::handle, ::end)
        if (!transport.keepsAliveItself && !config.keepAliveInterval.isZero) {
            scope.launch(CoroutineName("wsmux-keepalive")) { keepAliveLoop() }
        }
        scope.launch(CoroutineName("wsmux-sweep")) { sweepLoop() }
    }

    /** True once the session has ended. */
    public val isClosed: Boolean get() = ended.isCompleted

    /** Streams currently known (open, half-closed, or dead but not yet swept). */
    public val streamCount: Int get() = synchronized(lock) { streams.size }

    /**
     * Opens a stream: sends SYN and waits up to [MuxConfig.streamAcceptDeadline] for the peer's ACK, whose credit
     * becomes the send window. Throws [AcceptTimeoutException] (the stream is dropped and a late ACK ignored), or
     * the session's end reason.
     */
    @JvmSynthetic
    public suspend fun open(): Stream {
        val stream = synchronized(lock) {
            if (ended.isCompleted) throw ended.getCompleted()
            val id = allocateId()
            Stream(this, id, isOpener = true, capacity = config.streamBufferSize, initialWindow = 0).also { streams[id] = it }
        }
        var ok = false
        try {
            sendFrame(MuxFrame.Syn(stream.rawId).encode())
            val deadline = config.streamAcceptDeadline.toMillis()
            withTimeoutOrNull(deadline) { stream.awaitAccepted() } ?: throw AcceptTimeoutException(deadline)
            // Open our whole receive window now instead of one read at a time (credits are additive).
            val grant = stream.acceptGrant
            if (grant > 0) sendQuietly(MuxFrame.Ack(stream.rawId, grant))
            ok = true
            return stream
        } finally {
            if (!ok) synchronized(lock) { if (streams[stream.rawId] === stream) streams.remove(stream.rawId) }
        }
    }

    /** Java face of [open]. */
    public fun openAsync(): CompletableFuture<Stream> = javaFuture { open() }

    /**
     * Takes the next incoming stream, ACKing it with [MuxConfig.streamBufferSize]; suspends until one arrives. Throws
     * the session's end reason ([SessionClosedException] after [close]).
     */
    @JvmSynthetic
    public suspend fun accept(): Stream {
        val stream = acceptQueue.receiveCatching().getOrNull() ?: throw ended.await()
        sendFrame(MuxFrame.Ack(stream.rawId, config.streamBufferSize.toLong()).encode())
        return stream
    }

    /** Java face of [accept]. */
    public fun acceptAsync(): CompletableFuture<Stream> = javaFuture { accept() }

    /**
     * Tether-internal (the tunnel's forward and serve): from now on every incoming stream is accepted the moment its
     * SYN arrives, ACKed with [MuxConfig.streamBufferSize] and handed to [acceptor] inline on the transport's reader
     * (over a tether-core connection on Netty, the connection's I/O thread), so [acceptor] must return at once and
     * never block. Streams already waiting in the accept queue are accepted and handed over first, on the calling
     * thread. [accept] callers get nothing while an acceptor is set. `null` restores the accept queue.
     */
    @InternalTetherApi
    public fun acceptInline(acceptor: StreamAcceptor?) {
        val queued = ArrayList<Stream>()
        synchronized(lock) {
            inlineAcceptor = acceptor
            if (acceptor != null) while (true) queued += acceptQueue.tryReceive().getOrNull() ?: break
        }
        if (acceptor != null) for (stream in queued) handOver(stream, acceptor)
    }

    /** Sets the callback run once when the session ends (replaces [MuxConfig.closeCallback]). */
    public fun setCloseCallback(callback: Runnable?) {
        closeCallback = callback
        if (ended.isCompleted) runCloseCallback()
    }

    /** Suspends until the session ends; returns why. */
    @JvmSynthetic
    public suspend fun awaitClosed(): MuxException = ended.await()

    /** Completes with the reason when the session ends. */
    public fun closedFuture(): CompletableFuture<MuxException> = ended.asCompletableFuture()

    /**
     * Ends the session: the connection is dropped without a close frame (as upstream), every stream without the
     * peer's FIN fails with [SessionClosedException], no FIN is sent. Idempotent.
     */
    override fun close() {
        end(SessionClosedException())
    }

    // ---- used by Stream ----------------------------------------------------------------------------------------

    /** Sends one frame or throws the session's end reason. */
    internal suspend fun sendFrame(message: ByteArray) {
        if (ended.isCompleted) throw ended.getCompleted()
        try {
            transport.send(message)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            val reason = if (ended.isCompleted) ended.getCompleted() else SessionClosedException("session closed: send failed (${e.message})", e)
            end(reason)
            throw reason
        }
    }

    /** Sends a frame whose loss does not matter once the session is gone (ACK credit). */
    internal suspend fun sendQuietly(frame: MuxFrame) = sendQuietly(frame.encode())

    private suspend fun sendQuietly(message: ByteArray) {
        try {
            sendFrame(message)
        } catch (_: MuxException) {
            // The session ended; the reader learns that on its next call.
        }
    }

    /** Sends FIN in order with frames already queued, without blocking the caller. */
    internal fun sendFin(id: Int) = sendSoon(MuxFrame.Fin(id).encode())

    /**
     * Queues [message] without suspending: straight into the transport's queue when it has room (the common case,
     * no coroutine), otherwise through a coroutine that waits for room. Its loss does not matter once the session
     * has ended.
     */
    internal fun sendSoon(message: ByteArray) {
        if (ended.isCompleted) return
        val queued = try {
            transport.trySend(message)
        } catch (e: Exception) {
            false // the connection ended: the coroutine below finds out and ends the session with the reason
        }
        // Unconfined: woken where room appears, in the order the waits began, so it keeps its place in the queue.
        if (!queued) scope.launch(Dispatchers.Unconfined, CoroutineStart.UNDISPATCHED) { sendQuietly(message) }
    }

    // ---- internals ---------------------------------------------------------------------------------------------

    private fun allocateId(): Int {
        var id = nextId
        var tries = 0
        // B/C behaviour: skip ids that are still in use (a long-lived stream, or the peer's).
        while (streams.containsKey(id)) {
            if (++tries > streams.size) throw DuplicateStreamException(id.toLong() and 0xFFFF_FFFFL)
            id += MuxProtocol.ID_STEP
        }
        nextId = id + MuxProtocol.ID_STEP
        return id
    }

    /** One inbound frame, on the transport's reader (inline on the I/O thread over a tether-core connection). */
    private fun handle(message: ByteArray) {
        val frame = try {
            MuxFrame.decode(message)
        } catch (e: MalformedFrameException) {
            log.warn("dropped a frame: {}", e.message)
            return
        }
        when (frame) {
            is MuxFrame.Syn -> onSyn(frame.streamId)
            is MuxFrame.Ack -> streamOf(frame)?.onAck(frame.credit)
            is MuxFrame.Data -> streamOf(frame)?.let { if (!it.onData(frame)) log.warn("stream {}: peer overran the window, data dropped", it.id) }
            is MuxFrame.Fin -> streamOf(frame)?.onFin()
        }
    }

    private fun streamOf(frame: MuxFrame): Stream? {
        val s = synchronized(lock) { streams[frame.streamId] }
        if (s == null) log.debug("{} for an unknown stream dropped", frame)
        return s
    }

    private fun onSyn(id: Int) {
        var tooMany = false
        var inline: Stream? = null
        var acceptor: StreamAcceptor? = null
        synchronized(lock) {
            if (ended.isCompleted) return
            if (streams.containsKey(id)) {
                log.debug("duplicate SYN {} ignored", id.toLong() and 0xFFFF_FFFFL)
                return
            }
            // The opener never says what it holds: start at what we may assume of it (spec §4, the correction).
            val window = minOf(config.streamBufferSize, config.peerCapacity).toLong()
            val stream = Stream(this, id, isOpener = false, capacity = config.streamBufferSize, initialWindow = window)
            acceptor = inlineAcceptor
            when {
                acceptor != null -> { streams[id] = stream; inline = stream }
                acceptQueue.trySend(stream).isSuccess -> streams[id] = stream
                else -> tooMany = true
            }
        }
        inline?.let { handOver(it, acceptor!!) }
        if (tooMany) {
            // FIN the stream that did not fit, then abort (B/C); never blocking the reader.
            scope.launch {
                withTimeoutOrNull(config.keepAliveInterval.toMillis().coerceAtLeast(1_000)) { sendQuietly(MuxFrame.Fin(id)) }
                end(TooManySynsException())
            }
        }
    }

    /** Accepts [stream] (its ACK goes out first) and hands it to [acceptor]. */
    private fun handOver(stream: Stream, acceptor: StreamAcceptor) {
        sendSoon(MuxFrame.Ack(stream.rawId, config.streamBufferSize.toLong()).encode())
        try {
            acceptor.accepted(stream)
        } catch (e: Exception) {
            log.warn("stream acceptor threw; stream {} is closed", stream.id, e)
            stream.close()
        }
    }

    private suspend fun keepAliveLoop() {
        val interval = config.keepAliveInterval.toMillis()
        var seen = transport.pongs
        ping(interval)
        while (true) {
            delay(interval)
            val now = transport.pongs
            if (now == seen) {
                end(KeepAliveExpiredException(interval))
                return
            }
            seen = now
            ping(interval)
        }
    }

    private suspend fun ping(interval: Long) {
        // A ping that cannot even be written within half the interval means the path is stuck (upstream B/C).
        val sent = try {
            withTimeoutOrNull((interval / 2).coerceAtLeast(1)) { transport.ping() } != null
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            false
        }
        if (!sent) end(KeepAliveExpiredException(interval))
    }

    private suspend fun sweepLoop() {
        while (true) {
            delay(MuxProtocol.DEAD_STREAM_SWEEP_MILLIS)
            synchronized(lock) { streams.values.removeIf { it.isDeadAndDrained() } }
        }
    }

    private fun end(reason: MuxException) {
        if (!ended.complete(reason)) return
        if (reason is SessionClosedException && reason.cause == null) log.debug("session closed") else log.info("session ended: {}", reason.message)
        val all = synchronized(lock) { streams.values.toList().also { streams.clear() } }
        acceptQueue.close()
        for (s in all) s.kill(reason)
        // Streams still queued were in the map too; draining releases them.
        while (true) acceptQueue.tryReceive().getOrNull()?.kill(reason) ?: break
        transport.close()
        runCloseCallback()
        scope.cancel()
    }

    private fun runCloseCallback() {
        val cb = closeCallback ?: return
        if (!callbackRan.compareAndSet(false, true)) return
        try {
            cb.run()
        } catch (e: Exception) {
            log.warn("close callback threw", e)
        }
    }

    private fun <T> javaFuture(block: suspend () -> T): CompletableFuture<T> =
        if (ended.isCompleted) {
            CompletableFuture.failedFuture(ended.getCompleted())
        } else {
            scope.future(Dispatchers.Default) { block() }.also { f ->
                // The scope's cancellation at close would surface as a bare CancellationException: give the reason.
                val handle = ended.invokeOnCompletion { if (!f.isDone) f.completeExceptionally(ended.getCompleted()) }
                f.whenComplete { _, _ -> handle.dispose() }
            }
        }

    public companion object {
        private val log = LoggerFactory.getLogger(Session::class.java)

        /**
         * A client session (odd ids) over a tether-core [WebSocketConnection] dialled without a message listener.
         * Such a connection pings by itself, so keepalive is its `DialerConfig.pingInterval` / `pongTimeout` (set
         * both to the keepalive interval for upstream's bound); its expiry ends the session with
         * [KeepAliveExpiredException], and [MuxConfig.keepAliveInterval] is not used.
         */
        @JvmStatic
        @JvmOverloads
        public fun client(connection: WebSocketConnection, config: MuxConfig = MuxConfig.defaults()): Session =
            Session(ConnectionTransport(connection), config, isClient = true)

        /** A server session (even ids) over a tether-core [WebSocketConnection] (keepalive as for [client]). */
        @JvmStatic
        @JvmOverloads
        public fun server(connection: WebSocketConnection, config: MuxConfig = MuxConfig.defaults()): Session =
            Session(ConnectionTransport(connection), config, isClient = false)

        /**
         * A server session (even ids) over a raw Ktor WebSocket session (Ktor server `webSocketRaw { … }`): the session
         * answers pings and joins fragments itself. Keep the handler suspended (e.g. [awaitClosed]) while it runs.
         */
        @JvmStatic
        @JvmOverloads
        public fun server(session: WebSocketSession, config: MuxConfig = MuxConfig.defaults()): Session =
            Session(KtorSessionTransport(session), config, isClient = false)

        /**
         * Tether-internal (the benchmark's Netty peer): a server session (even ids) over a Netty [channel] whose
         * pipeline already speaks WebSocket frames, as one does right after a `WebSocketServerHandshaker` handshake.
         * The session's handler goes last in the pipeline and takes every frame there: whole binary messages
         * (fragments joined) are handled inline on the channel's event loop, pings answered, pongs counted for
         * [MuxConfig.keepAliveInterval], a close frame ends the session and is answered. Call it on the channel's
         * event loop before the peer's first frame can be read (in the handler that ran the handshake), since frames
         * read before it are lost. [close] drops the socket without a close frame, as upstream.
         */
        @InternalTetherApi
        public fun server(channel: io.netty.channel.Channel, config: MuxConfig = MuxConfig.defaults()): Session =
            Session(NettyChannelTransport(channel), config, isClient = false)

        /** A client session (odd ids) over a raw Ktor WebSocket session. */
        @JvmStatic
        @JvmOverloads
        public fun client(session: WebSocketSession, config: MuxConfig = MuxConfig.defaults()): Session =
            Session(KtorSessionTransport(session), config, isClient = true)
    }
}
