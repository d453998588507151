package dev.tether.benchmarks.scale

import dev.tether.benchmarks.Fmt

/** The report section `scale`: a summary table over the loads, then each load's figures. */
internal object ScaleReport {
    const val SECTION: String = "scale"

    /** A load that did not produce figures: its key and why. */
    data class Broken(val key: String, val error: Throwable)

    fun render(
        provenance: String,
        options: ScaleOptions,
        serverCommand: String,
        warmedUp: Boolean,
        results: List<LoadResult>,
        broken: List<Broken>,
    ): String = buildString {
        append("### Load at scale: many clients at once against the testkit fakes\n\n")
        append(provenance).append("\n\n")
        append("The servers run in a child JVM (`").append(serverCommand).append("`, same class path): `FakeBroker`, ")
        append("a wsmux echo server, `FakeWampRouter` and `FakeRelayServer` on 127.0.0.1. Every figure below is this ")
        append("JVM's, so it is the clients' alone. **Heap**: used heap (MemoryMXBean, the least of 3 readings each ")
        append("after 2 × `System.gc()`), read before and after opening, divided by the count. **Direct**: Netty's ")
        append("default allocator's count of the direct memory it holds (the JDK's direct buffer pool in brackets). ")
        append("**Threads**: live threads of this JVM. Each rate runs ${options.warm} unmeasured, then ")
        append("${options.hold} measured, with everything open; p50/p99 from a log-linear histogram (within ")
        append("${100 / LatencyHistogram.SUB_BUCKETS + 1} %). ")
        append("**After close**: everything closed, then the threads given up to ${options.settle} to end; back to ")
        append("baseline means no more threads than before and the heap within ")
        append("${LoadResult.HEAP_SLACK_BYTES shr 20} MiB or ${(LoadResult.HEAP_SLACK_SHARE * 100).toInt()} % of ")
        append("what the load added of its reading before. Netty's allocator takes direct memory in chunks, so ")
        append("direct memory per unit shows steps, not a per-unit cost, at small counts. p50 and p99 in the summary ")
        append("are those of the load's first rate. ")
        if (warmedUp) {
            append("Before the measured loads every load ran once with 1/50 of its counts, unreported, so that ")
            append("process-wide threads and pools created on first use (I/O event loops, coroutine workers, timers) ")
            append("are in the baselines rather than counted against the first load.")
        } else {
            append("No unreported warm-up run (counts this small are the warm-up's own).")
        }
        append("\n\n")
        summary(results, broken)
        for (r in results) details(r)
        val failed = results.filter { it.failures.total > 0 }
        append('\n')
        if (failed.isEmpty() && broken.isEmpty()) {
            append("**No failures**: every open, operation and close succeeded.\n")
        } else {
            append("**This run had failures**: ")
            val kinds = failed.map { "${it.key} (${it.failures.total})" } + broken.map { "${it.key} (did not run)" }
            append(kinds.joinToString())
            append("; see each load's list above.\n")
        }
    }

    private fun StringBuilder.summary(results: List<LoadResult>, broken: List<Broken>) {
        append("| load | opened | time to open | heap per unit | direct per unit | threads before → open → after ")
        append("close | heap after close − before | back to baseline | rate held | p50 | p99 | failures |\n")
        append("|---|---|---:|---|---|---:|---:|---|---|---:|---:|---:|\n")
        for (r in results) {
            val main = r.rates.first()
            append("| ").append(r.title)
            append(" | ").append(r.opened)
            append(" | ").append(Fmt.count(r.openMillis)).append(" ms")
            append(" | ").append(r.footprints.joinToString("; ") { "${Fmt.bytes(it.growth.heapPerUnit)}/${it.unit}" })
            append(" | ")
            append(r.footprints.joinToString("; ") { "${Fmt.bytes(it.growth.nettyDirectPerUnit)}/${it.unit}" })
            append(" | ").append(r.baseline.threads).append(" → ").append(r.atPeak.threads)
            append(" → ").append(r.afterClose.threads)
            append(" | ").append(signedMib(r.afterClose.heapBytes - r.baseline.heapBytes))
            append(" | ").append(verdict(r))
            append(" | ").append(r.rates.joinToString("; ") { "${Fmt.count(it.held.perSecond)} ${it.unit}" })
            append(" | ").append(if (main.latencyOf == null) "–" else Fmt.micros(main.held.latency.percentile(0.50)))
            append(" | ").append(if (main.latencyOf == null) "–" else Fmt.micros(main.held.latency.percentile(0.99)))
            append(" | ").append(if (r.failures.total == 0L) "0" else "**${r.failures.total}**")
            append(" |\n")
        }
        for (b in broken) {
            append("| ").append(b.key).append(" | **did not run**: ").append(b.error.toString().replace('|', '/'))
            append(" | | | | | | | | | | |\n")
        }
        append('\n')
    }

    private fun StringBuilder.details(r: LoadResult) {
        append("\n#### ").append(r.title).append("\n\n")
        append(r.setup).append(" Opened: ").append(r.opened).append(" in ").append(Fmt.count(r.openMillis))
        append(" ms; closed in ").append(Fmt.count(r.closeMillis)).append(" ms.\n\n")
        append("| what | count | heap per unit | Netty direct per unit (JDK direct) | threads added |\n")
        append("|---|---:|---:|---:|---:|\n")
        for (f in r.footprints) {
            val g = f.growth
            append("| ").append(f.what).append(" | ").append(Fmt.count(g.count.toLong()))
            append(" | ").append(Fmt.bytes(g.heapPerUnit))
            append(" | ").append(Fmt.bytes(g.nettyDirectPerUnit)).append(" (").append(Fmt.bytes(g.jdkDirectPerUnit))
            append(") | ").append(g.threadsAdded).append(" |\n")
        }
        append('\n')
        append("| rate held | per second | p50 | p99 | latency of | workers (failed) |\n")
        append("|---|---:|---:|---:|---|---:|\n")
        for (rate in r.rates) {
            val h = rate.held
            append("| ").append(rate.what).append(" | **").append(Fmt.count(h.perSecond)).append("** ")
            append(rate.unit.substringBefore('/'))
            append(" | ").append(if (rate.latencyOf == null) "–" else Fmt.micros(h.latency.percentile(0.50)))
            append(" | ").append(if (rate.latencyOf == null) "–" else Fmt.micros(h.latency.percentile(0.99)))
            append(" | ").append(rate.latencyOf ?: "–")
            append(" | ").append(Fmt.count(h.workers.toLong())).append(" (").append(h.workersFailed).append(") |\n")
        }
        for (rate in r.rates.filter { it.note.isNotEmpty() }) {
            append("\n").append(rate.what).append(": ").append(rate.note).append('.')
        }
        append("\n\n")
        append("Before: ").append(Fmt.mib(r.baseline.heapBytes)).append(" heap, ").append(r.baseline.threads)
        append(" threads, ").append(Fmt.mib(r.baseline.nettyDirectBytes)).append(" Netty direct. With everything ")
        append("open: ").append(Fmt.mib(r.atPeak.heapBytes)).append(", ").append(r.atPeak.threads).append(" threads, ")
        append(Fmt.mib(r.atPeak.nettyDirectBytes)).append(". After close: ").append(Fmt.mib(r.afterClose.heapBytes))
        append(" (").append(signedMib(r.afterClose.heapBytes - r.baseline.heapBytes)).append(" against before), ")
        append(r.afterClose.threads).append(" threads (").append(signed(r.afterClose.threads - r.baseline.threads))
        append("), ").append(Fmt.mib(r.afterClose.nettyDirectBytes)).append(" Netty direct.")
        val leftBehind = r.afterClose.threadsBeyond(r.baseline)
        if (leftBehind.isNotEmpty()) append(" Threads alive after the close that were not before: ")
        if (leftBehind.isNotEmpty()) append(leftBehind.joinToString { "`$it`" }).append('.')
        if (!r.heapReturned && r.retained.isNotEmpty()) {
            append(" Largest growth of live objects from before the load to after its close (class histograms): ")
            append(
                r.retained.joinToString("; ") { (name, instances, bytes) ->
                    "`$name` ${Fmt.count(instances)} instances, ${Fmt.bytes(bytes)}"
                },
            )
            append('.')
        }
        append('\n')
        val failures = r.failures.summary()
        if (failures.isEmpty()) {
            append("\nFailures: none.\n")
        } else {
            append("\nFailures (phase: type, count, first message):\n\n")
            for ((kind, count, message) in failures) {
                append("* ").append(kind).append(": ").append(count)
                append(" (").append(message.take(200).replace('\n', ' ')).append(")\n")
            }
        }
    }

    private fun verdict(r: LoadResult): String = when {
        r.threadsReturned && r.heapReturned -> "yes"
        r.heapReturned -> "heap yes, **threads no**"
        r.threadsReturned -> "threads yes, **heap no**"
        else -> "**no**"
    }

    private fun signed(v: Int): String = if (v > 0) "+$v" else v.toString()

    private fun signedMib(bytes: Long): String = (if (bytes > 0) "+" else "") + Fmt.mib(bytes)
}
