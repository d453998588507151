package dev.tether.benchmarks.scale

import dev.tether.benchmarks.ClassHistogram
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/** One memory figure of a load: what [growth] units of [unit] added, per unit. */
internal data class Footprint(val what: String, val unit: String, val growth: Growth)

/** One rate held with everything open; [latencyOf] names what a latency sample is, null when none applies. */
internal data class Rate(
    val what: String,
    val unit: String,
    val held: HeldRate,
    val latencyOf: String?,
    val note: String,
)

/**
 * What opening, holding and closing one load measured. It holds no reference to anything the load opened: the
 * after-close reading is taken once the function that opened them has returned, so that nothing of theirs is still
 * reachable from its frame.
 */
internal class Measured(
    /** What "opened" counts, e.g. "1,000 of 1,000 connections". */
    val opened: String,
    val openMillis: Long,
    val atPeak: Snapshot,
    val footprints: List<Footprint>,
    val rates: List<Rate>,
    val closeMillis: Long,
)

/**
 * One load: the baseline reading, then [exercise] (open, measure, close), then the reading after the close. Failures
 * of all three go to the result's [Failures].
 */
internal suspend fun LoadContext.measureLoad(
    key: String,
    title: String,
    setup: String,
    exercise: suspend (failures: Failures, baseline: Snapshot) -> Measured,
): LoadResult {
    val failures = Failures()
    // Class histograms (each runs a full GC) before the baseline and after the last reading: they say what a load
    // that did not go back to its baseline left behind, and are garbage before the next reading.
    val histogramBefore = withContext(Dispatchers.IO) { ClassHistogram.take() }
    val baseline = snapshot()
    val m = exercise(failures, baseline)
    val after = afterClose(baseline)
    val histogramAfter = withContext(Dispatchers.IO) { ClassHistogram.take() }
    val retained = if (histogramBefore != null && histogramAfter != null) {
        ClassHistogram.growth(histogramBefore, histogramAfter, 1, RETAINED_CLASSES)
    } else {
        emptyList()
    }
    return LoadResult(
        key,
        title,
        setup,
        m.opened,
        m.openMillis,
        baseline,
        m.atPeak,
        m.footprints,
        m.rates,
        after,
        m.closeMillis,
        failures,
        retained,
    )
}

/** How many classes the report names for a load whose heap did not go back to its baseline. */
private const val RETAINED_CLASSES = 6

/** The figures of one load at scale (one of wsclient, wsmux, WAMP, relay). */
internal data class LoadResult(
    val key: String,
    val title: String,
    /** How the load was set up, for the report: what was opened, what each operation is. */
    val setup: String,
    /** What "opened" counts, e.g. "1,000 connections". */
    val opened: String,
    val openMillis: Long,
    val baseline: Snapshot,
    val atPeak: Snapshot,
    val footprints: List<Footprint>,
    val rates: List<Rate>,
    val afterClose: Snapshot,
    val closeMillis: Long,
    val failures: Failures,
    /** Classes with the most more live bytes after the close than before the load: name, instances, bytes. */
    val retained: List<Triple<String, Double, Double>> = emptyList(),
) {
    /** No more live threads after the close than before the load. */
    val threadsReturned: Boolean get() = afterClose.threads <= baseline.threads

    /**
     * Heap after the close within [HEAP_SLACK_BYTES] or [HEAP_SLACK_SHARE] of what the load added (whichever is
     * larger) of the heap before it: what the load opened was let go.
     */
    val heapReturned: Boolean
        get() {
            val added = (atPeak.heapBytes - baseline.heapBytes).coerceAtLeast(0)
            val slack = maxOf(HEAP_SLACK_BYTES, (added * HEAP_SLACK_SHARE).toLong())
            return afterClose.heapBytes - baseline.heapBytes <= slack
        }

    companion object {
        const val HEAP_SLACK_BYTES: Long = 1L shl 20
        const val HEAP_SLACK_SHARE: Double = 0.05
    }
}
