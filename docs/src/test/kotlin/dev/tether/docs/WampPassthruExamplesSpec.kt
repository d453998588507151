package dev.tether.docs

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import dev.tether.wamp.CallOptions
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PayloadPassthru
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampSession
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** The Kotlin examples of wamp.md's payload passthru, event history and blocked-subscriber sections. */
class WampPassthruExamplesSpec : FunSpec({
    test("payload passthru: an opaque CBOR payload through the router, unchanged") {
        withTimeout(30.seconds) {
            FakeWampRouter.start().use { router ->
                val callee = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                val caller = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                val cborBytes = byteArrayOf(0xA1.toByte(), 0x61, 0x6B, 0x01) // {"k": 1}, encoded by the app
                // docs:start passthru
                val ppt = PayloadPassthru("x_acme", serializer = "cbor")
                callee.register("com.acme.store") { inv ->
                    val bytes = inv.passthruPayload!! // exactly the caller's bytes: nobody decoded them
                    InvokeResult.passthru(inv.payloadPassthru!!, bytes.reversedArray())
                }
                val options = CallOptions { payloadPassthru(ppt) }
                val result = caller.call("com.acme.store", listOf(cborBytes), options = options)
                result.payloadPassthru shouldBe ppt
                result.passthruPayload!!.toList() shouldBe cborBytes.reversedArray().toList()
                // docs:end passthru
                caller.leave()
                callee.leave()
            }
        }
    }

    test("event history: the router's stored events of a subscription") {
        withTimeout(30.seconds) {
            // docs:start event-history
            val routerConfig = FakeWampRouterConfig {
                eventHistory("com.sensor.", limit = 100, match = MatchPolicy.PREFIX)
            }
            FakeWampRouter.start(routerConfig).use { router ->
                val publisher = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                val ack = PublishOptions { acknowledge() }
                publisher.publish("com.sensor.temp", listOf(21.5), options = ack) // before anyone subscribed
                publisher.publish("com.sensor.hum", listOf(40L), options = ack)

                val late = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                val sub = late.subscribe("com.sensor.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { }
                val history = late.eventHistory(sub, limit = 10)
                history.events.map { it.topic to it.args } shouldBe
                    listOf("com.sensor.temp" to listOf(21.5), "com.sensor.hum" to listOf(40L))
                // docs:end event-history
                late.leave()
                publisher.leave()
            }
        }
    }

    test("blocked subscribers: the router's drop counts") {
        withTimeout(30.seconds) {
            // docs:start router-drops
            FakeWampRouter.start { outboundQueueSize(64) }.use { router ->
                val subscriber = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                subscriber.subscribe("com.example.feed") { }
                val publisher = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                val ack = PublishOptions { acknowledge() }
                repeat(100) { publisher.publish("com.example.feed", listOf(it), options = ack) }
                // A Tether session reads its socket promptly: the router never had to drop anything to it.
                router.eventStats().droppedTo(subscriber.id) shouldBe 0L
                // docs:end router-drops
                publisher.leave()
                subscriber.leave()
            }
        }
    }
})
