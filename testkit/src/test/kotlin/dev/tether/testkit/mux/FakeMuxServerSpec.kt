package dev.tether.testkit.mux

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxSession
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream

class FakeMuxServerSpec : FunSpec({
    suspend fun <T> withClient(fake: FakeMuxServer, block: suspend (MuxSession) -> T): T {
        val dialer = WebSocketDialer(DialerConfig(fake.url))
        val session = MuxSession.client(dialer.dial(), MuxConfig.DEFAULT)
        try {
            return withTimeout(20_000) { block(session) }
        } finally {
            session.close()
            dialer.close()
        }
    }

    test("echo streams return what they get and FIN after the client's FIN") {
        FakeMuxServer.start().use { fake ->
            withClient(fake) { s ->
                val stream = s.open()
                val data = ByteArray(10_000) { (it % 7).toByte() }
                stream.write(data)
                stream.close()
                val out = ByteArrayOutputStream()
                val buf = ByteArray(1500)
                while (true) {
                    val n = stream.read(buf)
                    if (n < 0) break
                    out.write(buf, 0, n)
                }
                out.toByteArray().contentEquals(data) shouldBe true
                fake.acceptedStreamIds() shouldBe listOf(1L)
            }
        }
    }

    test("source and sink behaviours, chosen per server and per stream") {
        FakeMuxServer.start {
            behaviour(StreamBehaviour.SOURCE)
            sourceBytes(5000)
        }.use { fake ->
            fake.behaviourFor(3, StreamBehaviour.SINK)
            withClient(fake) { s ->
                val source = s.open()
                var total = 0
                val buf = ByteArray(4096)
                while (true) {
                    val n = source.read(buf)
                    if (n < 0) break
                    for (i in 0 until n) buf[i] shouldBe ((total + i) % 251).toByte()
                    total += n
                }
                total shouldBe 5000
                val sink = s.open()
                sink.id shouldBe 3L
                sink.write(ByteArray(3000))
                sink.close()
                sink.read(buf) shouldBe -1
                fake.bytesSunk() shouldBe 3000L
            }
        }
    }

    test("latency delays inbound frames without losing or reordering any") {
        FakeMuxServer.start().use { fake ->
            fake.faults.latency(java.time.Duration.ofMillis(5))
            withClient(fake) { s ->
                val stream = s.open()
                val data = ByteArray(6000) { (it % 11).toByte() }
                stream.write(data)
                stream.close()
                val out = ByteArrayOutputStream()
                val buf = ByteArray(1000)
                while (true) {
                    val n = stream.read(buf)
                    if (n < 0) break
                    out.write(buf, 0, n)
                }
                out.toByteArray().contentEquals(data) shouldBe true
            }
            fake.faults.reset()
        }
    }

    test("dropAll ends the client's session and fails its open streams") {
        FakeMuxServer.start().use { fake ->
            withClient(fake) { s ->
                val stream = s.open()
                fake.awaitSessions(1)
                fake.faults.dropAll() shouldBe 1
                fake.faults.dropAll() shouldBe 0 // the dropped session may still be listed: it is not dropped twice
                shouldThrow<MuxException> { stream.read(ByteArray(4)) }
                s.awaitClosed()
                s.isOpen shouldBe false
            }
        }
    }
})
