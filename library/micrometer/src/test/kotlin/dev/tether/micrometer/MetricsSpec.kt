package dev.tether.micrometer

import dev.tether.core.AuthenticationFailedException
import dev.tether.core.ConnectionClosedException
import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionException
import dev.tether.core.DialFailedException
import dev.tether.core.DialTimeoutException
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.MessageTooLargeException
import dev.tether.core.TransportObserver
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayClientConfig
import dev.tether.testkit.FakeBroker
import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.simple.SimpleMeterRegistry
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

private fun MeterRegistry.countOf(name: String, vararg tags: String): Double =
    find(name).tags(*tags).counter()?.count() ?: find(name).tags(*tags).functionCounter()?.count() ?: -1.0

private fun MeterRegistry.gaugeOf(name: String, vararg tags: String): Double =
    find(name).tags(*tags).gauge()?.value() ?: -1.0

class MetricsSpec : FunSpec({
    test("a wsclient's connections, reconnects, traffic and refused frames reach the registry") {
        val registry = SimpleMeterRegistry()
        FakeBroker.start().use { broker ->
            val client = WsClient(
                WsClientConfig(broker.url, EnvelopeHandler { }) {
                    authToken(broker.token)
                    reconnectDelays(Duration.ofMillis(10), Duration.ofMillis(200))
                    observer(TransportMetrics(registry, "broker", listOf(Tag.of("env", "test"))))
                },
            )
            client.use {
                WsClientMetrics(client, "broker").bindTo(registry)
                registry.gaugeOf("tether.wsclient.connected", "client", "broker") shouldBe 0.0
                client.start()
                withTimeout(10.seconds) { client.awaitConnected() }
                repeat(3) { client.request(Envelope.request("echo", """{"n":$it}""")) }
                registry.countOf("tether.connections.opened", "client", "broker", "env", "test") shouldBe 1.0
                registry.gaugeOf("tether.connections.active", "client", "broker") shouldBe 1.0
                registry.gaugeOf("tether.wsclient.connected", "client", "broker") shouldBe 1.0
                registry.countOf("tether.messages", "client", "broker", "direction", "out") shouldBe 3.0
                registry.countOf("tether.messages", "client", "broker", "direction", "in") shouldBe 3.0
                registry.countOf("tether.bytes", "client", "broker", "direction", "out") shouldBeGreaterThan 30.0

                broker.broadcastRaw("not an envelope")
                // Frames are read in order: once this reply is in, the bad frame before it has been counted.
                client.request(Envelope.request("echo", "{}"))
                registry.countOf(
                    "tether.wsclient.frames.refused",
                    "client",
                    "broker",
                    "reason",
                    "malformed",
                ) shouldBe 1.0

                // A drop: the connection ends with the server's close, the client dials again.
                // Subscribed before the fault, so the reconnect's event cannot come before the subscription.
                val reconnected = async(start = CoroutineStart.UNDISPATCHED) {
                    client.events.first {
                        it is ConnectionEvent.Connected && registry.countOf(
                            "tether.reconnects",
                            "client",
                            "broker",
                        ) == 1.0
                    }
                }
                broker.faults.dropAll()
                withTimeout(10.seconds) { reconnected.await() }
                registry.countOf("tether.connections.opened", "client", "broker") shouldBe 2.0
                registry.countOf("tether.connections.closed", "client", "broker", "cause", "closed") shouldBe 1.0
                registry.gaugeOf("tether.connections.active", "client", "broker") shouldBe 1.0
                registry.countOf("tether.wsclient.drops", "client", "broker") shouldBe 1.0
            }
            registry.gaugeOf("tether.connections.active", "client", "broker") shouldBe 0.0
        }
    }

    test("client pings are timed") {
        val registry = SimpleMeterRegistry()
        FakeBroker.start().use { broker ->
            val metrics = TransportMetrics(registry, "broker")
            val pongs = Channel<Unit>(Channel.UNLIMITED)
            val watched = object : TransportObserver by metrics {
                override fun pongReceived(roundTripNanos: Long) {
                    metrics.pongReceived(roundTripNanos)
                    pongs.trySend(Unit)
                }
            }
            WsClient(
                WsClientConfig(broker.url, EnvelopeHandler { }) {
                    authToken(broker.token)
                    pingInterval(20.milliseconds)
                    observer(watched)
                },
            ).use { client ->
                client.start()
                withTimeout(10.seconds) { repeat(2) { pongs.receive() } }
                val timer = registry.find("tether.ping.rtt").tags("client", "broker").timer()!!
                (timer.count() >= 2) shouldBe true
                timer.totalTime(java.util.concurrent.TimeUnit.NANOSECONDS) shouldBeGreaterThan 0.0
            }
        }
    }

    test("a relay client's peer connections and its WebSocket are metered") {
        val registry = SimpleMeterRegistry()
        FakeRelayServer.start().use { relay ->
            val options = RelayClientConfig { observer(TransportMetrics(registry, "relay")) }
            RelayClient(relay.url, relay.tokenStore(), "alice-key", options).use { alice ->
                RelayClient(relay.url, relay.tokenStore(), "bob-key").use { bob ->
                    RelayClientMetrics(alice, "relay").bindTo(registry)
                    withTimeout(20.seconds) {
                        alice.connect()
                        bob.connect()
                        val bobSide = async { bob.openConn("alice-key") }
                        val toBob = alice.openConn("bob-key")
                        val toAlice = bobSide.await()
                        toBob.write(ByteArray(100))
                        toAlice.read().size shouldBe 100
                    }
                    registry.gaugeOf("tether.relay.conns", "client", "relay") shouldBe 1.0
                    registry.countOf("tether.connections.opened", "client", "relay") shouldBe 1.0
                    // Auth and the transport message went out; AuthResponse (and any peer notice) came in.
                    (registry.countOf("tether.messages", "client", "relay", "direction", "out") >= 2.0) shouldBe true
                    (registry.countOf("tether.messages", "client", "relay", "direction", "in") >= 1.0) shouldBe true
                    registry.countOf("tether.relay.dropped", "client", "relay", "reason", "malformed") shouldBe 0.0
                }
            }
        }
    }

    test("a WAMP session over WebSocket is metered through SessionConfig.observer") {
        val registry = SimpleMeterRegistry()
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val config = SessionConfig("realm1") { observer(TransportMetrics(registry, "wamp")) }
                val session = WampSession.connect(router.wsUrl, config)
                session.call("wamp.session.count")
                session.leave()
            }
        }
        registry.countOf("tether.connections.opened", "client", "wamp") shouldBe 1.0
        // HELLO, CALL, GOODBYE out; WELCOME, RESULT, GOODBYE in.
        registry.countOf("tether.messages", "client", "wamp", "direction", "out") shouldBe 3.0
        registry.countOf("tether.messages", "client", "wamp", "direction", "in") shouldBe 3.0
    }

    test("every end and dial failure maps to one documented cause") {
        val cases: List<Pair<ConnectionException, String>> = listOf(
            ConnectionClosedException(1000, "bye") to "closed",
            KeepAliveExpiredException(10) to "keepalive",
            MessageTooLargeException(10) to "too_large",
            DialTimeoutException("ws://x", 10) to "timeout",
            AuthenticationFailedException("ws://x", 401) to "auth",
            HandshakeRejectedException("ws://x", 502) to "rejected_502",
            DialFailedException("ws://x", java.net.ConnectException("refused")) to "io",
        )
        for ((cause, tag) in cases) TransportMetrics.causeOf(cause) shouldBe tag
    }
})
