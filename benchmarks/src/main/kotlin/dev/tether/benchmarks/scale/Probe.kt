package dev.tether.benchmarks.scale

import io.netty.buffer.ByteBufAllocator
import io.netty.buffer.ByteBufAllocatorMetricProvider
import io.netty.util.internal.PlatformDependent
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeoutOrNull
import java.lang.management.BufferPoolMXBean
import java.lang.management.ManagementFactory
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/**
 * What this JVM holds at one moment: used heap after GC rounds, direct memory as Netty's default allocator counts it
 * (and as the JDK's direct buffer pool counts it, which also sees buffers Netty's counter does not), live threads.
 * The servers run in another JVM, so every figure here is the clients'.
 */
internal data class Snapshot(
    val heapBytes: Long,
    val nettyDirectBytes: Long,
    val jdkDirectBytes: Long,
    val threads: Int,
    /** Names of the live threads (pool numbers and all), to say which ones a load left behind. */
    val threadNames: List<String>,
) {
    /** Threads alive now that were not in [earlier] (by name: a name counted as often as it occurs). */
    fun threadsBeyond(earlier: Snapshot): List<String> {
        val left = earlier.threadNames.groupingBy { it }.eachCount().toMutableMap()
        return threadNames.filter { name ->
            val n = left[name] ?: 0
            if (n > 0) left[name] = n - 1
            n == 0
        }
    }

    /** What [later] holds beyond this, per unit of [count]. */
    fun growthTo(later: Snapshot, count: Int): Growth = Growth(
        count,
        (later.heapBytes - heapBytes).toDouble() / count,
        (later.nettyDirectBytes - nettyDirectBytes).toDouble() / count,
        (later.jdkDirectBytes - jdkDirectBytes).toDouble() / count,
        later.threads - threads,
    )

    companion object {
        private val memory = ManagementFactory.getMemoryMXBean()
        private val threadBean = ManagementFactory.getThreadMXBean()
        private val directPool: BufferPoolMXBean? =
            ManagementFactory.getPlatformMXBeans(BufferPoolMXBean::class.java).firstOrNull { it.name == "direct" }

        /**
         * Used heap after full collections (a pause after each lets reference processing and finalization run, as
         * EndToEnd's heap figures do): the least of [READINGS] readings, each after [GC_ROUNDS] collections, since
         * whatever runs meanwhile (keepalive timers, the JIT) allocates between a collection and its reading. Then
         * the other counters.
         */
        fun take(): Snapshot {
            var heap = Long.MAX_VALUE
            repeat(READINGS) {
                repeat(GC_ROUNDS) {
                    System.gc()
                    Thread.sleep(GC_PAUSE_MILLIS)
                }
                heap = minOf(heap, memory.heapMemoryUsage.used)
            }
            val names = Thread.getAllStackTraces().keys.map { it.name }.sorted()
            return Snapshot(heap, nettyDirect(), directPool?.memoryUsed ?: -1, liveThreads(), names)
        }

        fun liveThreads(): Int = threadBean.threadCount

        /** Netty's own count of the direct memory its default allocator holds; else its process-wide counter. */
        private fun nettyDirect(): Long {
            val metric = (ByteBufAllocator.DEFAULT as? ByteBufAllocatorMetricProvider)?.metric()
            return metric?.usedDirectMemory() ?: PlatformDependent.usedDirectMemory()
        }

        /**
         * After a close: waits, at most [bound], until the live threads are back to [baseline] (threads of a closed
         * client end a little after its close returns: event loops and pools let idle threads go on their own
         * schedule), then takes a snapshot.
         */
        suspend fun afterClose(baseline: Snapshot, bound: Duration): Snapshot {
            withTimeoutOrNull(bound) { while (liveThreads() > baseline.threads) delay(50.milliseconds) }
            return take()
        }

        private const val READINGS = 3
        private const val GC_ROUNDS = 2
        private const val GC_PAUSE_MILLIS = 40L
    }
}

/** Growth per unit between two [Snapshot]s; threads in all, not per unit. */
internal data class Growth(
    val count: Int,
    val heapPerUnit: Double,
    val nettyDirectPerUnit: Double,
    val jdkDirectPerUnit: Double,
    val threadsAdded: Int,
)
