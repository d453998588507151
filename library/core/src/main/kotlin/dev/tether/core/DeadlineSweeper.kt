@file:OptIn(InternalTetherApi::class)

package dev.tether.core

import org.slf4j.LoggerFactory
import java.util.PriorityQueue
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.locks.LockSupport

/**
 * Expires the requests of one client or session whose deadline has passed, with no timer per request.
 *
 * The owner keeps its pending requests and their deadlines (System.nanoTime) itself. After adding one it calls
 * [watch] with its deadline, which costs a read and a compare unless that deadline is earlier than every other one
 * known; only then is the process-wide `tether-deadlines` thread told. When the earliest deadline is due that thread
 * calls [sweep] with the time: the owner fails what has expired and returns the earliest deadline still ahead (or
 * [NEVER]). Answered requests cost nothing (there is no timer to cancel on the reply path), and with one timeout per
 * owner the thread wakes about once per timeout, not once per request.
 *
 * Why not `withTimeout`: on a dispatcher without its own timer (`Dispatchers.Default`, executors) every
 * `withTimeout` schedules on kotlinx's `DefaultExecutor` thread and wakes it, a context switch per request. Callers
 * whose dispatcher has a timer (Netty event loops, test dispatchers with virtual time) may keep using `withTimeout`.
 *
 * [sweep] runs on the shared thread and must be quick and must not block: it should only complete futures or
 * deferreds.
 */
@InternalTetherApi
public class DeadlineSweeper(sweep: (nowNanos: Long) -> Long) {
    /** Dropped by [stop]: a queued wake-up must not keep a closed owner (its pending map, its client) reachable. */
    @Volatile private var sweep: ((nowNanos: Long) -> Long)? = sweep

    /** The earliest deadline that may still be pending, or [NEVER]; a wake-up for it is queued. */
    private val earliest = AtomicLong(NEVER)

    /** Call once the request with [deadline] is where [sweep] will find it; [NEVER] is ignored. */
    public fun watch(deadline: Long) {
        if (deadline == NEVER) return
        while (true) {
            val current = earliest.get()
            if (current != NEVER && current - deadline <= 0) return // a wake-up no later than this one is queued
            if (earliest.compareAndSet(current, deadline)) {
                SweepThread.wakeAt(deadline, this)
                return
            }
        }
    }

    /** No more sweeps: the owner has ended (and fails its pending requests itself). */
    public fun stop() {
        sweep = null
    }

    /** Called by the shared thread at or after a queued wake-up. */
    internal fun fire(now: Long) {
        val sweep = sweep ?: return
        while (true) {
            val due = earliest.get()
            if (due == NEVER || due - now > 0) return // stale: the wake-up for the current earliest is still queued
            // Cleared before the sweep: a request watched meanwhile lowers it again or is seen by the sweep.
            if (earliest.compareAndSet(due, NEVER)) break
        }
        watch(sweep(now))
    }

    public companion object {
        /** The deadline of a request that never times out, and [sweep]'s answer when nothing is left ahead. */
        public const val NEVER: Long = Long.MIN_VALUE

        /** Longer timeouts never fire (about 73 years): deadlines stay comparable by subtraction. */
        private const val LONGEST_NANOS = Long.MAX_VALUE / 4

        /** Wake-ups queued on the shared thread (tests: a watched later deadline must not add one). */
        internal fun queuedWakeUps(): Int = SweepThread.size()

        /**
         * The sweep most owners hand to [DeadlineSweeper]: calls [expire] for each of [entries] whose deadline
         * ([deadlineOf], [NEVER] for none) is due at [now], and returns the earliest deadline still ahead, or [NEVER].
         * Entries [expire] removes or replaces are fine: concurrent maps iterate weakly consistently.
         */
        public inline fun <K, V> sweepEntries(
            entries: Map<K, V>,
            now: Long,
            deadlineOf: (V) -> Long,
            expire: (K, V) -> Unit,
        ): Long {
            var next = NEVER
            for ((key, entry) in entries) {
                val deadline = deadlineOf(entry)
                if (deadline == NEVER) continue
                if (deadline - now <= 0) {
                    expire(key, entry)
                } else if (next == NEVER || deadline - next < 0) {
                    next = deadline
                }
            }
            return next
        }

        /** The deadline [timeoutNanos] from now, or [NEVER] for a timeout too long to matter. */
        @JvmStatic
        public fun deadlineAfter(timeoutNanos: Long): Long {
            if (timeoutNanos > LONGEST_NANOS) return NEVER
            val deadline = System.nanoTime() + timeoutNanos
            return if (deadline == NEVER) deadline + 1 else deadline
        }
    }
}

/**
 * The one thread behind every [DeadlineSweeper]: a queue of wake-ups ordered by due time. It starts with the first
 * wake-up and then stays (a daemon), like the shared Netty event loops.
 */
private object SweepThread {
    private class WakeUp(val due: Long, val sweeper: DeadlineSweeper)

    private val log = LoggerFactory.getLogger(DeadlineSweeper::class.java)
    private val queue = PriorityQueue<WakeUp> { a, b -> (a.due - b.due).coerceIn(-1, 1).toInt() }
    private var thread: Thread? = null

    fun wakeAt(due: Long, sweeper: DeadlineSweeper) {
        val wake = WakeUp(due, sweeper)
        val toUnpark = synchronized(this) {
            queue.add(wake)
            val t = thread ?: Thread(::run, "tether-deadlines").also {
                it.isDaemon = true
                thread = it
                it.start()
            }
            t.takeIf { queue.peek() === wake } // only a new head moves the thread's next wake-up
        }
        if (toUnpark != null) LockSupport.unpark(toUnpark)
    }

    fun size(): Int = synchronized(this) { queue.size }

    private fun run() {
        while (true) {
            val now = System.nanoTime()
            var wait = FOREVER
            val wake = synchronized(this) {
                val head = queue.peek()
                when {
                    head == null -> null
                    head.due - now > 0 -> null.also { wait = head.due - now }
                    else -> queue.poll()
                }
            }
            if (wake == null) {
                // Parked outside the lock: wakeAt unparks for an earlier head (a permit given before the park
                // counts), and a spurious wake-up just loops.
                if (wait == FOREVER) LockSupport.park(this) else LockSupport.parkNanos(this, wait)
                continue
            }
            try {
                wake.sweeper.fire(now)
            } catch (e: Throwable) {
                log.error("a deadline sweep failed", e)
            }
        }
    }

    private const val FOREVER = -1L
}
