@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.ConnectionClosedException
import dev.tether.core.DialFailedException
import dev.tether.core.DialTimeoutException
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.netty.OutboundQueue
import dev.tether.core.netty.TetherEventLoops
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.error.WampException
import dev.tether.wamp.message.Message
import dev.tether.wamp.rawsocket.Handshake
import dev.tether.wamp.serializer.Serializer
import io.netty.bootstrap.Bootstrap
import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufUtil
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelHandler
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInitializer
import io.netty.channel.ChannelOption
import io.netty.channel.ConnectTimeoutException
import io.netty.channel.EventLoopGroup
import io.netty.channel.WriteBufferWaterMark
import io.netty.handler.codec.ByteToMessageDecoder
import io.netty.handler.ssl.ApplicationProtocolConfig
import io.netty.handler.ssl.ClientAuth
import io.netty.handler.ssl.IdentityCipherSuiteFilter
import io.netty.handler.ssl.JdkSslContext
import io.netty.handler.ssl.SslContext
import io.netty.handler.ssl.SslContextBuilder
import io.netty.handler.ssl.SslHandshakeCompletionEvent
import io.netty.handler.ssl.SslProvider
import io.netty.util.concurrent.ScheduledFuture
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.ClosedReceiveChannelException
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.io.IOException
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.SocketAddress
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference
import javax.net.ssl.SSLContext
import javax.net.ssl.X509TrustManager
import kotlin.coroutines.resume
import kotlin.time.Duration
import dev.tether.wamp.rawsocket.RawSocketProtocol as P
import kotlinx.coroutines.channels.Channel as CoChannel

/**
 * A WAMP RawSocket client on a Netty channel: TCP, TLS over TCP (Netty's SslHandler on the JDK provider, host name
 * verified) or a Unix domain socket, on Tether's shared event loops.
 *
 * Everything per frame happens on the channel's event loop, as bytes arrive: the handshake reply is checked, frame
 * headers are read (a frame split across reads waits for its rest; several frames in one read are all handled), a
 * frame over this side's limit closes the connection with [MessageTooLongException] before its payload is read,
 * PINGs are answered with PONGs, PONGs are matched by the keepalive, and messages are decoded and handed to the
 * [PeerListener] inline ([listen]) or queued for [receive] until then. Sends from any thread are queued and written
 * by the loop, one flush per burst, and wait while the queue or the socket's buffer is full.
 */
internal class NettyRawSocketPeer internal constructor(
    private val url: String,
    private val serializer: Serializer,
    private val exponent: Int,
    override val description: String,
    pingInterval: Duration,
    pongTimeout: Duration,
) : Peer {
    private lateinit var channel: Channel
    private val handler = Handler()

    /** Ties this peer to [channel] (before it connects) and returns the handler to put last in its pipeline. */
    internal fun bind(channel: Channel): ChannelHandler {
        this.channel = channel
        return handler
    }

    /** Completes once the router accepted the handshake; fails as [connect] does. */
    internal suspend fun awaitOpen() = opened.await()
    private val opened = CompletableDeferred<Unit>()

    /** The most this side receives (the power of two it announced). */
    val recvLimit: Int = P.maxLengthOf(exponent)

    /** The most the router receives, from its handshake reply. */
    @Volatile
    var sendLimit: Int = 0
        private set

    override val dispatcher: CoroutineDispatcher get() = TetherEventLoops.dispatcher(channel.eventLoop())

    // Receiving: touched on the loop only, except [inbox], [inboxCount] and [listener] (read by the other side).
    private val inbox = CoChannel<Message>(CoChannel.UNLIMITED)
    private val inboxCount = AtomicInteger()

    @Volatile private var listener: PeerListener? = null
    private val endCause = AtomicReference<Exception?>(null)
    private var handshaken = false
    private var stopped = false

    // Sending.
    private val closed = AtomicBoolean(false)
    private val outbound by lazy { OutboundQueue(channel, MAX_QUEUED_FRAMES) } // [channel] is set once the dial starts

    private val keepAlive: KeepAlive? =
        if (pingInterval.isPositive()) {
            KeepAlive(
                pingInterval.inWholeMilliseconds.coerceAtLeast(1),
                pongTimeout.inWholeMilliseconds.coerceAtLeast(1),
            )
        } else {
            null
        }

    // ---- sending ----------------------------------------------------------------------------------------------

    override suspend fun send(message: Message) {
        val bytes = serializer.encode(message)
        val limit = minOf(sendLimit, P.MAX_FRAME_LENGTH)
        if (bytes.size > limit) throw MessageTooLongException(bytes.size.toLong(), limit.toLong(), outbound = true)
        while (!outbound.hasRoom()) {
            checkOpen()
            outbound.awaitRoom()
        }
        checkOpen()
        outbound.enqueue(frame(P.TYPE_MESSAGE, bytes))
    }

    private fun checkOpen() {
        if (closed.get() || !channel.isActive) throw ConnectionClosedException(null, "RawSocket closed", endCause.get())
    }

    private fun frame(type: Int, payload: ByteArray): ByteBuf = channel.alloc().buffer(
        P.FRAME_HEADER_LENGTH + payload.size,
    ).writeInt((type shl 24) or payload.size).writeBytes(payload)

    // ---- receiving --------------------------------------------------------------------------------------------

    override suspend fun receive(): Message {
        val message = try {
            inbox.receive()
        } catch (e: ClosedReceiveChannelException) {
            throw ConnectionClosedException(null, "RawSocket closed", e)
        }
        if (inboxCount.decrementAndGet() < PAUSE_AT && !channel.config().isAutoRead) channel.config().isAutoRead = true
        return message
    }

    override fun listen(listener: PeerListener): Boolean {
        onLoop {
            // Messages queued for receive() go first, in order; then the end if it came already.
            while (true) {
                val queuedMessage = inbox.tryReceive().getOrNull() ?: break
                inboxCount.decrementAndGet()
                notify(listener, queuedMessage)
            }
            this.listener = listener
            if (!channel.config().isAutoRead) channel.config().isAutoRead = true
            endCause.get()?.let { notifyEnd(listener, it) }
        }
        return true
    }

    /**
     * One decoded message, on the loop: to the listener, or queued for [receive] (reading pauses while it is
     * behind).
     */
    private fun deliver(message: Message) {
        val l = listener
        if (l != null) {
            notify(l, message)
            return
        }
        inbox.trySend(message)
        if (inboxCount.incrementAndGet() >= PAUSE_AT) {
            channel.config().isAutoRead = false
            // The reader may have caught up between the count and the pause.
            if (inboxCount.get() < PAUSE_AT) channel.config().isAutoRead = true
        }
    }

    /** Reading has ended for [cause] (the first cause wins), on the loop. */
    private fun ended(cause: Exception) {
        if (!endCause.compareAndSet(null, cause)) return
        stopped = true
        keepAlive?.stop()
        inbox.close(cause)
        listener?.let { notifyEnd(it, cause) }
        outbound.wakeSenders()
    }

    private fun notify(listener: PeerListener, message: Message) {
        try {
            listener.onMessage(message)
        } catch (e: Exception) {
            log.warn("{}: message listener failed; the message is dropped", description, e)
        }
    }

    private fun notifyEnd(listener: PeerListener, cause: Exception) {
        try {
            listener.onEnd(cause)
        } catch (e: Exception) {
            log.warn("{}: end listener failed", description, e)
        }
    }

    private fun onLoop(block: () -> Unit) {
        val loop = channel.eventLoop()
        if (loop.inEventLoop()) block() else loop.execute(block)
    }

    // ---- closing ----------------------------------------------------------------------------------------------

    /** Sends what was queued, closes the socket and waits (at most 1 s) until it is closed. Idempotent. */
    override suspend fun close() {
        if (closed.compareAndSet(false, true)) {
            onLoop {
                outbound.flushNow()
                ended(ConnectionClosedException(null, "RawSocket closed"))
                channel.close()
            }
        }
        withTimeoutOrNull(CLOSE_WAIT_MILLIS) {
            suspendCancellableCoroutine<Unit> { done -> channel.closeFuture().addListener { done.resume(Unit) } }
        }
    }

    override fun toString(): String = description

    // ---- the pipeline handler ---------------------------------------------------------------------------------

    /** The handshake and the framing, on the loop. */
    private inner class Handler : ByteToMessageDecoder() {
        override fun channelActive(ctx: ChannelHandlerContext) {
            // Over TLS the SslHandler holds this until its own handshake is done.
            ctx.writeAndFlush(
                Unpooled.wrappedBuffer(Handshake(exponent, serializer.serialization.rawSocketId).encode()),
            )
            ctx.fireChannelActive()
        }

        override fun decode(ctx: ChannelHandlerContext, input: ByteBuf, out: MutableList<Any>) {
            if (stopped) {
                input.skipBytes(input.readableBytes())
                return
            }
            if (!handshaken) {
                if (input.readableBytes() < P.HANDSHAKE_LENGTH) return
                onHandshakeReply(ByteArray(P.HANDSHAKE_LENGTH).also { input.readBytes(it) })
                return
            }
            if (input.readableBytes() < P.FRAME_HEADER_LENGTH) return
            val at = input.readerIndex()
            val type = input.getByte(at).toInt() and P.TYPE_MASK
            val length = input.getUnsignedMedium(at + 1)
            if (length > recvLimit) {
                // Refused before its payload arrives: the limit is this side's announced maximum.
                log.warn(
                    "{}: router sent a {}-byte frame over the {}-byte limit; closing",
                    description,
                    length,
                    recvLimit,
                )
                input.skipBytes(input.readableBytes())
                ended(MessageTooLongException(length.toLong(), recvLimit.toLong(), outbound = false))
                ctx.close()
                return
            }
            if (input.readableBytes() < P.FRAME_HEADER_LENGTH + length) return // the rest comes with a later read
            input.skipBytes(P.FRAME_HEADER_LENGTH)
            when (type) {
                P.TYPE_MESSAGE -> {
                    val bytes = ByteBufUtil.getBytes(input, input.readerIndex(), length)
                    input.skipBytes(length)
                    onMessage(bytes)
                }

                P.TYPE_PING -> {
                    val pong = ctx.alloc().buffer(
                        P.FRAME_HEADER_LENGTH + length,
                    ).writeInt((P.TYPE_PONG shl 24) or length)
                    pong.writeBytes(input, length)
                    ctx.writeAndFlush(pong, ctx.voidPromise())
                }

                P.TYPE_PONG -> {
                    val payload = ByteBufUtil.getBytes(input, input.readerIndex(), length)
                    input.skipBytes(length)
                    keepAlive?.onPong(payload)
                }

                else -> {
                    log.debug("{}: ignoring RawSocket frame type {}", description, type)
                    input.skipBytes(length)
                }
            }
        }

        private fun onHandshakeReply(bytes: ByteArray) {
            val reply = try {
                Handshake.parseReply(bytes)
            } catch (e: RawSocketHandshakeException) {
                failOpen(e)
                return
            }
            if (reply.serializerId != serializer.serialization.rawSocketId) {
                failOpen(
                    ProtocolViolationException(
                        "router at $url answered the handshake with serializer ${reply.serializerId}, " +
                            "not ${serializer.serialization.rawSocketId}",
                    ),
                )
                return
            }
            sendLimit = reply.maxLength
            handshaken = true
            keepAlive?.schedule()
            if (!opened.complete(Unit)) channel.close()
        }

        private fun onMessage(bytes: ByteArray) {
            val message = try {
                serializer.decode(bytes)
            } catch (e: Exception) {
                // Nothing more is read; the connection stays open so the session can say ABORT before closing it.
                ended(
                    e as? WampException ?: ProtocolViolationException(
                        "undecodable message from the router: ${e.message}",
                        e,
                    ),
                )
                return
            }
            deliver(message)
        }

        private fun failOpen(cause: Exception) {
            stopped = true
            opened.completeExceptionally(cause)
            channel.close()
        }

        override fun userEventTriggered(ctx: ChannelHandlerContext, evt: Any) {
            if (evt is SslHandshakeCompletionEvent && !evt.isSuccess) failOpen(DialFailedException(url, evt.cause()))
            ctx.fireUserEventTriggered(evt)
        }

        override fun channelWritabilityChanged(ctx: ChannelHandlerContext) {
            outbound.onWritabilityChanged()
            ctx.fireChannelWritabilityChanged()
        }

        override fun channelInactive(ctx: ChannelHandlerContext) {
            try {
                super.channelInactive(ctx)
            } finally {
                if (!opened.isCompleted) {
                    opened.completeExceptionally(
                        RawSocketHandshakeException(
                            0,
                            "router at $url closed the connection during the RawSocket handshake",
                        ),
                    )
                }
                ended(ConnectionClosedException(null, "RawSocket closed by the router"))
                outbound.onInactive()
            }
        }

        @Suppress("OVERRIDE_DEPRECATION")
        override fun exceptionCaught(ctx: ChannelHandlerContext, cause: Throwable) {
            if (!opened.isCompleted) {
                failOpen(DialFailedException(url, (cause as? io.netty.handler.codec.DecoderException)?.cause ?: cause))
                return
            }
            log.debug("{}: socket failed", description, cause)
            ended(
                ConnectionClosedException(
                    null,
                    "RawSocket failed: ${cause.message ?: cause::class.java.simpleName}",
                    cause,
                ),
            )
            ctx.close()
        }
    }

    /**
     * Client PINGs on the loop: one every ping interval after the last answered one, with a counter as payload; no
     * matching PONG within the pong timeout closes the connection with [KeepAliveExpiredException] (nexus never
     * pings, so an idle client must).
     */
    private inner class KeepAlive(private val interval: Long, private val timeout: Long) {
        private var sent = 0L
        private var awaiting: ByteArray? = null
        private var timer: ScheduledFuture<*>? = null

        fun schedule() {
            timer = channel.eventLoop().schedule(::ping, interval, TimeUnit.MILLISECONDS)
        }

        private fun ping() {
            if (!channel.isActive || stopped) return
            val payload = (++sent).toString().encodeToByteArray()
            awaiting = payload
            channel.writeAndFlush(frame(P.TYPE_PING, payload), channel.voidPromise())
            timer = channel.eventLoop().schedule(::expire, timeout, TimeUnit.MILLISECONDS)
        }

        fun onPong(payload: ByteArray) {
            val expected = awaiting ?: return
            if (!payload.contentEquals(expected)) return // a late PONG of an earlier PING
            awaiting = null
            timer?.cancel(false)
            schedule()
        }

        private fun expire() {
            log.warn("{}: no PONG within {} ms; closing", description, timeout)
            ended(KeepAliveExpiredException(timeout))
            channel.close()
        }

        fun stop() {
            timer?.cancel(false)
        }
    }

    companion object {
        private val log = LoggerFactory.getLogger(NettyRawSocketPeer::class.java)
        private const val MAX_QUEUED_FRAMES = 1024
        private const val PAUSE_AT = 256
        private const val CLOSE_WAIT_MILLIS = 1_000L
        private const val LOW_WATER = 256 * 1024
        private const val HIGH_WATER = 1024 * 1024

        /** Without a trust manager or SSLContext: the JVM's trust store (built once). */
        private val defaultTls: SslContext by lazy {
            SslContextBuilder.forClient().sslProvider(SslProvider.JDK).build()
        }

        private fun tlsContext(trustManager: X509TrustManager?, sslContext: SSLContext?): SslContext = when {
            sslContext != null ->
                JdkSslContext(
                    sslContext,
                    true,
                    null,
                    IdentityCipherSuiteFilter.INSTANCE,
                    ApplicationProtocolConfig.DISABLED,
                    ClientAuth.NONE,
                    null,
                    false,
                )

            trustManager != null -> SslContextBuilder.forClient().sslProvider(
                SslProvider.JDK,
            ).trustManager(trustManager).build()

            else -> defaultTls
        }

        /**
         * Connects to [target] on [group], runs TLS for tcps (trust from [sslContext], else [trustManager], else the
         * JVM's; host names verified), sends the handshake announcing [recvLimit] (rounded up to a power of two) and
         * [serializer], and returns the peer once the router accepted, with keepalive PINGs every [pingInterval]
         * when positive. The whole dial is bounded by [dialTimeout]. Throws [DialFailedException],
         * [DialTimeoutException], [RawSocketHandshakeException] or [ProtocolViolationException].
         */
        suspend fun connect(
            url: String,
            target: RawSocketConnector.Target,
            serializer: Serializer,
            recvLimit: Long,
            dialTimeout: Duration,
            trustManager: X509TrustManager?,
            sslContext: SSLContext?,
            pingInterval: Duration,
            pongTimeout: Duration,
            group: EventLoopGroup = TetherEventLoops.shared(),
        ): NettyRawSocketPeer {
            val peer =
                NettyRawSocketPeer(
                    url,
                    serializer,
                    P.exponentFor(recvLimit),
                    "rawsocket ${url.substringBefore('?')}",
                    pingInterval,
                    pongTimeout,
                )
            var channel: Channel? = null
            try {
                return withTimeoutOrNull(dialTimeout) {
                    val address: SocketAddress = when (target) {
                        is RawSocketConnector.Target.Tcp -> try {
                            // Name resolution blocks: never on an event loop.
                            InetSocketAddress(
                                withContext(Dispatchers.IO) {
                                    InetAddress.getByName(target.host)
                                },
                                target.port,
                            )
                        } catch (e: IOException) {
                            throw DialFailedException(url, e)
                        }

                        is RawSocketConnector.Target.Unix -> TetherEventLoops.domainSocketAddress(group, target.path)
                    }
                    val tcp = target as? RawSocketConnector.Target.Tcp
                    val tls = if (tcp != null && tcp.tls) tlsContext(trustManager, sslContext) else null
                    val bootstrap = Bootstrap().group(group)
                        .channel(
                            if (tcp != null) {
                                TetherEventLoops.socketChannel(
                                    group,
                                )
                            } else {
                                TetherEventLoops.domainSocketChannel(group)
                            },
                        )
                        .option(
                            ChannelOption.CONNECT_TIMEOUT_MILLIS,
                            dialTimeout.inWholeMilliseconds.coerceIn(1, Int.MAX_VALUE.toLong()).toInt(),
                        )
                        .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WriteBufferWaterMark(LOW_WATER, HIGH_WATER))
                        .handler(object : ChannelInitializer<Channel>() {
                            override fun initChannel(ch: Channel) {
                                val handler = peer.bind(ch)
                                if (tls != null && tcp != null) {
                                    val ssl = tls.newHandler(ch.alloc(), tcp.host, tcp.port)
                                    // Check the certificate against the host name: verification is never off.
                                    ssl.engine().sslParameters = ssl.engine().sslParameters.apply {
                                        endpointIdentificationAlgorithm = "HTTPS"
                                    }
                                    ch.pipeline().addLast("tls", ssl)
                                }
                                ch.pipeline().addLast("rawsocket", handler)
                            }
                        })
                    if (tcp != null) bootstrap.option(ChannelOption.TCP_NODELAY, true)
                    val connect = bootstrap.connect(address)
                    channel = connect.channel()
                    connect.addListener {
                        if (!it.isSuccess) {
                            val cause = it.cause()
                            peer.opened.completeExceptionally(
                                if (cause is ConnectTimeoutException) {
                                    DialTimeoutException(
                                        url,
                                        dialTimeout.inWholeMilliseconds,
                                    )
                                } else {
                                    DialFailedException(url, cause)
                                },
                            )
                        }
                    }
                    peer.opened.await()
                    peer
                } ?: throw DialTimeoutException(url, dialTimeout.inWholeMilliseconds)
            } catch (e: Throwable) {
                channel?.close()
                throw e
            }
        }
    }
}
