package dev.tether.relay

import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.GuardBackoff
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.delay
import kotlinx.coroutines.test.runTest
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The guard's timing in virtual time (quick reconnect at 1.5 s, then 0, 2, 4, 8 … s ticks over the picker) and the
 * connection events it reports.
 */
class GuardSpec : FunSpec({
    val exact = GuardBackoff(randomizationFactor = 0.0)
    val store = TokenStore(AuthToken.generate("s"))
    val url = "rel://127.0.0.1:1"
    val dropped = RelaySessionLostException(RelaySessionLoss.CONNECTION_LOST, "socket dropped")

    test("quick reconnect: a new client for the same URL 1.5 s after the disconnect, reported as events") {
        runTest {
            val attempts = mutableListOf<Long>()
            val installed = mutableListOf<RelayClient>()
            val events = mutableListOf<ConnectionEvent>()
            val lost = RelayClient(url, store, "me")
            val fresh = RelayClient(url, store, "me")
            val guard = Guard(
                this, 1_500.milliseconds, exact, Random(1), { listOf(url) },
                redial = { u ->
                    attempts += testScheduler.currentTime
                    u shouldBe url
                    fresh
                },
                pick = { error("must not pick") }, onNewClient = { installed += it }, report = { events += it },
            )
            guard.onDisconnected(lost, dropped)
            guard.onDisconnected(lost, dropped) // a second report while one loop runs is ignored
            testScheduler.advanceUntilIdle()
            attempts shouldContainExactly listOf(1_500L)
            installed shouldContainExactly listOf(fresh)
            events shouldContainExactly
                listOf(ConnectionEvent.Disconnected(dropped, 1_500), ConnectionEvent.Connecting(1))
            guard.isReconnecting shouldBe false
        }
    }

    test("failed quick reconnect falls back to the picker: ticks at 0, 2, 4, 8 s after it, each one reported") {
        runTest {
            val picks = mutableListOf<Long>()
            var installed: RelayClient? = null
            val events = mutableListOf<ConnectionEvent>()
            val client = RelayClient(url, store, "me")
            val refused = RelayDialException(url, RuntimeException("down"))
            val guard = Guard(
                this, 1_500.milliseconds, exact, Random(1), { listOf(url) },
                redial = { throw refused },
                pick = {
                    picks += testScheduler.currentTime
                    if (picks.size < 4) throw NoRelayAvailableException(listOf(RuntimeException("down")))
                    client
                },
                onNewClient = { installed = it }, report = { events += it },
            )
            guard.onDisconnected(client, dropped)
            testScheduler.advanceUntilIdle()
            picks shouldContainExactly listOf(1_500L, 3_500L, 7_500L, 15_500L)
            installed shouldBe client
            events.map { it::class.simpleName + ":" + it.state } shouldContainExactly listOf(
                "Disconnected:BACKING_OFF", "Connecting:CONNECTING", "DialFailed:BACKING_OFF",
                "Connecting:CONNECTING", "DialFailed:BACKING_OFF", "Connecting:CONNECTING", "DialFailed:BACKING_OFF",
                "Connecting:CONNECTING", "DialFailed:BACKING_OFF", "Connecting:CONNECTING",
            )
            events.filterIsInstance<ConnectionEvent.Connecting>().map { it.attempt } shouldContainExactly
                listOf(1, 2, 3, 4, 5)
            val failures = events.filterIsInstance<ConnectionEvent.DialFailed>()
            failures.first().cause shouldBe refused
            failures.first().retryInMillis shouldBe 0L // the picker's first tick is immediate
            // what is left of each tick's interval after its failed attempt: 2, 4, 8 s (the attempts take no time)
            val waits = failures.drop(1).map { it.retryInMillis }
            waits.zip(listOf(2_000L, 4_000L, 8_000L)).forEach { (got, tick) -> (got in tick - 50..tick) shouldBe true }
        }
    }

    test("no quick reconnect when the URL is no longer configured, or without a client") {
        runTest {
            val picks = mutableListOf<Long>()
            val client = RelayClient(url, store, "me")
            val guard = Guard(
                this,
                1_500.milliseconds,
                exact,
                Random(1),
                { listOf("rel://other:1") },
                redial = { error("must not reconnect") },
                pick = {
                    picks += testScheduler.currentTime
                    client
                },
                onNewClient = {},
            )
            guard.onDisconnected(client, dropped)
            testScheduler.advanceUntilIdle()
            guard.onDisconnected(null, dropped)
            testScheduler.advanceUntilIdle()
            picks shouldContainExactly listOf(0L, 0L)
        }
    }

    test("a slow attempt is followed at once: the interval counts from the attempt's start") {
        runTest {
            val picks = mutableListOf<Long>()
            val guard = Guard(
                this,
                1_500.milliseconds,
                exact,
                Random(1),
                { emptyList() },
                redial = { error("no URL configured") },
                pick = {
                    picks += testScheduler.currentTime
                    delay(5.seconds) // slower than the 2 s interval
                    if (picks.size < 3) throw NoRelayAvailableException(emptyList())
                    RelayClient(url, store, "me")
                },
                onNewClient = {},
            )
            guard.onDisconnected(null, dropped)
            testScheduler.advanceUntilIdle()
            // tick 0 runs 0..5 s, its 2 s interval already passed: next at 5 s; then the 4 s interval ends at
            // 9 s < 10 s
            picks shouldContainExactly listOf(0L, 5_000L, 10_000L)
        }
    }

    test("with jitter each wait stays within ±50 % of 2, 4, 8, … 60 s and it never gives up") {
        runTest {
            val picks = mutableListOf<Long>()
            val guard = Guard(
                this,
                1_500.milliseconds,
                GuardBackoff.DEFAULT,
                Random(7),
                { emptyList() },
                redial = { error("no URL configured") },
                pick = {
                    picks += testScheduler.currentTime
                    if (picks.size < 12) throw NoRelayAvailableException(emptyList())
                    RelayClient(url, store, "me")
                },
                onNewClient = {},
            )
            guard.onDisconnected(null, dropped)
            testScheduler.advanceUntilIdle()
            picks.size shouldBe 12
            val waits = picks.zipWithNext { x, y -> y - x }
            val centers = listOf(2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60).map { it * 1_000L }
            waits.zip(centers).forEach { (w, c) -> (w >= c / 2 && w <= c * 3 / 2 + 1) shouldBe true }
        }
    }

    test("a drop reported from inside the success report starts a new loop") {
        runTest {
            val attempts = mutableListOf<Long>()
            val installed = mutableListOf<RelayClient>()
            lateinit var guard: Guard
            guard = Guard(
                this,
                1_500.milliseconds,
                exact,
                Random(1),
                { listOf(url) },
                redial = {
                    attempts += testScheduler.currentTime
                    RelayClient(url, store, "me")
                },
                pick = { error("must not pick") },
                // the new session dropped again at once
                onNewClient = {
                    installed += it
                    if (installed.size == 1) guard.onDisconnected(it, dropped)
                },
            )
            guard.onDisconnected(RelayClient(url, store, "me"), dropped)
            testScheduler.advanceUntilIdle()
            attempts shouldContainExactly listOf(1_500L, 3_000L)
            installed.size shouldBe 2
            guard.isReconnecting shouldBe false
        }
    }

    test("a drop reported while the picked client is being installed starts a new loop") {
        runTest {
            val picks = mutableListOf<Long>()
            val installed = mutableListOf<RelayClient>()
            lateinit var guard: Guard
            guard = Guard(
                this,
                1_500.milliseconds,
                exact,
                Random(1),
                { emptyList() },
                redial = { error("no quick reconnect without a configured URL") },
                pick = {
                    picks += testScheduler.currentTime
                    RelayClient(url, store, "me")
                },
                onNewClient = {
                    installed += it
                    if (installed.size == 1) guard.onDisconnected(it, dropped)
                },
            )
            guard.onDisconnected(null, dropped)
            testScheduler.advanceUntilIdle()
            picks shouldContainExactly listOf(0L, 0L)
            installed.size shouldBe 2
        }
    }

    test("stop cancels the loop and a later disconnect starts afresh") {
        runTest {
            val picks = mutableListOf<Long>()
            val guard = Guard(
                this,
                1_500.milliseconds,
                exact,
                Random(1),
                { emptyList() },
                redial = { error("no URL configured") },
                pick = {
                    picks += testScheduler.currentTime
                    throw NoRelayAvailableException(emptyList())
                },
                onNewClient = {},
            )
            guard.onDisconnected(null, dropped)
            testScheduler.advanceTimeBy(2_500) // ticks at 0 and 2 s
            guard.stop()
            guard.isReconnecting shouldBe false
            testScheduler.advanceTimeBy(10_000)
            picks shouldContainExactly listOf(0L, 2_000L)
            guard.onDisconnected(null, dropped)
            testScheduler.runCurrent()
            picks shouldContainExactly listOf(0L, 2_000L, 12_500L)
            guard.stop()
        }
    }
})
