package dev.tether.testkit.wamp

import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PayloadPassthru
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampClient
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/**
 * Event history end to end: the testkit router keeps the configured topics' events (exact and pattern, bounded,
 * with or without subscribers, never the ones restricted by session id) and answers `wamp.subscription.get_events`
 * in nexus's shape; [WampSession.eventHistory] and [WampClient.eventHistory] read them back as typed events.
 */
class EventHistorySpec : FunSpec({
    val ack = PublishOptions { acknowledge() }

    fun routerConfig() = FakeWampRouterConfig {
        realm("realm1")
        realm("other")
        eventHistory("com.history.exact", limit = 5)
        eventHistory("com.history.", limit = 3, match = MatchPolicy.PREFIX, realm = "realm1")
    }

    fun config(realm: String = "realm1") = SessionConfig(realm) { responseTimeout(5.seconds) }

    test("events published before anyone subscribed come back oldest first, bounded by the configured limit") {
        FakeWampRouter.start(routerConfig()).use { router ->
            withTimeout(20.seconds) {
                val publisher = WampSession.connect(router.tcpUrl, config())
                for (i in 1L..7L) publisher.publish("com.history.exact", listOf(i), mapOf("n" to i), ack)
                val reader = WampSession.connect(router.wsUrl, config())
                val sub = reader.subscribe("com.history.exact") { }
                val all = reader.eventHistory(sub)
                all.events.map { it.args } shouldBe (3..7).map { listOf(it.toLong()) }
                all.events.map { it.kwargs["n"] } shouldBe (3L..7L).toList()
                all.events.map { it.subscription }.toSet() shouldBe setOf(sub)
                all.events.map { it.publication }.toSet().size shouldBe 5
                all.limitReached shouldBe true
                val last2 = reader.eventHistory(sub, limit = 2)
                last2.events.map { it.args } shouldBe listOf(listOf(6L), listOf(7L))
                reader.leave()
                publisher.leave()
            }
        }
    }

    test("a prefix history: the published topic in the details, ppt options kept, restricted publications left out") {
        FakeWampRouter.start(routerConfig()).use { router ->
            withTimeout(20.seconds) {
                val publisher = WampSession.connect(router.tcpUrl, config())
                val reader = WampSession.connect(router.tcpUrl, config())
                val sub = reader.subscribe("com.history.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { }
                publisher.publish("com.history.a", listOf("a"), options = ack)
                publisher.publish(
                    "com.history.b",
                    listOf("b"),
                    options = PublishOptions {
                        acknowledge()
                        payloadPassthru(PayloadPassthru("mqtt"))
                    },
                )
                val notToOne = PublishOptions {
                    acknowledge()
                    exclude(1L)
                }
                publisher.publish("com.history.c", listOf("c"), options = notToOne)
                val onlyReader = PublishOptions {
                    acknowledge()
                    eligible(reader.id)
                }
                publisher.publish("com.history.d", listOf("d"), options = onlyReader)
                val h = reader.eventHistory(sub)
                h.events.map { it.args } shouldBe listOf(listOf("a"), listOf("b"))
                h.events.map { it.topic } shouldBe listOf("com.history.a", "com.history.b")
                h.events[1].payloadPassthru shouldBe PayloadPassthru("mqtt")
                h.limitReached shouldBe false
                reader.leave()
                publisher.leave()
            }
        }
    }

    test("topics without history, other realms and unknown subscriptions answer with no events") {
        FakeWampRouter.start(routerConfig()).use { router ->
            withTimeout(20.seconds) {
                val s = WampSession.connect(router.tcpUrl, config())
                val plain = s.subscribe("com.nohistory") { }
                s.publish("com.nohistory", listOf(1L), options = ack)
                s.eventHistory(plain).events shouldBe emptyList()
                s.eventHistory(987_654_321L).events shouldBe emptyList()
                // The prefix history is configured for realm1 only; the exact one for every realm.
                val other = WampSession.connect(router.wsUrl, config("other"))
                val prefixed = other.subscribe("com.history.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { }
                val exact = other.subscribe("com.history.exact") { }
                other.publish("com.history.exact", listOf("x"), options = ack)
                other.eventHistory(prefixed).events shouldBe emptyList()
                other.eventHistory(exact).events.map { it.args } shouldBe listOf(listOf("x"))
                shouldThrow<IllegalArgumentException> { s.eventHistory(plain, limit = 0) }
                other.leave()
                s.leave()
            }
        }
    }

    test("a router without the meta procedure: the typed error of the call") {
        FakeWampRouter.start(routerConfig()).use { router ->
            withTimeout(20.seconds) {
                val s = WampSession.connect(router.tcpUrl, config())
                // Asking with a malformed id is the router's invalid_argument, surfaced as the call's RpcException.
                shouldThrow<RpcException> { s.call("wamp.subscription.get_events", listOf("not an id")) }
                    .error shouldBe "wamp.error.invalid_argument"
                s.leave()
            }
        }
    }

    test("WampClient.eventHistory asks on the joined session") {
        FakeWampRouter.start(routerConfig()).use { router ->
            withTimeout(20.seconds) {
                val client = WampClient(router.tcpUrl, config()).connect()
                client.subscribe("com.history.exact") { }
                client.publish("com.history.exact", listOf("one"), options = ack)
                val sub = client.session!!.subscriptionId("com.history.exact")!!
                client.eventHistory(sub).events.map { it.args } shouldBe listOf(listOf("one"))
                client.closeAndJoin()
            }
        }
    }
})
