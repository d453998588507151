package dev.tether.core.backoff

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.comparables.shouldBeBetween
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.Duration.Companion.seconds

class GuardBackoffSpec : FunSpec({

    val exact = GuardBackoff(randomizationFactor = 0.0)
    fun GuardBackoff.Schedule.ticks(n: Int): List<Duration> = List(n) { next() }

    test("defaults: 2 s, ×2, 60 s, rf 0.5") {
        val g = GuardBackoff()
        g.initialInterval shouldBe 2.seconds
        g.multiplier shouldBe 2.0
        g.maxInterval shouldBe 60.seconds
        g.randomizationFactor shouldBe 0.5
        g shouldBe GuardBackoff.DEFAULT
        g shouldBe GuardBackoff.builder().build()
        g.initialIntervalJava shouldBe java.time.Duration.ofSeconds(2)
        g.maxIntervalJava shouldBe java.time.Duration.ofSeconds(60)
    }

    test("without jitter (netbird before v0.76.2): 0, 2, 4, 8, 16, 32, 60, 60 s") {
        exact.newSchedule().ticks(8) shouldBe listOf(0, 2, 4, 8, 16, 32, 60, 60).map { it.seconds }
    }

    test("it never gives up") {
        exact.newSchedule().ticks(1_000).drop(6).toSet() shouldBe setOf(60.seconds)
    }

    test("growth follows cenkalti: current >= max / multiplier jumps to max") {
        val g =
            GuardBackoff(
                initialInterval = 1.seconds,
                multiplier = 3.0,
                maxInterval = 10.seconds,
                randomizationFactor = 0.0,
            )
        // 1 -> 3 (1 < 3.33), 3 -> 9 (3 < 3.33), 9 -> 10 (9 >= 3.33)
        g.newSchedule().ticks(6) shouldBe listOf(0, 1, 3, 9, 10, 10).map { it.seconds }
        val s = g.newSchedule()
        s.currentInterval shouldBe 1.seconds
        s.ticks(3)
        s.currentInterval shouldBe 9.seconds
        s.currentIntervalJava shouldBe java.time.Duration.ofSeconds(9)
    }

    test("a non-integral multiplier truncates the interval to whole nanoseconds") {
        val g =
            GuardBackoff(
                initialInterval = 3.nanoseconds,
                multiplier = 1.5,
                maxInterval = 1.seconds,
                randomizationFactor = 0.0,
            )
        // 3 -> 4 (4.5 truncated) -> 6 -> 9 -> 13 (13.5)
        g.newSchedule().ticks(6) shouldBe listOf(0L, 3L, 4L, 6L, 9L, 13L).map { it.nanoseconds }
    }

    test("the first tick is immediate and does not draw a sample") {
        val r = ScriptedRandom(0.5)
        GuardBackoff.DEFAULT.newSchedule(r).next() shouldBe Duration.ZERO
        r.draws shouldBe 0
    }

    test("jitter with u = 0, 0.5 and just below 1: c·0.5, c, c·1.5 (+1 ns through rounding)") {
        GuardBackoff.DEFAULT.newSchedule(ScriptedRandom(0.0)).ticks(4) shouldBe
            listOf(Duration.ZERO, 1.seconds, 2.seconds, 4.seconds)
        // c + 0.5 ns, truncated
        GuardBackoff.DEFAULT.newSchedule(ScriptedRandom(0.5)).ticks(4) shouldBe
            listOf(Duration.ZERO, 2.seconds, 4.seconds, 8.seconds)
        GuardBackoff.DEFAULT.newSchedule(ScriptedRandom(ALMOST_ONE)).ticks(3) shouldBe
            listOf(Duration.ZERO, 3.seconds + 1.nanoseconds, 6.seconds + 1.nanoseconds)
    }

    test("a seeded sequence equals the cenkalti formula applied step by step") {
        val twin = Random(31)
        val expected = mutableListOf(Duration.ZERO)
        var c = 2_000_000_000L
        repeat(12) {
            val u = twin.nextDouble()
            val delta = 0.5 * c
            expected += ((c - delta) + u * ((c + delta) - (c - delta) + 1)).toLong().nanoseconds
            c = if (c >= 60_000_000_000.0 / 2.0) 60_000_000_000L else c * 2
        }
        GuardBackoff.DEFAULT.newSchedule(Random(31)).ticks(13) shouldBe expected
    }

    test("over many seeded samples each wait lies in [0.5·c, 1.5·c] with mean c") {
        val random = Random(2718)
        val bases = listOf(0, 2, 4, 8, 16, 32, 60, 60).map { it.seconds }
        val runs = 2_000
        val samples = List(runs) { GuardBackoff.DEFAULT.newSchedule(random).ticks(8) }
        bases.forEachIndexed { i, c ->
            val column = samples.map { it[i] }
            withClue("tick #${i + 1}, c = $c") {
                if (i == 0) {
                    column.toSet() shouldBe setOf(Duration.ZERO)
                } else {
                    column.forEach { it.shouldBeBetween(c * 0.5, c * 1.5 + 1.nanoseconds) }
                    column.min().shouldBeBetween(c * 0.5, c * 0.51)
                    column.max().shouldBeBetween(c * 1.49, c * 1.5 + 1.nanoseconds)
                    val mean = column.sumOf { it.inWholeNanoseconds.toDouble() } / runs
                    // standard error: c / sqrt(12 · 2000) ≈ 0.0065·c; allow about 5 of them
                    mean shouldBe (c.inWholeNanoseconds.toDouble() plusOrMinus 0.033 * c.inWholeNanoseconds)
                }
            }
        }
    }

    test("reset() makes the next tick immediate and restarts at the initial interval") {
        val s = exact.newSchedule()
        s.ticks(5)
        s.reset()
        s.currentInterval shouldBe 2.seconds
        s.ticks(3) shouldBe listOf(Duration.ZERO, 2.seconds, 4.seconds)
    }

    test("the same seed gives the same ticks; java.util.Random works too") {
        GuardBackoff.DEFAULT.newSchedule(
            Random(5),
        ).ticks(10) shouldBe GuardBackoff.DEFAULT.newSchedule(Random(5)).ticks(10)
        GuardBackoff.DEFAULT.newSchedule(
            Random(5),
        ).ticks(10) shouldNotBe GuardBackoff.DEFAULT.newSchedule(Random(6)).ticks(10)
        val j1 = GuardBackoff.DEFAULT.newSchedule(java.util.Random(5))
        val j2 = GuardBackoff.DEFAULT.newSchedule(java.util.Random(5))
        List(10) { j1.nextJava() } shouldBe List(10) { j2.nextJava() }
    }

    test("the older 5 s cap is expressible") {
        GuardBackoff(maxInterval = 5.seconds, randomizationFactor = 0.0).newSchedule().ticks(5) shouldBe
            listOf(0, 2, 4, 5, 5).map { it.seconds }
    }

    test("invalid values are rejected; the builder round-trips") {
        shouldThrow<IllegalArgumentException> { GuardBackoff(initialInterval = Duration.ZERO) }
            .message shouldContain "initialInterval"
        shouldThrow<IllegalArgumentException> { GuardBackoff(maxInterval = 1.seconds) }
            .message shouldContain "maxInterval"
        shouldThrow<IllegalArgumentException> { GuardBackoff(multiplier = 0.9) }
        shouldThrow<IllegalArgumentException> { GuardBackoff(randomizationFactor = 1.01) }
        val g = GuardBackoff.builder()
            .initialInterval(java.time.Duration.ofMillis(250))
            .maxInterval(5.seconds)
            .multiplier(1.5)
            .randomizationFactor(0.1)
            .build()
        g shouldBe GuardBackoff(250.milliseconds, 1.5, 5.seconds, 0.1)
        g.toBuilder().build() shouldBe g
        g.hashCode() shouldBe GuardBackoff(250.milliseconds, 1.5, 5.seconds, 0.1).hashCode()
        g.toString() shouldContain "initialInterval=250ms"
    }
})
