@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.core.backoff

import dev.tether.core.TetherScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.future.await
import kotlinx.coroutines.future.future
import kotlinx.coroutines.withTimeoutOrNull
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CompletionStage
import java.util.function.Predicate
import java.util.function.Supplier
import kotlin.coroutines.cancellation.CancellationException
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration
import kotlin.time.toKotlinDuration

/**
 * The retry policy of the webhooktunnel client (taskcluster `whclient.RetryConfig`): a randomized exponential
 * backoff with an overall time budget.
 *
 * ### Unset values
 * As upstream, a "zero" value means "use the default", so the stored properties are always normalized:
 * * [initialDelay] 0 → 500 ms; [maxDelay] 0 → 60 s; [maxElapsedTime] 0 → 3 min;
 * * [multiplier] below 1.0 → 1.5;
 * * [randomizationFactor] exactly 0.0 → 0.5 (so, as upstream, it cannot be switched off).
 *
 * ### Delays
 * [nextDelay] reproduces the upstream arithmetic to the nanosecond; with the defaults each delay is uniform in
 * `[1.0·cur, 2.0·cur]` and capped at [maxDelay]. [retry] runs an operation: the first attempt is immediate, after
 * a retryable failure it waits [initialDelay], then `nextDelay(previous delay)` before each further attempt, and
 * gives up with [RetryTimedOutException] once [maxElapsedTime] has passed since the first failure.
 *
 * Instances are immutable and thread-safe. Kotlin: `RetryConfig(maxElapsedTime = 2.minutes)`; Java:
 * `RetryConfig.builder().maxElapsedTime(Duration.ofMinutes(2)).build()`.
 *
 * @property initialDelay the wait after the first failure (default 500 ms)
 * @property maxDelay the cap of every computed delay (default 60 s)
 * @property maxElapsedTime the budget of the retry loop, counted from the end of the first failed attempt
 *   (default 3 min). [Duration.INFINITE] (an extension over upstream) retries forever.
 * @property multiplier the mean growth of the delay per retry (default 1.5)
 * @property randomizationFactor the spread of each delay: `next` is drawn from
 *   `[multiplier·cur − rf·cur, multiplier·cur + rf·cur]` (default 0.5)
 * @throws IllegalArgumentException for a negative or (except `maxElapsedTime`) infinite duration, a multiplier
 *   that is not finite, or a randomization factor that is negative or not finite
 */
public class RetryConfig(
    initialDelay: Duration = DEFAULT_INITIAL_DELAY,
    maxDelay: Duration = DEFAULT_MAX_DELAY,
    maxElapsedTime: Duration = DEFAULT_MAX_ELAPSED_TIME,
    multiplier: Double = DEFAULT_MULTIPLIER,
    randomizationFactor: Double = DEFAULT_RANDOMIZATION_FACTOR,
) {
    public val initialDelay: Duration = if (initialDelay == Duration.ZERO) DEFAULT_INITIAL_DELAY else initialDelay
    public val maxDelay: Duration = if (maxDelay == Duration.ZERO) DEFAULT_MAX_DELAY else maxDelay
    public val maxElapsedTime: Duration =
        if (maxElapsedTime == Duration.ZERO) DEFAULT_MAX_ELAPSED_TIME else maxElapsedTime
    public val multiplier: Double = if (multiplier < 1.0) DEFAULT_MULTIPLIER else multiplier
    public val randomizationFactor: Double =
        if (randomizationFactor == 0.0) DEFAULT_RANDOMIZATION_FACTOR else randomizationFactor

    init {
        requireFiniteNonNegative(this.initialDelay, "initialDelay")
        requireFiniteNonNegative(this.maxDelay, "maxDelay")
        require(!this.maxElapsedTime.isNegative()) {
            "maxElapsedTime must not be negative but was $maxElapsedTime; use Duration.ZERO for the 3 min default"
        }
        require(this.multiplier.isFinite()) { "multiplier must be finite but was $multiplier" }
        require(this.randomizationFactor.isFinite() && this.randomizationFactor >= 0.0) {
            "randomizationFactor must be a finite number >= 0 but was $randomizationFactor"
        }
    }

    /** Java view of [initialDelay]. */
    @get:JvmName("getInitialDelay")
    public val initialDelayJava: java.time.Duration get() = initialDelay.toJavaDuration()

    /** Java view of [maxDelay]. */
    @get:JvmName("getMaxDelay")
    public val maxDelayJava: java.time.Duration get() = maxDelay.toJavaDuration()

    /** Java view of [maxElapsedTime]. */
    @get:JvmName("getMaxElapsedTime")
    public val maxElapsedTimeJava: java.time.Duration get() = maxElapsedTime.toJavaDuration()

    /**
     * The delay that follows [current], exactly as upstream, in whole nanoseconds:
     * if `cur == maxDelay` the answer is `maxDelay`; otherwise with `delta = rf·cur`, `lo = m·cur − delta` and
     * `hi = m·cur + delta` it is `lo + U·(hi − lo + 1)` for `U` uniform in `[0, 1)` drawn from [random],
     * truncated to whole nanoseconds and clamped to at most [maxDelay].
     *
     * The result lies in `[lo, hi]` (rounded down), except that floating-point rounding can, for `U` within a
     * few ulps of 1, give `hi + 1 ns`, as upstream. It is never negative (only reachable when
     * `randomizationFactor > multiplier`, where upstream would return a negative delay, i.e. no wait).
     */
    @JvmSynthetic
    public fun nextDelay(current: Duration, random: Random = Random.Default): Duration {
        if (current == maxDelay) return maxDelay // as upstream, without drawing a sample
        return nextDelayNanos(current.nanos, random.nextDouble()).nanosToDuration()
    }

    /** Java view of [nextDelay]; a `null` random source means a shared default one. */
    @JvmOverloads
    public fun nextDelay(current: java.time.Duration, random: java.util.Random? = null): java.time.Duration =
        nextDelay(current.toKotlinDuration(), random.orDefault()).toJavaDuration()

    /** [nextDelay] with the uniform sample given explicitly (for exact tests). */
    internal fun nextDelayNanos(currentNanos: Long, u: Double): Long {
        val maxNanos = maxDelay.nanos
        if (currentNanos == maxNanos) return maxNanos
        val cur = currentNanos.toDouble()
        val next = randomizedNanos(multiplier * cur, randomizationFactor * cur, u)
        return next.coerceIn(0L, maxNanos)
    }

    /**
     * Runs [block] until it succeeds, retrying retryable failures under this policy, and returns its result.
     *
     * * Attempt 1 runs at once. If it succeeds its result is returned; if it fails with an exception for which
     *   [isRetryable] is false, that exception is rethrown at once.
     * * After a retryable failure the retry loop starts: wait [initialDelay], attempt, and after each further
     *   retryable failure wait `nextDelay(previous delay)` (using [random]) before the next attempt.
     * * A non-retryable failure inside the loop is rethrown at once.
     * * When [maxElapsedTime] has passed since the loop started (the end of attempt 1), the loop stops, cancelling
     *   an attempt in flight, and [RetryTimedOutException] is thrown with the last failure as its cause.
     *
     * Waiting uses [delay] and [withTimeoutOrNull], so the timing follows the coroutine's clock (virtual time
     * under `kotlinx-coroutines-test`). Cancelling the caller cancels the retry with a [CancellationException].
     * A [TimeoutCancellationException] thrown out of [block] (its own `withTimeout`) is an ordinary failure of
     * that attempt; any other [CancellationException] from [block] is propagated.
     *
     * @param isRetryable decides whether a failure is worth another attempt (default: all are)
     * @param random the source of the jitter (default: a shared one)
     * @param block the operation; it receives the attempt number, starting at 1
     * @throws RetryTimedOutException when the time budget is used up
     */
    @JvmSynthetic
    public suspend fun <T> retry(
        isRetryable: (Throwable) -> Boolean = { true },
        random: Random = Random.Default,
        block: suspend (attempt: Int) -> T,
    ): T {
        var attempt = 1
        val first = attemptOnce(attempt, isRetryable, block)
        if (first is Outcome.Success) return first.value

        var lastFailure = (first as Outcome.Failure).error
        val done: Outcome.Success<T>? = withTimeoutOrNull(maxElapsedTime) {
            var wait = initialDelay
            var success: Outcome.Success<T>? = null
            while (success == null) {
                delay(wait)
                attempt++
                when (val outcome = attemptOnce(attempt, isRetryable, block)) {
                    is Outcome.Success -> success = outcome

                    is Outcome.Failure -> {
                        lastFailure = outcome.error
                        wait = nextDelay(wait, random)
                    }
                }
            }
            success
        }
        if (done != null) return done.value
        throw RetryTimedOutException(attempt, maxElapsedTime, lastFailure)
    }

    /**
     * Java face of [retry]: runs [action] (attempt 1 at once, then under this policy) on [Dispatchers.Default]
     * and completes the returned future with the first successful result, with the first non-retryable failure,
     * or with [RetryTimedOutException]. Failures of the stage returned by [action] are unwrapped from
     * `CompletionException`. Cancelling the returned future stops the retries and cancels the attempt in flight.
     *
     * @param isRetryable decides whether a failure is worth another attempt (default: all are)
     * @param random the source of the jitter; `null` means a shared default one
     */
    @JvmOverloads
    public fun <T> retryAsync(
        action: Supplier<out CompletionStage<T>>,
        isRetryable: Predicate<Throwable> = Predicate { true },
        random: java.util.Random? = null,
    ): CompletableFuture<T> {
        val kotlinRandom = random.orDefault()
        // TetherScope owns it (no object to belong to); cancelling the future cancels it.
        return TetherScope.future {
            retry({ isRetryable.test(it) }, kotlinRandom) { action.get().await() }
        }
    }

    private suspend fun <T> attemptOnce(
        attempt: Int,
        isRetryable: (Throwable) -> Boolean,
        block: suspend (attempt: Int) -> T,
    ): Outcome<T> = try {
        Outcome.Success(block(attempt))
    } catch (e: Throwable) {
        if (e is CancellationException) {
            currentCoroutineContext().ensureActive() // our own cancellation or time-out: propagate
            if (e !is TimeoutCancellationException) throw e
        }
        if (!isRetryable(e)) throw e
        Outcome.Failure(e)
    }

    private sealed interface Outcome<out T> {
        class Success<T>(val value: T) : Outcome<T>
        class Failure(val error: Throwable) : Outcome<Nothing>
    }

    /** A builder initialised with this policy's (normalized) values. */
    public fun toBuilder(): Builder = Builder(this)

    override fun equals(other: Any?): Boolean = other is RetryConfig &&
        initialDelay == other.initialDelay && maxDelay == other.maxDelay &&
        maxElapsedTime == other.maxElapsedTime && multiplier == other.multiplier &&
        randomizationFactor == other.randomizationFactor

    override fun hashCode(): Int {
        var h = initialDelay.hashCode()
        h = 31 * h + maxDelay.hashCode()
        h = 31 * h + maxElapsedTime.hashCode()
        h = 31 * h + multiplier.hashCode()
        return 31 * h + randomizationFactor.hashCode()
    }

    override fun toString(): String =
        "RetryConfig(initialDelay=$initialDelay, maxDelay=$maxDelay, maxElapsedTime=$maxElapsedTime, " +
            "multiplier=$multiplier, randomizationFactor=$randomizationFactor)"

    /**
     * Fluent construction for Java. A value left unset, or set to zero, gets its default (see [RetryConfig]).
     */
    public class Builder internal constructor(from: RetryConfig?) {
        private var initialDelay = from?.initialDelay ?: Duration.ZERO
        private var maxDelay = from?.maxDelay ?: Duration.ZERO
        private var maxElapsedTime = from?.maxElapsedTime ?: Duration.ZERO
        private var multiplier = from?.multiplier ?: 0.0
        private var randomizationFactor = from?.randomizationFactor ?: 0.0

        /** Sets [RetryConfig.initialDelay] (Java). */
        public fun initialDelay(value: java.time.Duration): Builder = apply { initialDelay = value.toKotlinDuration() }

        /** Sets [RetryConfig.initialDelay] (Kotlin). */
        public fun initialDelay(value: Duration): Builder = apply { initialDelay = value }

        /** Sets [RetryConfig.maxDelay] (Java). */
        public fun maxDelay(value: java.time.Duration): Builder = apply { maxDelay = value.toKotlinDuration() }

        /** Sets [RetryConfig.maxDelay] (Kotlin). */
        public fun maxDelay(value: Duration): Builder = apply { maxDelay = value }

        /** Sets [RetryConfig.maxElapsedTime] (Java). */
        public fun maxElapsedTime(value: java.time.Duration): Builder =
            apply { maxElapsedTime = value.toKotlinDuration() }

        /** Sets [RetryConfig.maxElapsedTime] (Kotlin). */
        public fun maxElapsedTime(value: Duration): Builder = apply { maxElapsedTime = value }

        /** Sets [RetryConfig.multiplier]. */
        public fun multiplier(value: Double): Builder = apply { multiplier = value }

        /** Sets [RetryConfig.randomizationFactor]. */
        public fun randomizationFactor(value: Double): Builder = apply { randomizationFactor = value }

        /** @throws IllegalArgumentException for invalid values (see [RetryConfig]) */
        public fun build(): RetryConfig =
            RetryConfig(initialDelay, maxDelay, maxElapsedTime, multiplier, randomizationFactor)
    }

    public companion object {
        /** 500 ms. */
        public val DEFAULT_INITIAL_DELAY: Duration = 500.milliseconds

        /** 60 s. */
        public val DEFAULT_MAX_DELAY: Duration = 60.seconds

        /** 3 min. */
        public val DEFAULT_MAX_ELAPSED_TIME: Duration = 3.minutes

        /** 1.5. */
        public const val DEFAULT_MULTIPLIER: Double = 1.5

        /** 0.5. */
        public const val DEFAULT_RANDOMIZATION_FACTOR: Double = 0.5

        /** The upstream defaults: 500 ms, ×1.5 ± 0.5, capped at 60 s, for at most 3 min. */
        @JvmField
        public val DEFAULT: RetryConfig = RetryConfig()

        /** A builder with every value unset (that is, defaulted). */
        @JvmStatic
        public fun builder(): Builder = Builder(null)
    }
}
