package dev.tether.testkit.wamp

import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.wamp.CallChunk
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.ReconnectPolicy
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampClient
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.WampErrorException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.flowOf
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The WampClient gaps of issue 17: a streaming registration that survives a reconnect like any other, and
 * unregister/unsubscribe that tell apart two registrations or subscriptions of one URI with different match policies
 * (by policy; by URI alone only when it names one, else a typed ambiguity error), on WampSession and WampClient.
 */
class WampClientRegistrationsSpec : FunSpec({
    fun config() = SessionConfig("realm1") { responseTimeout(5.seconds) }
    val fast = ReconnectPolicy { backoff(ExponentialBackoff(minDelay = 10.milliseconds, maxDelay = 100.milliseconds)) }
    val ack = PublishOptions { acknowledge() }

    test("registerStreaming on WampClient: chunks in order, and registered again after the router drops the session") {
        FakeWampRouter.start().use { router ->
            withTimeout(30.seconds) {
                val client = WampClient(router.wsUrl, config(), fast).connect()
                val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
                launch(Dispatchers.Default, CoroutineStart.UNDISPATCHED) { client.events.collect { events.send(it) } }
                client.registerStreaming("com.stream.sum") { _, chunks ->
                    InvokeResult.of(chunks.toList().sumOf { it.args[0] as Long })
                }
                val caller = WampSession.connect(router.tcpUrl, config())
                val chunks = flowOf(CallChunk(listOf(1L)), CallChunk(listOf(2L)), CallChunk(listOf(3L)))
                caller.callStreaming("com.stream.sum", chunks).args shouldBe listOf(6L)
                val first = client.session!!.id
                router.faults.drop(first) shouldBe true
                while (events.receive() !is ConnectionEvent.Disconnected) Unit
                while (events.receive() !is ConnectionEvent.Connected) Unit
                client.session!!.id shouldNotBe first
                caller.callStreaming("com.stream.sum", chunks).args shouldBe listOf(6L)
                client.procedures shouldBe listOf("com.stream.sum")
                caller.leave()
                client.closeAndJoin() // the event flow completes after Closed, ending the collector
            }
        }
    }

    test("WampSession: one URI subscribed exact and prefix; unsubscribe by policy removes just that one") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val s = WampSession.connect(router.tcpUrl, config())
                val exactEvents = Channel<Event>(Channel.UNLIMITED)
                val prefixEvents = Channel<Event>(Channel.UNLIMITED)
                val exactId = s.subscribe("com.dual") { exactEvents.send(it) }
                val prefixId = s.subscribe("com.dual", SubscribeOptions { match(MatchPolicy.PREFIX) }) {
                    prefixEvents.send(it)
                }
                exactId shouldNotBe prefixId
                s.subscriptionId("com.dual", MatchPolicy.EXACT) shouldBe exactId
                s.subscriptionId("com.dual", MatchPolicy.PREFIX) shouldBe prefixId
                s.subscriptionId("com.dual") shouldBe exactId // several: the exact one
                val ambiguous = shouldThrow<WampErrorException> { s.unsubscribe("com.dual") }
                ambiguous.error shouldBe "dev.tether.error.ambiguous_uri"
                ambiguous.message!! shouldContain "exact, prefix"

                val publisher = WampSession.connect(router.wsUrl, config())
                s.unsubscribe("com.dual", MatchPolicy.EXACT)
                publisher.publish("com.dual", listOf("after"), options = ack)
                prefixEvents.receive().args shouldBe listOf("after")
                exactEvents.tryReceive().isSuccess shouldBe false // the exact subscription is gone at the router
                s.subscriptionId("com.dual") shouldBe prefixId
                s.unsubscribe("com.dual") // only the prefix one left: by URI is unambiguous again
                s.subscriptionId("com.dual") shouldBe null
                shouldThrow<WampErrorException> { s.unsubscribe("com.dual", MatchPolicy.PREFIX) }
                    .error shouldBe "wamp.error.no_such_subscription"
                publisher.leave()
                s.leave()
            }
        }
    }

    test("WampSession: one procedure registered exact and wildcard; unregister by policy") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val callee = WampSession.connect(router.tcpUrl, config())
                callee.register("com..op") { InvokeResult.of("exact") }
                callee.register("com..op", RegisterOptions { match(MatchPolicy.WILDCARD) }) { InvokeResult.of("wild") }
                val caller = WampSession.connect(router.wsUrl, config())
                caller.call("com.a.op").args shouldBe listOf("wild")
                shouldThrow<WampErrorException> { callee.unregister("com..op") }.error shouldBe
                    "dev.tether.error.ambiguous_uri"
                callee.unregister("com..op", MatchPolicy.WILDCARD)
                shouldThrow<WampErrorException> { caller.call("com.a.op") }.error shouldBe
                    "wamp.error.no_such_procedure"
                callee.registrationId("com..op", MatchPolicy.WILDCARD) shouldBe null
                callee.registrationId("com..op") shouldNotBe null
                callee.unregister("com..op")
                caller.leave()
                callee.leave()
            }
        }
    }

    test("WampClient: the same URI subscribed with two policies, both restored, removed one by one") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val client = WampClient(router.tcpUrl, config()).connect()
                client.subscribe("com.client.") { }
                client.subscribe("com.client.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { }
                client.topics shouldBe listOf("com.client.", "com.client.")
                shouldThrow<WampErrorException> {
                    client.subscribe("com.client.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { }
                }.error shouldBe "dev.tether.error.already_subscribed"
                shouldThrow<WampErrorException> { client.unsubscribe("com.client.") }.error shouldBe
                    "dev.tether.error.ambiguous_uri"
                client.unsubscribe("com.client.", MatchPolicy.PREFIX)
                client.session!!.subscriptionId("com.client.", MatchPolicy.PREFIX) shouldBe null
                client.unsubscribe("com.client.")
                client.topics shouldBe emptyList()
                val prefix = RegisterOptions { match(MatchPolicy.PREFIX) }
                client.register("com.client.proc", prefix) { InvokeResult.of(1L) }
                client.unregister("com.client.proc") // the only one: whatever its policy
                client.procedures shouldBe emptyList()
                client.closeAndJoin()
            }
        }
    }
})
