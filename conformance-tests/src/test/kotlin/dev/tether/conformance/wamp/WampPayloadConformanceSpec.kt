package dev.tether.conformance.wamp

import dev.tether.conformance.External
import dev.tether.wamp.CallOptions
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.PayloadPassthru
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.Roles
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/**
 * WAMP conformance for issue 17's payload features over a [RouterSubject]: payload passthru mode on every transport
 * and serializer (options and an opaque binary payload unchanged through the router; a callee without the feature
 * answered with `wamp.error.feature_not_supported`), event history (`wamp.subscription.get_events`), and the
 * blocked-subscriber counters (the testkit router only). Against an external router a
 * case runs when its WELCOME announces the feature and is skipped with that reason when it does not; the history
 * case also needs `-Dtether.conformance.wamp.history.topic`, an exact topic the router keeps history for.
 */
class WampPayloadConformanceSpec : FunSpec({
    val historyTopic = System.getProperty("tether.conformance.wamp.history.topic")?.takeIf { it.isNotBlank() }
        ?: "conf.history.topic"
    val subject = RouterSubject.open { eventHistory("conf.history.topic", limit = 10) }
    afterSpec { subject.close() }
    val ppt = PayloadPassthru("x_tether_conformance", serializer = "cbor", keyId = "k1")
    val opaque = byteArrayOf(0, -1, 127, -128, 10, 13)

    fun lacksPassthru(): String? = subject.lacksFeature("dealer", "payload_passthru_mode")
        ?: subject.lacksFeature("broker", "payload_passthru_mode")

    for ((transport, url) in subject.urls) {
        for (ser in Serialization.entries) {
            test("$transport x $ser: payload passthru keeps the ppt options and the binary payload unchanged").config(
                enabledOrReasonIf = External.skipIf { subject.refusal(url, ser) ?: lacksPassthru() },
            ) {
                withTimeout(20.seconds) {
                    val config = subject.config { serialization(ser) }
                    val callee = WampSession.connect(url, config)
                    val caller = WampSession.connect(url, config)
                    val proc = "conf.ppt.${callee.id}"
                    callee.register(proc) { inv ->
                        inv.payloadPassthru shouldBe ppt
                        InvokeResult.passthru(ppt, inv.passthruPayload!!)
                    }
                    val r = caller.call(proc, listOf(opaque), options = CallOptions { payloadPassthru(ppt) })
                    r.payloadPassthru shouldBe ppt
                    r.passthruPayload!!.toList() shouldBe opaque.toList()

                    val topic = "conf.ppt.topic.${callee.id}"
                    val event = CompletableDeferred<Event>()
                    callee.subscribe(topic) { event.complete(it) }
                    val options = PublishOptions {
                        acknowledge()
                        payloadPassthru(ppt)
                    }
                    caller.publish(topic, listOf(opaque), options = options)
                    val e = event.await()
                    e.payloadPassthru shouldBe ppt
                    e.passthruPayload!!.toList() shouldBe opaque.toList()
                    caller.leave()
                    callee.leave()
                }
            }
        }
    }

    test("payload passthru to a callee that did not announce it: wamp.error.feature_not_supported").config(
        enabledOrReasonIf = External.skipIf { lacksPassthru() },
    ) {
        withTimeout(20.seconds) {
            val roles = Roles.CLIENT.mapValues { (_, role) ->
                val features = (role as Map<*, *>)["features"] as Map<*, *>
                mapOf("features" to features.filterKeys { it != "payload_passthru_mode" })
            }
            val callee = WampSession.connect(subject.firstUrl, subject.config { helloDetail("roles", roles) })
            val proc = "conf.ppt.old.${callee.id}"
            callee.register(proc) { InvokeResult.of("plain") }
            val caller = WampSession.connect(subject.firstUrl, subject.config())
            shouldThrow<RpcException> {
                caller.call(proc, listOf(opaque), options = CallOptions { payloadPassthru(ppt) })
            }.error shouldBe "wamp.error.feature_not_supported"
            caller.call(proc).args shouldBe listOf("plain")
            caller.leave()
            callee.leave()
        }
    }

    test("event history: events published before the subscription come back, oldest first, limit applied").config(
        enabledOrReasonIf = External.skipIf {
            subject.lacksFeature("broker", "event_history")
                ?: if (subject.isFake || System.getProperty("tether.conformance.wamp.history.topic") != null) {
                    null
                } else {
                    "needs -Dtether.conformance.wamp.history.topic (an exact topic the router keeps history for)"
                }
        },
    ) {
        withTimeout(20.seconds) {
            val publisher = WampSession.connect(subject.firstUrl, subject.config())
            val ack = PublishOptions { acknowledge() }
            val marker = "run-${publisher.id}"
            for (i in 1L..3L) publisher.publish(historyTopic, listOf(marker, i), options = ack)
            val reader = WampSession.connect(subject.firstUrl, subject.config())
            val sub = reader.subscribe(historyTopic) { }
            val mine = reader.eventHistory(sub).events.filter { it.args.firstOrNull() == marker }
            mine.map { it.args[1] } shouldBe listOf(1L, 2L, 3L)
            reader.eventHistory(sub, limit = 2).events.size shouldBe 2
            reader.leave()
            publisher.leave()
        }
    }

    test("blocked subscribers: a Tether subscriber under a flood is never dropped to (the router's counters)").config(
        enabledOrReasonIf = RouterSubject.needsFake("the testkit router's drop counters"),
    ) {
        withTimeout(30.seconds) {
            val router = subject.router!!
            val subscriber = WampSession.connect(subject.firstUrl, subject.config())
            val got = CompletableDeferred<Unit>()
            var count = 0
            subscriber.subscribe("conf.flood") { if (++count == 500) got.complete(Unit) }
            val publisher = WampSession.connect(subject.firstUrl, subject.config())
            val ack = PublishOptions { acknowledge() }
            repeat(500) { publisher.publish("conf.flood", listOf(it.toLong()), options = ack) }
            got.await()
            router.eventStats().droppedTo(subscriber.id) shouldBe 0L
            publisher.leave()
            subscriber.leave()
        }
    }
})
