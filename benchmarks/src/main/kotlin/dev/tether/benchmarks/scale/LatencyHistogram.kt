package dev.tether.benchmarks.scale

import java.util.concurrent.atomic.AtomicLongArray

/**
 * Latencies in nanoseconds from any number of threads, in constant memory (thousands of workers would otherwise
 * each need a sample array): exact below [LINEAR] ns, above in [SUB_BUCKETS] buckets per power of two, so a
 * percentile is within 1/[SUB_BUCKETS] (about 3 %) of the exact one.
 */
internal class LatencyHistogram {
    private val buckets = AtomicLongArray(LINEAR + (MAX_EXPONENT - LINEAR_BITS + 1) * SUB_BUCKETS)

    fun record(nanos: Long) {
        buckets.incrementAndGet(indexOf(nanos.coerceAtLeast(0)))
    }

    val count: Long get() = (0 until buckets.length()).sumOf { buckets.get(it) }

    /** The [p] percentile (0..1, nearest rank), as the middle of its bucket; 0 with no samples. */
    fun percentile(p: Double): Double {
        val total = count
        if (total == 0L) return 0.0
        val rank = kotlin.math.ceil(p * total).toLong().coerceIn(1, total)
        var seen = 0L
        for (i in 0 until buckets.length()) {
            seen += buckets.get(i)
            if (seen >= rank) return middleOf(i)
        }
        return middleOf(buckets.length() - 1)
    }

    companion object {
        private const val LINEAR_BITS = 6
        private const val LINEAR = 1 shl LINEAR_BITS
        private const val SUB_BITS = 5
        const val SUB_BUCKETS: Int = 1 shl SUB_BITS
        private const val MAX_EXPONENT = 42 // 2^43 ns: over two hours, beyond any bound of a run

        private fun indexOf(v: Long): Int {
            if (v < LINEAR) return v.toInt()
            val exponent = minOf(63 - java.lang.Long.numberOfLeadingZeros(v), MAX_EXPONENT)
            val sub = ((v ushr (exponent - SUB_BITS)) and (SUB_BUCKETS - 1).toLong()).toInt()
            return LINEAR + (exponent - LINEAR_BITS) * SUB_BUCKETS + sub
        }

        private fun middleOf(index: Int): Double {
            if (index < LINEAR) return index.toDouble()
            val exponent = (index - LINEAR) / SUB_BUCKETS + LINEAR_BITS
            val sub = (index - LINEAR) % SUB_BUCKETS
            val width = 1L shl (exponent - SUB_BITS)
            return ((1L shl exponent) + sub * width).toDouble() + width / 2.0
        }
    }
}
