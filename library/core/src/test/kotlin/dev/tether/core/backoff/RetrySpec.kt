@file:OptIn(ExperimentalCoroutinesApi::class)

package dev.tether.core.backoff

import dev.tether.core.TetherException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.matchers.types.shouldBeSameInstanceAs
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.currentTime
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import kotlinx.coroutines.withTimeout
import java.io.IOException
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import java.util.function.Predicate
import java.util.function.Supplier
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.Duration.Companion.seconds

/** Records the virtual time of each attempt and fails the first [failures] of them. */
private class Flaky(private val scope: TestScope, private val failures: Int, private val error: (Int) -> Throwable) {
    val times = mutableListOf<Long>()

    suspend fun call(attempt: Int): String {
        times += scope.currentTime
        attempt shouldBe times.size
        if (attempt <= failures) throw error(attempt)
        return "ok after $attempt"
    }
}

class RetrySpec : FunSpec({

    val defaults = RetryConfig.DEFAULT

    test("the first attempt is immediate and its success is returned") {
        runTest {
            val flaky = Flaky(this, failures = 0) { IOException("boom $it") }
            defaults.retry(block = flaky::call) shouldBe "ok after 1"
            flaky.times shouldBe listOf(0L)
            currentTime shouldBe 0L
        }
    }

    test("retries wait initialDelay, then nextDelay of the previous delay (u = 0.5: 500, 750, 1125 ms)") {
        runTest {
            val flaky = Flaky(this, failures = 3) { IOException("boom $it") }
            defaults.retry(random = ScriptedRandom(0.5), block = flaky::call) shouldBe "ok after 4"
            flaky.times shouldBe listOf(0L, 500L, 1250L, 2375L)
            currentTime shouldBe 2375L
        }
    }

    test("with u = 0 and the defaults every wait equals initialDelay") {
        runTest {
            val flaky = Flaky(this, failures = 4) { IOException("boom $it") }
            defaults.retry(random = ScriptedRandom(0.0), block = flaky::call)
            flaky.times shouldBe listOf(0L, 500L, 1000L, 1500L, 2000L)
        }
    }

    test("with a seeded random the gaps follow nextDelay exactly") {
        runTest {
            val flaky = Flaky(this, failures = 6) { IOException("boom $it") }
            defaults.retry(random = Random(77), block = flaky::call)
            val gaps = flaky.times.zipWithNext { a, b -> b - a }
            val expected = mutableListOf<Long>()
            val twin = Random(77)
            var d = defaults.initialDelay
            repeat(6) {
                expected += (d + 999_999.nanoseconds).inWholeMilliseconds // delay() rounds up to whole ms
                d = defaults.nextDelay(d, twin)
            }
            gaps shouldBe expected
        }
    }

    test("RetryTimedOutException comes at exactly maxElapsedTime (2 s), with the last failure as cause") {
        runTest {
            val config = RetryConfig(maxElapsedTime = 2.seconds)
            val flaky = Flaky(this, failures = Int.MAX_VALUE) { IOException("boom $it") }
            val e = shouldThrow<RetryTimedOutException> { config.retry(random = Random(1), block = flaky::call) }
            currentTime shouldBe 2_000L
            e.attempts shouldBe flaky.times.size
            e.cause.shouldBeInstanceOf<IOException>().message shouldBe "boom ${flaky.times.size}"
            e.maxElapsedTime shouldBe 2.seconds
            e.maxElapsedTimeJava shouldBe java.time.Duration.ofSeconds(2)
            e.shouldBeInstanceOf<TetherException>()
            e.message shouldContain "retry timed out"
            e.message shouldContain "maxElapsedTime"
        }
    }

    test("with u = 0.5 and a 2 s budget: attempts at 0, 500, 1250 ms, then the time-out at 2000 ms") {
        runTest {
            val config = RetryConfig(maxElapsedTime = 2.seconds)
            val flaky = Flaky(this, failures = Int.MAX_VALUE) { IOException("boom $it") }
            val e =
                shouldThrow<RetryTimedOutException> { config.retry(random = ScriptedRandom(0.5), block = flaky::call) }
            flaky.times shouldBe listOf(0L, 500L, 1250L)
            currentTime shouldBe 2_000L
            e.attempts shouldBe 3
        }
    }

    test("the budget counts from the end of the first failed attempt") {
        runTest {
            val config = RetryConfig(maxElapsedTime = 2.seconds)
            var calls = 0
            shouldThrow<RetryTimedOutException> {
                config.retry(random = ScriptedRandom(0.5)) {
                    calls++
                    if (it == 1) delay(300)
                    throw IOException("slow failure")
                }
            }
            currentTime shouldBe 2_300L
            calls shouldBe 3
        }
    }

    test("an attempt still running when the budget ends is cancelled") {
        runTest {
            val config = RetryConfig(maxElapsedTime = 2.seconds)
            var finished = 0
            val e = shouldThrow<RetryTimedOutException> {
                config.retry<Unit>(random = ScriptedRandom(0.0)) {
                    if (it == 1) throw IOException("first")
                    delay(10.seconds)
                    finished++
                }
            }
            currentTime shouldBe 2_000L
            finished shouldBe 0
            e.cause!!.message shouldBe "first"
        }
    }

    test("the default budget is 3 minutes") {
        runTest {
            shouldThrow<RetryTimedOutException> {
                defaults.retry<Unit>(random = Random(2)) { throw IOException("down") }
            }
            currentTime shouldBe 3.minutes.inWholeMilliseconds
        }
    }

    test("a non-retryable failure of the first attempt is rethrown at once") {
        runTest {
            val boom = IllegalStateException("bad config")
            val thrown = shouldThrow<IllegalStateException> {
                defaults.retry<Unit>(isRetryable = { it is IOException }) { throw boom }
            }
            thrown shouldBeSameInstanceAs boom
            currentTime shouldBe 0L
        }
    }

    test("a non-retryable failure inside the loop is rethrown at once") {
        runTest {
            val flaky =
                Flaky(this, failures = 5) {
                    if (it == 1) IOException("transient") else IllegalStateException("fatal $it")
                }
            val e = shouldThrow<IllegalStateException> {
                defaults.retry(isRetryable = { it is IOException }, random = ScriptedRandom(0.5), block = flaky::call)
            }
            e.message shouldBe "fatal 2"
            flaky.times shouldBe listOf(0L, 500L)
            currentTime shouldBe 500L
        }
    }

    test("an attempt's own time-out is an ordinary, retryable failure") {
        runTest {
            val result = defaults.retry(random = ScriptedRandom(0.0)) { attempt ->
                withTimeout(100.milliseconds) { delay(if (attempt < 3) 1_000L else 10L) }
                attempt
            }
            result shouldBe 3
            currentTime shouldBe 100L + 500L + 100L + 500L + 10L
        }
    }

    test("cancelling the caller cancels the retry, not a time-out") {
        runTest {
            var calls = 0
            var outcome: Throwable? = null
            val job = launch {
                try {
                    defaults.retry<Unit>(random = ScriptedRandom(0.0)) {
                        calls++
                        throw IOException("down")
                    }
                } catch (e: Throwable) {
                    outcome = e
                    throw e
                }
            }
            advanceTimeBy(1_200)
            runCurrent()
            calls shouldBe 3 // 0, 500, 1000 ms
            job.cancel()
            job.join()
            outcome.shouldBeInstanceOf<CancellationException>()
            calls shouldBe 3
        }
    }

    test("an infinite budget keeps retrying") {
        runTest {
            val config = RetryConfig(maxDelay = 1.seconds, maxElapsedTime = Duration.INFINITE)
            val flaky = Flaky(this, failures = 500) { IOException("boom $it") }
            config.retry(random = Random(4), block = flaky::call) shouldBe "ok after 501"
            flaky.times shouldHaveSize 501
        }
    }

    context("the Java face, retryAsync (real time, small delays)") {
        val fast = RetryConfig(
            initialDelay = 1.milliseconds,
            maxDelay = 2.milliseconds,
            maxElapsedTime = 10.seconds,
        )

        test("completes with the first success") {
            var calls = 0
            val f = fast.retryAsync(
                Supplier {
                    calls++
                    if (calls < 3) {
                        CompletableFuture.failedFuture(
                            IOException("no"),
                        )
                    } else {
                        CompletableFuture.completedFuture("yes")
                    }
                },
            )
            f.get(10, TimeUnit.SECONDS) shouldBe "yes"
            calls shouldBe 3
        }

        test("completes exceptionally with a non-retryable failure, unwrapped") {
            val f = fast.retryAsync<String>(
                Supplier { CompletableFuture.supplyAsync { throw IllegalStateException("fatal") } },
                Predicate { it is IOException },
            )
            val e = shouldThrow<ExecutionException> { f.get(10, TimeUnit.SECONDS) }
            e.cause.shouldBeInstanceOf<IllegalStateException>().message shouldBe "fatal"
        }

        test("completes with RetryTimedOutException when the budget is used up") {
            val tight = fast.toBuilder().maxElapsedTime(java.time.Duration.ofMillis(30)).build()
            val f = tight.retryAsync<String>(Supplier { CompletableFuture.failedFuture(IOException("down")) })
            val e = shouldThrow<ExecutionException> { f.get(10, TimeUnit.SECONDS) }
            e.cause.shouldBeInstanceOf<RetryTimedOutException>().cause.shouldBeInstanceOf<IOException>()
        }
    }
})
