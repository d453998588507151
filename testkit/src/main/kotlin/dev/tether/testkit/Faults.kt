package dev.tether.testkit

import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReference

/**
 * The fault controls every Tether fake shares. Each switch takes effect at once, is safe to flip from any thread,
 * and is usable from Kotlin and Java. Fakes add their own (token rotation, …) beside these.
 */
public class Faults internal constructor(private val dropAllNow: () -> Int) {
    private val refusals = AtomicReference<Refusal?>(null)
    private val frameBudget = AtomicLong(-1)
    private val latencyMillis = AtomicLong(0)
    @Volatile private var pingsAnswered = true
    @Volatile private var blackHoled = false

    private class Refusal(val remaining: AtomicInteger, val status: Int)

    /** Drops every live connection at once, without a close frame (as a network failure would). Returns how many. */
    public fun dropAll(): Int = dropAllNow()

    /** Drops the connection that receives the [n]-th frame from now (counting frames from all clients). */
    public fun dropAfterFrames(n: Long) {
        require(n > 0) { "n must be positive" }
        frameBudget.set(n)
    }

    /** Stops answering client pings (true) or resumes (false): the client's keepalive then expires. */
    @JvmOverloads
    public fun stopAnsweringPings(stop: Boolean = true) {
        pingsAnswered = !stop
    }

    /** Answers the next [count] upgrade requests with HTTP [status] instead of accepting them. */
    public fun refuseNextUpgrades(count: Int, status: Int) {
        require(count > 0) { "count must be positive" }
        require(status in 100..599 && status != 101) { "status must be an HTTP status other than 101" }
        refusals.set(Refusal(AtomicInteger(count), status))
    }

    /** Delays the handling of every inbound frame (and every upgrade) by [delay]; zero turns it off. */
    public fun latency(delay: Duration) {
        latencyMillis.set(delay.toMillis())
    }

    /** Accepts new TCP connections but never answers their upgrade (true), so dials time out; false restores. */
    @JvmOverloads
    public fun blackHole(on: Boolean = true) {
        blackHoled = on
    }

    /** Clears every fault. */
    public fun reset() {
        refusals.set(null); frameBudget.set(-1); latencyMillis.set(0); pingsAnswered = true; blackHoled = false
    }

    internal val answersPings: Boolean get() = pingsAnswered
    internal val isBlackHoled: Boolean get() = blackHoled
    internal val latency: Long get() = latencyMillis.get()

    /** The status to refuse this upgrade with, consuming one refusal, or null to accept it. */
    internal fun takeRefusal(): Int? {
        val r = refusals.get() ?: return null
        while (true) {
            val left = r.remaining.get()
            if (left <= 0) {
                refusals.compareAndSet(r, null)
                return null
            }
            if (r.remaining.compareAndSet(left, left - 1)) return r.status
        }
    }

    /** Counts one inbound frame; true when this frame exhausts the drop-after budget. */
    internal fun frameArrived(): Boolean {
        while (true) {
            val left = frameBudget.get()
            if (left <= 0) return false
            if (frameBudget.compareAndSet(left, left - 1)) return left == 1L
        }
    }
}
