package dev.tether.testkit.relay

import dev.tether.relay.PeerId
import dev.tether.testkit.Faults
import dev.tether.testkit.Refusals
import java.time.Duration

/**
 * Fault controls of a [FakeRelayServer]: the [Faults] of every fake, plus [drop] of one peer. Every switch takes
 * effect at once and is safe from any thread. Token rotation is [FakeRelayServer.rotateCredentials].
 */
public class FakeRelayServerFaults internal constructor(
    private val dropOne: (PeerId) -> Boolean,
    private val dropEvery: () -> Int,
) : Faults {
    @Volatile private var healthChecksStopped = false
    private val refusals = Refusals<Unit>()

    @Volatile private var latencyMillis = 0L

    /** Cuts the session of [peerKey] without a Close message, as a network failure would. False if not online. */
    public fun drop(peerKey: String): Boolean = dropOne(PeerId.of(peerKey))

    /** Cuts the session of [peer] without a Close message. False if not online. */
    public fun drop(peer: PeerId): Boolean = dropOne(peer)

    /** Cuts every session without a Close message. Returns how many. */
    override fun dropAll(): Int = dropEvery()

    /**
     * Stops sending health checks ([stop] = true) or resumes: clients then declare the server dead after their
     * health-check timeout (keepalive expiry). While stopped the server does not time peers out either.
     */
    override fun stopKeepalive(stop: Boolean) {
        healthChecksStopped = stop
    }

    /**
     * Refuses the next [count] logins: the socket is closed after the Auth message, as for a bad token. 0 cancels;
     * `Int.MAX_VALUE` refuses every login until [reset].
     */
    override fun refuseNext(count: Int) {
        refusals.set(count, Unit)
    }

    /** Delays the handling of every inbound message (the Auth included) by [delay]; zero turns it off. */
    override fun latency(delay: Duration) {
        latencyMillis = delay.toMillis()
    }

    override fun reset() {
        healthChecksStopped = false
        refusals.clear()
        latencyMillis = 0
    }

    internal val sendsHealthChecks: Boolean get() = !healthChecksStopped
    internal val latency: Long get() = latencyMillis

    /** True when this login is to be refused (consuming one refusal). */
    internal fun takeRefusal(): Boolean = refusals.take() != null
}
