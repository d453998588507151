package dev.tether.core.backoff

import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration
import kotlin.time.toKotlinDuration

/**
 * The reconnect policy of a long-lived client connection: exponential backoff between failed dials, with jitter
 * and protection against servers that accept a connection and close it at once.
 *
 * It follows the nexus `wsclient` run loop and fixes its two defects:
 * * upstream waits exactly 1, 2, 4, ... 60, 60 s; here each delay is spread uniformly around that value by
 *   [randomizationFactor] so that many clients dropped together do not reconnect in lock step
 *   (`randomizationFactor = 0.0` gives back the exact upstream sequence);
 * * upstream redials immediately after every drop of an established connection, so a server that accepts and
 *   then closes at once causes a tight loop; here only a connection that lived at least [quickDropThreshold]
 *   earns an immediate redial, a quicker drop counts as a failed dial.
 *
 * ### Delays
 * The first dial is immediate: nobody asks the schedule for it. Let `d` be the un-jittered delay, [minDelay] at
 * first, multiplied by [multiplier] after each use and capped at [maxDelay]. With `r` = [randomizationFactor] a
 * returned delay lies between `d·(1−r)` and `d·(1+r)`, both rounded down to whole nanoseconds and both
 * inclusive, uniformly distributed and with mean `d`. So the cap applies to `d`: with the defaults the delays
 * stay within 0.8 s to 72 s (`minDelay·(1−r)` to `maxDelay·(1+r)`).
 *
 * Instances are immutable and thread-safe; the state lives in a [Schedule], one per connection loop.
 *
 * Kotlin: `ExponentialBackoff(maxDelay = 30.seconds)`. Java:
 * `ExponentialBackoff.builder().maxDelay(Duration.ofSeconds(30)).build()`.
 *
 * @property minDelay the first delay after a failure, and the delay after a reset (default 1 s)
 * @property maxDelay the cap of the un-jittered delay (default 60 s)
 * @property multiplier growth factor of the un-jittered delay per failure (default 2.0)
 * @property randomizationFactor the jitter `r`, from 0.0 (none) to 1.0 (default 0.2)
 * @property quickDropThreshold a connection that lived at least this long earns an immediate redial when it
 *   drops; a shorter one is treated like a failed dial (default 1 s)
 * @throws IllegalArgumentException if `minDelay` is not positive, `maxDelay < minDelay`, `multiplier < 1`,
 *   `randomizationFactor` is outside `[0, 1]`, or a duration is negative or infinite
 */
public class ExponentialBackoff(
    public val minDelay: Duration = DEFAULT_MIN_DELAY,
    public val maxDelay: Duration = DEFAULT_MAX_DELAY,
    public val multiplier: Double = DEFAULT_MULTIPLIER,
    public val randomizationFactor: Double = DEFAULT_RANDOMIZATION_FACTOR,
    public val quickDropThreshold: Duration = DEFAULT_QUICK_DROP_THRESHOLD,
) {
    init {
        requireFiniteNonNegative(minDelay, "minDelay")
        require(minDelay.isPositive()) {
            "minDelay must be positive but was $minDelay; a zero delay would allow a hot loop"
        }
        requireFiniteNonNegative(maxDelay, "maxDelay")
        require(maxDelay >= minDelay) { "maxDelay ($maxDelay) must not be smaller than minDelay ($minDelay)" }
        requireMultiplier(multiplier)
        requireRandomizationFactor(randomizationFactor)
        requireFiniteNonNegative(quickDropThreshold, "quickDropThreshold")
    }

    /** Java view of [minDelay]. */
    @get:JvmName("getMinDelay")
    public val minDelayJava: java.time.Duration get() = minDelay.toJavaDuration()

    /** Java view of [maxDelay]. */
    @get:JvmName("getMaxDelay")
    public val maxDelayJava: java.time.Duration get() = maxDelay.toJavaDuration()

    /** Java view of [quickDropThreshold]. */
    @get:JvmName("getQuickDropThreshold")
    public val quickDropThresholdJava: java.time.Duration get() = quickDropThreshold.toJavaDuration()

    /** A fresh schedule drawing its jitter from [random] (deterministic for a seeded source). */
    @JvmOverloads
    public fun newSchedule(random: Random = Random.Default): Schedule = Schedule(this, random)

    /** A fresh schedule drawing its jitter from a Java random source (deterministic for a seeded one). */
    public fun newSchedule(random: java.util.Random): Schedule = Schedule(this, random.orDefault())

    /** A builder initialised with this policy's values. */
    public fun toBuilder(): Builder = Builder(this)

    override fun equals(other: Any?): Boolean = other is ExponentialBackoff &&
        minDelay == other.minDelay && maxDelay == other.maxDelay && multiplier == other.multiplier &&
        randomizationFactor == other.randomizationFactor && quickDropThreshold == other.quickDropThreshold

    override fun hashCode(): Int {
        var h = minDelay.hashCode()
        h = 31 * h + maxDelay.hashCode()
        h = 31 * h + multiplier.hashCode()
        h = 31 * h + randomizationFactor.hashCode()
        return 31 * h + quickDropThreshold.hashCode()
    }

    override fun toString(): String =
        "ExponentialBackoff(minDelay=$minDelay, maxDelay=$maxDelay, multiplier=$multiplier, " +
            "randomizationFactor=$randomizationFactor, quickDropThreshold=$quickDropThreshold)"

    /**
     * The state of one reconnect loop under an [ExponentialBackoff] policy.
     *
     * Not thread-safe: use one schedule per loop, from one coroutine (or guard it yourself).
     *
     * ```
     * dial immediately
     * loop {
     *     failed dial        -> wait nextDelayAfterFailedDial(), dial again
     *     connection dropped -> wait nextDelayAfterDrop(connectedFor), dial again
     * }
     * ```
     */
    public class Schedule internal constructor(
        /** The policy this schedule follows. */
        public val policy: ExponentialBackoff,
        private val random: Random,
    ) {
        private val minNanos = policy.minDelay.nanos
        private val maxNanos = policy.maxDelay.nanos
        private var currentNanos = minNanos

        /** Delays handed out since the schedule was created or last reset (immediate redials not counted). */
        public var consecutiveFailures: Int = 0
            private set

        /** The un-jittered delay that the next failure will be based on. */
        public val nextBaseDelay: Duration get() = currentNanos.nanosToDuration()

        /** Java view of [nextBaseDelay]. */
        @get:JvmName("getNextBaseDelay")
        public val nextBaseDelayJava: java.time.Duration get() = nextBaseDelay.toJavaDuration()

        /**
         * The wait before the next dial after a dial failed: the current un-jittered delay `d` with jitter applied
         * (see [ExponentialBackoff]); `d` then grows by the multiplier, up to the cap.
         */
        public fun nextDelayAfterFailedDial(): Duration {
            val d = currentNanos.toDouble()
            val delta = policy.randomizationFactor * d
            val jittered = randomizedNanos(d, delta, random.nextDouble()).coerceAtMost((d + delta).toLong())
            val grown = d * policy.multiplier
            currentNanos = if (grown >= maxNanos.toDouble()) maxNanos else grown.toLong()
            consecutiveFailures++
            return jittered.nanosToDuration()
        }

        /** Java view of [nextDelayAfterFailedDial]. */
        @JvmName("nextDelayAfterFailedDial")
        public fun nextDelayAfterFailedDialJava(): java.time.Duration = nextDelayAfterFailedDial().toJavaDuration()

        /**
         * The wait before redialling after an established connection dropped.
         *
         * If the connection lived at least [quickDropThreshold] the schedule is [reset] and the answer is
         * [Duration.ZERO]: redial immediately. A connection that dropped sooner is treated as a failed dial: the
         * answer is [nextDelayAfterFailedDial] and the delay keeps growing, so a server that accepts and then
         * closes at once is retried at the backoff rate rather than in a tight loop.
         */
        public fun nextDelayAfterDrop(connectedFor: Duration): Duration {
            require(!connectedFor.isNegative()) { "connectedFor must not be negative but was $connectedFor" }
            return if (connectedFor >= policy.quickDropThreshold) {
                reset()
                Duration.ZERO
            } else {
                nextDelayAfterFailedDial()
            }
        }

        /** Java view of [nextDelayAfterDrop]. */
        public fun nextDelayAfterDrop(connectedFor: java.time.Duration): java.time.Duration =
            nextDelayAfterDrop(connectedFor.toKotlinDuration()).toJavaDuration()

        /** Back to the initial state: the next failure waits about [minDelay] again. */
        public fun reset() {
            currentNanos = minNanos
            consecutiveFailures = 0
        }

        override fun toString(): String =
            "ExponentialBackoff.Schedule(nextBaseDelay=$nextBaseDelay, consecutiveFailures=$consecutiveFailures)"
    }

    /** Fluent construction for Java (and for Kotlin code that prefers it). Unset values keep their defaults. */
    public class Builder internal constructor(from: ExponentialBackoff) {
        private var minDelay = from.minDelay
        private var maxDelay = from.maxDelay
        private var multiplier = from.multiplier
        private var randomizationFactor = from.randomizationFactor
        private var quickDropThreshold = from.quickDropThreshold

        /** Sets [ExponentialBackoff.minDelay] (Java). */
        public fun minDelay(value: java.time.Duration): Builder = apply { minDelay = value.toKotlinDuration() }

        /** Sets [ExponentialBackoff.minDelay] (Kotlin). */
        public fun minDelay(value: Duration): Builder = apply { minDelay = value }

        /** Sets [ExponentialBackoff.maxDelay] (Java). */
        public fun maxDelay(value: java.time.Duration): Builder = apply { maxDelay = value.toKotlinDuration() }

        /** Sets [ExponentialBackoff.maxDelay] (Kotlin). */
        public fun maxDelay(value: Duration): Builder = apply { maxDelay = value }

        /** Sets [ExponentialBackoff.multiplier]. */
        public fun multiplier(value: Double): Builder = apply { multiplier = value }

        /** Sets [ExponentialBackoff.randomizationFactor]. */
        public fun randomizationFactor(value: Double): Builder = apply { randomizationFactor = value }

        /** Sets [ExponentialBackoff.quickDropThreshold] (Java). */
        public fun quickDropThreshold(value: java.time.Duration): Builder =
            apply { quickDropThreshold = value.toKotlinDuration() }

        /** Sets [ExponentialBackoff.quickDropThreshold] (Kotlin). */
        public fun quickDropThreshold(value: Duration): Builder = apply { quickDropThreshold = value }

        /** @throws IllegalArgumentException if the values are inconsistent (see [ExponentialBackoff]) */
        public fun build(): ExponentialBackoff =
            ExponentialBackoff(minDelay, maxDelay, multiplier, randomizationFactor, quickDropThreshold)
    }

    public companion object {
        /** 1 s, as upstream. */
        public val DEFAULT_MIN_DELAY: Duration = 1.seconds

        /** 60 s, as upstream. */
        public val DEFAULT_MAX_DELAY: Duration = 60.seconds

        /** 2.0 (doubling), as upstream. */
        public const val DEFAULT_MULTIPLIER: Double = 2.0

        /** 0.2: each delay within ±20 % of the upstream value. */
        public const val DEFAULT_RANDOMIZATION_FACTOR: Double = 0.2

        /** 1 s. */
        public val DEFAULT_QUICK_DROP_THRESHOLD: Duration = 1.seconds

        /** The default policy: 1 s doubling to 60 s, ±20 % jitter, 1 s quick-drop threshold. */
        @JvmField
        public val DEFAULT: ExponentialBackoff = ExponentialBackoff()

        /** A builder starting from the defaults. */
        @JvmStatic
        public fun builder(): Builder = Builder(DEFAULT)
    }
}
