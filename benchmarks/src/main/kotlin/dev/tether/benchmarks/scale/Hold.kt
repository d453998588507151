package dev.tether.benchmarks.scale

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.LongAdder
import kotlin.time.Duration
import kotlin.time.Duration.Companion.nanoseconds

/** A rate held for [holdNanos]: [completed] operations in that window, their latencies, workers lost to errors. */
internal class HeldRate(
    val completed: Long,
    val holdNanos: Long,
    val latency: LatencyHistogram,
    val workers: Int,
    val workersFailed: Int,
) {
    val perSecond: Double get() = completed * 1e9 / holdNanos
}

/**
 * The clock of one held rate, started when made: [warm] not counted, then [hold] measured, from [from] to [until]
 * (System.nanoTime). Events that arrive elsewhere than in the workers (a subscriber's handler) use it too.
 */
internal class HoldWindow(warm: Duration, hold: Duration) {
    val from: Long = System.nanoTime() + warm.inWholeNanoseconds
    val until: Long = from + hold.inWholeNanoseconds

    operator fun contains(nanos: Long): Boolean = nanos in from..until

    fun remaining(): Duration = (until - System.nanoTime()).coerceAtLeast(0).nanoseconds
}

/**
 * Runs [workers] closed loops at once on [Dispatchers.Default]: each calls [op] back to back through [window]'s warm
 * part (not counted: connections get going, the JIT compiles the hot path) and its measured part, in which every
 * operation that ends is counted and its latency recorded. A worker whose op throws is recorded in [failures] and
 * stops (a broken connection would otherwise fail in a tight loop). The whole run is bounded: workers still inside
 * an op [grace] after the end are cancelled and counted as stuck.
 */
internal suspend fun holdRate(
    workers: Int,
    window: HoldWindow,
    grace: Duration,
    failures: Failures,
    phase: String,
    op: suspend (worker: Int, seq: Int) -> Unit,
): HeldRate {
    val latency = LatencyHistogram()
    val completed = LongAdder()
    val failed = AtomicInteger()
    val finished = AtomicInteger()
    val from = window.from
    val until = window.until
    val ended = withTimeoutOrNull(window.remaining() + grace) {
        coroutineScope {
            repeat(workers) { w ->
                launch(Dispatchers.Default) {
                    var seq = 0
                    while (System.nanoTime() < until) {
                        val t0 = System.nanoTime()
                        try {
                            op(w, seq++)
                        } catch (e: CancellationException) {
                            throw e
                        } catch (e: Exception) {
                            failures.record(phase, e)
                            failed.incrementAndGet()
                            return@launch
                        }
                        val t1 = System.nanoTime()
                        if (t1 in window) {
                            completed.increment()
                            latency.record(t1 - t0)
                        }
                    }
                    finished.incrementAndGet()
                }
            }
        }
        true
    }
    if (ended == null) {
        val stuck = workers - finished.get() - failed.get()
        failures.record(phase, "workers stuck in an operation $grace after the end (cancelled)", stuck.toLong())
    }
    return HeldRate(completed.sum(), until - from, latency, workers, failed.get())
}
