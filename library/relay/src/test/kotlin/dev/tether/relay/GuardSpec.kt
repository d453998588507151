package dev.tether.relay

import dev.tether.core.backoff.GuardBackoff
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.delay
import kotlinx.coroutines.test.runTest
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** The guard's timing in virtual time: quick reconnect at 1.5 s, then 0, 2, 4, 8 … s ticks over the picker. */
class GuardSpec : FunSpec({
    val exact = GuardBackoff(randomizationFactor = 0.0)
    val store = TokenStore(AuthToken.generate("s"))
    val url = "rel://127.0.0.1:1"

    test("quick reconnect of the same client 1.5 s after the disconnect") {
        runTest {
            val attempts = mutableListOf<Long>()
            var reconnected = 0
            val client = RelayClient(url, store, "me")
            val guard = Guard(this, 1_500.milliseconds, exact, Random(1), { listOf(url) },
                reconnect = { attempts += testScheduler.currentTime },
                pick = { error("must not pick") }, onReconnected = { reconnected++ }, onNewClient = { error("no new client") },
                isConnected = { true })
            guard.onDisconnected(client)
            guard.onDisconnected(client) // a second report while one loop runs is ignored
            testScheduler.advanceUntilIdle()
            attempts shouldContainExactly listOf(1_500L)
            reconnected shouldBe 1
            guard.isReconnecting shouldBe false
        }
    }

    test("failed quick reconnect falls back to the picker: ticks at 0, 2, 4, 8 s after it") {
        runTest {
            val picks = mutableListOf<Long>()
            var installed: RelayClient? = null
            val client = RelayClient(url, store, "me")
            val guard = Guard(this, 1_500.milliseconds, exact, Random(1), { listOf(url) },
                reconnect = { throw RelayDialException(url, RuntimeException("down")) },
                pick = {
                    picks += testScheduler.currentTime
                    if (picks.size < 4) throw NoRelayAvailableException(listOf(RuntimeException("down")))
                    client
                },
                onReconnected = { error("not a quick reconnect") }, onNewClient = { installed = it })
            guard.onDisconnected(client)
            testScheduler.advanceUntilIdle()
            picks shouldContainExactly listOf(1_500L, 3_500L, 7_500L, 15_500L)
            installed shouldBe client
        }
    }

    test("no quick reconnect when the URL is no longer configured, or without a client") {
        runTest {
            val picks = mutableListOf<Long>()
            val client = RelayClient(url, store, "me")
            val guard = Guard(this, 1_500.milliseconds, exact, Random(1), { listOf("rel://other:1") },
                reconnect = { error("must not reconnect") },
                pick = { picks += testScheduler.currentTime; client }, onReconnected = {}, onNewClient = {})
            guard.onDisconnected(client)
            testScheduler.advanceUntilIdle()
            guard.onDisconnected(null)
            testScheduler.advanceUntilIdle()
            picks shouldContainExactly listOf(0L, 0L)
        }
    }

    test("a slow attempt is followed at once: the interval counts from the attempt's start") {
        runTest {
            val picks = mutableListOf<Long>()
            val guard = Guard(this, 1_500.milliseconds, exact, Random(1), { emptyList() },
                reconnect = {},
                pick = {
                    picks += testScheduler.currentTime
                    delay(5.seconds) // slower than the 2 s interval
                    if (picks.size < 3) throw NoRelayAvailableException(emptyList())
                    RelayClient(url, store, "me")
                },
                onReconnected = {}, onNewClient = {})
            guard.onDisconnected(null)
            testScheduler.advanceUntilIdle()
            // tick 0 runs 0..5 s, its 2 s interval already passed: next at 5 s; then the 4 s interval ends at 9 s < 10 s
            picks shouldContainExactly listOf(0L, 5_000L, 10_000L)
        }
    }

    test("with jitter each wait stays within ±50 % of 2, 4, 8, … 60 s and it never gives up") {
        runTest {
            val picks = mutableListOf<Long>()
            val guard = Guard(this, 1_500.milliseconds, GuardBackoff.DEFAULT, Random(7), { emptyList() },
                reconnect = {},
                pick = { picks += testScheduler.currentTime; if (picks.size < 12) throw NoRelayAvailableException(emptyList()); RelayClient(url, store, "me") },
                onReconnected = {}, onNewClient = {})
            guard.onDisconnected(null)
            testScheduler.advanceUntilIdle()
            picks.size shouldBe 12
            val waits = picks.zipWithNext { x, y -> y - x }
            val centers = listOf(2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60).map { it * 1_000L }
            waits.zip(centers).forEach { (w, c) -> (w >= c / 2 && w <= c * 3 / 2 + 1) shouldBe true }
        }
    }

    test("a drop reported as the quick reconnect reports success starts a new loop") {
        runTest {
            val attempts = mutableListOf<Long>()
            var reconnected = 0
            val client = RelayClient(url, store, "me")
            lateinit var guard: Guard
            guard = Guard(this, 1_500.milliseconds, exact, Random(1), { listOf(url) },
                reconnect = { attempts += testScheduler.currentTime },
                pick = { error("must not pick") },
                onReconnected = { if (++reconnected == 1) guard.onDisconnected(client) }, // the session dropped again at once
                onNewClient = { error("no new client") }, isConnected = { true })
            guard.onDisconnected(client)
            testScheduler.advanceUntilIdle()
            attempts shouldContainExactly listOf(1_500L, 3_000L)
            reconnected shouldBe 2
            guard.isReconnecting shouldBe false
        }
    }

    test("a drop whose report came while the quick reconnect was finishing is noticed and reconnected") {
        runTest {
            val attempts = mutableListOf<Long>()
            val client = RelayClient(url, store, "me")
            lateinit var guard: Guard
            guard = Guard(this, 1_500.milliseconds, exact, Random(1), { listOf(url) },
                reconnect = {
                    attempts += testScheduler.currentTime
                    if (attempts.size == 1) guard.onDisconnected(client) // reported while the loop still runs: ignored
                },
                pick = { error("must not pick") }, onReconnected = {}, onNewClient = { error("no new client") },
                isConnected = { attempts.size > 1 }) // the first session is already gone when the loop reports
            guard.onDisconnected(client)
            testScheduler.advanceUntilIdle()
            attempts shouldContainExactly listOf(1_500L, 3_000L)
            guard.isReconnecting shouldBe false
        }
    }

    test("a drop reported while the picked client is being installed starts a new loop") {
        runTest {
            val picks = mutableListOf<Long>()
            val installed = mutableListOf<RelayClient>()
            lateinit var guard: Guard
            guard = Guard(this, 1_500.milliseconds, exact, Random(1), { emptyList() },
                reconnect = { error("no quick reconnect without a configured URL") },
                pick = { picks += testScheduler.currentTime; RelayClient(url, store, "me") },
                onReconnected = {},
                onNewClient = { installed += it; if (installed.size == 1) guard.onDisconnected(it) })
            guard.onDisconnected(null)
            testScheduler.advanceUntilIdle()
            picks shouldContainExactly listOf(0L, 0L)
            installed.size shouldBe 2
        }
    }

    test("stop cancels the loop and a later disconnect starts afresh") {
        runTest {
            val picks = mutableListOf<Long>()
            val guard = Guard(this, 1_500.milliseconds, exact, Random(1), { emptyList() },
                reconnect = {},
                pick = { picks += testScheduler.currentTime; throw NoRelayAvailableException(emptyList()) },
                onReconnected = {}, onNewClient = {})
            guard.onDisconnected(null)
            testScheduler.advanceTimeBy(2_500) // ticks at 0 and 2 s
            guard.stop()
            guard.isReconnecting shouldBe false
            testScheduler.advanceTimeBy(10_000)
            picks shouldContainExactly listOf(0L, 2_000L)
            guard.onDisconnected(null)
            testScheduler.runCurrent()
            picks shouldContainExactly listOf(0L, 2_000L, 12_500L)
            guard.stop()
        }
    }
})
