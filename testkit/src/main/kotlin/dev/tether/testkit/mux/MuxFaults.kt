package dev.tether.testkit.mux

import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong

/**
 * Fault controls of [FakeMuxServer]. Each takes effect at once and is safe from any thread; [reset] clears them.
 */
public class MuxFaults internal constructor(private val server: FakeMuxServer) {
    @Volatile internal var answersPings: Boolean = true
    @Volatile internal var accepting: Boolean = true
    private val latencyMillis = AtomicLong(0)
    internal val overrunBytes = AtomicInteger(0)

    /** Drops every connection now, without a close frame. Returns how many. */
    public fun dropAll(): Int = server.dropAll()

    /** Stops answering the client's WebSocket pings (true) or resumes (false): its keepalive then expires. */
    @JvmOverloads
    public fun stopAnsweringPings(stop: Boolean = true) {
        answersPings = !stop
    }

    /** Stops calling accept (true): SYNs wait in the queue and the opener's accept deadline passes. */
    @JvmOverloads
    public fun stopAccepting(stop: Boolean = true) {
        accepting = !stop
    }

    /** Delays the handling of every inbound WebSocket frame by [delay]; zero turns it off. */
    public fun latency(delay: Duration) {
        latencyMillis.set(delay.toMillis())
    }

    /**
     * Every stream accepted from now on gets, right after its ACK, one DAT of [bytes] bytes, more than the peer
     * granted when [bytes] exceeds its window (the peer must fail that stream with NoCapacity). 0 turns it off.
     */
    public fun overrunWindows(bytes: Int) {
        require(bytes >= 0)
        overrunBytes.set(bytes)
    }

    /** Sends [frame] (built for [streamId]) to every live connection. */
    @JvmOverloads
    public fun sendMalformed(frame: MalformedFrame, streamId: Int = UNUSED_STREAM_ID): Int = server.sendMalformed(frame, streamId)

    /** Clears every fault. */
    public fun reset() {
        answersPings = true; accepting = true; latencyMillis.set(0); overrunBytes.set(0)
    }

    internal val latency: Long get() = latencyMillis.get()

    public companion object {
        /** An id no client or server session of a short test reaches. */
        public const val UNUSED_STREAM_ID: Int = 0x7FFF_FFF0
    }
}
