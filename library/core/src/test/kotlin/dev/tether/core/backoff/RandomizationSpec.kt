package dev.tether.core.backoff

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlin.random.Random

/** A random source whose [nextDouble] replays the given samples in a cycle; any other draw is a test error. */
internal class ScriptedRandom(private vararg val samples: Double) : Random() {
    var draws: Int = 0
        private set

    override fun nextBits(bitCount: Int): Int = error("ScriptedRandom only scripts nextDouble()")

    override fun nextDouble(): Double = samples[draws++ % samples.size]
}

/** The largest double below 1.0: the greatest value a `[0, 1)` sample can take. */
internal val ALMOST_ONE: Double = Math.nextDown(1.0)

class RandomizationSpec : FunSpec({

    test("a zero delta returns the center without consulting the sample") {
        randomizedNanos(2_000_000_000.0, 0.0, 0.0) shouldBe 2_000_000_000L
        randomizedNanos(2_000_000_000.0, 0.0, ALMOST_ONE) shouldBe 2_000_000_000L
        randomizedNanos(1.5, 0.0, 0.7) shouldBe 1L
    }

    test("u = 0 gives the low end exactly") {
        randomizedNanos(1_000.0, 500.0, 0.0) shouldBe 500L
        randomizedNanos(750_000_000.0, 250_000_000.0, 0.0) shouldBe 500_000_000L
    }

    test("the +1 gives every integer of [lo, hi] the same share of [0, 1)") {
        // lo = 2, hi = 4: three integers, each one third of the unit interval
        randomizedNanos(3.0, 1.0, 0.0) shouldBe 2L
        randomizedNanos(3.0, 1.0, 0.33) shouldBe 2L
        randomizedNanos(3.0, 1.0, 0.34) shouldBe 3L
        randomizedNanos(3.0, 1.0, 0.66) shouldBe 3L
        randomizedNanos(3.0, 1.0, 0.67) shouldBe 4L
        randomizedNanos(3.0, 1.0, 0.999) shouldBe 4L
    }

    test("the result is truncated toward zero to whole nanoseconds") {
        randomizedNanos(10.0, 2.5, 0.0) shouldBe 7L // lo = 7.5
        randomizedNanos(10.0, 2.5, 0.5) shouldBe 10L // 7.5 + 0.5 * 6 = 10.5
    }

    test("floating-point rounding can reach hi + 1 ns for a sample just below 1, as upstream") {
        // lo = 500 ms, hi = 1000 ms: 5e8 + (1 - 2^-53) * 500000001 rounds to 1000000001.0
        randomizedNanos(750_000_000.0, 250_000_000.0, ALMOST_ONE) shouldBe 1_000_000_001L
        // 2 + (1 - 2^-53) * 3 rounds to 5.0
        randomizedNanos(3.0, 1.0, ALMOST_ONE) shouldBe 5L
    }

    test("ScriptedRandom replays its samples in order") {
        val r = ScriptedRandom(0.1, 0.2)
        listOf(r.nextDouble(), r.nextDouble(), r.nextDouble()) shouldBe listOf(0.1, 0.2, 0.1)
        r.draws shouldBe 3
    }
})
