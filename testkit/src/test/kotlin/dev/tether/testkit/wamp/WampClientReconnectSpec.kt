package dev.tether.testkit.wamp

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.ReconnectPolicy
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampClient
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.ReconnectExhaustedException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.serializer.Serialization
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
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.TestCoroutineScheduler
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * WampClient against the testkit router's faults: rejoin with re-registration and re-subscription after a drop,
 * typed failure of calls in flight, the backoff schedule and the attempt bound in virtual time, keepalive expiry,
 * a first connect that fails fast, and a close that stops reconnecting.
 */
class WampClientReconnectSpec : FunSpec({
    val router = FakeWampRouter.start()
    afterSpec { router.close() }

    fun config(serialization: Serialization = Serialization.JSON) = SessionConfig("realm1") {
        responseTimeout(2.seconds)
        serialization(serialization)
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

    /** A policy whose waits run on [scheduler]'s virtual clock: exactly 1 s, 2 s, 4 s, ... (no jitter). */
    fun virtualPolicy(scheduler: TestCoroutineScheduler, maxAttempts: Int = 0) = ReconnectPolicy {
        backoff(ExponentialBackoff(minDelay = 1.seconds, maxDelay = 8.seconds, randomizationFactor = 0.0))
        maxAttempts(maxAttempts)
        waitContext(StandardTestDispatcher(scheduler))
    }

    /** Moves virtual time on by [millis] and runs what became due. */
    fun TestCoroutineScheduler.advance(millis: Long) {
        advanceTimeBy(millis)
        runCurrent()
    }

    val transports = listOf(
        router.wsUrl to Serialization.JSON,
        router.tcpUrl to Serialization.MSGPACK,
        router.wsUrl to Serialization.CBOR,
    )
    for ((url, serialization) in transports) {
        test(
            "after a drop the client rejoins and restores its registration and subscription with their options " +
                "($url, $serialization)",
        ) {
            withTimeout(30.seconds) {
                val callee = WampClient(url, config(serialization)).apply { connect() }
                val caller = WampClient(url, config(serialization)).apply { connect() }
                try {
                    val events = Channel<String>(Channel.UNLIMITED)
                    callee.register("com.example.add", RegisterOptions { match(MatchPolicy.PREFIX) }) { inv ->
                        InvokeResult.of(inv.procedure, (inv.args[0] as Long) + (inv.args[1] as Long))
                    }
                    callee.subscribe(
                        "com.example.tick",
                        SubscribeOptions { match(MatchPolicy.PREFIX) },
                    ) { e -> events.send("${e.topic}:${e.args[0]}") }
                    caller.call("com.example.add.one", listOf(1, 2)).args shouldBe listOf("com.example.add.one", 3L)
                    caller.publish("com.example.tick.a", listOf(1), options = PublishOptions { acknowledge(true) })
                    events.receive() shouldBe "com.example.tick.a:1"

                    val before = callee.session.shouldNotBeNull().id
                    val recorded = record(callee)
                    val callerEvents = record(caller)
                    router.faults.dropAll()
                    // Disconnected, then a new attempt that joins and restores before it reports Connected.
                    recorded.receive().shouldBeInstanceOf<ConnectionEvent.Disconnected>()
                        .cause.shouldBeInstanceOf<WampConnectionLostException>()
                    recorded.receive() shouldBe ConnectionEvent.Connecting(1)
                    recorded.receive().shouldBeInstanceOf<ConnectionEvent.Connected>()
                    val after = callee.session.shouldNotBeNull()
                    after.id shouldNotBe before
                    after.registrationId("com.example.add").shouldNotBeNull()
                    callee.procedures shouldContainExactly listOf("com.example.add")
                    callee.topics shouldContainExactly listOf("com.example.tick")

                    // The caller was dropped too; once it has noticed, its operations wait for the rejoin.
                    callerEvents.receive().shouldBeInstanceOf<ConnectionEvent.Disconnected>()
                    caller.call("com.example.add.two", listOf(20, 22)).args shouldBe listOf("com.example.add.two", 42L)
                    caller.publish("com.example.tick.b", listOf(2), options = PublishOptions { acknowledge(true) })
                    events.receive() shouldBe "com.example.tick.b:2"
                } finally {
                    caller.closeAndJoin()
                    callee.closeAndJoin()
                }
            }
        }
    }

    test(
        "a call in flight when the connection drops fails with WampConnectionLostException, for a client and a " +
            "plain session",
    ) {
        withTimeout(30.seconds) {
            val started = Channel<Unit>(Channel.UNLIMITED)
            val never = CompletableDeferred<Unit>()
            val callee = WampClient(router.wsUrl, config()).apply { connect() }
            val client = WampClient(router.tcpUrl, config()).apply { connect() }
            val plain = WampSession.connect(router.wsUrl, config())
            try {
                callee.register("com.example.stall") {
                    started.send(Unit)
                    never.await()
                    InvokeResult()
                }
                val viaClient = async { runCatching { client.call("com.example.stall") } }
                val viaSession = async { runCatching { plain.call("com.example.stall") } }
                started.receive()
                started.receive()
                // Only the callers: a callee that left first would have the router answer wamp.error.canceled.
                router.faults.drop(client.session.shouldNotBeNull().id) shouldBe true
                router.faults.drop(plain.id) shouldBe true
                viaClient.await().exceptionOrNull().shouldBeInstanceOf<WampConnectionLostException>()
                viaSession.await().exceptionOrNull().shouldBeInstanceOf<WampConnectionLostException>()
                // The plain session is over; the client is not.
                shouldThrow<WampConnectionLostException> { plain.call("wamp.session.count") }
                client.awaitSession().isOpen shouldBe true
            } finally {
                never.complete(Unit)
                plain.leave()
                client.closeAndJoin()
                callee.closeAndJoin()
            }
        }
    }

    test("refused joins back off 1 s, 2 s, 4 s in virtual time; then the client joins") {
        withTimeout(30.seconds) {
            val scheduler = TestCoroutineScheduler()
            router.faults.refuseNext(3)
            val client = WampClient(router.wsUrl, config(), virtualPolicy(scheduler))
            val recorded = record(client)
            client.start()
            try {
                for ((attempt, wait) in listOf(1 to 1000L, 2 to 2000L, 3 to 4000L)) {
                    recorded.receive() shouldBe ConnectionEvent.Connecting(attempt)
                    val failed = recorded.receive().shouldBeInstanceOf<ConnectionEvent.DialFailed>()
                    failed.retryInMillis shouldBe wait
                    (failed.cause as AbortException).reason shouldBe "wamp.error.system_shutdown"
                    client.state.value shouldBe ConnectionState.BACKING_OFF
                    // One millisecond short of the wait, the client is still waiting: nothing can have happened.
                    scheduler.advance(wait - 1)
                    recorded.tryReceive().getOrNull() shouldBe null
                    scheduler.advance(1)
                }
                recorded.receive() shouldBe ConnectionEvent.Connecting(4)
                recorded.receive().shouldBeInstanceOf<ConnectionEvent.Connected>()
                scheduler.currentTime shouldBe 7000L
                client.call("wamp.session.count").args.size shouldBe 1
            } finally {
                client.closeAndJoin()
            }
        }
    }

    test(
        "after maxAttempts failed attempts the client gives up: Closed with ReconnectExhaustedException, and so " +
            "fail operations",
    ) {
        withTimeout(30.seconds) {
            val scheduler = TestCoroutineScheduler()
            router.faults.refuseNext(10)
            val client = WampClient(router.wsUrl, config(), virtualPolicy(scheduler, maxAttempts = 3))
            val recorded = record(client)
            client.start()
            try {
                for (attempt in 1..2) {
                    recorded.receive() shouldBe ConnectionEvent.Connecting(attempt)
                    val failed = recorded.receive().shouldBeInstanceOf<ConnectionEvent.DialFailed>()
                    scheduler.advance(failed.retryInMillis)
                }
                recorded.receive() shouldBe ConnectionEvent.Connecting(3)
                val closed = recorded.receive().shouldBeInstanceOf<ConnectionEvent.Closed>()
                closed.cause.shouldBeInstanceOf<ReconnectExhaustedException>().attempts shouldBe 3
                client.state.value shouldBe ConnectionState.CLOSED
                router.faults.pendingRefusals shouldBe 7 // no attempt after the third
                shouldThrow<ReconnectExhaustedException> { client.call("wamp.session.count") }
                client.callAsync("wamp.session.count").isCompletedExceptionally shouldBe true
            } finally {
                router.faults.refuseNext(0)
                client.closeAndJoin()
            }
        }
    }

    test("close stops reconnecting, also while backing off; operations then fail with WampSessionClosedException") {
        withTimeout(30.seconds) {
            val scheduler = TestCoroutineScheduler()
            router.faults.refuseNext(5)
            val client = WampClient(router.wsUrl, config(), virtualPolicy(scheduler))
            val recorded = record(client)
            client.start()
            recorded.receive() shouldBe ConnectionEvent.Connecting(1)
            recorded.receive().shouldBeInstanceOf<ConnectionEvent.DialFailed>()
            client.closeAndJoin()
            recorded.receive() shouldBe ConnectionEvent.Closed(null)
            recorded.receiveCatching().isClosed shouldBe true // the event stream ends with Closed
            scheduler.advance(60_000)
            router.faults.pendingRefusals shouldBe 4
            router.faults.refuseNext(0)
            shouldThrow<WampSessionClosedException> { client.call("wamp.session.count") }

            // A joined client leaves the realm on close and does not come back.
            val joined = WampClient(router.wsUrl, config()).apply { connect() }
            val id = joined.session.shouldNotBeNull().id
            joined.closeAndJoin()
            joined.state.value shouldBe ConnectionState.CLOSED
            router.sessionIds().contains(id) shouldBe false
        }
    }

    test("the first connect fails fast with the router's refusal; start() keeps trying instead") {
        withTimeout(30.seconds) {
            router.faults.refuseNext(1, "wamp.error.not_authorized")
            shouldThrow<AbortException> {
                WampClient(
                    router.tcpUrl,
                    config(),
                ).apply { connect() }
            }.reason shouldBe "wamp.error.not_authorized"
        }
    }

    test("keepalive on RawSocket: a router that stops answering PINGs is detected, and the client reconnects") {
        withTimeout(30.seconds) {
            val client = WampClient(
                router.tcpUrl,
                SessionConfig("realm1") {
                    pingInterval(100.milliseconds)
                    pongTimeout(200.milliseconds)
                },
                ReconnectPolicy {
                    backoff(ExponentialBackoff(minDelay = 10.milliseconds, quickDropThreshold = 0.seconds))
                },
            ).apply { connect() }
            val recorded = record(client)
            try {
                val before = client.session.shouldNotBeNull().id
                router.faults.stopKeepalive(true)
                val lost = recorded.receive().shouldBeInstanceOf<ConnectionEvent.Disconnected>()
                router.faults.stopKeepalive(false)
                generateSequence<Throwable>(lost.cause) { it.cause }.any { it is KeepAliveExpiredException } shouldBe
                    true
                client.state.first { it == ConnectionState.CONNECTED }
                client.awaitSession().id shouldNotBe before
            } finally {
                router.faults.stopKeepalive(false)
                client.closeAndJoin()
            }
        }
    }

    test(
        "a slow subscriber: events past SessionConfig.eventBuffer are dropped, counted per topic, and the rest " +
            "arrive in order",
    ) {
        withTimeout(30.seconds) {
            val subscriber = WampSession.connect(router.wsUrl, SessionConfig("realm1") { eventBuffer(4) })
            val publisher = WampSession.connect(router.tcpUrl, config())
            val release = CompletableDeferred<Unit>()
            val entered = CompletableDeferred<Unit>()
            val seen = Channel<Long>(Channel.UNLIMITED)
            try {
                val marker = CompletableDeferred<Unit>()
                subscriber.subscribe("com.example.marker") { marker.complete(Unit) }
                subscriber.subscribe("com.example.flood") { e ->
                    entered.complete(Unit)
                    release.await()
                    seen.send(e.args[0] as Long)
                }
                val ack = mapOf("acknowledge" to true)
                publisher.publish("com.example.flood", listOf(0), options = ack)
                entered.await() // the handler holds event 0; the queue is empty
                for (i in 1..19) publisher.publish("com.example.flood", listOf(i), options = ack)
                // Events reach the session in publication order: once the marker's handler runs, all 20 were read.
                publisher.publish("com.example.marker", options = ack)
                marker.await()
                // The marker's handler may run before the read thread counts the marker as queued; a reply the
                // subscriber reads after that EVENT is read only once its delivery (and count) is done.
                subscriber.publish("com.example.sync", options = ack)
                val stats = subscriber.stats()
                stats.eventsQueued shouldBe 6 // events 0-4 and the marker
                stats.eventsDropped shouldBe 15
                stats.eventsDroppedByTopic shouldBe mapOf("com.example.flood" to 15L)
                release.complete(Unit)
                List(5) { seen.receive() } shouldContainExactly listOf(0L, 1L, 2L, 3L, 4L)
            } finally {
                release.complete(Unit)
                publisher.leave()
                subscriber.leave()
            }
        }
    }
})
