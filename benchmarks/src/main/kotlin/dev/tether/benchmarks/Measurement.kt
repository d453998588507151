package dev.tether.benchmarks

import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.joinAll
import kotlinx.coroutines.launch
import kotlin.math.ceil
import kotlin.time.Duration

/**
 * One closed-loop load round: [inFlight] coroutines each run `op` back to back until the deadline passes or the
 * round's request cap is spent, timing every call with [System.nanoTime] into preallocated arrays (no allocation
 * on the measured path besides what `op` does).
 */
internal class LoadRecorder(val inFlight: Int, maxRequests: Long) {
    private val perWorker: Int = ceil(maxRequests.toDouble() / inFlight).toInt().coerceAtLeast(1)
    private val samples = Array(inFlight) { LongArray(perWorker) }
    private val counts = IntArray(inFlight)

    /** Runs one round and returns its figures. `op(worker, seq)` performs one round trip. */
    suspend fun round(duration: Duration, op: suspend (worker: Int, seq: Int) -> Unit): RoundResult {
        counts.fill(0)
        val start = System.nanoTime()
        val deadline = start + duration.inWholeNanoseconds
        coroutineScope {
            (0 until inFlight).map { w ->
                launch {
                    val into = samples[w]
                    var n = 0
                    while (n < into.size && System.nanoTime() < deadline) {
                        val t0 = System.nanoTime()
                        op(w, n)
                        into[n] = System.nanoTime() - t0
                        n++
                    }
                    counts[w] = n
                }
            }.joinAll()
        }
        val elapsed = System.nanoTime() - start
        val total = counts.sum()
        val all = LongArray(total)
        var at = 0
        for (w in 0 until inFlight) {
            System.arraycopy(samples[w], 0, all, at, counts[w])
            at += counts[w]
        }
        all.sort()
        return RoundResult(total.toLong(), elapsed, percentile(all, 0.50), percentile(all, 0.99), if (total == 0) 0 else all[total - 1])
    }

    private fun percentile(sorted: LongArray, p: Double): Long {
        if (sorted.isEmpty()) return 0
        val rank = ceil(p * sorted.size).toInt().coerceIn(1, sorted.size) // nearest rank
        return sorted[rank - 1]
    }
}

/** Figures of one round: completed round trips, wall time, latency percentiles (ns). */
internal data class RoundResult(val completed: Long, val elapsedNanos: Long, val p50Nanos: Long, val p99Nanos: Long, val maxNanos: Long) {
    val perSecond: Double get() = if (elapsedNanos == 0L) 0.0 else completed * 1e9 / elapsedNanos
}

/** One connection (or client) under load; a fresh one serves each round. */
internal interface LoadTarget : AutoCloseable {
    /** One request/response (or echo) for [worker], its [seq]-th in this round. */
    suspend fun roundTrip(worker: Int, seq: Int)
}

/**
 * How the warm-up went: one-second sub-rounds until the rate stopped rising (the mean of the last three no more
 * than [Warmup.RISE] above the mean of the three before) or the time cap was reached.
 */
internal data class Warmup(val spentNanos: Long, val rates: List<Double>, val converged: Boolean, val completed: Long) {
    companion object {
        const val RISE: Double = 0.05
        const val MIN_STEPS: Int = 6

        /** True when the rates have stopped rising. */
        fun steady(rates: List<Double>): Boolean {
            if (rates.size < MIN_STEPS) return false
            val last = rates.takeLast(3).average()
            val before = rates.dropLast(3).takeLast(3).average()
            return last <= before * (1 + RISE)
        }
    }
}

/** Median and spread of measured rounds (the warm-up is kept apart). */
internal data class LoadSummary(val inFlight: Int, val warmup: Warmup, val rounds: List<RoundResult>) {
    val medianPerSecond: Double get() = median(rounds.map { it.perSecond })
    val minPerSecond: Double get() = rounds.minOf { it.perSecond }
    val maxPerSecond: Double get() = rounds.maxOf { it.perSecond }
    /** (max - min) / median of the per-round rates, in percent. */
    val spreadPercent: Double get() = if (medianPerSecond == 0.0) 0.0 else (maxPerSecond - minPerSecond) * 100 / medianPerSecond
    val medianP50Nanos: Double get() = median(rounds.map { it.p50Nanos.toDouble() })
    val medianP99Nanos: Double get() = median(rounds.map { it.p99Nanos.toDouble() })
    val minP99Nanos: Long get() = rounds.minOf { it.p99Nanos }
    val maxP99Nanos: Long get() = rounds.maxOf { it.p99Nanos }
    val totalRequests: Long get() = rounds.sumOf { it.completed }
}

internal fun median(values: List<Double>): Double {
    require(values.isNotEmpty()) { "no values" }
    val s = values.sorted()
    val mid = s.size / 2
    return if (s.size % 2 == 1) s[mid] else (s[mid - 1] + s[mid]) / 2
}
