package dev.tether.core.netty

import dev.tether.core.DialFailedException
import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.core.WebSocketTransport
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.string.shouldContain
import java.net.InetAddress
import java.net.ServerSocket
import java.time.Duration
import kotlin.concurrent.thread

class UpgradeAnswerSpec : FunSpec({
    test("an upgrade answer too big to parse is a failed dial, not a refusal with a made-up status") {
        ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { server ->
            val peer = thread(isDaemon = true) {
                server.accept().use { s ->
                    // Read the request head, then answer with one header far over Netty's 8 KiB head limit.
                    val input = s.getInputStream()
                    var tail = 0
                    while (tail != 0x0d0a0d0a) {
                        val b = input.read()
                        if (b < 0) break
                        tail = (tail shl 8) or b
                    }
                    val big = "a".repeat(10_000)
                    s.getOutputStream().write("HTTP/1.1 101 Switching Protocols\r\nX-Big: $big\r\n\r\n".toByteArray())
                    s.getOutputStream().flush()
                    input.read() // hold the socket until the client gives up
                }
            }
            val config = DialerConfig("ws://127.0.0.1:${server.localPort}/ws") {
                dialTimeout(Duration.ofSeconds(10))
                transport(WebSocketTransport.netty())
            }
            val e = WebSocketDialer(config).use { d -> shouldThrow<DialFailedException> { d.dial() } }
            e.message!! shouldContain "unreadable upgrade answer"
            peer.join(10_000)
        }
    }
})
