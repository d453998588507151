package dev.tether.cli

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import dev.tether.testkit.mux.FakeMuxServer
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.random.Random
import kotlin.time.Duration.Companion.seconds

/** wsmux against the embedded echo server: several streams, flow control, and a keepalive expiry. */
class MuxDemo : DemoSection {
    override val title: String = "wsmux: streams over one WebSocket vs. the fake mux server"

    override suspend fun run(out: DemoOutput) {
        FakeMuxServer.start().use { server ->
            out.step("fake mux server listening at ${server.url} (every stream echoes)")
            val traffic = DemoTraffic()
            val dialer = WebSocketDialer(
                DialerConfig.builder().url(server.url)
                    .pingInterval(Duration.ofMillis(300)).pongTimeout(Duration.ofMillis(300))
                    .observer(traffic)
                    .build(),
            )
            dialer.use {
                val session = MuxSession.client(dialer.dial(), MuxConfig { streamBufferSize(4096) })
                coroutineScope {
                    val sizes = listOf(10, 4096, 100_000, 1_000_000)
                    val results = sizes.map { size ->
                        async {
                            val stream = session.open()
                            val data = Random(size).nextBytes(size)
                            val writer = async {
                                stream.write(data)
                                stream.close()
                            }
                            val back = java.io.ByteArrayOutputStream()
                            val buffer = ByteArray(8192)
                            while (true) {
                                val n = stream.read(buffer)
                                if (n < 0) break
                                back.write(buffer, 0, n)
                            }
                            writer.await()
                            Triple(stream.id, size, back.toByteArray().contentEquals(data))
                        }
                    }.awaitAll()
                    for ((id, size, same) in results) {
                        val verdict = if (same) "byte for byte" else "CORRUPTED"
                        out.ok("stream $id: sent $size bytes, read them back $verdict")
                        check(same) { "stream $id corrupted" }
                    }
                }
                out.ok(
                    "flow control: each stream's window is what the server granted (4096 bytes); " +
                        "writers waited for ACK credit",
                )
                server.faults.stopKeepalive(true)
                out.step("the server stops answering pings (client pings every 300 ms, pong timeout 300 ms)")
                val reason = withTimeout(10.seconds) { session.awaitClosed() }
                out.ok("keepalive expiry detected: ${reason::class.simpleName}: ${reason.message}")
                val stats = session.stats()
                out.stats(
                    "the wsmux session",
                    traffic.counts() + listOf(
                        "streams opened" to stats.streamsOpened,
                        "frames out" to stats.framesOut,
                        "frames in" to stats.framesIn,
                        "stream bytes out" to stats.bytesOut,
                        "stream bytes in" to stats.bytesIn,
                        "acks in" to stats.acksIn,
                        "frames dropped" to stats.malformedFrames + stats.unknownStreamFrames + stats.overruns,
                    ),
                )
            }
        }
    }
}
