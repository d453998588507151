package dev.tether.conformance.wamp

import dev.tether.conformance.External
import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.ReconnectPolicy
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampClient
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.ReconnectExhaustedException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.error.WampSessionClosedException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.nulls.shouldNotBeNull
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.hours
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.Duration.Companion.seconds

/**
 * WAMP conformance of [WampClient]'s automatic reconnect over a [RouterSubject]: when the router ends the session
 * (the meta procedure `wamp.session.kill`, on any router that announces the session meta API) or the connection
 * drops (the testkit router's faults), the client waits its backoff, rejoins, re-registers and re-subscribes with
 * the same options, reports each step as a connection event, fails what was in flight with a typed error, and after
 * [ReconnectPolicy.maxAttempts] failed attempts gives up with [ReconnectExhaustedException]. Cases that need the
 * testkit router's fault controls say "(testkit router)" and are skipped with the reason against an external one.
 */
class WampReconnectConformanceSpec : FunSpec({
    val subject = RouterSubject.open()
    afterSpec { subject.close() }

    /**
     * Waits of exactly [wait], then twice that (no jitter). With [quickDrop] every drop counts as a failed attempt
     * and waits; without, a drop redials at once.
     */
    fun fixedWait(wait: kotlin.time.Duration, maxAttempts: Int = 0, quickDrop: Boolean = true) = ReconnectPolicy {
        backoff(
            ExponentialBackoff(
                minDelay = wait,
                maxDelay = wait * 2,
                randomizationFactor = 0.0,
                quickDropThreshold = if (quickDrop) 1.hours else 0.seconds,
            ),
        )
        maxAttempts(maxAttempts)
    }

    /** Every event of [client] from now on, in order. */
    fun CoroutineScope.record(client: WampClient): Channel<ConnectionEvent> {
        val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
        // Undispatched: subscribed before this returns, so no event is missed.
        launch(Dispatchers.Default, CoroutineStart.UNDISPATCHED) {
            client.events.collect { events.send(it) }
            events.close() // the client's event stream ended (after Closed)
        }
        return events
    }

    /** How a case ends the client's session: the router's GOODBYE, or the connection cut under it. */
    data class Ending(val name: String, val testkitOnly: Boolean, val end: suspend (WampClient, WampSession) -> Unit)

    val endings = listOf(
        Ending("the router ends the session (wamp.session.kill)", testkitOnly = false) { client, other ->
            other.call("wamp.session.kill", listOf(client.session.shouldNotBeNull().id))
        },
        Ending("the connection drops without GOODBYE (testkit router)", testkitOnly = true) { client, _ ->
            subject.router!!.faults.drop(client.session.shouldNotBeNull().id) shouldBe true
        },
    )

    for (ending in endings) {
        for ((transport, url) in subject.urls) {
            test(
                "$transport: ${ending.name}: the call in flight fails typed; Disconnected, Connecting(1), Connected " +
                    "after the backoff wait; the registration and subscription are restored with their options",
            ).config(
                enabledOrReasonIf = if (ending.testkitOnly) {
                    RouterSubject.needsFake("the testkit router's fault controls (drop a connection)")
                } else {
                    // The restored registration and subscription are patterns: their options must survive too.
                    External.skipIf {
                        subject.lacksFeature("broker", "session_meta_api")
                            ?: subject.lacksFeature("dealer", "pattern_based_registration")
                            ?: subject.lacksFeature("broker", "pattern_based_subscription")
                    }
                },
            ) {
                withTimeout(30.seconds) {
                    val wait = 200.milliseconds
                    val client = WampClient(url, subject.config(), fixedWait(wait))
                    client.connect()
                    val other = WampSession.connect(subject.firstUrl, subject.config())
                    val release = CompletableDeferred<Unit>()
                    try {
                        val base = "conf.reconnect.${client.session!!.id}x${System.nanoTime()}"
                        val events = Channel<Event>(Channel.UNLIMITED)
                        client.register("$base.", RegisterOptions { match(MatchPolicy.PREFIX) }) { inv ->
                            InvokeResult.of("client", inv.procedure)
                        }
                        client.subscribe("$base.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { events.send(it) }
                        val started = CompletableDeferred<Unit>()
                        other.register("$base-stall") {
                            started.complete(Unit)
                            release.await()
                            InvokeResult()
                        }
                        other.call("$base.one").args shouldBe listOf("client", "$base.one")
                        val before = client.session!!.id

                        val recorded = record(client)
                        val inFlight = async { runCatching { client.call("$base-stall") } }
                        started.await()
                        val endedAt = System.nanoTime()
                        ending.end(client, other)

                        val failure = inFlight.await().exceptionOrNull()
                        if (ending.testkitOnly) {
                            failure.shouldBeInstanceOf<WampConnectionLostException>()
                        } else {
                            failure.shouldBeInstanceOf<WampSessionClosedException>()
                        }
                        val lost = recorded.receive().shouldBeInstanceOf<ConnectionEvent.Disconnected>()
                        lost.cause.shouldBeInstanceOf<WampSessionClosedException>()
                        lost.retryInMillis shouldBe wait.inWholeMilliseconds
                        val connecting = recorded.receive()
                        connecting shouldBe ConnectionEvent.Connecting(1)
                        val connected = recorded.receive().shouldBeInstanceOf<ConnectionEvent.Connected>()
                        listOf(lost, connecting, connected).map { it.state } shouldContainExactly
                            listOf(ConnectionState.BACKING_OFF, ConnectionState.CONNECTING, ConnectionState.CONNECTED)
                        // The client waited its backoff before the new attempt, and no longer than needed.
                        val took = (System.nanoTime() - endedAt).nanoseconds
                        (took >= wait) shouldBe true
                        (took < wait + 10.seconds) shouldBe true
                        client.state.value shouldBe ConnectionState.CONNECTED

                        val after = client.session.shouldNotBeNull()
                        after.id shouldNotBe before
                        client.procedures shouldContainExactly listOf("$base.")
                        client.topics shouldContainExactly listOf("$base.")
                        // Restored with their options: the prefix still matches, and the concrete URI comes along.
                        other.call("$base.two").args shouldBe listOf("client", "$base.two")
                        other.publish("$base.news", listOf(1L), options = PublishOptions { acknowledge() })
                        val event = events.receive()
                        (event.topic to event.args) shouldBe ("$base.news" to listOf(1L))
                        client.call("$base.three").args shouldBe listOf("client", "$base.three")
                    } finally {
                        release.complete(Unit)
                        other.leave()
                        client.closeAndJoin()
                    }
                }
            }
        }
    }

    for ((transport, url) in subject.urls) {
        test(
            "$transport: refused joins (testkit router): the waits grow per the backoff between attempts, then the " +
                "client rejoins and restores",
        ).config(enabledOrReasonIf = RouterSubject.needsFake("the testkit router's fault controls (refuse joins)")) {
            withTimeout(30.seconds) {
                val router = subject.router!!
                val client = WampClient(url, subject.config(), fixedWait(50.milliseconds, quickDrop = false))
                client.connect()
                try {
                    val proc = "conf.refused.${client.session!!.id}"
                    client.register(proc) { InvokeResult.of("back") }
                    val recorded = record(client)
                    router.faults.refuseNext(2)
                    router.faults.drop(client.session!!.id) shouldBe true
                    // A session that lived long enough: the first redial is at once.
                    recorded.receive().shouldBeInstanceOf<ConnectionEvent.Disconnected>().retryInMillis shouldBe 0
                    for ((attempt, wait) in listOf(1 to 50L, 2 to 100L)) {
                        recorded.receive() shouldBe ConnectionEvent.Connecting(attempt)
                        recorded.receive().shouldBeInstanceOf<ConnectionEvent.DialFailed>().retryInMillis shouldBe wait
                    }
                    recorded.receive() shouldBe ConnectionEvent.Connecting(3)
                    recorded.receive().shouldBeInstanceOf<ConnectionEvent.Connected>()
                    router.faults.pendingRefusals shouldBe 0
                    WampSession.connect(subject.firstUrl, subject.config()).use { other ->
                        other.call(proc).args shouldBe listOf("back")
                    }
                } finally {
                    router.faults.refuseNext(0)
                    client.closeAndJoin()
                }
            }
        }

        test(
            "$transport: after maxAttempts failed attempts (testkit router) the client closes with " +
                "ReconnectExhaustedException; waiting and later operations fail with it",
        ).config(enabledOrReasonIf = RouterSubject.needsFake("the testkit router's fault controls (refuse joins)")) {
            withTimeout(30.seconds) {
                val router = subject.router!!
                val policy = fixedWait(20.milliseconds, maxAttempts = 3, quickDrop = false)
                val client = WampClient(url, subject.config(), policy)
                client.connect()
                try {
                    val proc = "conf.exhausted.${client.session!!.id}"
                    client.register(proc) { InvokeResult() }
                    val recorded = record(client)
                    router.faults.refuseNext(10)
                    router.faults.drop(client.session!!.id) shouldBe true
                    recorded.receive().shouldBeInstanceOf<ConnectionEvent.Disconnected>()
                    // Made while the client is down: it waits for a rejoin that never comes.
                    val waiting = async { runCatching { client.call(proc) } }
                    val seen = ArrayList<ConnectionEvent>()
                    while (true) {
                        val e = recorded.receive()
                        seen += e
                        if (e is ConnectionEvent.Closed) break
                    }
                    // Three refused attempts, a wait after each of the first two, then the end.
                    seen.filterIsInstance<ConnectionEvent.Connecting>().map { it.attempt } shouldBe listOf(1, 2, 3)
                    seen.filterIsInstance<ConnectionEvent.DialFailed>().map { it.retryInMillis } shouldBe
                        listOf(20L, 40L)
                    val closed = seen.last().shouldBeInstanceOf<ConnectionEvent.Closed>()
                    closed.cause.shouldBeInstanceOf<ReconnectExhaustedException>().attempts shouldBe 3
                    client.state.value shouldBe ConnectionState.CLOSED
                    router.faults.pendingRefusals shouldBe 7
                    waiting.await().exceptionOrNull().shouldBeInstanceOf<ReconnectExhaustedException>()
                    shouldThrow<ReconnectExhaustedException> { client.call(proc) }
                    shouldThrow<ReconnectExhaustedException> { client.register("$proc.more") { InvokeResult() } }
                    client.awaitClosed().shouldBeInstanceOf<ReconnectExhaustedException>()
                    recorded.receiveCatching().isClosed shouldBe true // the event stream ended with Closed
                } finally {
                    router.faults.refuseNext(0)
                    client.closeAndJoin()
                }
            }
        }
    }
})
