package dev.tether.core.netty

import dev.tether.core.ConnectionClosedException
import dev.tether.core.DialerConfig
import dev.tether.core.InternalTetherApi
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.Link
import dev.tether.core.MessageAssembler
import dev.tether.core.MessageTooLargeException
import dev.tether.core.OutFrame
import dev.tether.core.WebSocketConnection
import dev.tether.core.WsMessage
import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufUtil
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelFutureListener
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInboundHandlerAdapter
import io.netty.channel.EventLoop
import io.netty.handler.codec.TooLongFrameException
import io.netty.handler.codec.http.HttpHeaders
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus
import io.netty.handler.codec.http.websocketx.WebSocketFrame
import io.netty.util.ReferenceCountUtil
import io.netty.util.concurrent.ScheduledFuture
import kotlinx.coroutines.CoroutineDispatcher
import org.slf4j.LoggerFactory
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean

/**
 * One WebSocket on a Netty channel, after the upgrade. Inbound frames are handled on the channel's event loop as
 * they are decoded: data frames joined into messages and handed to the connection inline, pings answered, pongs
 * matched, close frames answered. Sends from any thread go through one [OutboundQueue] (one flush per burst); data
 * messages are encoded by [DataFrameEncoder].
 */
@OptIn(InternalTetherApi::class)
internal class NettyLink(
    private val channel: Channel,
    private val response: HttpHeaders,
    private val config: DialerConfig,
    private val connection: WebSocketConnection,
) : ChannelInboundHandlerAdapter(), Link {
    private val loop = channel.eventLoop()
    override val eventLoop: EventLoop get() = loop
    private val assembler = MessageAssembler(config.maxMessageBytes)
    private val outbound = OutboundQueue(channel, config.outgoingFrames)
    private val closeSent = AtomicBoolean()
    private val keepAlive = if (config.pingInterval.isZero) {
        null
    } else {
        KeepAlive(config.pingInterval.toMillis(), config.pongTimeout.toMillis())
    }

    override val dispatcher: CoroutineDispatcher = TetherEventLoops.dispatcher(loop)

    override fun handshakeHeader(name: String): String? = response.get(name)

    /** Starts the client keepalive (on the loop, right after the upgrade). */
    fun start() {
        keepAlive?.schedule()
    }

    // ---- sending ------------------------------------------------------------------------------------------------

    override suspend fun send(frame: OutFrame) {
        while (!outbound.hasRoom()) {
            connection.endCause?.let { throw it }
            outbound.awaitRoom()
        }
        connection.endCause?.let { throw it }
        outbound.enqueue(nettyFrame(frame))
    }

    override fun trySend(frame: OutFrame): Boolean {
        if (!outbound.hasRoom()) return false
        outbound.enqueue(nettyFrame(frame))
        return true
    }

    override fun sendClose(code: Short, reason: String) {
        if (closeSent.compareAndSet(false, true)) outbound.enqueue(CloseWebSocketFrame(code.toInt(), reason))
    }

    override fun abort() {
        channel.close()
    }

    override fun pauseReading() {
        channel.config().isAutoRead = false
    }

    override fun resumeReading() {
        channel.config().isAutoRead = true
    }

    private fun nettyFrame(frame: OutFrame): Any = when (frame) {
        is OutFrame.Binary -> OutData(OutData.OPCODE_BINARY, frame.bytes)

        is OutFrame.Text -> OutData(OutData.OPCODE_TEXT, frame.utf8)

        // Masked into the outbound buffer here, on the sender's thread: the one pass over the caller's bytes that
        // masking needs anyway is also the copy that frees the caller's array (no joined array first).
        is OutFrame.BinaryParts -> DataFrameEncoder.encode(
            channel.alloc(),
            OutData.OPCODE_BINARY,
            frame.head,
            frame.body,
            frame.offset,
            frame.length,
        )
    }

    /** Sends [frame] now, ahead of anything queued, then closes the socket (at the latest after the close wait). */
    private fun closeWith(frame: CloseWebSocketFrame) {
        closeSent.set(true)
        channel.writeAndFlush(frame).addListener(ChannelFutureListener.CLOSE)
        loop.schedule({ channel.close() }, CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS)
    }

    // ---- receiving ----------------------------------------------------------------------------------------------

    override fun channelRead(ctx: ChannelHandlerContext, msg: Any) {
        try {
            when (msg) {
                is TextWebSocketFrame -> onData(true, msg)

                is BinaryWebSocketFrame -> onData(false, msg)

                is ContinuationWebSocketFrame -> onData(false, msg)

                // A peer that pings and never reads would grow the outbound buffer without end: while the socket is
                // not writable, pings go unanswered (RFC 6455 5.5.3 lets a pong answer only the latest ping).
                is PingWebSocketFrame -> if (ctx.channel().isWritable) {
                    ctx.writeAndFlush(PongWebSocketFrame(msg.content().retain()), ctx.voidPromise())
                }

                is PongWebSocketFrame -> keepAlive?.onPong(msg.content())

                is CloseWebSocketFrame -> onClose(msg)

                else -> Unit // the empty end of the 101 answer
            }
        } finally {
            ReferenceCountUtil.release(msg)
        }
    }

    private fun onData(text: Boolean, frame: WebSocketFrame) {
        if (connection.endCause != null) return
        val content = frame.content()
        val buffers = connection.bufferListener
        if (buffers != null &&
            assembler.lendWholeBinary(text, frame.isFinalFragment, content) { connection.deliverBuffer(buffers, it) }
        ) {
            return
        }
        val message = try {
            if (!assembler.inMessage && frame.isFinalFragment) {
                // The frame decoder already bounds a single frame at maxMessageBytes.
                if (text) {
                    WsMessage.Text.ofUtf8(ByteBufUtil.getBytes(content))
                } else {
                    WsMessage.Binary(ByteBufUtil.getBytes(content))
                }
            } else {
                assembler.add(text, frame.isFinalFragment, ByteBufUtil.getBytes(content))
            }
        } catch (e: MessageTooLargeException) {
            connection.ended(e)
            closeWith(CloseWebSocketFrame(WebSocketCloseStatus.MESSAGE_TOO_BIG.code(), "message too big"))
            return
        }
        if (message != null) connection.deliver(message)
    }

    private fun onClose(frame: CloseWebSocketFrame) {
        val code = frame.statusCode().takeIf { it >= 0 }
        val reason = frame.reasonText()
        connection.ended(ConnectionClosedException(code, reason))
        if (closeSent.compareAndSet(false, true)) {
            closeWith(CloseWebSocketFrame(code ?: WebSocketCloseStatus.NORMAL_CLOSURE.code(), reason))
        } else {
            channel.close()
        }
    }

    override fun channelWritabilityChanged(ctx: ChannelHandlerContext) {
        outbound.onWritabilityChanged()
        ctx.fireChannelWritabilityChanged()
    }

    override fun channelInactive(ctx: ChannelHandlerContext) {
        keepAlive?.stop()
        connection.ended(ConnectionClosedException(null, null))
        outbound.onInactive()
        connection.released()
    }

    @Suppress("OVERRIDE_DEPRECATION")
    override fun exceptionCaught(ctx: ChannelHandlerContext, cause: Throwable) {
        val frameTooBig =
            cause is CorruptedWebSocketFrameException && cause.closeStatus() == WebSocketCloseStatus.MESSAGE_TOO_BIG
        val tooBig = frameTooBig || cause is TooLongFrameException
        // A write that failed because the socket is already gone says nothing new; a decoder error (which closes the
        // socket itself, possibly before this runs) does.
        if (!channel.isActive && cause !is CorruptedWebSocketFrameException && !tooBig) return
        connection.ended(
            if (tooBig) {
                MessageTooLargeException(config.maxMessageBytes)
            } else {
                ConnectionClosedException(null, null, cause)
            },
        )
        // The frame decoder answers its own protocol errors with a close frame and then closes the socket.
        if (cause !is CorruptedWebSocketFrameException) {
            log.debug("WebSocket failed", cause)
            channel.close()
        }
    }

    /**
     * Client pings on the loop: every ping interval after the last answered one, a ping whose payload is a counter;
     * no matching pong within the pong timeout ends the connection with [KeepAliveExpiredException].
     */
    private inner class KeepAlive(private val interval: Long, private val timeout: Long) {
        private var sent = 0L
        private var awaiting: ByteArray? = null
        private var pingedAt = 0L
        private var timer: ScheduledFuture<*>? = null

        /** Whether `incoming`'s consumer was behind when the pong wait began (see [WebSocketConnection.behindMark]). */
        private var mark = 0

        fun schedule() {
            timer = loop.schedule(::ping, interval, TimeUnit.MILLISECONDS)
        }

        private fun ping() {
            if (!channel.isActive || connection.endCause != null) return
            val payload = (++sent).toString().encodeToByteArray()
            awaiting = payload
            pingedAt = System.nanoTime()
            channel.writeAndFlush(PingWebSocketFrame(Unpooled.wrappedBuffer(payload)), channel.voidPromise())
            armExpiry()
        }

        private fun armExpiry() {
            mark = connection.behindMark()
            timer = loop.schedule(::expire, timeout, TimeUnit.MILLISECONDS)
        }

        fun onPong(data: ByteBuf) {
            val expected = awaiting ?: return
            if (!ByteBufUtil.getBytes(data).contentEquals(expected)) return // a late pong of an earlier ping
            awaiting = null
            timer?.cancel(false)
            connection.pongReceived(System.nanoTime() - pingedAt)
            schedule()
        }

        private fun expire() {
            if (connection.wasBehindSince(mark)) {
                // The socket is not read while `incoming`'s consumer is behind, so the pong may be waiting in it: a
                // slow consumer is not a dead peer. A wait during which it was behind at all gets another timeout.
                armExpiry()
                return
            }
            // First, so the peer's echo of our close cannot claim to be the cause.
            connection.ended(KeepAliveExpiredException(timeout))
            closeWith(CloseWebSocketFrame(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE.code(), "ping failed"))
        }

        fun stop() {
            timer?.cancel(false)
        }
    }

    private companion object {
        private val log = LoggerFactory.getLogger(NettyLink::class.java)
        const val CLOSE_WAIT_MILLIS = 1_000L
    }
}
