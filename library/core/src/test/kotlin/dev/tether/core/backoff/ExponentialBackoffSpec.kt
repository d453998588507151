package dev.tether.core.backoff

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.comparables.shouldBeBetween
import io.kotest.matchers.comparables.shouldBeLessThan
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration

class ExponentialBackoffSpec : FunSpec({

    val exact = ExponentialBackoff(randomizationFactor = 0.0)

    fun ExponentialBackoff.Schedule.failures(n: Int): List<Duration> = List(n) { nextDelayAfterFailedDial() }

    context("defaults") {
        test("are 1 s doubling to 60 s with 0.2 jitter and a 1 s quick-drop threshold") {
            val b = ExponentialBackoff()
            b.minDelay shouldBe 1.seconds
            b.maxDelay shouldBe 60.seconds
            b.multiplier shouldBe 2.0
            b.randomizationFactor shouldBe 0.2
            b.quickDropThreshold shouldBe 1.seconds
            b shouldBe ExponentialBackoff.DEFAULT
            b shouldBe ExponentialBackoff.builder().build()
            b.hashCode() shouldBe ExponentialBackoff.DEFAULT.hashCode()
        }

        test("Java views match the Kotlin values") {
            val b = ExponentialBackoff.DEFAULT
            b.minDelayJava shouldBe java.time.Duration.ofSeconds(1)
            b.maxDelayJava shouldBe java.time.Duration.ofSeconds(60)
            b.quickDropThresholdJava shouldBe java.time.Duration.ofSeconds(1)
        }
    }

    context("without jitter (the exact upstream sequence)") {
        test("failed dials wait 1, 2, 4, 8, 16, 32, 60, 60 s") {
            exact.newSchedule().failures(8) shouldBe listOf(1, 2, 4, 8, 16, 32, 60, 60).map { it.seconds }
        }

        test("the cap holds for ever") {
            val s = exact.newSchedule()
            s.failures(100).drop(6).toSet() shouldBe setOf(60.seconds)
            s.nextBaseDelay shouldBe 60.seconds
            s.consecutiveFailures shouldBe 100
        }

        test("a custom multiplier and cap: 1, 3, 9, 10, 10 s") {
            val b =
                ExponentialBackoff(
                    minDelay = 1.seconds,
                    maxDelay = 10.seconds,
                    multiplier = 3.0,
                    randomizationFactor = 0.0,
                )
            b.newSchedule().failures(5) shouldBe listOf(1, 3, 9, 10, 10).map { it.seconds }
        }

        test("a multiplier of 1.0 gives a constant delay") {
            val b = ExponentialBackoff(minDelay = 250.milliseconds, multiplier = 1.0, randomizationFactor = 0.0)
            b.newSchedule().failures(4).toSet() shouldBe setOf(250.milliseconds)
        }

        test("no random draw can move an exact delay, not even a sample just below 1") {
            exact.newSchedule(ScriptedRandom(ALMOST_ONE)).failures(8) shouldBe
                listOf(1, 2, 4, 8, 16, 32, 60, 60).map { it.seconds }
        }
    }

    context("drops of an established connection") {
        test("a connection that lived at least the threshold earns an immediate redial and a reset") {
            val s = exact.newSchedule()
            s.failures(3) shouldBe listOf(1.seconds, 2.seconds, 4.seconds)
            s.nextDelayAfterDrop(5.minutes) shouldBe Duration.ZERO
            s.consecutiveFailures shouldBe 0
            s.nextBaseDelay shouldBe 1.seconds
            s.failures(2) shouldBe listOf(1.seconds, 2.seconds)
        }

        test("exactly the threshold counts as long-lived") {
            val s = exact.newSchedule()
            s.failures(2)
            s.nextDelayAfterDrop(1.seconds) shouldBe Duration.ZERO
            s.nextDelayAfterFailedDial() shouldBe 1.seconds
        }

        test("a quick drop is a failed dial: the delay keeps escalating, no hot loop") {
            val s = exact.newSchedule()
            s.failures(2) shouldBe listOf(1.seconds, 2.seconds)
            s.nextDelayAfterDrop(500.milliseconds) shouldBe 4.seconds
            s.nextDelayAfterDrop(Duration.ZERO) shouldBe 8.seconds
            s.nextDelayAfterDrop(999.milliseconds) shouldBe 16.seconds
            s.consecutiveFailures shouldBe 5
        }

        test("a server that accepts and closes at once is retried at the backoff rate") {
            val s = exact.newSchedule()
            List(8) {
                s.nextDelayAfterDrop(1.milliseconds)
            } shouldBe listOf(1, 2, 4, 8, 16, 32, 60, 60).map { it.seconds }
        }

        test("the threshold is configurable, and zero makes every drop long-lived (upstream behaviour)") {
            val upstream = ExponentialBackoff(randomizationFactor = 0.0, quickDropThreshold = Duration.ZERO)
            val s = upstream.newSchedule()
            s.failures(3)
            s.nextDelayAfterDrop(Duration.ZERO) shouldBe Duration.ZERO
            val strict = ExponentialBackoff(randomizationFactor = 0.0, quickDropThreshold = 30.seconds).newSchedule()
            strict.nextDelayAfterDrop(29.seconds) shouldBe 1.seconds
            strict.nextDelayAfterDrop(30.seconds) shouldBe Duration.ZERO
        }

        test("the Java overload agrees") {
            val s = exact.newSchedule()
            s.nextDelayAfterDrop(java.time.Duration.ofMillis(10)) shouldBe java.time.Duration.ofSeconds(1)
            s.nextDelayAfterDrop(java.time.Duration.ofSeconds(10)) shouldBe java.time.Duration.ZERO
        }

        test("a negative connection time is rejected") {
            shouldThrow<IllegalArgumentException> { exact.newSchedule().nextDelayAfterDrop((-1).seconds) }
        }
    }

    test("reset() starts over") {
        val s = exact.newSchedule()
        s.failures(5)
        s.reset()
        s.consecutiveFailures shouldBe 0
        s.failures(3) shouldBe listOf(1.seconds, 2.seconds, 4.seconds)
    }

    context("jitter") {
        val bases = listOf(1, 2, 4, 8, 16, 32, 60, 60).map { it.seconds }

        test("u = 0 gives d·(1−r) and u just below 1 gives d·(1+r), never more") {
            ExponentialBackoff.DEFAULT.newSchedule(ScriptedRandom(0.0)).failures(8) shouldBe bases.map { it * 0.8 }
            ExponentialBackoff.DEFAULT.newSchedule(ScriptedRandom(ALMOST_ONE)).failures(8) shouldBe bases.map {
                it * 1.2
            }
        }

        test("u = 0.5 gives the un-jittered delay (the mean)") {
            ExponentialBackoff.DEFAULT.newSchedule(ScriptedRandom(0.5)).failures(8) shouldBe bases
        }

        test("over many seeded samples every delay lies in [0.8·d, 1.2·d], spread over the range, mean d") {
            val random = Random(20240611)
            val runs = 2_000
            val samples = List(runs) { ExponentialBackoff.DEFAULT.newSchedule(random).failures(8) }
            bases.forEachIndexed { i, d ->
                val column = samples.map { it[i] }
                withClue("failure #${i + 1}, d = $d") {
                    column.forEach { it.shouldBeBetween(d * 0.8, d * 1.2) }
                    column.min().shouldBeLessThan(d * 0.81)
                    column.max().shouldBeBetween(d * 1.19, d * 1.2)
                    val mean = column.sumOf { it.inWholeNanoseconds.toDouble() } / runs
                    // standard error of the mean: 0.4·d / sqrt(12·2000) ≈ 0.0026·d; allow 5 of them
                    mean shouldBe (d.inWholeNanoseconds.toDouble() plusOrMinus 0.013 * d.inWholeNanoseconds)
                }
            }
        }

        test("the overall bounds are minDelay·(1−r) and maxDelay·(1+r)") {
            val random = Random(7)
            val all = List(500) { ExponentialBackoff.DEFAULT.newSchedule(random).failures(12) }.flatten()
            all.forEach { it.shouldBeBetween(800.milliseconds, 72.seconds) }
        }

        test("a jittered delay is rounded down to whole nanoseconds") {
            val b = ExponentialBackoff(minDelay = 3.nanoseconds, maxDelay = 3.nanoseconds, randomizationFactor = 0.5)
            // d = 3 ns, bounds 1.5 .. 4.5 ns -> 1 .. 4 ns
            b.newSchedule(ScriptedRandom(0.0)).nextDelayAfterFailedDial() shouldBe 1.nanoseconds
            b.newSchedule(ScriptedRandom(ALMOST_ONE)).nextDelayAfterFailedDial() shouldBe 4.nanoseconds
        }

        test("the same seed gives the same sequence, another seed a different one") {
            val a = ExponentialBackoff.DEFAULT.newSchedule(Random(42)).failures(10)
            val b = ExponentialBackoff.DEFAULT.newSchedule(Random(42)).failures(10)
            val c = ExponentialBackoff.DEFAULT.newSchedule(Random(43)).failures(10)
            a shouldBe b
            a shouldNotBe c
        }

        test("a seeded java.util.Random is deterministic too") {
            val a = ExponentialBackoff.DEFAULT.newSchedule(java.util.Random(42)).failures(10)
            val b = ExponentialBackoff.DEFAULT.newSchedule(java.util.Random(42)).failures(10)
            a shouldBe b
        }
    }

    context("validation and construction") {
        test("inconsistent values are rejected with a helpful message") {
            shouldThrow<IllegalArgumentException> { ExponentialBackoff(minDelay = Duration.ZERO) }
                .message shouldContain "minDelay"
            shouldThrow<IllegalArgumentException> { ExponentialBackoff(minDelay = 2.seconds, maxDelay = 1.seconds) }
                .message shouldContain "maxDelay"
            shouldThrow<IllegalArgumentException> { ExponentialBackoff(multiplier = 0.5) }
                .message shouldContain "multiplier"
            shouldThrow<IllegalArgumentException> { ExponentialBackoff(multiplier = Double.NaN) }
            shouldThrow<IllegalArgumentException> { ExponentialBackoff(randomizationFactor = 1.5) }
                .message shouldContain "randomizationFactor"
            shouldThrow<IllegalArgumentException> { ExponentialBackoff(randomizationFactor = -0.1) }
            shouldThrow<IllegalArgumentException> { ExponentialBackoff(quickDropThreshold = (-1).seconds) }
            shouldThrow<IllegalArgumentException> { ExponentialBackoff(maxDelay = Duration.INFINITE) }
        }

        test("the builder takes Java and Kotlin durations and round-trips through toBuilder") {
            val b = ExponentialBackoff.builder()
                .minDelay(java.time.Duration.ofMillis(100))
                .maxDelay(5.seconds)
                .multiplier(1.5)
                .randomizationFactor(0.1)
                .quickDropThreshold(java.time.Duration.ofSeconds(3))
                .build()
            b shouldBe ExponentialBackoff(100.milliseconds, 5.seconds, 1.5, 0.1, 3.seconds)
            b.toBuilder().build() shouldBe b
            b.toBuilder().multiplier(3.0).build() shouldNotBe b
            b.maxDelayJava shouldBe 5.seconds.toJavaDuration()
            b.toString() shouldContain "maxDelay=5s"
        }
    }
})
