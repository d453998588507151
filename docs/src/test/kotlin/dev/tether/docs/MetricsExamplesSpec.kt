package dev.tether.docs

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.micrometer.MuxMetrics
import dev.tether.micrometer.RelayClientMetrics
import dev.tether.micrometer.TransportMetrics
import dev.tether.micrometer.TunnelMetrics
import dev.tether.micrometer.WsClientMetrics
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayClientConfig
import dev.tether.testkit.FakeBroker
import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelConfig
import dev.tether.tunnel.TunnelTokens
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.simple.SimpleMeterRegistry
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** The Kotlin examples of metrics.md, against the testkit's fakes. */
class MetricsExamplesSpec : FunSpec({
    test("a wsclient and a relay client registered with one registry") {
        FakeBroker.start().use { broker ->
            FakeRelayServer.start().use { relay ->
                withTimeout(20.seconds) {
                    // docs:start kotlin-metrics
                    val registry = SimpleMeterRegistry() // or your PrometheusMeterRegistry, …
                    val client = WsClient(
                        WsClientConfig(broker.url, EnvelopeHandler { }) {
                            authToken(broker.token)
                            // connections, reconnects, dial failures, messages, bytes, ping round trips
                            observer(TransportMetrics(registry, "broker", listOf(Tag.of("region", "eu"))))
                        },
                    )
                    WsClientMetrics(client, "broker").bindTo(registry) // pending requests, timeouts, drops, refusals

                    val peer = RelayClient(
                        relay.url,
                        relay.tokenStore(),
                        "alice-key",
                        RelayClientConfig { observer(TransportMetrics(registry, "relay")) },
                    )
                    RelayClientMetrics(peer, "relay").bindTo(registry) // peer connections, lost messages by reason
                    // docs:end kotlin-metrics
                    client.use {
                        peer.use {
                            client.start()
                            client.request(Envelope.request("echo", "{}"))
                            peer.connect()
                            val opened = "tether.connections.opened"
                            registry.get(opened).tags("client", "broker", "region", "eu").counter().count() shouldBe 1.0
                            registry.get(opened).tags("client", "relay").counter().count() shouldBe 1.0
                            val pending = registry.get("tether.wsclient.pending").tags("client", "broker").gauge()
                            pending.value() shouldBe 0.0
                        }
                    }
                }
            }
        }
    }
    test("a tunnel client and a wsmux session registered with one registry") {
        FakeTunnelProxy.start().use { proxy ->
            FakeMuxServer.start().use { fake ->
                WebSocketDialer(DialerConfig(fake.url)).use { dialer ->
                    withTimeout(20.seconds) {
                        // docs:start kotlin-tunnel-metrics
                        val registry = SimpleMeterRegistry()
                        val tunnel = TunnelClient(
                            TunnelConfig("my-tunnel", proxy.url) {
                                tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                                observer(TransportMetrics(registry, "tunnel")) // the proxy WebSocket
                            },
                        )
                        // registrations, viewers served and refused, requests, errors by cause; across reconnects
                        TunnelMetrics(tunnel, "tunnel").bindTo(registry)

                        val session = MuxSession.client(dialer.dial(), MuxConfig { maxStreams(1_000) })
                        // streams open, opened, accepted, refused; frames, bytes and ACKs both ways; dropped frames
                        MuxMetrics(session, "mux").bindTo(registry)
                        // docs:end kotlin-tunnel-metrics
                        tunnel.use {
                            tunnel.connect()
                            session.open().close()
                            registry.get(
                                "tether.tunnel.registrations",
                            ).tags("client", "tunnel").functionCounter().count() shouldBe 1.0
                            registry.get(
                                "tether.mux.streams",
                            ).tags("client", "mux", "direction", "out").functionCounter().count() shouldBe 1.0
                            session.closeAndJoin()
                        }
                    }
                }
            }
        }
    }
})
