package dev.tether.testkit.mux

import dev.tether.testkit.Faults
import dev.tether.testkit.Refusals
import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong

/**
 * Fault controls of a [FakeMuxServer]: the [Faults] of every fake, plus [stopAccepting], [overrunWindows] and
 * [sendMalformed]. Each takes effect at once and is safe from any thread; [reset] clears them.
 */
public class FakeMuxServerFaults internal constructor(private val server: FakeMuxServer) : Faults {
    @Volatile internal var answersPings: Boolean = true

    @Volatile internal var accepting: Boolean = true
    private val latencyMillis = AtomicLong(0)
    internal val overrunBytes = AtomicInteger(0)
    private val refusals = Refusals<Int>()

    /** Drops every connection now, without a close frame. Returns how many. */
    override fun dropAll(): Int = server.dropAll()

    /** Stops answering the client's WebSocket pings ([stop] = true) or resumes: its keepalive then expires. */
    override fun stopKeepalive(stop: Boolean) {
        answersPings = !stop
    }

    /** Answers the next [count] upgrade requests with HTTP 503 instead of accepting them; 0 cancels. */
    override fun refuseNext(count: Int) {
        refuseNext(count, DEFAULT_REFUSAL_STATUS)
    }

    /** Answers the next [count] upgrade requests with HTTP [status] instead of accepting them; 0 cancels. */
    public fun refuseNext(count: Int, status: Int) {
        require(status in 100..599 && status != 101) { "status must be an HTTP status other than 101" }
        refusals.set(count, status)
    }

    /** Stops calling accept ([stop] = true): SYNs wait in the queue and the opener's accept deadline passes. */
    public fun stopAccepting(stop: Boolean) {
        accepting = !stop
    }

    /** Delays the handling of every inbound WebSocket frame by [delay]; zero turns it off. */
    override fun latency(delay: Duration) {
        latencyMillis.set(delay.toMillis())
    }

    /**
     * Every stream accepted from now on gets, right after its ACK, one DAT of [bytes] bytes, more than the peer
     * granted when [bytes] exceeds its window (the peer must fail that stream with NoCapacity). 0 turns it off.
     */
    public fun overrunWindows(bytes: Int) {
        require(bytes >= 0) { "the byte count must not be negative" }
        overrunBytes.set(bytes)
    }

    /** Sends [frame] (built for [streamId]) to every live connection; returns how many it reached. */
    @JvmOverloads
    public fun sendMalformed(frame: MalformedFrame, streamId: Int = UNUSED_STREAM_ID): Int =
        server.sendMalformed(frame, streamId)

    override fun reset() {
        answersPings = true
        accepting = true
        latencyMillis.set(0)
        overrunBytes.set(0)
        refusals.clear()
    }

    internal val latency: Long get() = latencyMillis.get()

    /** The status to refuse this upgrade with, consuming one refusal, or null to accept it. */
    internal fun takeRefusal(): Int? = refusals.take()

    /** Constants of the mux faults. */
    public companion object {
        /** An id no client or server session of a short test reaches. */
        public const val UNUSED_STREAM_ID: Int = 0x7FFF_FFF0

        private const val DEFAULT_REFUSAL_STATUS = 503
    }
}
