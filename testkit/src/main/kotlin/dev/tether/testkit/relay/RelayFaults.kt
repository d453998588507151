package dev.tether.testkit.relay

import dev.tether.relay.PeerId
import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger

/**
 * Fault controls of a [FakeRelayServer]. Every switch takes effect at once and is safe from any thread.
 * (Token rotation is [FakeRelayServer.rotateSecret].)
 */
public class RelayFaults internal constructor(
    private val dropOne: (PeerId) -> Boolean,
    private val dropEvery: () -> Int,
) {
    @Volatile private var healthChecksStopped = false
    @Volatile private var loginsRefused = false
    private val refuseNext = AtomicInteger(0)
    @Volatile private var latencyMillis = 0L

    /** Cuts the session of [peerKey] without a Close message, as a network failure would. False if not online. */
    public fun dropPeer(peerKey: String): Boolean = dropOne(PeerId.of(peerKey))

    /** Cuts the session of [peer]. */
    public fun dropPeer(peer: PeerId): Boolean = dropOne(peer)

    /** Cuts every session without a Close message. Returns how many. */
    public fun dropAll(): Int = dropEvery()

    /**
     * Stops sending health checks (true) or resumes (false): clients then declare the server dead after their
     * health-check timeout (keepalive expiry). While stopped the server does not time peers out either.
     */
    @JvmOverloads
    public fun stopHealthChecks(stop: Boolean = true) {
        healthChecksStopped = stop
    }

    /** Refuses every login (true: the socket is closed after Auth, as for a bad token) until set back to false. */
    @JvmOverloads
    public fun refuseLogins(refuse: Boolean = true) {
        loginsRefused = refuse
    }

    /** Refuses the next [count] logins only. */
    public fun refuseNextLogins(count: Int) {
        require(count > 0) { "count must be positive" }
        refuseNext.set(count)
    }

    /** Delays the handling of every inbound message (the Auth included) by [delay]; zero turns it off. */
    public fun latency(delay: Duration) {
        latencyMillis = delay.toMillis()
    }

    /** Clears every fault. */
    public fun reset() {
        healthChecksStopped = false; loginsRefused = false; refuseNext.set(0); latencyMillis = 0
    }

    internal val sendsHealthChecks: Boolean get() = !healthChecksStopped
    internal val latency: Long get() = latencyMillis

    internal fun takeRefusal(): Boolean {
        if (loginsRefused) return true
        while (true) {
            val n = refuseNext.get()
            if (n <= 0) return false
            if (refuseNext.compareAndSet(n, n - 1)) return true
        }
    }
}
