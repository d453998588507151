package dev.tether.benchmarks

import io.netty.bootstrap.ServerBootstrap
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelFutureListener
import io.netty.channel.ChannelHandler
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInboundHandlerAdapter
import io.netty.channel.ChannelInitializer
import io.netty.channel.ChannelOption
import io.netty.channel.MultiThreadIoEventLoopGroup
import io.netty.channel.SimpleChannelInboundHandler
import io.netty.channel.WriteBufferWaterMark
import io.netty.channel.nio.NioIoHandler
import io.netty.channel.socket.SocketChannel
import io.netty.channel.socket.nio.NioServerSocketChannel
import io.netty.handler.codec.http.DefaultFullHttpResponse
import io.netty.handler.codec.http.FullHttpRequest
import io.netty.handler.codec.http.HttpHeaderNames
import io.netty.handler.codec.http.HttpHeaderValues
import io.netty.handler.codec.http.HttpMethod
import io.netty.handler.codec.http.HttpObjectAggregator
import io.netty.handler.codec.http.HttpResponseStatus
import io.netty.handler.codec.http.HttpServerCodec
import io.netty.handler.codec.http.QueryStringDecoder
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig
import io.netty.handler.codec.http.websocketx.WebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory
import io.netty.util.ReferenceCountUtil
import io.netty.util.concurrent.DefaultThreadFactory
import java.net.InetSocketAddress
import java.util.concurrent.TimeUnit

/**
 * The WebSocket server under the benchmark's peers ([LoopbackServer], [MuxPeer]): Netty on its own NIO event loops
 * (daemon threads, one group per server), bound to 127.0.0.1 on an ephemeral port. Each upgrade request is routed by
 * its path to one of [endpoints], which installs the connection's handlers right after the handshake, on the
 * connection's event loop, before any frame can be read. Frames up to [MAX_FRAME_BYTES] are accepted (Ktor's
 * `maxFrameSize` of the peers before them); text is not checked for valid UTF-8, as Ktor's raw sessions did not.
 * An unknown path is answered 404, anything else that is not a WebSocket upgrade 400.
 */
internal class PeerServer(name: String, private val endpoints: Map<String, (Channel) -> Unit>) : AutoCloseable {
    private val group = MultiThreadIoEventLoopGroup(
        Runtime.getRuntime().availableProcessors(),
        DefaultThreadFactory(name, true),
        NioIoHandler.newFactory(),
    )

    private val server: Channel = ServerBootstrap()
        .group(group)
        .channel(NioServerSocketChannel::class.java)
        .childOption(ChannelOption.TCP_NODELAY, true)
        // As tether-core's client sockets: a source keeps up to 1 MiB queued before it waits for the socket.
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WriteBufferWaterMark(256 * 1024, 1024 * 1024))
        .childHandler(object : ChannelInitializer<SocketChannel>() {
            override fun initChannel(ch: SocketChannel) {
                ch.pipeline().addLast(HttpServerCodec(), HttpObjectAggregator(64 * 1024), Upgrade())
            }
        })
        .bind("127.0.0.1", 0)
        .syncUninterruptibly()
        .channel()

    val port: Int = (server.localAddress() as InetSocketAddress).port

    private inner class Upgrade : SimpleChannelInboundHandler<FullHttpRequest>() {
        override fun channelRead0(ctx: ChannelHandlerContext, req: FullHttpRequest) {
            val path = QueryStringDecoder(req.uri()).path()
            val endpoint = endpoints[path] ?: return refuse(ctx, req, HttpResponseStatus.NOT_FOUND)
            val upgrade = req.method() == HttpMethod.GET &&
                req.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true) &&
                req.headers().contains(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true)
            if (!upgrade) return refuse(ctx, req, HttpResponseStatus.BAD_REQUEST)
            val handshaker = WebSocketServerHandshakerFactory(
                "ws://127.0.0.1:$port$path",
                null,
                DECODER,
            ).newHandshaker(req)
            if (handshaker == null) {
                WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel())
                return
            }
            val channel = ctx.channel()
            // The handshake swaps the HTTP codec for the frame codec; fragmented messages are joined before the
            // endpoint.
            handshaker.handshake(channel, req)
            ctx.pipeline().replace(this, "messages", WebSocketFrameAggregator(MAX_FRAME_BYTES))
            endpoint(channel)
        }

        @Suppress("OVERRIDE_DEPRECATION")
        override fun exceptionCaught(ctx: ChannelHandlerContext, cause: Throwable) {
            // A request the handshake cannot answer (no key, say): this connection only.
            ctx.close()
        }

        private fun refuse(ctx: ChannelHandlerContext, req: FullHttpRequest, status: HttpResponseStatus) {
            val response = DefaultFullHttpResponse(req.protocolVersion(), status, Unpooled.EMPTY_BUFFER)
            response.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0)
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE)
        }
    }

    override fun close() {
        server.close().syncUninterruptibly()
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS)
    }

    companion object {
        /** An endpoint whose every connection gets a handler from [create], last in its pipeline. */
        fun handler(create: () -> ChannelHandler): (Channel) -> Unit = { ch -> ch.pipeline().addLast(create()) }

        /** The largest frame, and message, a peer accepts. */
        const val MAX_FRAME_BYTES: Int = 2 shl 20

        private val DECODER: WebSocketDecoderConfig = WebSocketDecoderConfig.newBuilder()
            .maxFramePayloadLength(MAX_FRAME_BYTES)
            .allowExtensions(false)
            .withUTF8Validator(false)
            .build()
    }
}

/**
 * One endpoint's handler on one connection, last in the pipeline, run on the connection's event loop: whole text and
 * binary messages go to [onMessage]; every endpoint answers pings and answers a close frame with the same status
 * before closing the socket. Replies written with [reply] are flushed once per read burst; while the socket is not
 * writable the endpoint stops reading (as the suspending sends of the Ktor peers did) and [onWritable] runs when it is
 * writable again.
 */
internal abstract class PeerEndpoint : ChannelInboundHandlerAdapter() {
    private var unflushed = false
    private var closing = false

    /** One whole text or binary message; [frame] is released after this returns. */
    protected abstract fun onMessage(ctx: ChannelHandlerContext, frame: WebSocketFrame)

    /** The socket can take more writes again. */
    protected open fun onWritable(ctx: ChannelHandlerContext) = Unit

    /** Writes [frame], flushed at the end of the read burst. */
    protected fun reply(ctx: ChannelHandlerContext, frame: WebSocketFrame) {
        ctx.write(frame, ctx.voidPromise())
        unflushed = true
        if (!ctx.channel().isWritable) ctx.channel().config().isAutoRead = false
    }

    override fun channelRead(ctx: ChannelHandlerContext, msg: Any) {
        try {
            if (closing) return
            when (msg) {
                is TextWebSocketFrame, is BinaryWebSocketFrame -> onMessage(ctx, msg as WebSocketFrame)

                is PingWebSocketFrame -> reply(ctx, PongWebSocketFrame(msg.content().retain()))

                is CloseWebSocketFrame -> {
                    closing = true
                    // The same status and reason back (NORMAL when the peer gave none), then the socket goes.
                    val answer = if (msg.content().isReadable) {
                        CloseWebSocketFrame(true, 0, msg.content().retain())
                    } else {
                        CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE, "")
                    }
                    ctx.writeAndFlush(answer).addListener(ChannelFutureListener.CLOSE)
                }

                else -> Unit
            }
        } finally {
            ReferenceCountUtil.release(msg)
        }
    }

    override fun channelReadComplete(ctx: ChannelHandlerContext) {
        if (unflushed) {
            unflushed = false
            ctx.flush()
        }
        ctx.fireChannelReadComplete()
    }

    override fun channelWritabilityChanged(ctx: ChannelHandlerContext) {
        if (ctx.channel().isWritable) {
            ctx.channel().config().isAutoRead = true
            if (!closing) onWritable(ctx)
        }
        ctx.fireChannelWritabilityChanged()
    }

    @Suppress("OVERRIDE_DEPRECATION")
    override fun exceptionCaught(ctx: ChannelHandlerContext, cause: Throwable) {
        // A malformed request or a broken socket ends this connection only.
        ctx.close()
    }
}
