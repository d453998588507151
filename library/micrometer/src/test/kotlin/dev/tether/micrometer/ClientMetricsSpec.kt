package dev.tether.micrometer

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import dev.tether.mux.StreamRefusedException
import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelConfig
import dev.tether.tunnel.TunnelHandler
import dev.tether.tunnel.TunnelResponse
import dev.tether.tunnel.TunnelTokens
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.simple.SimpleMeterRegistry
import kotlinx.coroutines.async
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlin.time.Duration.Companion.seconds

private fun MeterRegistry.countOf(name: String, vararg tags: String): Double =
    find(name).tags(*tags).functionCounter()?.count() ?: -1.0

private fun MeterRegistry.gaugeOf(name: String, vararg tags: String): Double =
    find(name).tags(*tags).gauge()?.value() ?: -1.0

/** MuxMetrics and TunnelMetrics: a session's and a tunnel client's own counters, read when the registry is scraped. */
class ClientMetricsSpec : FunSpec({
    test("a wsmux session's streams, frames and bytes reach the registry, read from its stats") {
        val registry = SimpleMeterRegistry()
        FakeMuxServer.start().use { fake ->
            WebSocketDialer(DialerConfig(fake.url)).use { dialer ->
                withTimeout(20.seconds) {
                    val session = MuxSession.client(dialer.dial())
                    try {
                        MuxMetrics(session, "mux", listOf(Tag.of("env", "test"))).bindTo(registry)
                        registry.countOf("tether.mux.streams", "client", "mux", "direction", "out") shouldBe 0.0
                        val stream = session.open()
                        stream.write("hello, wsmux".toByteArray())
                        registry.gaugeOf("tether.mux.streams.open", "client", "mux", "env", "test") shouldBe 1.0
                        stream.close()
                        val echoed = ByteArrayOutputStream()
                        val buffer = ByteArray(64)
                        while (true) {
                            val n = stream.read(buffer)
                            if (n < 0) break
                            echoed.write(buffer, 0, n)
                        }
                        echoed.toString(Charsets.UTF_8) shouldBe "hello, wsmux"
                        registry.countOf("tether.mux.streams", "client", "mux", "direction", "out") shouldBe 1.0
                        registry.countOf("tether.mux.streams", "client", "mux", "direction", "in") shouldBe 0.0
                        registry.countOf("tether.mux.bytes", "client", "mux", "direction", "out") shouldBe 12.0
                        registry.countOf("tether.mux.bytes", "client", "mux", "direction", "in") shouldBe 12.0
                        // SYN, DAT, FIN at least; the echo's ACK, DAT and FIN at least.
                        registry.countOf("tether.mux.frames", "client", "mux", "direction", "out") shouldBeGreaterThan
                            2.0
                        registry.countOf("tether.mux.frames", "client", "mux", "direction", "in") shouldBeGreaterThan
                            2.0
                        registry.countOf("tether.mux.acks", "client", "mux", "direction", "in") shouldBeGreaterThan 0.0
                        registry.gaugeOf("tether.mux.streams.open", "client", "mux") shouldBe 0.0 // FIN both ways
                        registry.countOf("tether.mux.frames.dropped", "client", "mux", "reason", "malformed") shouldBe
                            0.0
                    } finally {
                        session.closeAndJoin()
                    }
                }
            }
        }
    }

    test("a session's refusals over maxStreams are counted") {
        val registry = SimpleMeterRegistry()
        FakeMuxServer.start().use { fake ->
            WebSocketDialer(DialerConfig(fake.url)).use { dialer ->
                withTimeout(20.seconds) {
                    val session = MuxSession.client(dialer.dial(), MuxConfig { maxStreams(1) })
                    try {
                        MuxMetrics(session, "mux").bindTo(registry)
                        fake.awaitSessions(1)
                        val server = fake.sessions().first()
                        val accepting = async { session.accept() }
                        val first = server.open()
                        accepting.await()
                        shouldThrow<StreamRefusedException> { server.open() }
                        registry.countOf("tether.mux.streams.refused", "client", "mux") shouldBe 1.0
                        registry.gaugeOf("tether.mux.streams.incoming", "client", "mux") shouldBe 1.0
                        registry.countOf("tether.mux.streams", "client", "mux", "direction", "in") shouldBe 1.0
                        first.close()
                    } finally {
                        session.closeAndJoin()
                    }
                }
            }
        }
    }

    test("a tunnel client's registrations, viewers and requests reach the registry") {
        val registry = SimpleMeterRegistry()
        val viewer = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
        FakeTunnelProxy.start().use { proxy ->
            val config = TunnelConfig("metered", proxy.url) {
                tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                observer(TransportMetrics(registry, "tunnel"))
            }
            val tunnel = TunnelClient(config)
            TunnelMetrics(tunnel, "tunnel").bindTo(registry)
            registry.gaugeOf("tether.tunnel.connected", "client", "tunnel") shouldBe 0.0
            tunnel.use {
                withTimeout(20.seconds) {
                    tunnel.connect()
                    val serving = launch {
                        tunnel.serve(
                            TunnelHandler { request ->
                                if (request.path == "/boom") error("handler bug") else TunnelResponse.text("ok")
                            },
                        )
                    }
                    val ok = viewer.sendAsync(
                        HttpRequest.newBuilder(URI("${tunnel.url}/hello")).build(),
                        HttpResponse.BodyHandlers.ofString(),
                    ).await()
                    ok.body() shouldBe "ok"
                    val boom = viewer.sendAsync(
                        HttpRequest.newBuilder(URI("${tunnel.url}/boom")).build(),
                        HttpResponse.BodyHandlers.ofString(),
                    ).await()
                    boom.statusCode() shouldBe 500
                    serving.cancel()
                }
                registry.gaugeOf("tether.tunnel.connected", "client", "tunnel") shouldBe 1.0
                registry.countOf("tether.tunnel.registrations", "client", "tunnel") shouldBe 1.0
                registry.countOf("tether.tunnel.reconnects", "client", "tunnel") shouldBe 0.0
                registry.countOf("tether.tunnel.viewers", "client", "tunnel") shouldBe 2.0
                registry.countOf("tether.tunnel.requests", "client", "tunnel", "via", "serve") shouldBe 1.0
                registry.countOf("tether.tunnel.requests", "client", "tunnel", "via", "forward") shouldBe 0.0
                registry.countOf("tether.tunnel.errors", "client", "tunnel", "cause", "handler") shouldBe 1.0
                registry.countOf("tether.tunnel.errors", "client", "tunnel", "cause", "head_timeout") shouldBe 0.0
                registry.countOf("tether.tunnel.errors", "client", "tunnel", "cause", "body_timeout") shouldBe 0.0
                registry.countOf("tether.tunnel.viewers.refused", "client", "tunnel") shouldBe 0.0
                // The proxy WebSocket itself, through the observer.
                registry.find("tether.connections.opened").tags("client", "tunnel").counter()!!.count() shouldBe 1.0
            }
        }
    }
})
