package dev.tether.core.backoff

import kotlin.random.Random
import kotlin.random.asKotlinRandom
import kotlin.time.Duration
import kotlin.time.Duration.Companion.nanoseconds

/**
 * The randomized-interval formula shared by [RetryConfig.nextDelay], [GuardBackoff] and [ExponentialBackoff].
 *
 * It is the one used by cenkalti/backoff and by the webhooktunnel client, computed in `double` nanoseconds just
 * like the Go code: `lo = center - delta`, `hi = center + delta`, `lo + u * (hi - lo + 1)`, truncated toward zero
 * to whole nanoseconds. The `+ 1` (one nanosecond) gives the upper end `hi` the same chance as every other
 * integer in the range. When [deltaNanos] is zero the center is returned as is, without consulting `u`, so a
 * randomization factor of 0 yields the exact un-jittered value (the `+ 1` could otherwise round it up by 1 ns).
 *
 * @param centerNanos the midpoint of the range, in nanoseconds
 * @param deltaNanos half the width of the range, in nanoseconds (not negative)
 * @param u a uniform sample from `[0, 1)`
 */
internal fun randomizedNanos(centerNanos: Double, deltaNanos: Double, u: Double): Long {
    if (deltaNanos == 0.0) return centerNanos.toLong()
    val lo = centerNanos - deltaNanos
    val hi = centerNanos + deltaNanos
    return (lo + u * (hi - lo + 1.0)).toLong()
}

/** A Kotlin view of a Java random source; `null` means the shared, thread-safe [Random.Default]. */
internal fun java.util.Random?.orDefault(): Random = this?.asKotlinRandom() ?: Random.Default

/** Whole nanoseconds of a finite, non-negative duration (saturating, as [Duration.inWholeNanoseconds] does). */
internal val Duration.nanos: Long get() = inWholeNanoseconds

internal fun Long.nanosToDuration(): Duration = this.nanoseconds

internal fun requireFiniteNonNegative(value: Duration, name: String) {
    require(value.isFinite() && !value.isNegative()) {
        "$name must be a finite, non-negative duration but was $value; pass a value such as 1s"
    }
}

internal fun requireRandomizationFactor(value: Double, name: String = "randomizationFactor") {
    require(value in 0.0..1.0) {
        "$name must be between 0.0 (no jitter) and 1.0 but was $value"
    }
}

internal fun requireMultiplier(value: Double) {
    require(value.isFinite() && value >= 1.0) {
        "multiplier must be a finite number >= 1.0 but was $value; use 1.0 for a constant delay"
    }
}
