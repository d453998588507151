package dev.tether.wsclient

import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.locks.LockSupport

/**
 * Fails the pending requests of one client whose deadline has passed, from one daemon thread.
 *
 * A request only stores its deadline in its [PendingRequest] and, when that deadline is earlier than every other
 * one known, lowers [earliest] and wakes the thread. The thread sleeps until [earliest], then sweeps [pending]:
 * it fails what has expired and sets [earliest] to the first deadline still ahead. Completed requests cost the
 * timer nothing (no timer task to cancel on the reply path), and with the usual single timeout a sweep happens
 * about once per timeout, not once per request.
 */
internal class RequestTimeouts(
    private val pending: ConcurrentHashMap<String, PendingRequest>,
    private val onExpired: (id: String, entry: PendingRequest) -> Unit,
) {
    /** The earliest deadline (System.nanoTime) that may still be pending, or [NONE]. */
    private val earliest = AtomicLong(NONE)

    @Volatile
    private var stopped = false

    private val thread = Thread(::run, "tether-wsclient-timer").apply { isDaemon = true }

    /** The thread starts with the first request: a client that never makes one has none. */
    private val started = AtomicBoolean(false)

    /** Call after [entry] is in the pending map. */
    fun watch(entry: PendingRequest) {
        if (!started.get() && started.compareAndSet(false, true)) thread.start()
        val deadline = entry.deadline
        if (deadline == NEVER) return
        while (true) {
            val current = earliest.get()
            if (current != NONE && current - deadline <= 0) return // the thread wakes no later than this one's due
            if (earliest.compareAndSet(current, deadline)) {
                LockSupport.unpark(thread)
                return
            }
        }
    }

    /** Ends the thread (pending requests are failed by the client's own shutdown). */
    fun stop() {
        stopped = true
        LockSupport.unpark(thread)
    }

    private fun run() {
        while (!stopped) {
            val due = earliest.get()
            val now = System.nanoTime()
            if (due == NONE || due - now > 0) {
                // A spurious or early wake-up just loops; watch() unparks when an earlier deadline arrives.
                if (due == NONE) LockSupport.park(this) else LockSupport.parkNanos(this, due - now)
                continue
            }
            // Cleared before the sweep: a request registered meanwhile either lowers it again or is seen below.
            earliest.set(NONE)
            var next = NONE
            for ((id, entry) in pending) {
                val deadline = entry.deadline
                if (deadline == NEVER) continue
                if (deadline - now <= 0) {
                    onExpired(id, entry)
                } else if (next == NONE || deadline - next < 0) {
                    next = deadline
                }
            }
            if (next != NONE) lower(next)
        }
    }

    private fun lower(deadline: Long) {
        while (true) {
            val current = earliest.get()
            if (current != NONE && current - deadline <= 0) return
            if (earliest.compareAndSet(current, deadline)) return
        }
    }

    companion object {
        /** No deadline known. */
        private const val NONE = Long.MIN_VALUE

        /** The [PendingRequest.deadline] of a request that never times out. */
        const val NEVER = Long.MIN_VALUE

        /** Longer timeouts never fire (about 73 years): deadlines stay comparable by subtraction. */
        private const val LONGEST_NANOS = Long.MAX_VALUE / 4

        /** The deadline [timeoutNanos] from now, or [NEVER]. */
        fun deadlineAfter(timeoutNanos: Long): Long {
            if (timeoutNanos > LONGEST_NANOS) return NEVER
            val deadline = System.nanoTime() + timeoutNanos
            return if (deadline == NEVER) deadline + 1 else deadline
        }
    }
}
