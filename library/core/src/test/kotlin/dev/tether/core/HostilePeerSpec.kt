package dev.tether.core

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.ints.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.withTimeout
import java.io.IOException
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

/** What a server that does not play fair may do to a connection, on both transports. */
class HostilePeerSpec : FunSpec({
    for ((name, transport) in listOf("netty" to WebSocketTransport.netty(), "ktor" to WebSocketTransport.ktor())) {
        context(name) {
            fun dialer(url: String, block: DialerConfig.Builder.() -> Unit = {}) = WebSocketDialer(
                DialerConfig(url) {
                    pingInterval(Duration.ZERO)
                    transport(transport)
                    block()
                },
            )

            test("a first frame sent with the 101 that declares 2 GiB ends the connection, MessageTooLargeException") {
                RawWebSocketServer { peer ->
                    // The header only: a client that believed it would allocate 2 GiB and wait for the bytes.
                    peer.header(RawPeer.TEXT, 0x7FFF_FFF0L)
                    peer.flush()
                    // Until the client gives up on the connection.
                    try {
                        while (peer.readFrame()?.first.let { it != null && it != RawPeer.CLOSE }) continue
                    } catch (_: IOException) {
                        // the client cut the connection
                    }
                    Unit
                }.use { server ->
                    dialer(server.url) { maxMessageBytes(1000) }.use { d ->
                        val conn = d.dial()
                        withTimeout(10.seconds) { conn.awaitClosed() }.shouldBeInstanceOf<MessageTooLargeException>()
                    }
                }
            }

            test("messages received before the server's close all reach incoming, past its queue, before it closes") {
                val count = WebSocketConnection.INBOUND_QUEUE + 44
                RawWebSocketServer { peer ->
                    // Every message and the close in one write: the client reads them in one pass, so the close
                    // arrives while the messages beyond the queue still wait for room in incoming.
                    repeat(count) { peer.frame(RawPeer.TEXT, "m$it".toByteArray()) }
                    peer.frame(RawPeer.CLOSE, byteArrayOf(0x03, 0xE8.toByte()) + "done".toByteArray())
                    peer.flush()
                    while (peer.readFrame()?.first.let { it != null && it != RawPeer.CLOSE }) continue
                }.use { server ->
                    dialer(server.url).use { d ->
                        val conn = d.dial()
                        // On netty the close is read at once, before anything is taken; ktor's reader waits for room
                        // before it reads on, so there the end comes as the consumer takes the messages.
                        if (name == "netty") withTimeout(10.seconds) { conn.awaitClosed() }
                        val got = withTimeout(10.seconds) {
                            buildList { for (m in conn.incoming) add((m as WsMessage.Text).text) }
                        }
                        got shouldBe List(count) { "m$it" }
                        val cause = conn.awaitClosed().shouldBeInstanceOf<ConnectionClosedException>()
                        cause.code shouldBe 1000
                    }
                }
            }

            test("a server flooding pings and reading nothing: every data message arrives; its pings go unanswered") {
                val rounds = 100
                val pingsPerRound = 1000
                val payload = ByteArray(125) { 'p'.code.toByte() }
                RawWebSocketServer { peer ->
                    // Pong bytes (131 each) far beyond what the client's socket buffer and Netty's 1 MiB high water
                    // mark (or Ktor's outgoing queue) hold while nobody reads them.
                    for (round in 0 until rounds) {
                        repeat(pingsPerRound) { peer.frame(RawPeer.PING, payload) }
                        peer.frame(RawPeer.TEXT, "m$round".encodeToByteArray())
                    }
                    peer.flush()
                    // Now read what the client wrote: its pongs, then its close frame.
                    var pongs = 0
                    try {
                        while (true) {
                            val (opcode, data) = peer.readFrame() ?: break
                            if (opcode == RawPeer.PONG) pongs++
                            if (opcode == RawPeer.CLOSE) {
                                peer.frame(RawPeer.CLOSE, data)
                                peer.flush()
                                break
                            }
                        }
                    } catch (_: IOException) {
                        // the client cut the connection after its close wait
                    }
                    pongs
                }.use { server ->
                    dialer(server.url).use { d ->
                        val conn = d.dial()
                        val texts = withTimeout(60.seconds) {
                            List(rounds) { (conn.incoming.receive() as WsMessage.Text).text }
                        }
                        texts shouldBe List(rounds) { "m$it" }
                        conn.isOpen shouldBe true
                        conn.close()
                        val pongs = server.result.get(30, TimeUnit.SECONDS)
                        pongs shouldBeGreaterThan 0
                        // Unanswered while the socket was not writable: not queued without bound.
                        pongs shouldBeLessThan rounds * pingsPerRound
                    }
                }
            }
        }
    }
})
