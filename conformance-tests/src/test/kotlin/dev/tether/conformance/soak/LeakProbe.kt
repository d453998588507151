package dev.tether.conformance.soak

import dev.tether.core.netty.TetherEventLoops
import io.netty.buffer.ByteBufAllocator
import io.netty.buffer.ByteBufAllocatorMetricProvider
import io.netty.util.concurrent.MultithreadEventExecutorGroup
import io.netty.util.internal.PlatformDependent
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeoutOrNull
import java.lang.management.BufferPoolMXBean
import java.lang.management.ManagementFactory
import java.lang.ref.WeakReference
import kotlin.time.Duration

/**
 * What a client leaves behind after its close: threads, direct and heap memory, and the client objects themselves.
 *
 * * Threads are counted by name prefix: every thread Tether starts is named `tether-…`. Two kinds are shared by the
 *   whole process and never stop, by design: the Netty event loops (`tether-io-N`, one fixed-size group,
 *   TetherEventLoops) and the request deadline thread (`tether-deadlines`, one); they may appear during a soak but
 *   never exceed those sizes. Every other `tether-` thread must be gone after close.
 * * Direct memory is Netty's own counter ([PlatformDependent.usedDirectMemory], when Netty counts) plus the JDK's
 *   direct buffer pool (where Netty's cleaner-backed buffers and the JDK's own land). The allocator keeps chunks it
 *   has freed for reuse, so a baseline taken before the first connection can be exceeded by that cache without any
 *   leak: [Tolerance.directBytes] allows it, and a real leak grows with the soak's length far beyond it.
 * * Heap: the client objects must become unreachable once closed and dropped ([WeakReference]s, after a GC), which
 *   proves nothing (a registry, a running coroutine, a timer) still holds them; the used heap after a GC is compared
 *   with the baseline within [Tolerance.heapBytes].
 */
internal class LeakProbe private constructor(
    private val threads: Map<String, Int>,
    val directBytes: Long,
    val heapBytes: Long,
) {
    /** What may stay above the baseline without being a leak. */
    data class Tolerance(val directBytes: Long, val heapBytes: Long)

    /**
     * Waits (up to [bound], collecting garbage between looks) until threads, memory and [collectable] are back at
     * this baseline; returns what is not (empty when nothing leaked) and the figures seen last.
     */
    suspend fun awaitBaseline(
        bound: Duration,
        tolerance: Tolerance,
        collectable: List<WeakReference<Any>>,
    ): Pair<List<String>, String> {
        var problems = emptyList<String>()
        var figures = ""
        withTimeoutOrNull(bound) {
            while (true) {
                collectGarbage()
                val now = take()
                figures = "threads ${threads.values.sum()} -> ${now.threads.values.sum()}, " +
                    "direct ${mib(directBytes)} -> ${mib(now.directBytes)}, " +
                    "heap ${mib(heapBytes)} -> ${mib(now.heapBytes)} " +
                    "(Netty's allocator holds ${mib(allocatorDirectMemory())})"
                problems = compare(now, tolerance, collectable)
                if (problems.isEmpty()) return@withTimeoutOrNull
                delay(POLL_MILLIS) // a closed socket's buffers and a stopping thread go on their own threads
            }
        }
        return problems to figures
    }

    private fun compare(now: LeakProbe, tolerance: Tolerance, collectable: List<WeakReference<Any>>): List<String> {
        val problems = mutableListOf<String>()
        for ((name, count) in now.threads) {
            val shared = sharedThreads()[name]
            if (shared != null) {
                if (count > shared) problems += "$count $name threads, more than the $shared the process shares"
            } else if (count > (threads[name] ?: 0)) {
                problems += "$count live $name threads, ${threads[name] ?: 0} before"
            }
        }
        if (now.directBytes > directBytes + tolerance.directBytes) {
            val allowed = mib(tolerance.directBytes)
            problems += "direct memory ${mib(now.directBytes)}, baseline ${mib(directBytes)} + $allowed allowed"
        }
        if (now.heapBytes > heapBytes + tolerance.heapBytes) {
            val allowed = mib(tolerance.heapBytes)
            problems += "heap after GC ${mib(now.heapBytes)}, baseline ${mib(heapBytes)} + $allowed allowed"
        }
        collectable.mapNotNull { it.get() }.forEach { problems += "${it.javaClass.simpleName} still reachable" }
        return problems
    }

    companion object {
        private const val PREFIX = "tether-"
        private const val POLL_MILLIS = 100L

        /** A baseline now (after a GC). */
        fun take(): LeakProbe {
            val threads = Thread.getAllStackTraces().keys
                .filter { it.isAlive && it.name.startsWith(PREFIX) }
                .groupingBy { it.name.replace(TRAILING_NUMBERS, "") }
                .eachCount()
            return LeakProbe(threads, directMemory(), heapUsed())
        }

        /** Direct memory in use: Netty's counter (when it counts) and the JDK's direct buffer pool. */
        fun directMemory(): Long {
            val netty = PlatformDependent.usedDirectMemory().coerceAtLeast(0)
            val jdk = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean::class.java)
                .filter { it.name == "direct" }
                .sumOf { it.memoryUsed }
            return netty + jdk
        }

        /** What Netty's default allocator holds in direct memory (its cache included), for the report. */
        fun allocatorDirectMemory(): Long =
            (ByteBufAllocator.DEFAULT as? ByteBufAllocatorMetricProvider)?.metric()?.usedDirectMemory() ?: -1

        fun collectGarbage() {
            System.gc()
        }

        private fun heapUsed(): Long = ManagementFactory.getMemoryMXBean().heapMemoryUsage.used

        /** The process-wide threads, which stay once started, and how many of each there may be. */
        private fun sharedThreads(): Map<String, Int> = mapOf(
            "tether-io" to ((TetherEventLoops.shared() as? MultithreadEventExecutorGroup)?.executorCount() ?: 0),
            "tether-deadlines" to 1,
        )

        fun mib(bytes: Long): String = "%.1f MiB".format(bytes / 1048576.0)

        private val TRAILING_NUMBERS = Regex("(-\\d+)+$")
    }
}
