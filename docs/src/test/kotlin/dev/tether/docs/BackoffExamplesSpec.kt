package dev.tether.docs

import dev.tether.core.backoff.RetryTimedOutException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.test.currentTime
import kotlinx.coroutines.test.runTest
import java.io.IOException
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/** Checks the Kotlin examples of docs/backoff.md; the retry loop runs in virtual time. */
class BackoffExamplesSpec : FunSpec({

    fun Duration.shouldBeWithin(lo: Duration, hi: Duration) {
        (this in lo..hi) shouldBe true
    }

    test("without jitter the reconnect delays are upstream's 1, 2, 4 ... 60, 60 s") {
        BackoffExamples.upstreamReconnectDelays() shouldBe listOf(1, 2, 4, 8, 16, 32, 60, 60).map { it.seconds }
    }

    test("the default schedule spreads each delay by 20 % and treats a quick drop as a failure") {
        val (failures, afterQuickDrop, afterLongLife) = BackoffExamples.jitteredReconnect(seed = 1)
        failures[0].shouldBeWithin(800.milliseconds, 1200.milliseconds)
        failures[1].shouldBeWithin(1600.milliseconds, 2400.milliseconds)
        failures[2].shouldBeWithin(3200.milliseconds, 4800.milliseconds)
        afterQuickDrop.shouldBeWithin(6400.milliseconds, 9600.milliseconds)
        afterLongLife shouldBe Duration.ZERO
        BackoffExamples.jitteredReconnect(seed = 1) shouldBe BackoffExamples.jitteredReconnect(seed = 1)
    }

    test("the guard ticker starts at once and never gives up") {
        BackoffExamples.guardTicks() shouldBe listOf(0, 2, 4, 8, 16, 32, 60, 60).map { it.seconds }
    }

    test("retry: I/O failures are retried in virtual time until one succeeds") {
        // docs:start virtual-time
        runTest {
            // kotlinx-coroutines-test: delays advance a virtual clock instantly
            val result = BackoffExamples.fetchWithRetry { attempt ->
                if (attempt < 3) throw IOException("flaky") else "ok after $attempt"
            }
            result shouldBe "ok after 3"
            // 1 s after the first failure, then 1-2 s after the second: 2-3 s of virtual time, no real waiting.
            (currentTime in 2_000L..3_000L) shouldBe true
        }
        // docs:end virtual-time
    }

    test("retry: the budget of 2 minutes ends in RetryTimedOutException with the last failure") {
        runTest {
            val e = shouldThrow<RetryTimedOutException> {
                BackoffExamples.fetchWithRetry { throw IOException("down") }
            }
            (e.cause is IOException) shouldBe true
            currentTime shouldBe 2.minutes.inWholeMilliseconds
        }
    }

    test("retry: other failures are not retried") {
        runTest {
            var attempts = 0
            shouldThrow<IllegalStateException> {
                BackoffExamples.fetchWithRetry {
                    attempts++
                    error("bad input")
                }
            }
            attempts shouldBe 1
        }
    }
})
