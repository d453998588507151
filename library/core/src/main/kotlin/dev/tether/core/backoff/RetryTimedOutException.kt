package dev.tether.core.backoff

import dev.tether.core.TetherException
import kotlin.time.Duration
import kotlin.time.toJavaDuration

/**
 * A [RetryConfig.retry] loop used up its [RetryConfig.maxElapsedTime] without a successful attempt (upstream
 * `ErrRetryTimedOut`, "retry timed out"). The [cause] is the last failure seen.
 *
 * What to do: check that the peer is reachable and healthy (the cause says why the last attempt failed), or
 * allow more time with a larger `maxElapsedTime`.
 *
 * @property attempts how many attempts were made, the first (immediate) one included
 * @property maxElapsedTime the budget that ran out; it counts from the end of the first failed attempt
 */
public class RetryTimedOutException(
    public val attempts: Int,
    public val maxElapsedTime: Duration,
    cause: Throwable?,
) : TetherException(
    "retry timed out: no success after $attempts attempt(s), the retry budget of $maxElapsedTime is used up" +
        (cause?.let { "; last failure: $it" } ?: "") +
        ". Check that the peer is reachable, or raise RetryConfig.maxElapsedTime.",
    cause,
) {
    /** Java view of [maxElapsedTime]. */
    @get:JvmName("getMaxElapsedTime")
    public val maxElapsedTimeJava: java.time.Duration get() = maxElapsedTime.toJavaDuration()
}
