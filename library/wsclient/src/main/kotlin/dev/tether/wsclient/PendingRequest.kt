package dev.tether.wsclient

import kotlinx.coroutines.CancellableContinuation
import kotlinx.coroutines.suspendCancellableCoroutine
import java.util.concurrent.atomic.AtomicReference
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException

/**
 * The reply slot of one request: completed once (by its reply, a drop, close or its timer) and resuming the waiting
 * caller directly. A plain atomic slot instead of a `CompletableDeferred`, because the reply path runs once per
 * request on the read loop and a job's state machine costs several times more.
 *
 * The slot holds `null` (nothing yet), the caller's continuation (waiting), or the outcome (an [Envelope] or a
 * [Throwable]).
 */
internal class PendingRequest(
    /** When the request times out (System.nanoTime), or [RequestTimeouts.NEVER]. */
    val deadline: Long,
    /** The request's timeout, for its [RequestTimeoutException]. */
    val timeoutMillis: Long,
) : AtomicReference<Any?>(null) {
    /** The connection the request was written to, for the drop sweep. */
    @Volatile
    var connection: dev.tether.core.WebSocketConnection? = null

    /** Completes with [reply]; false if the slot was already completed. */
    fun complete(reply: Envelope): Boolean = settle(reply)

    /**
     * Completes with [error]; false if the slot was already completed. [onSettled] runs only when this call wins,
     * before the caller resumes, so whatever it records (a stats counter) is visible to the caller.
     */
    fun fail(error: Throwable, onSettled: (() -> Unit)? = null): Boolean = settle(error, onSettled)

    private fun settle(outcome: Any, onSettled: (() -> Unit)? = null): Boolean {
        while (true) {
            val current = get()
            if (current != null && current !is CancellableContinuation<*>) return false
            if (!compareAndSet(current, outcome)) continue
            onSettled?.invoke()
            if (current != null) {
                @Suppress("UNCHECKED_CAST")
                resume(current as CancellableContinuation<Envelope>, outcome)
            }
            return true
        }
    }

    /** The reply, or the error the slot was failed with. */
    suspend fun await(): Envelope {
        val now = get()
        if (now != null) return unwrap(now)
        return suspendCancellableCoroutine { cont ->
            if (!compareAndSet(null, cont)) resume(cont, get()!!)
        }
    }

    private fun resume(cont: CancellableContinuation<Envelope>, outcome: Any) {
        if (outcome is Envelope) cont.resume(outcome) else cont.resumeWithException(outcome as Throwable)
    }

    private fun unwrap(outcome: Any): Envelope = if (outcome is Envelope) outcome else throw outcome as Throwable
}
