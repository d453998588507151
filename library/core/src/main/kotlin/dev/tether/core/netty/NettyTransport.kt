@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.core.netty

import dev.tether.core.DialFailedException
import dev.tether.core.DialerConfig
import dev.tether.core.MessageListener
import dev.tether.core.TransportDial
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketTransport
import dev.tether.core.refusedUpgrade
import io.netty.bootstrap.Bootstrap
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInboundHandlerAdapter
import io.netty.channel.ChannelInitializer
import io.netty.channel.ChannelOption
import io.netty.channel.EventLoopGroup
import io.netty.channel.WriteBufferWaterMark
import io.netty.handler.codec.http.DefaultFullHttpRequest
import io.netty.handler.codec.http.HttpClientCodec
import io.netty.handler.codec.http.HttpHeaderNames
import io.netty.handler.codec.http.HttpHeaderValues
import io.netty.handler.codec.http.HttpMethod
import io.netty.handler.codec.http.HttpResponse
import io.netty.handler.codec.http.HttpVersion
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig
import io.netty.handler.ssl.ApplicationProtocolConfig
import io.netty.handler.ssl.ClientAuth
import io.netty.handler.ssl.IdentityCipherSuiteFilter
import io.netty.handler.ssl.JdkSslContext
import io.netty.handler.ssl.SslContext
import io.netty.handler.ssl.SslContextBuilder
import io.netty.handler.ssl.SslProvider
import io.netty.util.ReferenceCountUtil
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.io.IOException
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.URI
import java.security.MessageDigest
import java.security.SecureRandom
import java.util.Base64
import java.util.concurrent.ConcurrentHashMap

/** [WebSocketTransport.netty]: sockets on [group], or on the shared loops when it is null. */
internal class NettyTransport(private val group: EventLoopGroup?) : WebSocketTransport() {
    override fun open(config: DialerConfig): TransportDial = NettyDial(config, group ?: TetherEventLoops.shared())

    override fun pinned(): Pinned {
        val loop = (group ?: TetherEventLoops.shared()).next()
        return Pinned(NettyTransport(loop), TetherEventLoops.dispatcher(loop))
    }
}

/** The sockets of one dialer: TCP (+ TLS) + HTTP upgrade on Netty, then a [NettyLink] per socket. */
internal class NettyDial(private val config: DialerConfig, private val group: EventLoopGroup) : TransportDial {
    private val open = ConcurrentHashMap.newKeySet<Channel>()

    @Volatile private var closed = false

    /** Built once per dialer, on first wss dial. */
    private val tls: SslContext by lazy { clientSslContext(config) }

    override suspend fun open(
        url: String,
        headers: Map<String, String>,
        listener: MessageListener?,
    ): WebSocketConnection {
        val uri = URI(url)
        val secure = uri.scheme.equals("wss", ignoreCase = true)
        val host = requireNotNull(uri.host) { "url has no host: $url" }
        val port = if (uri.port >= 0) {
            uri.port
        } else if (secure) {
            443
        } else {
            80
        }
        // Name resolution blocks: never on an event loop.
        val address = try {
            withContext(Dispatchers.IO) { InetAddress.getByName(host) }
        } catch (e: IOException) {
            throw DialFailedException(config.url, e)
        }
        val opened = CompletableDeferred<WebSocketConnection>()
        val connection = WebSocketConnection(config, listener)
        val handshake = Handshake(url, uri, host, port, secure, headers, config, connection, opened)
        val sslContext = if (secure) tls else null
        val bootstrap = Bootstrap().group(group).channel(TetherEventLoops.socketChannel(group))
            .option(ChannelOption.TCP_NODELAY, true)
            .option(
                ChannelOption.CONNECT_TIMEOUT_MILLIS,
                config.dialTimeout.toMillis().coerceAtMost(Int.MAX_VALUE.toLong()).toInt(),
            )
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WriteBufferWaterMark(LOW_WATER, HIGH_WATER))
            .handler(object : ChannelInitializer<Channel>() {
                override fun initChannel(ch: Channel) {
                    if (sslContext != null) ch.pipeline().addLast("tls", tlsHandler(sslContext, ch, host, port))
                    ch.pipeline().addLast("http", HttpClientCodec())
                    ch.pipeline().addLast("handshake", handshake)
                }
            })
        val connect = bootstrap.connect(InetSocketAddress(address, port))
        val channel = connect.channel()
        open.add(channel)
        channel.closeFuture().addListener { open.remove(channel) }
        if (closed) channel.close()
        connect.addListener {
            if (!it.isSuccess) opened.completeExceptionally(DialFailedException(config.url, it.cause()))
        }
        try {
            return opened.await()
        } catch (e: Throwable) {
            channel.close()
            throw e
        }
    }

    override fun close() {
        closed = true
        for (channel in open.toTypedArray()) channel.close()
    }

    private companion object {
        /** Outbound bytes queued in Netty before sends wait (with [DialerConfig.outgoingFrames] frames of ours). */
        const val LOW_WATER = 256 * 1024
        const val HIGH_WATER = 1024 * 1024

        fun tlsHandler(context: SslContext, ch: Channel, host: String, port: Int) =
            context.newHandler(ch.alloc(), host, port).also { handler ->
                // Check the certificate against the host name, as browsers do: verification is never off by default.
                val engine = handler.engine()
                engine.sslParameters = engine.sslParameters.apply { endpointIdentificationAlgorithm = "HTTPS" }
            }

        fun clientSslContext(config: DialerConfig): SslContext {
            config.sslContext?.let {
                return JdkSslContext(
                    it,
                    true,
                    null,
                    IdentityCipherSuiteFilter.INSTANCE,
                    ApplicationProtocolConfig.DISABLED,
                    ClientAuth.NONE,
                    null,
                    false,
                )
            }
            return SslContextBuilder.forClient().sslProvider(SslProvider.JDK).apply {
                config.trustManager?.let { trustManager(it) }
            }.build()
        }
    }
}

/**
 * The decoder of a client's inbound frames (shared with the receive-path fuzz test): each frame bounded at
 * [DialerConfig.maxMessageBytes], unmasked frames expected.
 */
internal fun frameDecoder(config: DialerConfig): WebSocket13FrameDecoder = WebSocket13FrameDecoder(
    WebSocketDecoderConfig.newBuilder()
        .maxFramePayloadLength(config.maxMessageBytes.coerceAtMost(Int.MAX_VALUE.toLong()).toInt())
        .expectMaskedFrames(false)
        .allowMaskMismatch(true) // a tolerant receiver: a server that masks anyway is still understood
        .allowExtensions(false)
        .build(),
)

/**
 * Writes the upgrade request when the socket connects and checks the answer: 101 with the right
 * `Sec-WebSocket-Accept` switches the pipeline to WebSocket frames and hands the socket to a [NettyLink]; any other
 * status fails the dial with it.
 */
private class Handshake(
    private val url: String,
    private val uri: URI,
    private val host: String,
    private val port: Int,
    private val secure: Boolean,
    private val headers: Map<String, String>,
    private val config: DialerConfig,
    private val connection: WebSocketConnection,
    private val opened: CompletableDeferred<WebSocketConnection>,
) : ChannelInboundHandlerAdapter() {
    private val key = Base64.getEncoder().encodeToString(ByteArray(16).also { random.nextBytes(it) })

    override fun channelActive(ctx: ChannelHandlerContext) {
        val target = (uri.rawPath?.takeIf { it.isNotEmpty() } ?: "/") + (uri.rawQuery?.let { "?$it" } ?: "")
        val request = DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target, Unpooled.EMPTY_BUFFER)
        val h = request.headers()
        h.set(HttpHeaderNames.HOST, if (port == (if (secure) 443 else 80)) host else "$host:$port")
        h.set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET)
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE)
        h.set(HttpHeaderNames.SEC_WEBSOCKET_KEY, key)
        h.set(HttpHeaderNames.SEC_WEBSOCKET_VERSION, "13")
        for ((name, value) in headers) h.set(name, value)
        ctx.writeAndFlush(request)
        ctx.fireChannelActive()
    }

    override fun channelRead(ctx: ChannelHandlerContext, msg: Any) {
        try {
            if (msg !is HttpResponse || opened.isCompleted) return
            // Netty marks an answer it could not parse (a head over its limits, garbage) as a failed decode with a
            // made-up status: that is a broken dial, not a refusal by the server.
            msg.decoderResult().cause()?.let { cause ->
                fail(ctx, DialFailedException(config.url, IOException("unreadable upgrade answer: ${cause.message}")))
                return
            }
            val status = msg.status().code()
            if (status != 101) {
                fail(ctx, refusedUpgrade(config.url, status, msg.headers().get(HttpHeaderNames.RETRY_AFTER)))
                return
            }
            if (!msg.headers().get(HttpHeaderNames.UPGRADE).equals("websocket", ignoreCase = true) ||
                msg.headers().get(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT) != acceptFor(key)
            ) {
                fail(
                    ctx,
                    DialFailedException(
                        config.url,
                        IOException("the 101 answer is not a valid WebSocket upgrade (Upgrade / Sec-WebSocket-Accept)"),
                    ),
                )
                return
            }
            switchToFrames(ctx, msg)
        } finally {
            ReferenceCountUtil.release(msg)
        }
    }

    private fun switchToFrames(ctx: ChannelHandlerContext, response: HttpResponse) {
        val pipeline = ctx.pipeline()
        val codec = pipeline.get(HttpClientCodec::class.java)
        val codecName = pipeline.context(codec).name()
        pipeline.addAfter(codecName, "ws-encoder", WebSocket13FrameEncoder(true))
        pipeline.addAfter("ws-encoder", "ws-data", DataFrameEncoder())
        pipeline.addAfter(codecName, "ws-decoder", frameDecoder(config))
        // Frames written from now on must not meet the HTTP encoder; the decoder half goes once this read is done
        // (it passes the bytes after the 101 answer on as they are).
        codec.removeOutboundHandler()
        val link = NettyLink(ctx.channel(), response.headers().copy(), config, connection)
        connection.attach(link)
        pipeline.replace(this, "ws", link)
        ctx.channel().eventLoop().execute {
            if (pipeline.get(HttpClientCodec::class.java) != null) pipeline.remove(codec)
        }
        if (opened.complete(connection)) link.start() else ctx.close()
    }

    private fun fail(ctx: ChannelHandlerContext, cause: Throwable) {
        opened.completeExceptionally(cause)
        ctx.close()
    }

    @Suppress("OVERRIDE_DEPRECATION")
    override fun exceptionCaught(ctx: ChannelHandlerContext, cause: Throwable) =
        fail(ctx, DialFailedException(config.url, cause))

    override fun channelInactive(ctx: ChannelHandlerContext) {
        opened.completeExceptionally(
            DialFailedException(config.url, IOException("the connection closed during the WebSocket handshake")),
        )
        ctx.fireChannelInactive()
    }

    private companion object {
        val random = SecureRandom()

        fun acceptFor(key: String): String = Base64.getEncoder().encodeToString(
            MessageDigest.getInstance(
                "SHA-1",
            ).digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").toByteArray(Charsets.US_ASCII)),
        )
    }
}
