package dev.tether.core.backoff

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.comparables.shouldBeBetween
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.doubles.shouldBeBetween
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.Duration.Companion.seconds

class RetryConfigSpec : FunSpec({

    val defaults = RetryConfig.DEFAULT

    context("defaults and normalization") {
        test("the defaults are 500 ms, 60 s, 3 min, 1.5 and 0.5") {
            val c = RetryConfig()
            c.initialDelay shouldBe 500.milliseconds
            c.maxDelay shouldBe 60.seconds
            c.maxElapsedTime shouldBe 3.minutes
            c.multiplier shouldBe 1.5
            c.randomizationFactor shouldBe 0.5
            c shouldBe defaults
            c.hashCode() shouldBe defaults.hashCode()
        }

        test("zero (unset) values get the defaults") {
            RetryConfig(Duration.ZERO, Duration.ZERO, Duration.ZERO, 0.0, 0.0) shouldBe defaults
            RetryConfig.builder().build() shouldBe defaults
        }

        test("a multiplier below 1.0 becomes 1.5; 1.0 and above are kept") {
            RetryConfig(multiplier = 0.99).multiplier shouldBe 1.5
            RetryConfig(multiplier = -3.0).multiplier shouldBe 1.5
            RetryConfig(multiplier = 1.0).multiplier shouldBe 1.0
            RetryConfig(multiplier = 2.5).multiplier shouldBe 2.5
        }

        test("a randomization factor of exactly 0 becomes 0.5, so it cannot be switched off; others are kept") {
            RetryConfig(randomizationFactor = 0.0).randomizationFactor shouldBe 0.5
            RetryConfig(randomizationFactor = 0.01).randomizationFactor shouldBe 0.01
            RetryConfig(randomizationFactor = 2.0).randomizationFactor shouldBe 2.0
        }

        test("set values are kept") {
            val c = RetryConfig(1.seconds, 10.seconds, 2.minutes, 2.0, 0.25)
            listOf(c.initialDelay, c.maxDelay, c.maxElapsedTime) shouldBe listOf(1.seconds, 10.seconds, 2.minutes)
            c.multiplier shouldBe 2.0
            c.randomizationFactor shouldBe 0.25
        }

        test("negative durations and non-finite factors are rejected") {
            shouldThrow<IllegalArgumentException> { RetryConfig(initialDelay = (-1).seconds) }
                .message shouldContain "initialDelay"
            shouldThrow<IllegalArgumentException> { RetryConfig(maxDelay = (-1).seconds) }
            shouldThrow<IllegalArgumentException> { RetryConfig(maxDelay = Duration.INFINITE) }
            shouldThrow<IllegalArgumentException> { RetryConfig(maxElapsedTime = (-1).seconds) }
            shouldThrow<IllegalArgumentException> { RetryConfig(multiplier = Double.POSITIVE_INFINITY) }
            shouldThrow<IllegalArgumentException> { RetryConfig(randomizationFactor = -0.5) }
            shouldThrow<IllegalArgumentException> { RetryConfig(randomizationFactor = Double.NaN) }
        }

        test("an infinite maxElapsedTime is allowed (retry for ever)") {
            RetryConfig(maxElapsedTime = Duration.INFINITE).maxElapsedTime shouldBe Duration.INFINITE
        }

        test("the builder accepts Java and Kotlin durations and round-trips") {
            val c = RetryConfig.builder()
                .initialDelay(java.time.Duration.ofMillis(100))
                .maxDelay(2.seconds)
                .maxElapsedTime(java.time.Duration.ofSeconds(30))
                .multiplier(2.0)
                .randomizationFactor(0.2)
                .build()
            c shouldBe RetryConfig(100.milliseconds, 2.seconds, 30.seconds, 2.0, 0.2)
            c.toBuilder().build() shouldBe c
            c.toBuilder().maxDelay(java.time.Duration.ZERO).build().maxDelay shouldBe 60.seconds
            c.initialDelayJava shouldBe java.time.Duration.ofMillis(100)
            c.maxDelayJava shouldBe java.time.Duration.ofSeconds(2)
            c.maxElapsedTimeJava shouldBe java.time.Duration.ofSeconds(30)
            c.toString() shouldContain "maxElapsedTime=30s"
        }
    }

    context("nextDelay: the upstream arithmetic") {
        test("u = 0 gives lo = m·cur − rf·cur; with the defaults that is cur itself") {
            defaults.nextDelay(500.milliseconds, ScriptedRandom(0.0)) shouldBe 500.milliseconds
            defaults.nextDelay(4.seconds, ScriptedRandom(0.0)) shouldBe 4.seconds
        }

        test("u = 0.5 gives m·cur plus half a nanosecond, truncated") {
            defaults.nextDelay(500.milliseconds, ScriptedRandom(0.5)) shouldBe 750.milliseconds
            // 1.5 · 1 ns = 1.5, delta 0.5: lo = 1, hi = 2, 1 + 0.5 · 2 = 2
            defaults.nextDelay(1.nanoseconds, ScriptedRandom(0.5)) shouldBe 2.nanoseconds
        }

        test("u just below 1 gives hi, or hi + 1 ns through rounding (the upstream +1)") {
            defaults.nextDelay(500.milliseconds, ScriptedRandom(ALMOST_ONE)) shouldBe 1000.milliseconds + 1.nanoseconds
        }

        test("a custom multiplier and factor: 1 s with m = 2, rf = 0.25 spans [1.75 s, 2.25 s]") {
            val c = RetryConfig(multiplier = 2.0, randomizationFactor = 0.25)
            c.nextDelay(1.seconds, ScriptedRandom(0.0)) shouldBe 1750.milliseconds
            c.nextDelay(1.seconds, ScriptedRandom(0.5)) shouldBe 2.seconds
        }

        test("the internal sample-explicit form agrees with the public one") {
            defaults.nextDelayNanos(500_000_000L, 0.25) shouldBe 625_000_000L
            defaults.nextDelay(500.milliseconds, ScriptedRandom(0.25)) shouldBe 625.milliseconds
        }

        test("cur == maxDelay returns maxDelay without drawing a sample") {
            val r = ScriptedRandom(0.0)
            defaults.nextDelay(60.seconds, r) shouldBe 60.seconds
            r.draws shouldBe 0
            RetryConfig(maxDelay = 3.seconds).nextDelay(3.seconds, Random(1)) shouldBe 3.seconds
        }

        test("results above maxDelay are clamped to it") {
            defaults.nextDelay(50.seconds, ScriptedRandom(ALMOST_ONE)) shouldBe 60.seconds
            defaults.nextDelay(59.seconds, ScriptedRandom(0.0)) shouldBe 59.seconds
            defaults.nextDelay(59.seconds, ScriptedRandom(0.5)) shouldBe 60.seconds
            // above the cap (e.g. initialDelay > maxDelay): computed, then clamped
            RetryConfig(
                initialDelay = 10.seconds,
                maxDelay = 5.seconds,
            ).nextDelay(10.seconds, ScriptedRandom(0.0)) shouldBe
                5.seconds
        }

        test("a factor larger than the multiplier cannot produce a negative delay") {
            RetryConfig(multiplier = 1.0, randomizationFactor = 3.0).nextDelay(1.seconds, ScriptedRandom(0.0)) shouldBe
                Duration.ZERO
        }

        test("with the defaults 500 ms -> [500 ms, 1000 ms] over 10 000 seeded samples") {
            val random = Random(99)
            val samples = List(10_000) { defaults.nextDelay(500.milliseconds, random) }
            samples.forEach { it.shouldBeBetween(500.milliseconds, 1000.milliseconds) }
            samples.min().shouldBeBetween(500.milliseconds, 501.milliseconds)
            samples.max().shouldBeBetween(999.milliseconds, 1000.milliseconds)
        }

        test("statistics: over 10 000 samples the mean is 1.5·cur and the spread uniform over [cur, 2·cur]") {
            val random = Random(12345)
            val cur = 1.seconds
            val xs = List(10_000) { defaults.nextDelay(cur, random).inWholeNanoseconds / 1e9 }
            // uniform on [1, 2]: sd = 1/sqrt(12) = 0.289, standard error of the mean 0.0029
            xs.average() shouldBe (1.5 plusOrMinus 0.015)
            val variance = xs.sumOf { (it - 1.5) * (it - 1.5) } / xs.size
            variance shouldBe ((1.0 / 12) plusOrMinus 0.005)
            for (q in 0 until 4) {
                val share = xs.count { it >= 1 + q * 0.25 && it < 1 + (q + 1) * 0.25 } / 10_000.0
                withClue("quarter $q") { share.shouldBeBetween(0.23, 0.27, 0.0) }
            }
        }

        test("near the cap the clamp piles the upper part of the range onto maxDelay") {
            val random = Random(5)
            val xs = List(10_000) { defaults.nextDelay(50.seconds, random) }
            xs.forEach { it.shouldBeBetween(50.seconds, 60.seconds) }
            // [50 s, 100 s] clamped at 60 s: 80 % of the mass sits at exactly 60 s
            (xs.count { it == 60.seconds } / 10_000.0).shouldBeBetween(0.78, 0.82, 0.0)
        }

        test("the chain from initialDelay grows by about 1.5 per step and settles at maxDelay") {
            val random = Random(3)
            var d = defaults.initialDelay
            val chain = mutableListOf(d)
            repeat(40) {
                val next = defaults.nextDelay(d, random)
                next.shouldBeBetween(d, minOf(d * 2, 60.seconds) + 1.nanoseconds)
                d = next
                chain += d
            }
            chain.last() shouldBe 60.seconds
        }

        test("the same seed gives the same delays; the Java overload is deterministic too") {
            val a = List(5) { defaults.nextDelay(2.seconds, Random(8)) }
            a.toSet().size shouldBe 1
            defaults.nextDelay(2.seconds, Random(8)) shouldNotBe defaults.nextDelay(2.seconds, Random(9))
            defaults.nextDelay(java.time.Duration.ofSeconds(2), java.util.Random(8)) shouldBe
                defaults.nextDelay(java.time.Duration.ofSeconds(2), java.util.Random(8))
            defaults.nextDelay(java.time.Duration.ofSeconds(60)) shouldBe java.time.Duration.ofSeconds(60)
        }
    }
})
