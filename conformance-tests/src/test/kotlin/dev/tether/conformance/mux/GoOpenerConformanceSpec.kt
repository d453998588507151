package dev.tether.conformance.mux

import dev.tether.conformance.External
import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.testkit.mux.FakeMuxServer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.comparables.shouldBeLessThanOrEqualTo
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream

/**
 * §4's correction: an acceptor must not send more than the opener holds before the opener's ACKs, and a Go opener
 * with `wsmux.Config{}` holds 1024 bytes. The peer under test accepts with a 64 KiB buffer of its own (the fake is
 * configured so; an external echo server as it is), and [GoMuxClient] fails a stream the way Go does if it is
 * overrun even once.
 */
class GoOpenerConformanceSpec : FunSpec({
    val subject = MuxSubject.open { streamBufferSize(64 * 1024) }
    afterSpec { subject.close() }

    test("an opener holding Go's default 1024 bytes is never overrun: 64 streams each echo 1 MiB") {
        val dialer = WebSocketDialer(DialerConfig(subject.url))
        try {
            GoMuxClient(dialer.dial()).use { client ->
                withTimeout(50_000) {
                    coroutineScope {
                        (0 until 64).map { i ->
                            async {
                                val stream = client.open()
                                val data = ByteArray(1 shl 20) { ((it * 31 + i) % 251).toByte() }
                                val writer = launch {
                                    for (from in data.indices step 16 * 1024) {
                                        stream.write(data.copyOfRange(from, minOf(data.size, from + 16 * 1024)))
                                    }
                                    stream.close()
                                }
                                val echoed = ByteArrayOutputStream()
                                while (true) echoed.write(stream.read(4096) ?: break)
                                writer.join()
                                echoed.size() shouldBe data.size
                                echoed.toByteArray().contentEquals(data) shouldBe true
                                stream.highWater shouldBeLessThanOrEqualTo 1024
                            }
                        }.awaitAll()
                    }
                }
            }
        } finally {
            dialer.close()
        }
    }

    test(
        "the acceptor's first window follows peerCapacity: told the opener holds 4096, it overruns a Go opener " +
            "of 1024",
    )
        .config(
            enabledOrReasonIf = External.needsFake(
                MuxSubject.isFake,
                "a fake started with peerCapacity 4096 (a server setting)",
            ),
        ) {
            FakeMuxServer.start {
                streamBufferSize(64 * 1024)
                peerCapacity(4096)
            }.use { fake ->
                val dialer = WebSocketDialer(DialerConfig(fake.url))
                try {
                    GoMuxClient(dialer.dial()).use { client ->
                        withTimeout(10_000) {
                            val stream = client.open()
                            coroutineScope {
                                launch { stream.write(ByteArray(8192) { it.toByte() }) }
                                shouldThrow<GoMuxClient.OverrunException> { while (stream.read(4096) != null) Unit }
                                    .message shouldContain "4096 bytes arrived, 1024 free"
                            }
                        }
                    }
                } finally {
                    dialer.close()
                }
            }
        }
})
