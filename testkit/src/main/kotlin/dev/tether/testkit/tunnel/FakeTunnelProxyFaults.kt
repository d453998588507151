package dev.tether.testkit.tunnel

import dev.tether.testkit.Faults
import dev.tether.testkit.Refusals
import java.time.Duration
import java.util.concurrent.atomic.AtomicLong

/**
 * Fault controls of a [FakeTunnelProxy]: the [Faults] of every fake, plus [drop] of one client and [blackHole].
 * Token rotation is [FakeTunnelProxy.rotateCredentials].
 */
public class FakeTunnelProxyFaults internal constructor(
    private val dropOne: (String) -> Boolean,
    private val dropEvery: () -> Int,
) : Faults {
    private val refusals = Refusals<Int>()
    private val latencyMillis = AtomicLong(0)

    @Volatile private var pingsAnswered = true

    @Volatile private var blackHoled = false

    /** Cuts the session of every registered client at once, without a close frame. Returns how many. */
    override fun dropAll(): Int = dropEvery()

    /** Cuts the session of the client registered as [clientId] without a close frame; false if none. */
    public fun drop(clientId: String): Boolean = dropOne(clientId)

    /** Stops answering the clients' WebSocket pings ([stop] = true) or resumes: their keepalive then expires. */
    override fun stopKeepalive(stop: Boolean) {
        pingsAnswered = !stop
    }

    /** Answers the next [count] registrations with HTTP 503 (after their token checked out); 0 cancels. */
    override fun refuseNext(count: Int) {
        refuseNext(count, DEFAULT_REFUSAL_STATUS)
    }

    /** Answers the next [count] registrations with HTTP [status] (after their token checked out); 0 cancels. */
    public fun refuseNext(count: Int, status: Int) {
        require(status in 100..599 && status != 101) { "status must be an HTTP status other than 101" }
        refusals.set(count, status)
    }

    /** Delays every registration and every viewer request by [delay]; zero turns it off. */
    override fun latency(delay: Duration) {
        latencyMillis.set(delay.toMillis())
    }

    /** Accepts registrations' TCP connections but never answers them ([on] = true), so dials time out. */
    public fun blackHole(on: Boolean) {
        blackHoled = on
    }

    override fun reset() {
        refusals.clear()
        latencyMillis.set(0)
        pingsAnswered = true
        blackHoled = false
    }

    internal val answersPings: Boolean get() = pingsAnswered
    internal val isBlackHoled: Boolean get() = blackHoled
    internal val latency: Long get() = latencyMillis.get()

    /** The status to refuse this registration with, consuming one refusal, or null to go on. */
    internal fun takeRefusal(): Int? = refusals.take()

    private companion object {
        const val DEFAULT_REFUSAL_STATUS = 503
    }
}
