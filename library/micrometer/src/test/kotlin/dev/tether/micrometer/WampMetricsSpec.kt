package dev.tether.micrometer

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.simple.SimpleMeterRegistry
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

private fun MeterRegistry.countOf(name: String, vararg tags: String): Double =
    find(name).tags(*tags).functionCounter()?.count() ?: -1.0

private fun MeterRegistry.gaugeOf(name: String, vararg tags: String): Double =
    find(name).tags(*tags).gauge()?.value() ?: -1.0

/** WampSessionMetrics: a WAMP session's event counters and state, read when the registry is scraped. */
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
})
