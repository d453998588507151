package dev.tether.micrometer

import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.ReconnectPolicy
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampClient
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.booleans.shouldBeTrue
import io.kotest.matchers.shouldBe
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.simple.SimpleMeterRegistry
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.withTimeout
import java.net.InetAddress
import java.net.ServerSocket
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

private fun MeterRegistry.countOf(name: String, vararg tags: String): Double =
    find(name).tags(*tags).functionCounter()?.count() ?: -1.0

private fun MeterRegistry.gaugeOf(name: String, vararg tags: String): Double =
    find(name).tags(*tags).gauge()?.value() ?: -1.0

/** WampSessionMetrics and WampClientMetrics: a WAMP session's and client's counters, read when scraped. */
class WampMetricsSpec : FunSpec({
    test("a WAMP session's queued and dropped events and its state reach the registry") {
        val registry = SimpleMeterRegistry()
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val subscriber = WampSession.connect(router.wsUrl, SessionConfig("realm1") { eventBuffer(1) })
                val publisher = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                WampSessionMetrics(subscriber, "wamp", listOf(Tag.of("env", "test"))).bindTo(registry)
                registry.gaugeOf("tether.wamp.session.open", "client", "wamp", "env", "test") shouldBe 1.0
                registry.countOf("tether.wamp.events", "client", "wamp") shouldBe 0.0

                val handling = CompletableDeferred<Unit>()
                val release = CompletableDeferred<Unit>()
                val marker = CompletableDeferred<Unit>()
                subscriber.subscribe("demo.flood") {
                    handling.complete(Unit)
                    release.await()
                }
                subscriber.subscribe("demo.marker") { marker.complete(Unit) }
                val acknowledged = PublishOptions { acknowledge() }
                publisher.publish("demo.flood", listOf(0), options = acknowledged)
                handling.await() // the handler holds the first event; its queue (1 event) is empty
                for (i in 1..4) publisher.publish("demo.flood", listOf(i), options = acknowledged)
                // The router sends in order on one connection: when the marker arrives, so did the four before it.
                publisher.publish("demo.marker", options = acknowledged)
                marker.await()
                // The marker's handler may run before the read thread counts the marker as queued; a reply the
                // subscriber reads after that EVENT is read only once its delivery (and count) is done.
                subscriber.publish("demo.sync", options = acknowledged)

                // Queued: the first flood event, one more that fits the queue, the marker. Dropped: the other three.
                registry.countOf("tether.wamp.events", "client", "wamp", "env", "test") shouldBe 3.0
                registry.countOf("tether.wamp.events.dropped", "client", "wamp") shouldBe 3.0
                subscriber.stats().eventsDroppedByTopic shouldBe mapOf("demo.flood" to 3L)

                release.complete(Unit)
                publisher.leave()
                subscriber.leave()
                registry.gaugeOf("tether.wamp.session.open", "client", "wamp") shouldBe 0.0
                registry.countOf("tether.wamp.events.dropped", "client", "wamp") shouldBe 3.0
            }
        }
    }

    test("a WAMP client's calls, round trips, traffic and reconnects reach the registry, totals kept across sessions") {
        val registry = SimpleMeterRegistry()
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val traffic = TransportMetrics(registry, "wamp")
                val policy = ReconnectPolicy {
                    backoff(ExponentialBackoff(minDelay = 10.milliseconds, quickDropThreshold = 0.seconds))
                }
                val client = WampClient(router.wsUrl, SessionConfig("realm1") { observer(traffic) }, policy)
                WampClientMetrics(client, "wamp").bindTo(registry)
                registry.gaugeOf("tether.wamp.session.open", "client", "wamp") shouldBe 0.0
                val joins = async(start = CoroutineStart.UNDISPATCHED) {
                    client.events.filterIsInstance<ConnectionEvent.Connected>().take(2).toList()
                }
                client.connect()
                registry.gaugeOf("tether.wamp.session.open", "client", "wamp") shouldBe 1.0
                client.register("demo.echo") { InvokeResult(it.args) }
                client.call("demo.echo", listOf(1)).args shouldBe listOf(1L)
                shouldThrow<RpcException> { client.call("demo.nobody") }
                registry.countOf("tether.wamp.calls", "client", "wamp", "outcome", "answered") shouldBe 1.0
                registry.countOf("tether.wamp.calls", "client", "wamp", "outcome", "failed") shouldBe 1.0
                registry.countOf("tether.wamp.calls", "client", "wamp", "outcome", "timed_out") shouldBe 0.0
                val rtt = registry.find("tether.wamp.call.rtt").tags("client", "wamp").functionTimer()!!
                rtt.count() shouldBe 1.0
                rtt.totalTime(TimeUnit.NANOSECONDS) shouldBe client.stats().session.callRoundTripNanos.toDouble()
                registry.gaugeOf("tether.wamp.requests.pending", "client", "wamp") shouldBe 0.0
                registry.gaugeOf("tether.wamp.invocations.running", "client", "wamp") shouldBe 0.0
                registry.countOf("tether.wamp.sessions.joined", "client", "wamp") shouldBe 1.0
                // HELLO, REGISTER, CALL twice (the echo's INVOCATION answered with YIELD): the transport counted them.
                (registry.find("tether.messages").tags("client", "wamp", "direction", "out").counter()!!.count() > 3)
                    .shouldBeTrue()

                // Another session kills this one: the client joins again; the counts carry over.
                val killer = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                killer.call("wamp.session.kill", listOf(client.session!!.id))
                joins.await()
                killer.leave()
                registry.countOf("tether.wamp.sessions.joined", "client", "wamp") shouldBe 2.0
                registry.countOf("tether.wamp.reconnects", "client", "wamp") shouldBe 1.0
                registry.countOf("tether.wamp.calls", "client", "wamp", "outcome", "answered") shouldBe 1.0
                registry.countOf("tether.wamp.join.failures", "client", "wamp", "cause", "connection") shouldBe 0.0
                client.closeAndJoin()
                registry.gaugeOf("tether.wamp.session.open", "client", "wamp") shouldBe 0.0
                registry.countOf("tether.wamp.calls", "client", "wamp", "outcome", "failed") shouldBe 1.0
            }
        }
    }

    test("a WAMP client that cannot connect counts its failed attempts by cause") {
        val registry = SimpleMeterRegistry()
        withTimeout(20.seconds) {
            val port = ServerSocket(0, 1, InetAddress.getByName("127.0.0.1")).use { it.localPort }
            val policy = ReconnectPolicy {
                backoff(ExponentialBackoff(minDelay = 10.milliseconds))
                maxAttempts(2)
            }
            val client = WampClient("ws://127.0.0.1:$port/", SessionConfig("realm1"), policy)
            WampClientMetrics(client, "down").bindTo(registry)
            client.start()
            client.awaitClosed()
            registry.countOf("tether.wamp.join.failures", "client", "down", "cause", "connection") shouldBe 2.0
            registry.countOf("tether.wamp.join.failures", "client", "down", "cause", "timeout") shouldBe 0.0
            registry.countOf("tether.wamp.sessions.joined", "client", "down") shouldBe 0.0
        }
    }
})
