@file:OptIn(InternalTetherApi::class)

package dev.tether.wsclient

import dev.tether.core.DeadlineSweeper
import dev.tether.core.InternalTetherApi
import java.util.concurrent.ConcurrentHashMap

/**
 * Fails the pending requests of one client whose deadline has passed, on core's shared deadline thread.
 *
 * A request only stores its deadline in its [PendingRequest]; [watch] tells the [DeadlineSweeper] when that deadline
 * is earlier than every other one known. When the earliest is due, the sweep fails what has expired and hands back
 * the first deadline still ahead. Completed requests cost the timer nothing (no timer task to cancel on the reply
 * path), and with the usual single timeout a sweep happens about once per timeout, not once per request. No thread
 * per client: a thousand clients share the one `tether-deadlines` thread.
 */
internal class RequestTimeouts(
    private val pending: ConcurrentHashMap<String, PendingRequest>,
    private val onExpired: (id: String, entry: PendingRequest) -> Unit,
) {
    private val sweeper = DeadlineSweeper(::sweep)

    /** Call after [entry] is in the pending map. */
    fun watch(entry: PendingRequest) {
        sweeper.watch(entry.deadline)
    }

    /** No more sweeps (pending requests are failed by the client's own shutdown). */
    fun stop() {
        sweeper.stop()
    }

    private fun sweep(now: Long): Long = DeadlineSweeper.sweepEntries(pending, now, { it.deadline }, onExpired)

    companion object {
        /** The [PendingRequest.deadline] of a request that never times out. */
        const val NEVER = DeadlineSweeper.NEVER

        /** The deadline [timeoutNanos] from now, or [NEVER]. */
        fun deadlineAfter(timeoutNanos: Long): Long = DeadlineSweeper.deadlineAfter(timeoutNanos)
    }
}
