package dev.tether.testkit

import java.time.Duration
import java.util.concurrent.atomic.AtomicLong

/**
 * Fault controls of a [FakeBroker]: the [Faults] of every fake, plus [dropAfterFrames] and [blackHole]. Token
 * rotation is [FakeBroker.rotateCredentials].
 */
public class FakeBrokerFaults internal constructor(private val dropAllNow: () -> Int) : Faults {
    private val refusals = Refusals<Int>()
    private val frameBudget = AtomicLong(-1)
    private val latencyMillis = AtomicLong(0)

    @Volatile private var pingsAnswered = true

    @Volatile private var blackHoled = false

    override fun dropAll(): Int = dropAllNow()

    /** Drops the connection that receives the [n]-th frame from now (counting frames from all clients). */
    public fun dropAfterFrames(n: Long) {
        require(n > 0) { "n must be positive" }
        frameBudget.set(n)
    }

    /** Stops answering client pings ([stop] = true) or resumes: the client's keepalive then expires. */
    override fun stopKeepalive(stop: Boolean) {
        pingsAnswered = !stop
    }

    /** Answers the next [count] upgrade requests with HTTP 503 instead of accepting them. */
    override fun refuseNext(count: Int) {
        refuseNext(count, DEFAULT_REFUSAL_STATUS)
    }

    /** Answers the next [count] upgrade requests with HTTP [status] instead of accepting them; 0 cancels. */
    public fun refuseNext(count: Int, status: Int) {
        require(status in 100..599 && status != 101) { "status must be an HTTP status other than 101" }
        refusals.set(count, status)
    }

    /** Delays the handling of every inbound frame (and every upgrade) by [delay]; zero turns it off. */
    override fun latency(delay: Duration) {
        latencyMillis.set(delay.toMillis())
    }

    /** Accepts new TCP connections but never answers their upgrade ([on] = true), so dials time out; false restores. */
    public fun blackHole(on: Boolean) {
        blackHoled = on
    }

    override fun reset() {
        refusals.clear()
        frameBudget.set(-1)
        latencyMillis.set(0)
        pingsAnswered = true
        blackHoled = false
    }

    internal val answersPings: Boolean get() = pingsAnswered
    internal val isBlackHoled: Boolean get() = blackHoled
    internal val latency: Long get() = latencyMillis.get()

    /** The status to refuse this upgrade with, consuming one refusal, or null to accept it. */
    internal fun takeRefusal(): Int? = refusals.take()

    /** Counts one inbound frame; true when this frame exhausts the drop-after budget. */
    internal fun frameArrived(): Boolean {
        while (true) {
            val left = frameBudget.get()
            if (left <= 0) return false
            if (frameBudget.compareAndSet(left, left - 1)) return left == 1L
        }
    }

    internal companion object {
        /** What `refuseNext(count)` answers upgrades with: an overloaded server. */
        const val DEFAULT_REFUSAL_STATUS: Int = 503
    }
}
