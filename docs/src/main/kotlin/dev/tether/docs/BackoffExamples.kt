package dev.tether.docs

import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.core.backoff.GuardBackoff
import dev.tether.core.backoff.RetryConfig
import dev.tether.core.backoff.RetryTimedOutException
import java.io.IOException
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/** The Kotlin examples of docs/backoff.md. */
object BackoffExamples {

    /** The reconnect delays of the correlating client without jitter: upstream's exact sequence. */
    fun upstreamReconnectDelays(): List<Duration> {
        // docs:start exponential-exact
        val policy = ExponentialBackoff(randomizationFactor = 0.0) // the defaults otherwise: 1 s, x2, 60 s cap
        val schedule = policy.newSchedule()
        val delays = List(8) { schedule.nextDelayAfterFailedDial() }
        // delays == [1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s]
        // docs:end exponential-exact
        return delays
    }

    /** The default reconnect policy with a seeded jitter source, plus the two answers after a drop. */
    fun jitteredReconnect(seed: Int): Triple<List<Duration>, Duration, Duration> {
        // docs:start exponential-schedule
        val schedule = ExponentialBackoff.DEFAULT.newSchedule(Random(seed)) // seeded: the same delays every run
        val failures = List(3) { schedule.nextDelayAfterFailedDial() } // ~1 s, ~2 s, ~4 s, each ±20 %
        val afterQuickDrop = schedule.nextDelayAfterDrop(200.milliseconds) // lived < 1 s: like a failure, ~8 s
        val afterLongLife = schedule.nextDelayAfterDrop(5.minutes) // lived >= 1 s: 0, and reset to 1 s
        // docs:end exponential-schedule
        return Triple(failures, afterQuickDrop, afterLongLife)
    }

    /** The relay guard's ticker without jitter. */
    fun guardTicks(): List<Duration> {
        // docs:start guard
        val schedule = GuardBackoff(randomizationFactor = 0.0).newSchedule() // defaults: 2 s, x2, 60 s, rf 0.5
        val waits = List(8) { schedule.next() }
        // waits == [0s, 2s, 4s, 8s, 16s, 32s, 60s, 60s]: the first tick is immediate, it never gives up
        // docs:end guard
        return waits
    }

    /**
     * Calls [fetch] under the tunnel client's retry policy. I/O failures are retried; anything else ends the loop.
     * Returns the first success, or throws [RetryTimedOutException] after 2 minutes of failures.
     */
    suspend fun fetchWithRetry(fetch: suspend (attempt: Int) -> String): String {
        // docs:start retry
        val policy = RetryConfig(initialDelay = 1.seconds, maxElapsedTime = 2.minutes) // others: x1.5 ± 0.5, 60 s cap
        return policy.retry(isRetryable = { it is IOException }) { attempt ->
            fetch(attempt) // attempt 1 runs at once; then it waits 1 s, then 1-2 s, then 1-4 s, ...
        }
        // docs:end retry
    }
}
