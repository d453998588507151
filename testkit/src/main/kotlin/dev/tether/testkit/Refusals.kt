package dev.tether.testkit

import java.util.concurrent.atomic.AtomicReference

/**
 * The `refuseNext` fault of every fake: how many connection attempts are still to be refused, and how ([T]: an HTTP
 * status, an ABORT reason). One counter per fake, safe from any thread.
 */
internal class Refusals<T : Any> {
    private class Pending<T>(val left: Int, val how: T)

    private val pending = AtomicReference<Pending<T>?>(null)

    /** Refuses the next [count] attempts with [how]; 0 cancels what is left. */
    fun set(count: Int, how: T) {
        require(count >= 0) { "count must not be negative" }
        pending.set(if (count == 0) null else Pending(count, how))
    }

    /** Attempts still to be refused. */
    val left: Int get() = pending.get()?.left ?: 0

    /** How to refuse this attempt, consuming one refusal, or null to let it through. */
    fun take(): T? {
        while (true) {
            val p = pending.get() ?: return null
            val next = if (p.left <= 1) null else Pending(p.left - 1, p.how)
            if (pending.compareAndSet(p, next)) return p.how
        }
    }

    fun clear() {
        pending.set(null)
    }
}
