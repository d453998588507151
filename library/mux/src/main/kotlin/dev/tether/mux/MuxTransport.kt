package dev.tether.mux

import dev.tether.core.InternalTetherApi
import dev.tether.core.MessageAssembler
import dev.tether.core.MessageTooLargeException
import dev.tether.core.WebSocketConnection
import dev.tether.core.WsMessage
import dev.tether.core.joinParts
import dev.tether.core.netty.OutboundQueue
import io.ktor.websocket.Frame
import io.ktor.websocket.WebSocketSession
import io.ktor.websocket.readReason
import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufUtil
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelFutureListener
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInboundHandlerAdapter
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus
import io.netty.handler.codec.http.websocketx.WebSocketFrame
import io.netty.util.ReferenceCountUtil
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import org.slf4j.LoggerFactory
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong

/** What a [MuxSession] needs from a WebSocket: whole binary messages both ways, pings, and an abrupt close. */
internal interface MuxTransport {
    /**
     * Starts handing every whole inbound binary message (fragments joined; text dropped) to [onMessage], one at a
     * time in order, on the transport's reader, which must not block; then the reason the connection ended to
     * [onEnd], once. A transport that reads into Netty buffers hands whole unfragmented messages to [onBuffer]
     * instead, lent for the call (see core's BinaryBufferListener). Coroutines it needs run in [scope].
     */
    fun start(
        scope: CoroutineScope,
        onMessage: (ByteArray) -> Unit,
        onEnd: (MuxException) -> Unit,
        onBuffer: (ByteBuf) -> Unit = { onMessage(ByteBufUtil.getBytes(it)) },
    )

    /** Sends one binary message; throws once the connection ended. */
    suspend fun send(message: ByteArray)

    /**
     * Sends one binary message of [header] followed by [length] bytes of [payload] from [offset] (a DAT), copying
     * [payload] before it returns; throws once the connection ended. Transports that can write parts avoid joining
     * them into one array first.
     */
    @OptIn(InternalTetherApi::class)
    suspend fun sendData(header: ByteArray, payload: ByteArray, offset: Int, length: Int) =
        send(joinParts(header, payload, offset, length))

    /**
     * Queues one binary message if that needs no waiting, behind everything [send] queued before; false when it
     * would have to wait (call [send]). Throws once the connection ended.
     */
    fun trySend(message: ByteArray): Boolean = false

    /** True when the connection checks liveness itself, so the session sends no pings of its own. */
    val keepsAliveItself: Boolean

    /** Sends an empty ping (only called when [keepsAliveItself] is false). */
    suspend fun ping()

    /** Pongs received so far. */
    val pongs: Long

    /** Drops the connection now. */
    fun close()

    /** The thread inbound messages are handed over on, as a dispatcher ([MuxSession.dispatcher]). */
    val dispatcher: CoroutineDispatcher get() = Dispatchers.Default
}

/**
 * A transport whose reader is a coroutine that pulls messages ([receive]); [start] runs that loop in the session's
 * scope.
 */
internal abstract class PullTransport : MuxTransport {
    /** The next whole binary message, or null once the connection ended. */
    abstract suspend fun receive(): ByteArray?

    /** Why the connection ended, once [receive] returned null. */
    abstract suspend fun endReason(): MuxException

    override fun start(
        scope: CoroutineScope,
        onMessage: (ByteArray) -> Unit,
        onEnd: (MuxException) -> Unit,
        onBuffer: (ByteBuf) -> Unit,
    ) {
        scope.launch(CoroutineName("wsmux-reader")) {
            val reason = try {
                while (true) onMessage(receive() ?: break)
                endReason()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                MuxSessionClosedException("session closed: the WebSocket failed (${e.message})", e)
            }
            onEnd(reason)
        }
    }
}

/**
 * A client [WebSocketConnection] of tether-core. Frames are handled inline on the connection's I/O thread when the
 * connection lets the session listen ([WebSocketConnection.listen]), otherwise read from its incoming channel. It
 * pings by itself (DialerConfig.pingInterval / pongTimeout), so its keepalive expiry ends the session with
 * [MuxKeepAliveExpiredException].
 */
@OptIn(InternalTetherApi::class)
internal class ConnectionTransport(private val connection: WebSocketConnection) : MuxTransport {
    override val keepsAliveItself: Boolean get() = true
    override val pongs: Long get() = 0
    override val dispatcher: CoroutineDispatcher get() = connection.dispatcher

    override fun start(
        scope: CoroutineScope,
        onMessage: (ByteArray) -> Unit,
        onEnd: (MuxException) -> Unit,
        onBuffer: (ByteBuf) -> Unit,
    ) {
        val inline = connection.listen(
            { m -> if (m is WsMessage.Binary) onMessage(m.bytes) else ignored(m) },
            { content -> onBuffer(content) },
        )
        scope.launch(CoroutineName("wsmux-reader")) {
            if (!inline) {
                while (true) {
                    when (val m = connection.incoming.receiveCatching().getOrNull() ?: break) {
                        is WsMessage.Binary -> onMessage(m.bytes)
                        else -> ignored(m)
                    }
                }
            }
            onEnd(endReason(connection.awaitClosed()))
        }
    }

    private fun ignored(m: WsMessage) {
        if (m is WsMessage.Text) log.debug("text message of {} chars ignored", m.text.length)
    }

    override suspend fun send(message: ByteArray) = connection.send(message)

    override suspend fun sendData(header: ByteArray, payload: ByteArray, offset: Int, length: Int) =
        connection.sendBinary(header, payload, offset, length)

    override fun trySend(message: ByteArray): Boolean = connection.trySend(message)

    override suspend fun ping() = Unit

    private fun endReason(e: dev.tether.core.ConnectionException): MuxException = when (e) {
        is dev.tether.core.KeepAliveExpiredException -> MuxKeepAliveExpiredException(e.timeoutMillis, e)
        else -> MuxSessionClosedException("session closed: the WebSocket ended (${e.message})", e)
    }

    override fun close() {
        // Upstream closes TCP without a close frame; core sends one but we do not wait for the echo.
        connection.closeAsync()
    }

    private companion object {
        private val log = LoggerFactory.getLogger(ConnectionTransport::class.java)
    }
}

/**
 * A raw Ktor [WebSocketSession] (server `webSocketRaw`, or a raw client session): this transport answers pings,
 * counts pongs and joins fragments itself (core's [MessageAssembler], bounded at [maxMessageBytes]).
 */
@OptIn(InternalTetherApi::class)
internal class KtorSessionTransport(private val session: WebSocketSession, maxMessageBytes: Long) : PullTransport() {
    private val pongCount = AtomicLong()

    @Volatile private var peerClose: String? = null

    @Volatile private var failure: Throwable? = null
    private val assembler = MessageAssembler(maxMessageBytes)

    override val keepsAliveItself: Boolean get() = false
    override val pongs: Long get() = pongCount.get()

    override suspend fun receive(): ByteArray? {
        while (true) {
            val result = session.incoming.receiveCatching()
            val frame = result.getOrNull() ?: run {
                failure = result.exceptionOrNull()
                return null
            }
            when (frame) {
                is Frame.Ping -> session.outgoing.send(Frame.Pong(frame.data))

                is Frame.Pong -> pongCount.incrementAndGet()

                is Frame.Close -> {
                    val reason = frame.readReason()
                    peerClose = reason?.let { "${it.code} ${it.message}".trim() } ?: "no status"
                    return null
                }

                is Frame.Text, is Frame.Binary -> {
                    val message = try {
                        assembler.add(frame is Frame.Text, frame.fin, frame.data)
                    } catch (e: MessageTooLargeException) {
                        failure = e
                        return null
                    }
                    when (message) {
                        is WsMessage.Binary -> return message.bytes
                        is WsMessage.Text -> log.debug("text message ignored")
                        null -> Unit
                    }
                }

                else -> Unit
            }
        }
    }

    override suspend fun send(message: ByteArray) = session.outgoing.send(Frame.Binary(true, message))

    override suspend fun ping() = session.outgoing.send(Frame.Ping(ByteArray(0)))

    override suspend fun endReason(): MuxException {
        peerClose?.let { return MuxSessionClosedException("session closed: the peer sent a close frame ($it)") }
        val f = failure
        return MuxSessionClosedException("session closed: the WebSocket ended${f?.let { " (${it.message})" } ?: ""}", f)
    }

    override fun close() {
        // As upstream: no close frame, the connection just goes.
        session.cancel()
    }

    private companion object {
        private val log = LoggerFactory.getLogger(KtorSessionTransport::class.java)
    }
}

/**
 * A WebSocket on a Netty channel whose pipeline already turns bytes into Netty WebSocket frames and back (a server
 * right after its handshake). The transport's handler goes last in the pipeline: whole binary messages (fragments
 * joined by core's [MessageAssembler], text dropped) reach the session inline on the channel's event loop, pings are
 * answered, pongs counted, and
 * a peer's close frame ends the session and is answered before the socket closes. Sends from any thread go through
 * one [OutboundQueue] (one flush per burst, room by queued messages and the channel's writability).
 */
@OptIn(InternalTetherApi::class)
internal class NettyChannelTransport(private val channel: Channel, maxMessageBytes: Long) :
    ChannelInboundHandlerAdapter(), MuxTransport {
    private val outbound = OutboundQueue(channel, MAX_QUEUED)
    private val pongCount = AtomicLong()
    private val ended = AtomicBoolean()

    @Volatile private var onMessage: (ByteArray) -> Unit = {}

    @Volatile private var onBuffer: (ByteBuf) -> Unit = {}

    @Volatile private var onEnd: (MuxException) -> Unit = {}

    /** The status code of the peer's close frame (-1: none in it), to answer with; set before the session ends. */
    @Volatile private var peerCloseCode: Int? = null

    /** Used on the loop only. */
    private val assembler = MessageAssembler(maxMessageBytes)

    override val keepsAliveItself: Boolean get() = false
    override val pongs: Long get() = pongCount.get()
    override val dispatcher: CoroutineDispatcher = channel.eventLoop().asCoroutineDispatcher()

    override fun start(
        scope: CoroutineScope,
        onMessage: (ByteArray) -> Unit,
        onEnd: (MuxException) -> Unit,
        onBuffer: (ByteBuf) -> Unit,
    ) {
        this.onMessage = onMessage
        this.onBuffer = onBuffer
        this.onEnd = onEnd
        channel.pipeline().addLast(this)
        // Also covers a channel that closed before the handler was in place.
        channel.closeFuture().addListener {
            outbound.onInactive()
            end(MuxSessionClosedException("session closed: the WebSocket ended"))
        }
    }

    override fun channelRead(ctx: ChannelHandlerContext, msg: Any) {
        try {
            when (msg) {
                // The assembler remembers what a fragmented message started as.
                is BinaryWebSocketFrame -> onData(false, msg)

                is TextWebSocketFrame -> onData(true, msg)

                is ContinuationWebSocketFrame -> onData(false, msg)

                // Control frames may go ahead of queued messages: each of those is one whole frame.
                is PingWebSocketFrame ->
                    ctx.writeAndFlush(PongWebSocketFrame(msg.content().retain()), ctx.voidPromise())

                is PongWebSocketFrame -> pongCount.incrementAndGet()

                is CloseWebSocketFrame -> {
                    val code = msg.statusCode()
                    peerCloseCode = code
                    val said = if (code < 0) "no status" else "$code ${msg.reasonText()}".trim()
                    end(MuxSessionClosedException("session closed: the peer sent a close frame ($said)"))
                }

                else -> Unit
            }
        } finally {
            ReferenceCountUtil.release(msg)
        }
    }

    private fun onData(text: Boolean, frame: WebSocketFrame) {
        if (ended.get()) return
        // A whole message: the session reads it where it is (a DAT's bytes stay in this buffer until read).
        if (assembler.lendWholeBinary(text, frame.isFinalFragment, frame.content(), onBuffer)) return
        // Netty's frame decoder rejects a continuation outside a fragmented message, so none starts one here.
        val message = try {
            assembler.add(text, frame.isFinalFragment, ByteBufUtil.getBytes(frame.content()))
        } catch (e: MessageTooLargeException) {
            end(MuxSessionClosedException("session closed: the peer sent a message over ${e.limitBytes} bytes", e))
            return
        }
        when (message) {
            is WsMessage.Binary -> onMessage(message.bytes)
            is WsMessage.Text -> log.debug("text message ignored")
            null -> Unit
        }
    }

    override fun channelWritabilityChanged(ctx: ChannelHandlerContext) {
        outbound.onWritabilityChanged()
        ctx.fireChannelWritabilityChanged()
    }

    @Suppress("OVERRIDE_DEPRECATION")
    override fun exceptionCaught(ctx: ChannelHandlerContext, cause: Throwable) {
        log.debug("WebSocket failed", cause)
        end(MuxSessionClosedException("session closed: the WebSocket failed (${cause.message})", cause))
    }

    private fun end(reason: MuxException) {
        if (ended.compareAndSet(false, true)) onEnd(reason)
    }

    override suspend fun send(message: ByteArray) = queue(BinaryWebSocketFrame(Unpooled.wrappedBuffer(message)))

    override suspend fun sendData(header: ByteArray, payload: ByteArray, offset: Int, length: Int) {
        // One pass into a pooled buffer (server frames are not masked): no joined array to zero and fill first.
        val content = channel.alloc().buffer(header.size + length)
        content.writeBytes(header).writeBytes(payload, offset, length)
        queue(BinaryWebSocketFrame(content))
    }

    override fun trySend(message: ByteArray): Boolean {
        checkOpen()
        if (!outbound.hasRoom()) return false
        outbound.enqueue(BinaryWebSocketFrame(Unpooled.wrappedBuffer(message)))
        return true
    }

    override suspend fun ping() = queue(PingWebSocketFrame())

    private suspend fun queue(frame: WebSocketFrame) {
        try {
            while (!outbound.hasRoom()) {
                checkOpen()
                outbound.awaitRoom()
            }
            checkOpen()
        } catch (e: Throwable) {
            frame.release()
            throw e
        }
        outbound.enqueue(frame)
    }

    private fun checkOpen() {
        if (ended.get() || !channel.isActive) throw MuxSessionClosedException("session closed: the WebSocket ended")
    }

    override fun close() {
        val code = peerCloseCode
        if (code != null && channel.isActive) {
            // Answer the peer's close (RFC 6455 §5.5.1) behind what is queued, then drop the socket once that is
            // written, or after a second at the latest.
            val loop = channel.eventLoop()
            loop.execute {
                outbound.flushNow()
                val valid = WebSocketCloseStatus.isValidStatusCode(code)
                val answer = if (valid) CloseWebSocketFrame(code, "") else CloseWebSocketFrame()
                channel.writeAndFlush(answer).addListener(ChannelFutureListener.CLOSE)
                loop.schedule({ channel.close() }, CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS)
            }
        } else {
            // As upstream: no close frame of our own, the connection just goes.
            channel.close()
        }
    }

    private companion object {
        private val log = LoggerFactory.getLogger(NettyChannelTransport::class.java)

        /** Messages queued before [send] waits (DialerConfig's default for a client socket). */
        const val MAX_QUEUED = 64

        /** How long the answer to a peer's close may take before the socket is dropped anyway. */
        const val CLOSE_WAIT_MILLIS = 1_000L
    }
}
