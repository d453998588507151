package dev.tether.benchmarks

import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.joinAll
import kotlinx.coroutines.launch
import java.io.IOException
import java.nio.file.Files
import java.nio.file.Paths
import kotlin.coroutines.CoroutineContext
import kotlin.coroutines.EmptyCoroutineContext
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

    /**
     * Runs one round and returns its figures. `op(worker, seq)` performs one round trip. [settle] runs after the
     * workers and before the clock stops: a one-way transfer waits there until the receiver has every byte sent.
     */
    suspend fun round(
        duration: Duration,
        settle: suspend () -> Unit = {},
        op: suspend (worker: Int, seq: Int) -> Unit,
    ): RoundResult {
        counts.fill(0)
        val cpuStart = processCpuNanos()
        val jitStart = jitMillis()
        val switchesStart = jvmContextSwitches()
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
        settle()
        val elapsed = System.nanoTime() - start
        val cpu = processCpuNanos() - cpuStart
        val jit = jitMillis() - jitStart
        val switchesEnd = jvmContextSwitches()
        val switches = if (switchesStart < 0 || switchesEnd < 0) -1 else switchesEnd - switchesStart
        val total = counts.sum()
        val all = LongArray(total)
        var at = 0
        for (w in 0 until inFlight) {
            System.arraycopy(samples[w], 0, all, at, counts[w])
            at += counts[w]
        }
        all.sort()
        val max = if (total == 0) 0 else all[total - 1]
        return RoundResult(
            total.toLong(),
            elapsed,
            percentile(all, 0.50),
            percentile(all, 0.99),
            max,
            cpu,
            jit,
            switches,
        )
    }

    private fun percentile(sorted: LongArray, p: Double): Long {
        if (sorted.isEmpty()) return 0
        val rank = ceil(p * sorted.size).toInt().coerceIn(1, sorted.size) // nearest rank
        return sorted[rank - 1]
    }
}

/** Figures of one round: completed round trips, wall time, latency percentiles (ns). */
internal data class RoundResult(
    val completed: Long,
    val elapsedNanos: Long,
    val p50Nanos: Long,
    val p99Nanos: Long,
    val maxNanos: Long,
    /** CPU time of the whole process (every thread: clients, servers, GC, JIT) during the round; -1 if unknown. */
    val cpuNanos: Long,
    /** JIT compilation time during the round, ms. */
    val jitMillis: Long,
    /** Context switches of every thread of this JVM during the round (Linux); -1 if unknown. */
    val contextSwitches: Long = -1,
) {
    val perSecond: Double get() = if (elapsedNanos == 0L) 0.0 else completed * 1e9 / elapsedNanos
    val cpuNanosPerOp: Double
        get() = if (completed == 0L || cpuNanos < 0) Double.NaN else cpuNanos.toDouble() / completed

    /** [contextSwitches] per completed op; NaN if unknown. */
    val contextSwitchesPerOp: Double
        get() = if (completed == 0L || contextSwitches < 0) Double.NaN else contextSwitches.toDouble() / completed
}

private val osBean = java.lang.management.ManagementFactory.getOperatingSystemMXBean()

/** Process CPU time in ns, or -1 when the platform bean does not report it. */
internal fun processCpuNanos(): Long = (osBean as? com.sun.management.OperatingSystemMXBean)?.processCpuTime ?: -1

/**
 * Voluntary plus involuntary context switches of every live thread of this JVM (`/proc/self/task/…/status`), or
 * -1 off Linux. A thread that ends between two readings takes its count with it (few do during a round).
 */
internal fun jvmContextSwitches(): Long {
    val dir = Paths.get("/proc/self/task")
    if (!Files.isDirectory(dir)) return -1
    var sum = 0L
    try {
        Files.newDirectoryStream(dir).use { tasks ->
            for (task in tasks) {
                try {
                    for (line in Files.readAllLines(task.resolve("status"))) {
                        if (line.startsWith("voluntary_ctxt_switches:") ||
                            line.startsWith("nonvoluntary_ctxt_switches:")
                        ) {
                            sum += line.substringAfter(':').trim().toLong()
                        }
                    }
                } catch (_: IOException) {
                    // the thread ended meanwhile
                }
            }
        }
    } catch (_: IOException) {
        return -1
    }
    return sum
}

/** One connection (or client) under load; a fresh one serves each round. */
internal interface LoadTarget : AutoCloseable {
    /** One request/response (or echo) for [worker], its [seq]-th in this round. */
    suspend fun roundTrip(worker: Int, seq: Int)

    /** Runs inside the measured time after the last [roundTrip] (one-way transfers: until the receiver has all). */
    suspend fun finish() {}

    /**
     * Where the round's workers run ([roundTrip] and [finish]): `Dispatchers.Default` unless a target names its
     * connection's I/O thread, so that its protocol work runs where the raw baselines' listeners do.
     */
    val workers: CoroutineContext get() = EmptyCoroutineContext
}

/**
 * How the warm-up went: one-second rounds until the JIT has gone quiet (compilation took less than [QUIET] of
 * each of the last [QUIET_ROUNDS] rounds, after at least [MIN_ROUNDS] rounds) or the time cap was reached. On a
 * small machine the JIT competes with the load for the cores and keeps compiling for tens of seconds; a plateau of
 * the rate alone is not a reliable sign that it has finished.
 */
internal data class Warmup(
    val spentNanos: Long,
    val rates: List<Double>,
    val jitMillis: List<Long>,
    val converged: Boolean,
    val completed: Long,
) {
    companion object {
        const val QUIET: Double = 0.05
        const val QUIET_ROUNDS: Int = 2
        const val MIN_ROUNDS: Int = 3

        /** True when the JIT has gone quiet; [jitMillis] is the compile time of each [stepMillis] round. */
        fun steady(jitMillis: List<Long>, stepMillis: Long): Boolean =
            jitMillis.size >= MIN_ROUNDS && jitMillis.takeLast(QUIET_ROUNDS).all { it < stepMillis * QUIET }
    }
}

private val jitBean = java.lang.management.ManagementFactory.getCompilationMXBean()

/** Accumulated JIT compilation time in ms, or -1 when the JVM does not report it. */
internal fun jitMillis(): Long =
    if (jitBean?.isCompilationTimeMonitoringSupported == true) jitBean.totalCompilationTime else -1

/** Median and spread of measured rounds (the warm-up is kept apart). */
internal data class LoadSummary(val inFlight: Int, val warmup: Warmup, val rounds: List<RoundResult>) {
    val medianPerSecond: Double get() = median(rounds.map { it.perSecond })
    val minPerSecond: Double get() = rounds.minOf { it.perSecond }
    val maxPerSecond: Double get() = rounds.maxOf { it.perSecond }

    /** (max - min) / median of the per-round rates, in percent. */
    val spreadPercent: Double
        get() = if (medianPerSecond == 0.0) 0.0 else (maxPerSecond - minPerSecond) * 100 / medianPerSecond
    val medianP50Nanos: Double get() = median(rounds.map { it.p50Nanos.toDouble() })
    val medianP99Nanos: Double get() = median(rounds.map { it.p99Nanos.toDouble() })
    val minP99Nanos: Long get() = rounds.minOf { it.p99Nanos }
    val maxP99Nanos: Long get() = rounds.maxOf { it.p99Nanos }
    val totalRequests: Long get() = rounds.sumOf { it.completed }
    val medianCpuNanosPerOp: Double get() = median(rounds.map { it.cpuNanosPerOp })
}

internal fun median(values: List<Double>): Double {
    require(values.isNotEmpty()) { "no values" }
    val s = values.sorted()
    val mid = s.size / 2
    return if (s.size % 2 == 1) s[mid] else (s[mid - 1] + s[mid]) / 2
}
