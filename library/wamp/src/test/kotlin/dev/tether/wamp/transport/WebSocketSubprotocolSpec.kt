package dev.tether.wamp.transport

import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import kotlinx.coroutines.withTimeout
import java.net.InetAddress
import java.net.ServerSocket
import java.security.MessageDigest
import java.util.Base64
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread
import kotlin.time.Duration.Companion.seconds

/**
 * The client's side of the subprotocol negotiation (spec "WebSocket subprotocols", vectors §5): it offers the
 * configured serialization's subprotocol and refuses a 101 that names another or none.
 */
class WebSocketSubprotocolSpec : FunSpec({
    /**
     * A one-connection server that completes the upgrade answering [chosen] (no header when null) and then
     * holds the connection until the client goes; completes with the request's Sec-WebSocket-Protocol.
     */
    fun upgradeServer(chosen: String?): Pair<String, CompletableFuture<String?>> {
        val server = ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))
        val offered = CompletableFuture<String?>()
        thread(isDaemon = true, name = "subprotocol-server") {
            server.use {
                it.soTimeout = 10_000
                it.accept().use { socket ->
                    socket.soTimeout = 10_000
                    val head = StringBuilder()
                    val input = socket.getInputStream()
                    while (!head.endsWith("\r\n\r\n")) {
                        val b = input.read()
                        if (b < 0) break
                        head.append(b.toChar())
                    }
                    val headers = head.lines().drop(1).filter { ':' in it }
                        .associate { it.substringBefore(':').trim().lowercase() to it.substringAfter(':').trim() }
                    offered.complete(headers["sec-websocket-protocol"])
                    val accept = Base64.getEncoder().encodeToString(
                        MessageDigest.getInstance(
                            "SHA-1",
                        ).digest((headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").toByteArray()),
                    )
                    val response = buildString {
                        append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
                        append("Sec-WebSocket-Accept: $accept\r\n")
                        if (chosen != null) append("Sec-WebSocket-Protocol: $chosen\r\n")
                        append("\r\n")
                    }
                    socket.getOutputStream().apply {
                        write(response.toByteArray())
                        flush()
                    }
                    runCatching { while (input.read() >= 0) Unit } // until the client closes
                }
            }
        }
        return "ws://127.0.0.1:${server.localPort}/" to offered
    }

    test("the client offers exactly the configured serialization's subprotocol") {
        withTimeout(10.seconds) {
            for (ser in Serialization.entries) {
                val (url, offered) = upgradeServer(ser.subprotocol)
                // The fake router never answers HELLO; only the upgrade matters here.
                runCatching {
                    WampSession.connect(
                        url,
                        SessionConfig("realm1") {
                            serialization(ser)
                            responseTimeout(1.seconds)
                        },
                    )
                }
                offered.get(5, TimeUnit.SECONDS) shouldBe ser.subprotocol
            }
        }
    }

    test("a router that picks another subprotocol is refused with ProtocolViolationException") {
        withTimeout(10.seconds) {
            val (url, _) = upgradeServer("wamp.2.msgpack")
            val e = shouldThrow<ProtocolViolationException> { WampSession.connect(url, SessionConfig("realm1")) }
            e.message shouldContain "wamp.2.msgpack instead of wamp.2.json"
        }
    }

    test("a router that names no subprotocol is refused with ProtocolViolationException") {
        withTimeout(10.seconds) {
            val (url, _) = upgradeServer(null)
            val e =
                shouldThrow<ProtocolViolationException> {
                    WampSession.connect(url, SessionConfig("realm1") { serialization(Serialization.CBOR) })
                }
            e.message shouldContain "(none) instead of wamp.2.cbor"
        }
    }
})
