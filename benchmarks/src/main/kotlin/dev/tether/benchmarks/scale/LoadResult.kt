package dev.tether.benchmarks.scale

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
