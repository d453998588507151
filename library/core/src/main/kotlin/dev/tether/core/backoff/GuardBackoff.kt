package dev.tether.core.backoff

import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration
import kotlin.time.toKotlinDuration

/**
 * The reconnect ticker of the netbird relay guard: an exponential backoff with the semantics of cenkalti/backoff
 * v4 driven by a ticker, which never gives up.
 *
 * A [Schedule] answers the wait before each tick: the first tick is immediate (0); after that each wait is the
 * current interval `c` randomized to `c·(1 ± rf)` with the cenkalti formula `lo + U·(hi − lo + 1)` (truncated to
 * whole nanoseconds, so the wait lies in `[c·(1−rf), c·(1+rf)]`, at most 1 ns more through floating-point
 * rounding), after which `c` grows: if `c ≥ maxInterval / multiplier` it becomes [maxInterval], otherwise
 * `c·multiplier` (truncated). With `rf = 0` the waits are exactly 0, 2, 4, 8, 16, 32, 60, 60, ... s, the behaviour
 * of netbird before v0.76.2; the default `rf = 0.5` is the current one.
 *
 * Instances are immutable and thread-safe. Java: `GuardBackoff.builder().maxInterval(Duration.ofSeconds(30)).build()`.
 *
 * @property initialInterval the interval before the first jitter (default 2 s)
 * @property multiplier growth of the interval per tick (default 2.0)
 * @property maxInterval the cap of the un-jittered interval (default 60 s)
 * @property randomizationFactor the jitter `rf`, from 0.0 to 1.0 (default 0.5)
 * @throws IllegalArgumentException if `initialInterval` is not positive, `maxInterval < initialInterval`,
 *   `multiplier < 1`, `randomizationFactor` is outside `[0, 1]`, or a duration is infinite
 */
public class GuardBackoff(
    public val initialInterval: Duration = DEFAULT_INITIAL_INTERVAL,
    public val multiplier: Double = DEFAULT_MULTIPLIER,
    public val maxInterval: Duration = DEFAULT_MAX_INTERVAL,
    public val randomizationFactor: Double = DEFAULT_RANDOMIZATION_FACTOR,
) {
    init {
        requireFiniteNonNegative(initialInterval, "initialInterval")
        require(initialInterval.isPositive()) { "initialInterval must be positive but was $initialInterval" }
        requireFiniteNonNegative(maxInterval, "maxInterval")
        require(maxInterval >= initialInterval) {
            "maxInterval ($maxInterval) must not be smaller than initialInterval ($initialInterval)"
        }
        requireMultiplier(multiplier)
        requireRandomizationFactor(randomizationFactor)
    }

    /** Java view of [initialInterval]. */
    @get:JvmName("getInitialInterval")
    public val initialIntervalJava: java.time.Duration get() = initialInterval.toJavaDuration()

    /** Java view of [maxInterval]. */
    @get:JvmName("getMaxInterval")
    public val maxIntervalJava: java.time.Duration get() = maxInterval.toJavaDuration()

    /** A fresh schedule drawing its jitter from [random] (deterministic for a seeded source). */
    @JvmOverloads
    public fun newSchedule(random: Random = Random.Default): Schedule = Schedule(this, random)

    /** A fresh schedule drawing its jitter from a Java random source (deterministic for a seeded one). */
    public fun newSchedule(random: java.util.Random): Schedule = Schedule(this, random.orDefault())

    /** A builder initialised with this policy's values. */
    public fun toBuilder(): Builder = Builder(this)

    override fun equals(other: Any?): Boolean = other is GuardBackoff &&
        initialInterval == other.initialInterval && multiplier == other.multiplier &&
        maxInterval == other.maxInterval && randomizationFactor == other.randomizationFactor

    override fun hashCode(): Int {
        var h = initialInterval.hashCode()
        h = 31 * h + multiplier.hashCode()
        h = 31 * h + maxInterval.hashCode()
        return 31 * h + randomizationFactor.hashCode()
    }

    override fun toString(): String =
        "GuardBackoff(initialInterval=$initialInterval, multiplier=$multiplier, maxInterval=$maxInterval, " +
            "randomizationFactor=$randomizationFactor)"

    /**
     * The state of one guard reconnect loop: call [next] and wait that long before each attempt.
     *
     * Not thread-safe: use one schedule per loop, from one coroutine.
     */
    public class Schedule internal constructor(
        /** The policy this schedule follows. */
        public val policy: GuardBackoff,
        private val random: Random,
    ) {
        private val initialNanos = policy.initialInterval.nanos
        private val maxNanos = policy.maxInterval.nanos
        private var currentNanos = initialNanos
        private var ticked = false

        /** The un-jittered interval the next non-immediate wait will be based on. */
        public val currentInterval: Duration get() = currentNanos.nanosToDuration()

        /** Java view of [currentInterval]. */
        @get:JvmName("getCurrentInterval")
        public val currentIntervalJava: java.time.Duration get() = currentInterval.toJavaDuration()

        /**
         * The wait before the next tick: [Duration.ZERO] for the first tick (and the first after [reset]), then
         * the randomized current interval; the interval then grows towards [maxInterval]. Never gives up.
         */
        public fun next(): Duration {
            if (!ticked) {
                ticked = true
                return Duration.ZERO
            }
            val c = currentNanos.toDouble()
            val wait = randomizedNanos(c, policy.randomizationFactor * c, random.nextDouble())
            val grown = if (c >= maxNanos.toDouble() / policy.multiplier) maxNanos else (c * policy.multiplier).toLong()
            currentNanos = grown
            return wait.nanosToDuration()
        }

        /** Java view of [next]. */
        @JvmName("next")
        public fun nextJava(): java.time.Duration = next().toJavaDuration()

        /** Back to a fresh schedule: the next tick is immediate, the one after waits about [initialInterval]. */
        public fun reset() {
            currentNanos = initialNanos
            ticked = false
        }

        override fun toString(): String = "GuardBackoff.Schedule(currentInterval=$currentInterval, ticked=$ticked)"
    }

    /** Fluent construction for Java. Unset values keep their defaults. */
    public class Builder internal constructor(from: GuardBackoff) {
        private var initialInterval = from.initialInterval
        private var multiplier = from.multiplier
        private var maxInterval = from.maxInterval
        private var randomizationFactor = from.randomizationFactor

        /** Sets [GuardBackoff.initialInterval] (Java). */
        public fun initialInterval(value: java.time.Duration): Builder =
            apply { initialInterval = value.toKotlinDuration() }

        /** Sets [GuardBackoff.initialInterval] (Kotlin). */
        public fun initialInterval(value: Duration): Builder = apply { initialInterval = value }

        /** Sets [GuardBackoff.multiplier]. */
        public fun multiplier(value: Double): Builder = apply { multiplier = value }

        /** Sets [GuardBackoff.maxInterval] (Java). */
        public fun maxInterval(value: java.time.Duration): Builder = apply { maxInterval = value.toKotlinDuration() }

        /** Sets [GuardBackoff.maxInterval] (Kotlin). */
        public fun maxInterval(value: Duration): Builder = apply { maxInterval = value }

        /** Sets [GuardBackoff.randomizationFactor]. */
        public fun randomizationFactor(value: Double): Builder = apply { randomizationFactor = value }

        /** @throws IllegalArgumentException for invalid values (see [GuardBackoff]) */
        public fun build(): GuardBackoff = GuardBackoff(initialInterval, multiplier, maxInterval, randomizationFactor)
    }

    public companion object {
        /** 2 s. */
        public val DEFAULT_INITIAL_INTERVAL: Duration = 2.seconds

        /** 2.0. */
        public const val DEFAULT_MULTIPLIER: Double = 2.0

        /** 60 s (netbird `defaultMaxBackoffInterval`). */
        public val DEFAULT_MAX_INTERVAL: Duration = 60.seconds

        /** 0.5 (netbird since v0.76.2). */
        public const val DEFAULT_RANDOMIZATION_FACTOR: Double = 0.5

        /** The netbird defaults: 2 s doubling to 60 s, ±50 % jitter. */
        @JvmField
        public val DEFAULT: GuardBackoff = GuardBackoff()

        /** A builder starting from the defaults. */
        @JvmStatic
        public fun builder(): Builder = Builder(DEFAULT)
    }
}
