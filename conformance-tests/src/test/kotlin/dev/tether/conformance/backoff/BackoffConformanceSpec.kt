@file:OptIn(ExperimentalCoroutinesApi::class)

package dev.tether.conformance.backoff

import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.core.backoff.GuardBackoff
import dev.tether.core.backoff.RetryConfig
import dev.tether.core.backoff.RetryTimedOutException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.comparables.shouldBeBetween
import io.kotest.matchers.comparables.shouldBeLessThan
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.ints.shouldBeLessThanOrEqual
import io.kotest.matchers.longs.shouldBeLessThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.delay
import kotlinx.coroutines.test.currentTime
import kotlinx.coroutines.test.runTest
import java.io.IOException
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/**
 * The backoff contract a Tether user can rely on, stated once for the three policies and checked in virtual time:
 * the reconnect policy of the correlating client ([ExponentialBackoff]), the tunnel's retry ([RetryConfig]) and
 * the relay guard's ticker ([GuardBackoff]).
 */
class BackoffConformanceSpec : FunSpec({

    val secondsMs = { s: Long -> s * 1_000 }

    context("reconnect backoff of the correlating client") {
        val exact = ExponentialBackoff(randomizationFactor = 0.0)

        test("the first dial is immediate") {
            runTest {
                reconnectLoop(ExponentialBackoff.DEFAULT.newSchedule(), maxDials = 1) { DialOutcome.Refused } shouldBe
                    listOf(0L)
            }
        }

        test("with jitter off, a peer that stays down is dialled at 0, 1, 3, 7, 15, 31, 63, 123, 183 s") {
            runTest {
                reconnectLoop(exact.newSchedule(), maxDials = 9) { DialOutcome.Refused } shouldBe
                    listOf(0L, 1, 3, 7, 15, 31, 63, 123, 183).map(secondsMs)
            }
        }

        test("with the default jitter each wait is within ±20 % of 1, 2, 4, 8, 16, 32, 60, 60 s") {
            runTest {
                val base = listOf(1L, 2, 4, 8, 16, 32, 60, 60).map(secondsMs)
                repeat(50) { seed ->
                    val start = currentTime
                    val dials = reconnectLoop(ExponentialBackoff.DEFAULT.newSchedule(Random(seed)), maxDials = 9) {
                        DialOutcome.Refused
                    }
                    dials.first() shouldBe start
                    dials.zipWithNext { a, b -> b - a }.zip(base).forEach { (gap, b) ->
                        withClue("seed $seed, base $b ms") { gap.shouldBeBetween(b * 8 / 10, b * 12 / 10 + 1) }
                    }
                }
            }
        }

        test("clients dropped together do not redial in lock step") {
            runTest {
                val fifthDial = (0 until 100).map { seed ->
                    val start = currentTime
                    reconnectLoop(ExponentialBackoff.DEFAULT.newSchedule(Random(seed)), maxDials = 5) {
                        DialOutcome.Refused
                    }.last() - start
                }
                fifthDial.toSet().size shouldBeGreaterThan 90
                fifthDial.forEach { it.shouldBeBetween(secondsMs(15) * 8 / 10, secondsMs(15) * 12 / 10 + 4) }
            }
        }

        test("a connection that lived at least 1 s is redialled immediately and the backoff restarts at 1 s") {
            runTest {
                val dials = reconnectLoop(exact.newSchedule(), maxDials = 7) { dial ->
                    when (dial) {
                        4 -> DialOutcome.Accepted(10.minutes)
                        else -> DialOutcome.Refused
                    }
                }
                // refused at 0, 1, 3; connected at 7 s for 10 min; redial at once, then 1, 2 s again
                dials shouldBe listOf(0L, 1_000, 3_000, 7_000, 607_000, 608_000, 610_000)
            }
        }

        test("a peer that accepts and closes at once is redialled with growing waits, never in a tight loop") {
            runTest {
                val dials =
                    reconnectLoop(exact.newSchedule(), until = 10.minutes) { DialOutcome.Accepted(Duration.ZERO) }
                dials.take(9) shouldBe listOf(0L, 1, 3, 7, 15, 31, 63, 123, 183).map(secondsMs)
                dials.size shouldBeLessThanOrEqual 16 // 0..183 s, then one per minute up to 600 s
                val jittered = reconnectLoop(ExponentialBackoff.DEFAULT.newSchedule(Random(1)), until = 20.minutes) {
                    DialOutcome.Accepted(100.milliseconds)
                }
                jittered.size shouldBeLessThanOrEqual 32 // waits of at least 0.8 × 60 s once capped
            }
        }

        test("the same random seed gives the same schedule") {
            runTest {
                val a =
                    reconnectLoop(ExponentialBackoff.DEFAULT.newSchedule(Random(9)), maxDials = 12) {
                        DialOutcome.Refused
                    }
                val start = currentTime
                val b =
                    reconnectLoop(ExponentialBackoff.DEFAULT.newSchedule(Random(9)), maxDials = 12) {
                        DialOutcome.Refused
                    }
                b.map { it - start } shouldBe a
            }
        }
    }

    context("tunnel retry (RetryConfig)") {
        test("defaults are 500 ms, ×1.5 ± 0.5, capped at 60 s, for at most 3 min; zero means default") {
            val c = RetryConfig(Duration.ZERO, Duration.ZERO, Duration.ZERO, 0.0, 0.0)
            c shouldBe RetryConfig.DEFAULT
            c.initialDelay shouldBe 500.milliseconds
            c.maxDelay shouldBe 60.seconds
            c.maxElapsedTime shouldBe 3.minutes
            c.multiplier shouldBe 1.5
            c.randomizationFactor shouldBe 0.5
        }

        test(
            "the first attempt is immediate, the first retry 500 ms later, each later gap 1–2 × the previous, ≤ 60 s",
        ) {
            runTest {
                val times = mutableListOf<Long>()
                // a long budget, so that the delays reach the 60 s cap
                RetryConfig(maxElapsedTime = 30.minutes).retry(random = Random(2024)) { attempt ->
                    times += currentTime
                    if (attempt < 20) throw IOException("down")
                }
                times shouldHaveSize 20
                times[0] shouldBe 0L
                times[1] shouldBe 500L
                val gaps = times.zipWithNext { a, b -> b - a }
                gaps.zipWithNext { prev, next ->
                    // gaps are whole milliseconds rounded up, hence the 1 ms slack
                    next.shouldBeBetween(prev - 1, minOf(2 * prev, 60_000L) + 1)
                }
                gaps.forEach { it shouldBeLessThanOrEqual 60_000L }
                gaps.last() shouldBe 60_000L
            }
        }

        test("with maxElapsedTime 2 s the retry gives up with RetryTimedOutException at exactly 2.0 s") {
            runTest {
                var attempts = 0
                val e = shouldThrow<RetryTimedOutException> {
                    RetryConfig(maxElapsedTime = 2.seconds).retry<Unit>(random = Random(3)) {
                        attempts++
                        throw IOException("connection refused")
                    }
                }
                currentTime shouldBe 2_000L
                e.attempts shouldBe attempts
                e.cause.shouldBeInstanceOf<IOException>()
            }
        }

        test("with the defaults the retry gives up after 3 minutes") {
            runTest {
                shouldThrow<RetryTimedOutException> {
                    RetryConfig.DEFAULT.retry<Unit>(random = Random(4)) { throw IOException("down") }
                }
                currentTime shouldBe 180_000L
            }
        }

        test("a failure that is not retryable ends the retry at once") {
            runTest {
                shouldThrow<IllegalStateException> {
                    RetryConfig.DEFAULT.retry<Unit>(isRetryable = { it is IOException }) { attempt ->
                        if (attempt == 1) throw IOException("transient") else throw IllegalStateException("HTTP 401")
                    }
                }
                currentTime shouldBe 500L
            }
        }

        test("nextDelay from 500 ms is in [500 ms, 1000 ms]; from maxDelay it stays at maxDelay") {
            val random = Random(11)
            repeat(10_000) {
                RetryConfig.DEFAULT.nextDelay(
                    500.milliseconds,
                    random,
                ).shouldBeBetween(500.milliseconds, 1_000.milliseconds)
            }
            RetryConfig.DEFAULT.nextDelay(60.seconds, random) shouldBe 60.seconds
            RetryConfig.DEFAULT.nextDelay(45.seconds, random).shouldBeBetween(45.seconds, 60.seconds)
        }

        test("statistics: the mean of 10 000 next delays is 1.5 × the current delay") {
            val random = Random(12)
            listOf(500.milliseconds, 2.seconds, 10.seconds).forEach { cur ->
                val mean = List(10_000) {
                    RetryConfig.DEFAULT.nextDelay(cur, random).inWholeNanoseconds.toDouble()
                }.average()
                withClue("cur = $cur") {
                    mean shouldBe ((1.5 * cur.inWholeNanoseconds) plusOrMinus 0.01 * 1.5 * cur.inWholeNanoseconds)
                }
            }
        }
    }

    context("relay guard ticker (GuardBackoff)") {
        test("with jitter off the ticks come at 0, 2, 6, 14, 30, 62, 122, 182 s") {
            runTest {
                guardTicks(GuardBackoff(randomizationFactor = 0.0).newSchedule(), 8) shouldBe
                    listOf(0L, 2, 6, 14, 30, 62, 122, 182).map(secondsMs)
            }
        }

        test("with the default jitter each wait is within [0.5, 1.5] × 2, 4, 8, 16, 32, 60, 60 s") {
            runTest {
                val base = listOf(2L, 4, 8, 16, 32, 60, 60).map(secondsMs)
                repeat(50) { seed ->
                    val start = currentTime
                    val ticks = guardTicks(GuardBackoff.DEFAULT.newSchedule(Random(seed)), 8)
                    ticks.first() shouldBe start
                    ticks.zipWithNext { a, b -> b - a }.zip(base).forEach { (gap, b) ->
                        withClue("seed $seed, base $b ms") { gap.shouldBeBetween(b / 2, b * 3 / 2 + 1) }
                    }
                }
            }
        }

        test("the guard never gives up: after an hour it still ticks, at most 90 s apart") {
            runTest {
                val schedule = GuardBackoff.DEFAULT.newSchedule(Random(8))
                var ticks = 0
                while (currentTime < 60.minutes.inWholeMilliseconds) {
                    val wait = schedule.next()
                    wait.shouldBeLessThan(90.seconds + 1.milliseconds)
                    delay(wait)
                    ticks++
                }
                ticks shouldBeGreaterThan 40
                schedule.next().shouldBeBetween(30.seconds, 90.seconds + 1.milliseconds)
            }
        }

        test("after a reset the next tick is immediate and the interval restarts at 2 s") {
            runTest {
                val schedule = GuardBackoff(randomizationFactor = 0.0).newSchedule()
                guardTicks(schedule, 5)
                schedule.reset()
                val start = currentTime
                guardTicks(schedule, 3).map { it - start } shouldBe listOf(0L, 2_000, 6_000)
            }
        }
    }
})
