@file:OptIn(InternalTetherApi::class)

package dev.tether.mux

import dev.tether.core.DialerConfig
import dev.tether.core.InternalTetherApi
import dev.tether.core.WebSocketDialer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import io.netty.bootstrap.ServerBootstrap
import io.netty.buffer.ByteBufUtil
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInitializer
import io.netty.channel.MultiThreadIoEventLoopGroup
import io.netty.channel.SimpleChannelInboundHandler
import io.netty.channel.embedded.EmbeddedChannel
import io.netty.channel.nio.NioIoHandler
import io.netty.channel.socket.SocketChannel
import io.netty.channel.socket.nio.NioServerSocketChannel
import io.netty.handler.codec.http.FullHttpRequest
import io.netty.handler.codec.http.HttpObjectAggregator
import io.netty.handler.codec.http.HttpServerCodec
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory
import io.netty.util.concurrent.DefaultThreadFactory
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream
import java.net.InetSocketAddress
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit

/** Frames in and out of a [NettyChannelTransport] on an [EmbeddedChannel] (the test thread is its event loop). */
private class Embedded {
    val channel = EmbeddedChannel()
    val transport = NettyChannelTransport(channel, MuxConfig.DEFAULT.maxMessageBytes)
    val messages = CopyOnWriteArrayList<ByteArray>()
    val ends = CopyOnWriteArrayList<MuxException>()
    private val scope = CoroutineScope(SupervisorJob())

    init {
        transport.start(scope, { messages += it }, { ends += it })
    }

    /** The next frame written to the socket (after the tasks queued on the loop ran). */
    fun written(): Any? {
        channel.runPendingTasks()
        return channel.readOutbound<Any>()
    }

    fun finish() {
        scope.cancel()
        channel.finishAndReleaseAll()
    }
}

/**
 * A Netty WebSocket server whose every upgraded connection gets [MuxSession.server], handed to [onSession] on the loop.
 */
private class NettyMuxServer(config: MuxConfig, onSession: (MuxSession, Channel) -> Unit) : AutoCloseable {
    private val group =
        MultiThreadIoEventLoopGroup(1, DefaultThreadFactory("mux-test-server", true), NioIoHandler.newFactory())
    private val server: Channel = ServerBootstrap().group(group).channel(NioServerSocketChannel::class.java)
        .childHandler(object : ChannelInitializer<SocketChannel>() {
            override fun initChannel(ch: SocketChannel) {
                val upgrade = object : SimpleChannelInboundHandler<FullHttpRequest>() {
                    override fun channelRead0(ctx: ChannelHandlerContext, req: FullHttpRequest) {
                        val handshaker = WebSocketServerHandshakerFactory("ws://127.0.0.1/mux", null, false, 1 shl 20)
                            .newHandshaker(req)
                        ctx.pipeline().remove(this)
                        handshaker.handshake(ctx.channel(), req)
                        onSession(MuxSession.server(ctx.channel(), config), ctx.channel())
                    }
                }
                ch.pipeline().addLast(HttpServerCodec(), HttpObjectAggregator(8192), upgrade)
            }
        }).bind("127.0.0.1", 0).sync().channel()

    val url: String get() = "ws://127.0.0.1:${(server.localAddress() as InetSocketAddress).port}/mux"

    override fun close() {
        server.close().sync()
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync()
    }
}

/**
 * MuxSession.server over a Netty channel (the benchmark's peer): the transport's frame handling, then a real socket.
 */
class NettyChannelTransportSpec : FunSpec({
    test("pings are answered with the same payload, pongs counted, and neither reaches the session") {
        val e = Embedded()
        try {
            e.channel.writeInbound(PingWebSocketFrame(Unpooled.wrappedBuffer(byteArrayOf(1, 2))))
            e.channel.writeInbound(PongWebSocketFrame())
            e.channel.writeInbound(PongWebSocketFrame())
            val pong = e.written().shouldBeInstanceOf<PongWebSocketFrame>()
            ByteBufUtil.getBytes(pong.content()).toList() shouldBe listOf<Byte>(1, 2)
            pong.release()
            e.transport.pongs shouldBe 2L
            e.messages.shouldBeEmpty()
        } finally {
            e.finish()
        }
    }

    test("binary messages reach the session inline, fragments joined; text messages are dropped") {
        val e = Embedded()
        try {
            val dat = MuxFrame.Data(0, ByteArray(4096) { it.toByte() }).encode()
            e.channel.writeInbound(BinaryWebSocketFrame(Unpooled.wrappedBuffer(MuxFrame.Syn(1).encode())))
            e.channel.writeInbound(TextWebSocketFrame(false, 0, "ab"))
            e.channel.writeInbound(ContinuationWebSocketFrame(true, 0, "cd"))
            e.channel.writeInbound(BinaryWebSocketFrame(false, 0, Unpooled.wrappedBuffer(dat, 0, 4096)))
            val rest = Unpooled.wrappedBuffer(dat, 4096, dat.size - 4096)
            e.channel.writeInbound(ContinuationWebSocketFrame(true, 0, rest))
            e.messages.size shouldBe 2
            e.messages[0].toList() shouldBe MuxFrame.Syn(1).encode().toList()
            e.messages[1].contentEquals(dat) shouldBe true
        } finally {
            e.finish()
        }
    }

    test("messages go out as one binary frame each, keepalive pings as empty pings") {
        val e = Embedded()
        try {
            withTimeout(5_000) { e.transport.send(MuxFrame.Fin(2).encode()) }
            e.transport.trySend(MuxFrame.Ack(2, 7).encode()) shouldBe true
            withTimeout(5_000) { e.transport.ping() }
            for (expected in listOf(MuxFrame.Fin(2), MuxFrame.Ack(2, 7))) {
                val out = e.written().shouldBeInstanceOf<BinaryWebSocketFrame>()
                out.isFinalFragment shouldBe true
                ByteBufUtil.getBytes(out.content()).toList() shouldBe expected.encode().toList()
                out.release()
            }
            val ping = e.written().shouldBeInstanceOf<PingWebSocketFrame>()
            ping.content().readableBytes() shouldBe 0
            ping.release()
        } finally {
            e.finish()
        }
    }

    test("a DAT goes out as one frame of its header and the payload's slice, copied before sendData returns") {
        val e = Embedded()
        try {
            val payload = ByteArray(20_000) { (it % 251).toByte() }
            val expected = MuxFrame.Data(3, payload, 7, 16_384).encode()
            withTimeout(5_000) { e.transport.sendData(MuxFrame.dataHeader(3), payload, 7, 16_384) }
            payload.fill(0) // the caller reuses its buffer at once
            val out = e.written().shouldBeInstanceOf<BinaryWebSocketFrame>()
            ByteBufUtil.getBytes(out.content()).contentEquals(expected) shouldBe true
            out.release()
        } finally {
            e.finish()
        }
    }

    test(
        "a DAT's bytes stay in the buffer they were read into until read; the session's end detaches what is unread",
    ) {
        val channel = EmbeddedChannel()
        val session = MuxSession.server(channel, MuxConfig.DEFAULT)

        /** A frame in a buffer of the test's own; the test keeps a reference to watch who else holds one. */
        fun inbound(frame: MuxFrame) = Unpooled.buffer().writeBytes(frame.encode()).also {
            channel.writeInbound(BinaryWebSocketFrame(it.retain()))
            channel.runPendingTasks()
        }
        try {
            inbound(MuxFrame.Syn(1)).release()
            val stream = withTimeout(5_000) { session.accept() }
            val first = inbound(MuxFrame.Data(1, ByteArray(100) { 1 }))
            val second = inbound(MuxFrame.Data(1, ByteArray(50) { 2 }))
            val stray = inbound(MuxFrame.Data(99, ByteArray(10) { 3 }))
            // The frames were released after handling; the stream holds the DATs' buffers, nobody the stray one's.
            listOf(first, second, stray).map { it.refCnt() } shouldBe listOf(2, 2, 1)
            val into = ByteArray(100)
            stream.read(into, 0, 60) shouldBe 60
            first.refCnt() shouldBe 2
            stream.read(into, 60, 40) shouldBe 40
            into.all { it == 1.toByte() } shouldBe true
            first.refCnt() shouldBe 1 // read to its end: released
            // A peer that overruns a stream's window: the excess is dropped, and the stream, whose reads fail from now
            // on, lets go of what it held.
            inbound(MuxFrame.Syn(3)).release()
            val overrun = withTimeout(5_000) { session.accept() }
            val fits = inbound(MuxFrame.Data(3, ByteArray(MuxProtocol.DEFAULT_CAPACITY - 24)))
            fits.refCnt() shouldBe 2
            val excess = inbound(MuxFrame.Data(3, ByteArray(100)))
            listOf(fits, excess).map { it.refCnt() } shouldBe listOf(1, 1)
            shouldThrow<NoCapacityException> { overrun.read(into) }
            listOf(fits, excess).forEach { it.release() }
            withTimeout(5_000) { session.closeAndJoin() }
            second.refCnt() shouldBe 1 // detached by the session's end ...
            stream.read(into) shouldBe 50 // ... and still readable
            into.take(50).all { it == 2.toByte() } shouldBe true
            shouldThrow<MuxSessionClosedException> { stream.read(into) }
            listOf(first, second, stray).forEach { it.release() }
        } finally {
            channel.finishAndReleaseAll()
        }
    }

    test("a close frame ends the transport naming the peer's close; closing then answers it and drops the socket") {
        val e = Embedded()
        try {
            e.channel.writeInbound(CloseWebSocketFrame(1001, "bye"))
            e.ends.single().shouldBeInstanceOf<MuxSessionClosedException>().message shouldContain "1001 bye"
            e.channel.writeInbound(BinaryWebSocketFrame(Unpooled.wrappedBuffer(MuxFrame.Syn(1).encode())))
            e.messages.shouldBeEmpty() // nothing after the end
            e.transport.close()
            val answer = e.written().shouldBeInstanceOf<CloseWebSocketFrame>()
            answer.statusCode() shouldBe 1001
            answer.release()
            e.channel.isActive shouldBe false
        } finally {
            e.finish()
        }
    }

    test("the socket closing ends the transport once; sends then throw") {
        val e = Embedded()
        try {
            e.channel.close()
            e.channel.runPendingTasks()
            e.ends.single().shouldBeInstanceOf<MuxSessionClosedException>()
            runCatching { e.transport.trySend(MuxFrame.Fin(0).encode()) }
                .exceptionOrNull().shouldBeInstanceOf<MuxSessionClosedException>()
            runCatching { withTimeout(5_000) { e.transport.send(MuxFrame.Fin(0).encode()) } }
                .exceptionOrNull().shouldBeInstanceOf<MuxSessionClosedException>()
            e.ends.size shouldBe 1
        } finally {
            e.finish()
        }
    }

    test(
        "a server session on a Netty server channel serves a tether-core client end to end, inline on the channel's " +
            "event loop",
    ) {
        // A short keepalive: the session must see the client's pongs through this transport to stay up.
        val serverConfig = MuxConfig {
            streamBufferSize(4096)
            peerCapacity(4096)
            keepAliveInterval(Duration.ofMillis(100))
        }
        val scope = CoroutineScope(SupervisorJob())
        val onLoop = CopyOnWriteArrayList<Boolean>()
        val serverSession = CompletableFuture<MuxSession>()
        val serverLoop = CompletableFuture<io.netty.channel.EventLoop>()
        NettyMuxServer(serverConfig) { session, channel ->
            session.acceptInline { stream ->
                onLoop += channel.eventLoop().inEventLoop()
                // An echo: what the stream brings is written back, then FIN.
                scope.launch(Dispatchers.Unconfined) {
                    val buffer = ByteArray(8192)
                    while (true) {
                        val n = stream.read(buffer)
                        if (n < 0) break
                        stream.write(buffer, 0, n)
                    }
                    stream.close()
                }
            }
            serverLoop.complete(channel.eventLoop())
            serverSession.complete(session)
        }.use { server ->
            val dialer = WebSocketDialer(DialerConfig(server.url))
            try {
                val client = MuxSession.client(
                    dialer.dial(),
                    MuxConfig {
                        streamBufferSize(4096)
                        peerCapacity(4096)
                    },
                )
                val payload = ByteArray(300_000) { (it % 251).toByte() }
                withTimeout(30_000) {
                    val echoes = List(3) {
                        async {
                            val stream = client.open()
                            val reader = async {
                                val got = ByteArrayOutputStream()
                                val buffer = ByteArray(8192)
                                while (true) {
                                    val n = stream.read(buffer)
                                    if (n < 0) break
                                    got.write(buffer, 0, n)
                                }
                                got.toByteArray()
                            }
                            stream.write(payload)
                            stream.close()
                            reader.await()
                        }
                    }
                    for (echo in echoes) echo.await().contentEquals(payload) shouldBe true
                }
                onLoop.toList() shouldBe listOf(true, true, true)
                // Several keepalive intervals later the server session is still up: the client's pongs arrived.
                Thread.sleep(500)
                val session = serverSession.get(5, TimeUnit.SECONDS)
                session.isOpen shouldBe true
                // The session's dispatcher is the channel's event loop: code there needs no hand-off.
                val loop = serverLoop.get(5, TimeUnit.SECONDS)
                withContext(session.dispatcher) { loop.inEventLoop() } shouldBe true
                client.close()
                withTimeout(5_000) { session.closedFuture().await() }.shouldBeInstanceOf<MuxSessionClosedException>()
            } finally {
                dialer.close()
                scope.cancel()
            }
        }
    }
})
