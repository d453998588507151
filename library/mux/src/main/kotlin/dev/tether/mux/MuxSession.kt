package dev.tether.mux

import dev.tether.core.InternalTetherApi
import dev.tether.core.Lifecycle
import dev.tether.core.WebSocketConnection
import io.ktor.websocket.WebSocketSession
import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufUtil
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.CoroutineContext

/**
 * A wsmux session over one WebSocket (upstream `wsmux.Session`): [open] and [accept] streams, both ways.
 *
 * A client session opens odd ids from 1, a server session even ids from 0 (+2 per open, skipping ids still in
 * use). An incoming SYN waits in the accept queue (200 deep; one more aborts the session) until [accept] ACKs it
 * with this side's [MuxConfig.streamBufferSize]; while [MuxConfig.maxStreams] streams of the peer are open, a new
 * SYN is refused with FIN (no ACK) and the session goes on. Keepalive pings the peer every
 * [MuxConfig.keepAliveInterval] and aborts with [MuxKeepAliveExpiredException] when no pong came since the previous
 * ping. Ending the session (here, by the peer or by the network) fails every stream that has not seen its peer's
 * FIN, runs [MuxConfig.closeCallback], completes [awaitClosed] with the reason and makes [open] and [accept] throw
 * it. [stats] counts what the session does.
 *
 * Kotlin: `MuxSession.client(connection)` then suspend [open]/[accept], [closeAndJoin] to end it. Java:
 * [openAsync]/[acceptAsync] futures, [closeAsync], [closedFuture]. A future completes where its outcome arrives (often
 * the connection's I/O thread): chain slow work with `thenApplyAsync`. Cancelling one cancels the operation.
 */
@OptIn(InternalTetherApi::class)
public class MuxSession internal constructor(
    private val transport: MuxTransport,
    /** This session's configuration. */
    public val config: MuxConfig,
    /** True for a client session (odd ids), false for a server session (even ids). */
    public val isClient: Boolean,
    context: CoroutineContext = Dispatchers.Default,
) : AutoCloseable {
    private val scope =
        CoroutineScope(SupervisorJob() + context + CoroutineName(if (isClient) "wsmux-client" else "wsmux-server"))
    private val lifecycle = Lifecycle<MuxException>(scope)
    private val lock = Any()
    private val streams = HashMap<Int, Stream>() // guarded by lock
    private var nextId = if (isClient) MuxProtocol.FIRST_CLIENT_ID else MuxProtocol.FIRST_SERVER_ID // guarded by lock
    private val acceptQueue = Channel<Stream>(MuxProtocol.ACCEPT_QUEUE_SIZE)
    private var inlineAcceptor: StreamAcceptor? = null // guarded by lock
    private val callbackRan = AtomicBoolean(false)
    private val counters = MuxSessionStats.Counters()

    /** Streams the peer opened that are open here (accepted or queued): what [MuxConfig.maxStreams] bounds. */
    private val incomingOpen = AtomicInteger()

    /** Streams opened here and accepted by the peer that are still open. */
    private val outgoingOpen = AtomicInteger()

    /** Streams waiting in [acceptQueue]. */
    private val queued = AtomicInteger()
    private var refusalsLogged = 0L // guarded by lock

    init {
        transport.start(scope, ::handle, ::end, ::handle)
        if (!transport.keepsAliveItself && !config.keepAliveInterval.isZero) {
            scope.launch(CoroutineName("wsmux-keepalive")) { keepAliveLoop() }
        }
        scope.launch(CoroutineName("wsmux-sweep")) { sweepLoop() }
    }

    /** True until the session ends (closed here, by the peer or by the network): "can I use it now". */
    public val isOpen: Boolean get() = !lifecycle.isEnded

    /**
     * The thread the session's frames are read on, as a dispatcher: the connection's I/O thread over a tether-core
     * connection or a Netty channel ([Dispatchers.Default] over a Ktor session). Short, non-blocking work that
     * runs here needs no thread hand-off to reach the session; blocking here stalls every stream.
     */
    public val dispatcher: CoroutineDispatcher get() = transport.dispatcher

    /** Java face of [dispatcher]: that thread as an executor (`thenApplyAsync(fn, session.getExecutor())`). */
    public val executor: Executor get() = transport.dispatcher.asExecutor()

    /** Streams currently known (open, half-closed, or dead but not yet swept). */
    public val streamCount: Int get() = synchronized(lock) { streams.size }

    /** A snapshot of what the session has done and holds now (streams, frames, bytes, refusals, keepalive). */
    public fun stats(): MuxSessionStats =
        counters.snapshot(outgoingOpen.get(), incomingOpen.get(), queued.get().coerceAtLeast(0), transport.pongs)

    /**
     * Opens a stream: sends SYN and waits up to [MuxConfig.streamAcceptDeadline] for the peer's ACK, whose credit
     * becomes the send window. Throws [AcceptTimeoutException] (the stream is dropped and a late ACK ignored),
     * [StreamRefusedException] when the peer answers with FIN instead, or the session's end reason.
     */
    @JvmSynthetic
    public suspend fun open(): Stream {
        val stream = synchronized(lock) {
            lifecycle.checkNotEnded()
            val id = allocateId()
            Stream(this, id, isOpener = true, capacity = config.streamBufferSize, initialWindow = 0)
                .also { streams[id] = it }
        }
        var ok = false
        try {
            sendFrame(MuxFrame.Syn(stream.rawId).encode())
            val deadline = config.streamAcceptDeadline.toMillis()
            withTimeoutOrNull(deadline) { stream.awaitAccepted() } ?: throw AcceptTimeoutException(deadline)
            // Open our whole receive window now instead of one read at a time (credits are additive).
            val grant = stream.acceptGrant
            if (grant > 0) sendQuietly(MuxFrame.Ack(stream.rawId, grant))
            counters.streamsOpened.increment()
            stream.countIn(outgoingOpen)
            ok = true
            return stream
        } finally {
            if (!ok) {
                synchronized(lock) { if (streams[stream.rawId] === stream) streams.remove(stream.rawId) }
                // The peer may have sent DATs before its ACK (or its refusal): nobody will read them.
                stream.abandon()
            }
        }
    }

    /** Java face of [open]. */
    public fun openAsync(): CompletableFuture<Stream> = lifecycle.future { open() }

    /**
     * Takes the next incoming stream, ACKing it with [MuxConfig.streamBufferSize]; suspends until one arrives. Throws
     * the session's end reason ([MuxSessionClosedException] after [close]).
     */
    @JvmSynthetic
    public suspend fun accept(): Stream {
        val stream = acceptQueue.receiveCatching().getOrNull() ?: throw lifecycle.awaitEnd()
        queued.decrementAndGet()
        sendFrame(MuxFrame.Ack(stream.rawId, config.streamBufferSize.toLong()).encode())
        counters.streamsAccepted.increment()
        return stream
    }

    /** Java face of [accept]. */
    public fun acceptAsync(): CompletableFuture<Stream> = lifecycle.future { accept() }

    /**
     * Tether-internal (the tunnel's forward and serve): from now on every incoming stream is accepted the moment
     * its SYN arrives, ACKed with [MuxConfig.streamBufferSize] and handed to [acceptor] inline on the transport's
     * reader (over a tether-core connection on Netty, the connection's I/O thread), so [acceptor] must return at
     * once and never block. Streams already waiting in the accept queue are accepted and handed over first, on the
     * calling thread. [accept] callers get nothing while an acceptor is set. `null` restores the accept queue.
     */
    @InternalTetherApi
    public fun acceptInline(acceptor: StreamAcceptor?) {
        val queued = ArrayList<Stream>()
        synchronized(lock) {
            inlineAcceptor = acceptor
            if (acceptor != null) while (true) queued += acceptQueue.tryReceive().getOrNull() ?: break
            this.queued.addAndGet(-queued.size)
        }
        if (acceptor != null) for (stream in queued) handOver(stream, acceptor)
    }

    /**
     * Suspends until the session has ended for good (closed here, by the peer, by keepalive expiry or by the
     * network) and returns why: [MuxSessionClosedException] after [close], [MuxKeepAliveExpiredException], ...
     */
    @JvmSynthetic
    public suspend fun awaitClosed(): MuxException = lifecycle.awaitEnd()

    /** Java face of [awaitClosed]: completes normally with the reason once the session has ended. */
    public fun closedFuture(): CompletableFuture<MuxException> = lifecycle.endFuture()

    /**
     * Ends the session and returns once its coroutines are gone (bounded): the connection is dropped without a
     * close frame (as upstream), every stream without the peer's FIN fails with [MuxSessionClosedException], no FIN
     * is sent. Idempotent; a second caller waits for the same close.
     */
    @JvmSynthetic
    public suspend fun closeAndJoin(): Unit = lifecycle.close(::shutdown)

    /** Java face of [closeAndJoin]: completes once the session is closed; idempotent. */
    public fun closeAsync(): CompletableFuture<Void?> = lifecycle.closeAsync(::shutdown)

    /**
     * [closeAndJoin] for `AutoCloseable`: blocks the caller for at most about a second. Code in a coroutine should
     * call [closeAndJoin], code that must not block [closeAsync].
     */
    override fun close(): Unit = lifecycle.closeBlocking(::shutdown)

    private suspend fun shutdown() {
        end(MuxSessionClosedException())
        // Every coroutine of the session was cancelled by end(); wait for them, within a bound.
        withTimeoutOrNull(CLOSE_TIMEOUT_MILLIS) { scope.coroutineContext.job.join() }
    }

    // ---- used by Stream ----------------------------------------------------------------------------------------

    /** Sends one frame or throws the session's end reason. */
    internal suspend fun sendFrame(message: ByteArray) = sending {
        transport.send(message)
        counters.sent(message)
    }

    /** Sends a DAT of [length] bytes of [payload] from [offset] (copied before this returns), as [sendFrame]. */
    internal suspend fun sendData(id: Int, payload: ByteArray, offset: Int, length: Int) = sending {
        transport.sendData(MuxFrame.dataHeader(id), payload, offset, length)
        counters.sentData(length)
    }

    /** Runs a send; a failure other than cancellation ends the session, and its end reason is thrown. */
    private inline fun sending(send: () -> Unit) {
        lifecycle.checkNotEnded()
        try {
            send()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            val reason = lifecycle.reason ?: MuxSessionClosedException("session closed: send failed (${e.message})", e)
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
        if (lifecycle.isEnded) return
        val queued = try {
            transport.trySend(message).also { if (it) counters.sent(message) }
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
            counters.malformedFrames.increment()
            log.warn("dropped a frame: {}", e.message)
            return
        }
        counters.framesIn.increment()
        when (frame) {
            is MuxFrame.Syn -> onSyn(frame.streamId)

            is MuxFrame.Ack -> {
                counters.acksIn.increment()
                streamOf(frame)?.onAck(frame.credit)
            }

            is MuxFrame.Data -> onData(frame.streamId, frame.length) { Chunk.of(frame) }

            is MuxFrame.Fin -> streamOf(frame)?.onFin()
        }
    }

    /**
     * One inbound message in the Netty buffer it was read into, lent for the call: a DAT's payload stays there (its
     * stream takes a reference) until it is read; anything else is a few bytes, decoded as [handle] does.
     */
    private fun handle(content: ByteBuf) {
        val at = content.readerIndex()
        val size = content.readableBytes()
        if (size <= MuxProtocol.HEADER_SIZE || content.getUnsignedByte(at).toInt() != MuxProtocol.TYPE_DAT) {
            handle(ByteBufUtil.getBytes(content))
            return
        }
        counters.framesIn.increment()
        val length = size - MuxProtocol.HEADER_SIZE
        onData(content.getIntLE(at + 1), length) { Chunk.retained(content, at + MuxProtocol.HEADER_SIZE, length) }
    }

    /** A DAT of [length] bytes for stream [id]; [chunk] makes its bytes' chunk once the stream is known. */
    private inline fun onData(id: Int, length: Int, chunk: () -> Chunk) {
        counters.bytesIn.add(length.toLong())
        val s = streamOf(id) { "DAT(${id.toLong() and 0xFFFF_FFFFL}, $length bytes)" } ?: return
        if (!s.onData(chunk())) {
            counters.overruns.increment()
            log.warn("stream {}: peer overran the window, data dropped", s.id)
        }
    }

    private fun streamOf(frame: MuxFrame): Stream? = streamOf(frame.streamId) { frame.toString() }

    private inline fun streamOf(id: Int, frame: () -> String): Stream? {
        val s = synchronized(lock) { streams[id] }
        if (s == null) {
            counters.unknownStreamFrames.increment()
            if (log.isDebugEnabled) log.debug("{} for an unknown stream dropped", frame())
        }
        return s
    }

    private fun onSyn(id: Int) {
        var refused = false
        var tooMany = false
        var inline: Stream? = null
        var acceptor: StreamAcceptor? = null
        synchronized(lock) {
            if (lifecycle.isEnded) return
            if (streams.containsKey(id)) {
                log.debug("duplicate SYN {} ignored", id.toLong() and 0xFFFF_FFFFL)
                return
            }
            if (incomingOpen.get() >= config.maxStreams) {
                countRefusal(id)
                refused = true
                return@synchronized
            }
            // The opener never says what it holds: start at what we may assume of it (spec §4, the correction).
            val window = minOf(config.streamBufferSize, config.peerCapacity).toLong()
            val stream = Stream(this, id, isOpener = false, capacity = config.streamBufferSize, initialWindow = window)
            acceptor = inlineAcceptor
            when {
                acceptor != null -> {
                    streams[id] = stream
                    inline = stream
                }

                acceptQueue.trySend(stream).isSuccess -> {
                    queued.incrementAndGet()
                    streams[id] = stream
                }

                else -> tooMany = true
            }
            if (!tooMany) stream.countIn(incomingOpen)
        }
        // Refused as upstream refuses a stream it will not take (spec §4, B/C): FIN and no ACK. The id is not
        // remembered, so frames that follow for it are dropped as for any unknown stream.
        if (refused) sendSoon(MuxFrame.Fin(id).encode())
        inline?.let { handOver(it, acceptor!!) }
        if (tooMany) {
            // FIN the stream that did not fit, then abort (B/C); never blocking the reader.
            scope.launch {
                val bound = config.keepAliveInterval.toMillis().coerceAtLeast(1_000)
                withTimeoutOrNull(bound) { sendQuietly(MuxFrame.Fin(id)) }
                end(TooManySynsException())
            }
        }
    }

    /** Counts (and now and then logs) a SYN refused over [MuxConfig.maxStreams]. Under [lock]. */
    private fun countRefusal(id: Int) {
        counters.streamsRefused.increment()
        // One line per thousand refusals: a peer hammering the limit must not flood the log.
        if (refusalsLogged++ % 1000 == 0L) {
            log.warn(
                "refused stream {}: {} streams of the peer are open (MuxConfig.maxStreams); {} refused so far",
                id.toLong() and 0xFFFF_FFFFL,
                config.maxStreams,
                refusalsLogged,
            )
        }
    }

    /** Accepts [stream] (its ACK goes out first) and hands it to [acceptor]. */
    private fun handOver(stream: Stream, acceptor: StreamAcceptor) {
        counters.streamsAccepted.increment()
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
                end(MuxKeepAliveExpiredException(interval))
                return
            }
            seen = now
            ping(interval)
        }
    }

    private suspend fun ping(interval: Long) {
        // A ping that cannot even be written within half the interval means the path is stuck (upstream B/C).
        val sent = try {
            (withTimeoutOrNull((interval / 2).coerceAtLeast(1)) { transport.ping() } != null)
                .also { if (it) counters.keepAlivePings.increment() }
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            false
        }
        if (!sent) end(MuxKeepAliveExpiredException(interval))
    }

    private suspend fun sweepLoop() {
        while (true) {
            delay(MuxProtocol.DEAD_STREAM_SWEEP_MILLIS)
            synchronized(lock) { streams.values.removeIf { it.isDeadAndDrained() } }
        }
    }

    private fun end(reason: MuxException) {
        if (!lifecycle.end(reason)) return
        if (reason is MuxSessionClosedException && reason.cause == null) {
            log.debug("session closed")
        } else {
            log.info("session ended: {}", reason.message)
        }
        val all = synchronized(lock) { streams.values.toList().also { streams.clear() } }
        acceptQueue.close()
        for (s in all) s.kill(reason)
        // Streams still queued were in the map too; draining releases them.
        while (true) {
            val waiting = acceptQueue.tryReceive().getOrNull() ?: break
            queued.decrementAndGet()
            waiting.kill(reason)
        }
        transport.close()
        runCloseCallback()
        scope.cancel()
    }

    private fun runCloseCallback() {
        val cb = config.closeCallback ?: return
        if (!callbackRan.compareAndSet(false, true)) return
        try {
            cb.run()
        } catch (e: Exception) {
            log.warn("close callback threw", e)
        }
    }

    /** Factories: a session runs over a WebSocket someone else opened. */
    public companion object {
        private val log = LoggerFactory.getLogger(MuxSession::class.java)
        private const val CLOSE_TIMEOUT_MILLIS = 1_000L

        /**
         * A client session (odd ids) over a tether-core [WebSocketConnection] dialled without a message listener.
         * Such a connection pings by itself, so keepalive is its `DialerConfig.pingInterval` / `pongTimeout` (set
         * both to the keepalive interval for upstream's bound); its expiry ends the session with
         * [MuxKeepAliveExpiredException], and [MuxConfig.keepAliveInterval] is not used.
         */
        @JvmStatic
        @JvmOverloads
        public fun client(connection: WebSocketConnection, config: MuxConfig = MuxConfig.DEFAULT): MuxSession =
            MuxSession(ConnectionTransport(connection), config, isClient = true)

        /** A server session (even ids) over a tether-core [WebSocketConnection] (keepalive as for [client]). */
        @JvmStatic
        @JvmOverloads
        public fun server(connection: WebSocketConnection, config: MuxConfig = MuxConfig.DEFAULT): MuxSession =
            MuxSession(ConnectionTransport(connection), config, isClient = false)

        /**
         * A server session (even ids) over a raw Ktor WebSocket session (Ktor server `webSocketRaw { … }`): the
         * session answers pings and joins fragments itself. Keep the handler suspended (e.g. [awaitClosed]) while it
         * runs.
         */
        @JvmStatic
        @JvmOverloads
        public fun server(session: WebSocketSession, config: MuxConfig = MuxConfig.DEFAULT): MuxSession =
            MuxSession(KtorSessionTransport(session, config.maxMessageBytes), config, isClient = false)

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
        public fun server(channel: io.netty.channel.Channel, config: MuxConfig = MuxConfig.DEFAULT): MuxSession =
            MuxSession(NettyChannelTransport(channel, config.maxMessageBytes), config, isClient = false)

        /** A client session (odd ids) over a raw Ktor WebSocket session. */
        @JvmStatic
        @JvmOverloads
        public fun client(session: WebSocketSession, config: MuxConfig = MuxConfig.DEFAULT): MuxSession =
            MuxSession(KtorSessionTransport(session, config.maxMessageBytes), config, isClient = true)
    }
}
