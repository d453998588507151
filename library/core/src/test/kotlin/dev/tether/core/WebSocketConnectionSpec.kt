package dev.tether.core

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.embeddedServer
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSocketServerSession
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.readReason
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.time.Duration
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
    fun dialer(url: String, block: DialerConfig.Builder.() -> Unit = {}) =
        WebSocketDialer(DialerConfig(url) { pingInterval(Duration.ZERO); block() })

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

    test("fragments that add up past the limit end the connection with MessageTooLargeException and close 1009") {
        val seen = CompletableDeferred<CloseReason?>()
        ScriptedServer {
            repeat(3) { outgoing.send(Frame.Binary(false, ByteArray(400))) }
            outgoing.send(Frame.Binary(true, ByteArray(400)))
            for (f in incoming) if (f is Frame.Close) { seen.complete(f.readReason()); break }
        }.use { server ->
            dialer(server.url) { maxMessageBytes(1000) }.use { d ->
                val conn = d.dial()
                withTimeout(10.seconds) { conn.awaitClosed() }.shouldBeInstanceOf<MessageTooLargeException>()
                withTimeout(10.seconds) { seen.await() }?.code shouldBe CloseReason.Codes.TOO_BIG.code
            }
        }
    }

    test("a single frame over the limit ends the connection with MessageTooLargeException").config(invocations = 40) {
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
            for (f in incoming) if (f is Frame.Pong) { pong.complete(f.data); break }
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
            dialer(server.url) { pingInterval(Duration.ofMillis(50)); pongTimeout(Duration.ofMillis(1000)) }.use { d ->
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
            for (f in incoming) if (f is Frame.Close) { seen.complete(f.readReason()); outgoing.send(Frame.Close(f.readReason()!!)); break }
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

    test("a close from the server ends the connection with its code and reason") {
        ScriptedServer {
            outgoing.send(Frame.Close(CloseReason(1008, "too many bad frames")))
            for (f in incoming) if (f is Frame.Close) break
        }.use { server ->
            dialer(server.url).use { d ->
                val cause = withTimeout(10.seconds) { d.dial().awaitClosed() }.shouldBeInstanceOf<ConnectionClosedException>()
                cause.code shouldBe 1008
                cause.reason shouldBe "too many bad frames"
            }
        }
    }

    test("the configured config is validated with clear messages") {
        shouldThrow<IllegalArgumentException> { DialerConfig("ftp://x") }.message shouldBe "url must start with ws://, wss://, http:// or https://: ftp://x"
        shouldThrow<IllegalArgumentException> { DialerConfig("ws://x") { maxMessageBytes(0) } }
        shouldThrow<IllegalArgumentException> { DialerConfig("ws://x") { dialTimeout(Duration.ZERO) } }
        WebSocketDialer.wsUrl("https://h/p") shouldBe "wss://h/p"
        WebSocketDialer.wsUrl("http://h/p") shouldBe "ws://h/p"
    }
})
