@file:OptIn(InternalTetherApi::class)

package dev.tether.core

import dev.tether.core.netty.TetherEventLoops
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.ktor.http.HttpStatusCode
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.embeddedServer
import io.ktor.server.response.header
import io.ktor.server.response.respond
import io.ktor.server.routing.get
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSocketServerSession
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.readReason
import io.ktor.websocket.readText
import io.netty.channel.IoEventLoop
import io.netty.channel.MultiThreadIoEventLoopGroup
import io.netty.channel.epoll.Epoll
import io.netty.channel.epoll.EpollIoHandler
import io.netty.channel.nio.NioIoHandler
import io.netty.util.concurrent.DefaultThreadFactory
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

/** A raw WebSocket server on 127.0.0.1:0 whose behaviour each test scripts. */
private class ScriptedServer(val script: suspend WebSocketServerSession.() -> Unit) : AutoCloseable {
    private val server = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
        install(WebSockets)
        routing { webSocketRaw("/ws") { script() } }
    }.start(wait = false)
    val url = "ws://127.0.0.1:${runBlocking { server.engine.resolvedConnectors().first().port }}/ws"
    override fun close() = server.stop(0, 1000)
}

class WebSocketConnectionSpec : FunSpec({
    // A group of the caller's own, of the other I/O type than the shared one where epoll exists, so that both
    // channel kinds run every case here.
    val ownGroup = MultiThreadIoEventLoopGroup(
        1,
        DefaultThreadFactory("own-io", true),
        when {
            TetherEventLoops.isEpoll -> NioIoHandler.newFactory()
            Epoll.isAvailable() -> EpollIoHandler.newFactory()
            else -> NioIoHandler.newFactory()
        },
    )
    afterSpec { ownGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS) }

    test("the shared event loops run epoll where Netty's native library loads, NIO elsewhere") {
        TetherEventLoops.isEpoll shouldBe Epoll.isAvailable()
        val loop = TetherEventLoops.shared().next() as IoEventLoop
        loop.isIoType(EpollIoHandler::class.java) shouldBe Epoll.isAvailable()
    }

    val ownKind = if ((ownGroup.next() as IoEventLoop).isIoType(EpollIoHandler::class.java)) "epoll" else "NIO"
    val stacks = listOf(
        "netty" to WebSocketTransport.netty(),
        "netty on the caller's own $ownKind group" to WebSocketTransport.netty(ownGroup),
        "ktor" to WebSocketTransport.ktor(),
    )
    for ((name, stack) in stacks) {
        context(name) {
            fun dialer(url: String, block: DialerConfig.Builder.() -> Unit = {}) = WebSocketDialer(
                DialerConfig(url) {
                    pingInterval(Duration.ZERO)
                    transport(stack)
                    block()
                },
            )

            test("text sent as UTF-8 bytes arrives as that text; inbound text keeps its bytes, decoded on demand") {
                val received = CompletableDeferred<ByteArray>()
                ScriptedServer {
                    for (f in incoming) {
                        if (f is Frame.Text) {
                            received.complete(f.data)
                            outgoing.send(Frame.Text(true, f.data))
                        } else if (f is Frame.Close) {
                            break
                        }
                    }
                }.use { server ->
                    dialer(server.url).use { d ->
                        val conn = d.dial()
                        val text = "grüße, 世界 \uD83D\uDE00"
                        conn.sendText(text.encodeToByteArray())
                        withTimeout(10.seconds) { received.await() }.decodeToString() shouldBe text
                        val echo = withTimeout(10.seconds) { conn.incoming.receive() } as WsMessage.Text
                        echo.utf8 shouldBe text.encodeToByteArray()
                        echo.text shouldBe text
                        conn.trySendText("ok".encodeToByteArray()) shouldBe true
                        (withTimeout(10.seconds) { conn.incoming.receive() } as WsMessage.Text).text shouldBe "ok"
                        conn.close()
                    }
                }
            }

            test("sendBinary sends a head and a slice of a body as one message; the body is free once it returns") {
                ScriptedServer {
                    for (f in incoming) {
                        if (f is Frame.Binary) {
                            outgoing.send(Frame.Binary(true, f.data))
                        } else if (f is Frame.Close) {
                            break
                        }
                    }
                }.use { server ->
                    dialer(server.url).use { d ->
                        val conn = d.dial()
                        val body = ByteArray(70_000) { (it * 31).toByte() }
                        val expected = mutableListOf<ByteArray>()
                        for ((head, range) in listOf(byteArrayOf(0, 7, 0, 0, 0) to 3..20_002, ByteArray(0) to 0..0)) {
                            val slice = body.copyOfRange(range.first, range.last + 1)
                            expected += head + slice
                            conn.sendBinary(head, body, range.first, slice.size)
                            body.fill(-1, range.first, range.last + 1) // the caller reuses its buffer at once
                        }
                        for (e in expected) {
                            val echo = withTimeout(10.seconds) { conn.incoming.receive() } as WsMessage.Binary
                            echo.bytes.contentEquals(e) shouldBe true
                        }
                        shouldThrow<IllegalArgumentException> { conn.sendBinary(ByteArray(1), body, 69_999, 2) }
                        conn.close()
                    }
                }
            }

            test("a fragmented text message arrives as one message") {
                ScriptedServer {
                    outgoing.send(Frame.Text(false, "hel".encodeToByteArray()))
                    outgoing.send(Frame.Text(false, "lo ".encodeToByteArray()))
                    outgoing.send(Frame.Text(true, "world".encodeToByteArray()))
                    for (f in incoming) if (f is Frame.Close) break
                }.use { server ->
                    dialer(server.url).use { d ->
                        val conn = d.dial()
                        val message = withTimeout(10.seconds) { conn.incoming.receive() }
                        (message as WsMessage.Text).text shouldBe "hello world"
                        conn.close()
                    }
                }
            }

            test("fragments adding up past the limit end the connection with MessageTooLargeException, close 1009") {
                val seen = CompletableDeferred<CloseReason?>()
                ScriptedServer {
                    repeat(3) { outgoing.send(Frame.Binary(false, ByteArray(400))) }
                    outgoing.send(Frame.Binary(true, ByteArray(400)))
                    for (f in incoming) {
                        if (f is Frame.Close) {
                            seen.complete(f.readReason())
                            break
                        }
                    }
                }.use { server ->
                    dialer(server.url) { maxMessageBytes(1000) }.use { d ->
                        val conn = d.dial()
                        withTimeout(10.seconds) { conn.awaitClosed() }.shouldBeInstanceOf<MessageTooLargeException>()
                        withTimeout(10.seconds) { seen.await() }?.code shouldBe CloseReason.Codes.TOO_BIG.code
                    }
                }
            }

            test(
                "one frame over the limit ends the connection with MessageTooLargeException",
            ).config(invocations = 40) {
                ScriptedServer {
                    outgoing.send(Frame.Text("x".repeat(5000)))
                    for (f in incoming) if (f is Frame.Close) break
                }.use { server ->
                    dialer(server.url) { maxMessageBytes(1000) }.use { d ->
                        val conn = d.dial()
                        withTimeout(10.seconds) { conn.awaitClosed() }.shouldBeInstanceOf<MessageTooLargeException>()
                    }
                }
            }

            test("server pings are answered with the same payload") {
                val pong = CompletableDeferred<ByteArray>()
                ScriptedServer {
                    outgoing.send(Frame.Ping("7".encodeToByteArray()))
                    for (f in incoming) {
                        if (f is Frame.Pong) {
                            pong.complete(f.data)
                            break
                        }
                    }
                }.use { server ->
                    dialer(server.url).use { d ->
                        d.dial()
                        withTimeout(10.seconds) { pong.await() }.decodeToString() shouldBe "7"
                    }
                }
            }

            test("client pings carry a counter; answered pings keep the connection, unanswered ones expire it") {
                val pings = Channel<String>(Channel.UNLIMITED)
                ScriptedServer {
                    for (f in incoming) {
                        if (f is Frame.Ping) {
                            val n = f.data.decodeToString()
                            pings.send(n)
                            if (n.toInt() <= 3) outgoing.send(Frame.Pong(f.data))
                        }
                    }
                }.use { server ->
                    dialer(server.url) {
                        pingInterval(Duration.ofMillis(50))
                        pongTimeout(Duration.ofMillis(1000))
                    }.use { d ->
                        val conn = d.dial()
                        withTimeout(10.seconds) { List(4) { pings.receive() } } shouldBe listOf("1", "2", "3", "4")
                        val cause = withTimeout(10.seconds) { conn.awaitClosed() }
                        cause.shouldBeInstanceOf<KeepAliveExpiredException>().timeoutMillis shouldBe 1000
                    }
                }
            }

            test("close sends the code and reason; sending afterwards fails with the recorded cause") {
                val seen = CompletableDeferred<CloseReason?>()
                ScriptedServer {
                    for (f in incoming) {
                        if (f is Frame.Close) {
                            seen.complete(f.readReason())
                            outgoing.send(Frame.Close(f.readReason()!!))
                            break
                        }
                    }
                }.use { server ->
                    dialer(server.url).use { d ->
                        val conn = d.dial()
                        conn.close(1000, "client shutdown").shouldBeInstanceOf<ConnectionClosedException>()
                        withTimeout(10.seconds) { seen.await() } shouldBe CloseReason(1000, "client shutdown")
                        conn.isOpen shouldBe false
                        shouldThrow<ConnectionClosedException> { conn.send("late") }
                    }
                }
            }

            test("every frame send accepted before close reaches the server, in order, before the close frame") {
                val received = Channel<Frame>(Channel.UNLIMITED)
                ScriptedServer {
                    for (f in incoming) {
                        received.send(f)
                        if (f is Frame.Close) {
                            outgoing.send(Frame.Close(f.readReason()!!))
                            break
                        }
                    }
                }.use { server ->
                    dialer(server.url).use { d ->
                        val conn = d.dial()
                        // Queued without waiting (trySend) and waiting for room (send), as callers do.
                        var n = 0
                        while (n < 300) {
                            if (!conn.trySend("m$n")) conn.send("m$n")
                            n++
                        }
                        conn.close(1000, "done")
                        val texts = ArrayList<String>()
                        withTimeout(10.seconds) {
                            while (true) {
                                when (val f = received.receive()) {
                                    is Frame.Text -> texts += f.readText()

                                    is Frame.Close -> {
                                        f.readReason() shouldBe CloseReason(1000, "done")
                                        break
                                    }

                                    else -> Unit
                                }
                            }
                        }
                        texts shouldBe (0 until 300).map { "m$it" }
                    }
                }
            }

            test("a send waiting for room ends with the dropped connection, never cancelled").config(invocations = 5) {
                val drop = CompletableDeferred<Unit>()
                ScriptedServer {
                    drop.await() // reads nothing until then, so the client's socket and queues fill up
                    cancel()
                }.use { server ->
                    dialer(server.url) { outgoingFrames(1) }.use { d ->
                        val conn = d.dial()
                        val big = "x".repeat(1 shl 20)
                        // Fill the socket buffers, Ktor's queue and ours: trySend refuses once nothing moves any more.
                        withTimeout(30.seconds) { while (conn.trySend(big)) Unit }
                        // A send that suspends (no room); one that still found room just completes, so try again.
                        val waiting = withTimeout(30.seconds) {
                            var w: Deferred<Result<Unit>>
                            do {
                                w = async(start = CoroutineStart.UNDISPATCHED) { runCatching { conn.send(big) } }
                            } while (!w.isActive)
                            w
                        }
                        drop.complete(Unit)
                        // The waiting send either got its frame queued (it is lost with the connection, like every
                        // frame still queued) or fails with the end cause; it never hangs, no cancellation.
                        val failure = withTimeout(10.seconds) { waiting.await() }.exceptionOrNull()
                        if (failure != null) failure.shouldBeInstanceOf<ConnectionException>()
                        withTimeout(10.seconds) { conn.awaitClosed() }
                        shouldThrow<ConnectionException> { conn.send(big) }
                    }
                }
            }

            test("a close from the server ends the connection with its code and reason") {
                ScriptedServer {
                    outgoing.send(Frame.Close(CloseReason(1008, "too many bad frames")))
                    for (f in incoming) if (f is Frame.Close) break
                }.use { server ->
                    dialer(server.url).use { d ->
                        val cause = withTimeout(10.seconds) { d.dial().awaitClosed() }
                            .shouldBeInstanceOf<ConnectionClosedException>()
                        cause.code shouldBe 1008
                        cause.reason shouldBe "too many bad frames"
                    }
                }
            }

            test("messages the consumer has not taken yet wait in order while the socket is not read (backpressure)") {
                val count = 3 * WebSocketConnection.INBOUND_QUEUE
                ScriptedServer {
                    repeat(count) { outgoing.send(Frame.Text("m$it")) }
                    for (f in incoming) if (f is Frame.Close) break
                }.use { server ->
                    dialer(server.url).use { d ->
                        val conn = d.dial()
                        val got = withTimeout(20.seconds) {
                            List(count) { (conn.incoming.receive() as WsMessage.Text).text }
                        }
                        got shouldBe List(count) { "m$it" }
                        conn.close()
                    }
                }
            }

            test("a consumer slower than the pong timeout keeps its connection: the pong behind its messages counts") {
                val count = WebSocketConnection.INBOUND_QUEUE + 44
                val pings = Channel<String>(Channel.UNLIMITED)
                ScriptedServer {
                    repeat(count) { outgoing.send(Frame.Text("m$it")) }
                    for (f in incoming) {
                        if (f is Frame.Ping) {
                            outgoing.send(Frame.Pong(f.data))
                            pings.send(f.data.decodeToString())
                        }
                    }
                }.use { server ->
                    dialer(server.url) {
                        pingInterval(Duration.ofMillis(50))
                        pongTimeout(Duration.ofMillis(200))
                    }.use { d ->
                        val conn = d.dial()
                        withTimeout(10.seconds) { pings.receive() } shouldBe "1"
                        // Five pong timeouts pass with nothing taken: the answer to ping 1 waits unread behind the
                        // messages (a connection that counted it missing would have ended by now).
                        delay(1_000)
                        conn.endCause shouldBe null
                        val got = withTimeout(10.seconds) {
                            List(count) { (conn.incoming.receive() as WsMessage.Text).text }
                        }
                        got shouldBe List(count) { "m$it" }
                        // Caught up: the pong is read and the keepalive goes on.
                        withTimeout(10.seconds) { pings.receive() } shouldBe "2"
                        conn.endCause shouldBe null
                        conn.close()
                    }
                }
            }

            test("a listener gets every message in order on the connection's I/O thread; incoming stays empty") {
                ScriptedServer {
                    repeat(100) { outgoing.send(Frame.Binary(true, byteArrayOf(it.toByte()))) }
                    for (f in incoming) if (f is Frame.Close) break
                }.use { server ->
                    dialer(server.url).use { d ->
                        val seen = java.util.concurrent.CopyOnWriteArrayList<Int>()
                        val threads = java.util.concurrent.ConcurrentHashMap.newKeySet<String>()
                        val all = CompletableDeferred<Unit>()
                        val conn = d.dial { m ->
                            seen.add((m as WsMessage.Binary).bytes[0].toInt())
                            threads.add(Thread.currentThread().name)
                            if (seen.size == 100) all.complete(Unit)
                        }
                        withTimeout(10.seconds) { all.await() }
                        seen shouldBe List(100) { it }
                        conn.incoming.tryReceive().getOrNull() shouldBe null
                        val expected = kotlinx.coroutines.withContext(conn.dispatcher) {
                            Thread.currentThread().name.substringBefore(" @")
                        }
                        if (name == "netty") threads shouldBe setOf(expected)
                        conn.close()
                    }
                }
            }

            test("listen with buffers: whole binary messages come in their buffer on netty, in order with the rest") {
                ScriptedServer {
                    // Messages read before listen() wait in incoming and reach the listener as arrays: send once the
                    // client says it listens.
                    incoming.receive()
                    outgoing.send(Frame.Binary(true, byteArrayOf(1, 2, 3)))
                    outgoing.send(Frame.Text("between"))
                    outgoing.send(Frame.Binary(false, byteArrayOf(4)))
                    outgoing.send(Frame.Binary(true, byteArrayOf(5))) // fragmented: joined, to the listener
                    outgoing.send(Frame.Binary(true, ByteArray(70_000) { 6 }))
                    for (f in incoming) if (f is Frame.Close) break
                }.use { server ->
                    val observer = RecordingObserver()
                    dialer(server.url) { observer(observer) }.use { d ->
                        val conn = d.dial()
                        val seen = java.util.concurrent.CopyOnWriteArrayList<String>()
                        val all = CompletableDeferred<Unit>()
                        fun saw(what: String) {
                            seen += what
                            if (seen.size == 4) all.complete(Unit)
                        }
                        val kept = java.util.concurrent.CopyOnWriteArrayList<io.netty.buffer.ByteBuf>()
                        conn.listen(
                            { m ->
                                when (m) {
                                    is WsMessage.Binary -> saw("array ${m.bytes.size}")
                                    is WsMessage.Text -> saw("text ${m.text}")
                                }
                            },
                            { content ->
                                kept += content.retain() // lent for the call: kept only by retaining it
                                saw("buffer ${content.readableBytes()}")
                            },
                        ) shouldBe true
                        conn.send("listening")
                        withTimeout(10.seconds) { all.await() }
                        val binary = if (name == "ktor") "array" else "buffer"
                        seen shouldBe listOf("$binary 3", "text between", "array 2", "$binary 70000")
                        kept.map { io.netty.buffer.ByteBufUtil.getBytes(it).sum() } shouldBe
                            if (name == "ktor") emptyList() else listOf(6, 6 * 70_000)
                        kept.forEach { it.release() }
                        observer.events().filter { it.startsWith("received") } shouldBe
                            listOf("received 3", "received 7", "received 2", "received 70000")
                        conn.close()
                    }
                }
            }

            test("an observer sees the connection open, every message both ways with its UTF-8 size, pongs, one end") {
                val observer = RecordingObserver()
                ScriptedServer {
                    for (f in incoming) {
                        when (f) {
                            is Frame.Text, is Frame.Binary -> outgoing.send(f.copy())

                            is Frame.Ping -> outgoing.send(Frame.Pong(f.data))

                            // a raw session answers nothing itself
                            is Frame.Close -> break

                            else -> Unit
                        }
                    }
                }.use { server ->
                    dialer(server.url) {
                        observer(observer)
                        pingInterval(Duration.ofMillis(20))
                    }.use { d ->
                        val conn = d.dial()
                        conn.send("héllo") // 6 bytes in UTF-8
                        conn.send(byteArrayOf(1, 2, 3))
                        withTimeout(10.seconds) { conn.incoming.receive() }
                        withTimeout(10.seconds) { conn.incoming.receive() }
                        withTimeout(10.seconds) { observer.pong.await() } shouldBeGreaterThan 0L
                        conn.close()
                        withTimeout(10.seconds) { observer.closed.await() }
                            .shouldBeInstanceOf<ConnectionClosedException>()
                    }
                }
                val events = observer.events()
                events.first() shouldBe "connected"
                events.last() shouldBe "closed"
                // Each direction in order; an echo may be counted before the next send returns.
                events.filter { it.startsWith("sent") } shouldBe listOf("sent 6", "sent 3")
                events.filter { it.startsWith("received") } shouldBe listOf("received 6", "received 3")
                events.size shouldBe 6
            }

            test("a refused dial is one dialFailed with its cause, and no connected or closed") {
                val observer = RecordingObserver()
                ScriptedServer { }.use { server ->
                    dialer(server.url.replace("/ws", "/nowhere")) { observer(observer) }.use { d ->
                        val e = shouldThrow<HandshakeRejectedException> { d.dial() }
                        observer.events() shouldBe listOf("dialFailed ${e.status}")
                    }
                }
            }

            test("an observer that throws neither breaks the connection nor reaches the caller") {
                val throwing = object : TransportObserver {
                    override fun connected() = throw IllegalStateException("observer bug")
                    override fun messageSent(bytes: Int) = throw IllegalStateException("observer bug")
                    override fun messageReceived(bytes: Int) = throw IllegalStateException("observer bug")
                }
                ScriptedServer {
                    for (f in incoming) {
                        if (f is Frame.Text) {
                            outgoing.send(f.copy())
                        } else if (f is Frame.Close) {
                            break
                        }
                    }
                }.use { server ->
                    dialer(server.url) { observer(throwing) }.use { d ->
                        val conn = d.dial()
                        conn.send("x")
                        (withTimeout(10.seconds) { conn.incoming.receive() } as WsMessage.Text).text shouldBe "x"
                        conn.close()
                    }
                }
            }

            test("a refused upgrade keeps its status: 401 is AuthenticationFailed, 503 carries Retry-After") {
                val server = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
                    routing {
                        get("/auth") { call.respond(HttpStatusCode.Unauthorized, "no") }
                        get("/busy") {
                            call.response.header("Retry-After", "7")
                            call.respond(HttpStatusCode.ServiceUnavailable, "later")
                        }
                    }
                }.start(wait = false)
                try {
                    val base = "ws://127.0.0.1:${server.engine.resolvedConnectors().first().port}"
                    dialer("$base/auth").use { d ->
                        shouldThrow<AuthenticationFailedException> { d.dial() }.status shouldBe 401
                    }
                    dialer("$base/busy").use { d ->
                        val e = shouldThrow<HandshakeRejectedException> { d.dial() }
                        e.status shouldBe 503
                        e.retryAfterSeconds shouldBe 7L
                    }
                } finally {
                    server.stop(0, 500)
                }
            }
        }
    }

    test("the configured config is validated with clear messages") {
        shouldThrow<IllegalArgumentException> { DialerConfig("ftp://x") }.message shouldBe
            "url must start with ws://, wss://, http:// or https://: ftp://x"
        shouldThrow<IllegalArgumentException> { DialerConfig("ws://x") { maxMessageBytes(0) } }
        shouldThrow<IllegalArgumentException> { DialerConfig("ws://x") { dialTimeout(Duration.ZERO) } }
        WebSocketDialer.wsUrl("https://h/p") shouldBe "wss://h/p"
        WebSocketDialer.wsUrl("http://h/p") shouldBe "ws://h/p"
    }
})

/** Records what a [TransportObserver] is told, in order (pongs apart: their number depends on timing). */
private class RecordingObserver : TransportObserver {
    private val events = java.util.Collections.synchronizedList(ArrayList<String>())
    val pong = CompletableDeferred<Long>()
    val closed = CompletableDeferred<ConnectionException>()
    fun events(): List<String> = synchronized(events) { events.toList() }
    override fun connected() {
        events += "connected"
    }
    override fun dialFailed(cause: ConnectionException) {
        events += "dialFailed ${(cause as? HandshakeRejectedException)?.status ?: cause::class.simpleName}"
    }
    override fun closed(cause: ConnectionException) {
        events += "closed"
        closed.complete(cause)
    }
    override fun messageReceived(bytes: Int) {
        events += "received $bytes"
    }
    override fun messageSent(bytes: Int) {
        events += "sent $bytes"
    }
    override fun pongReceived(roundTripNanos: Long) {
        pong.complete(roundTripNanos)
    }
}
