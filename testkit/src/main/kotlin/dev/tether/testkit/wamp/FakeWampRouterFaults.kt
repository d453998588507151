@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.testkit.wamp

import dev.tether.testkit.Faults
import dev.tether.testkit.Refusals
import kotlinx.coroutines.runBlocking
import java.time.Duration

/**
 * Fault controls of a [FakeWampRouter]: the [Faults] of every fake, plus [drop] of one session, [mute] and
 * [pendingRefusals]. Credential rotation is [FakeWampRouter.rotateCredentials].
 */
public class FakeWampRouterFaults internal constructor(private val router: FakeWampRouter) : Faults {
    private val refusals = Refusals<String>()

    @Volatile
    internal var pongsStopped: Boolean = false

    @Volatile
    internal var latency: Duration = Duration.ZERO

    @Volatile
    internal var isMuted: Boolean = false

    /**
     * Closes every client connection at once, without GOODBYE. Returns how many this call dropped: not counting
     * connections an earlier drop already closed (they stay listed until they have wound down), nor those the
     * router had refused with ABORT (their clients saw the refusal; they close anyway).
     */
    override fun dropAll(): Int = runBlocking {
        router.liveSessions().count { it.terminate() && !it.refused }
    }

    /**
     * Closes the connection of the joined session [sessionId] at once, without GOODBYE, leaving the others. True when
     * this call closed it; false when no such session is joined (or an earlier drop closed it).
     */
    public fun drop(sessionId: Long): Boolean = runBlocking {
        router.liveSessions().filter { it.realm != null && it.id == sessionId }.count { it.terminate() } > 0
    }

    /** Delays every message the router sends by [delay]; zero turns it off. */
    override fun latency(delay: Duration) {
        require(!delay.isNegative) { "the delay must not be negative" }
        latency = delay
    }

    /** When [on], the router reads requests but answers none (clients see response timeouts); false resumes. */
    public fun mute(on: Boolean) {
        isMuted = on
    }

    /**
     * Answers the next [count] joins (HELLO, on any transport and realm) with ABORT `wamp.error.system_shutdown`
     * instead of WELCOME, as a router that is shutting down would: clients see a failed join. 0 cancels what is left.
     */
    override fun refuseNext(count: Int) {
        refuseNext(count, DEFAULT_REFUSAL_REASON)
    }

    /** Answers the next [count] joins with ABORT [reason] instead of WELCOME; 0 cancels what is left. */
    public fun refuseNext(count: Int, reason: String) {
        refusals.set(count, reason)
    }

    /** Joins still to be refused ([refuseNext]). */
    public val pendingRefusals: Int get() = refusals.left

    /**
     * Stops (or resumes) answering RawSocket PINGs on current and future connections: the client's keepalive
     * expires. WebSocket pings are answered by the WebSocket layer either way.
     */
    override fun stopKeepalive(stop: Boolean) {
        pongsStopped = stop
        router.rawSocketPeers().forEach { it.answerPings = !stop }
    }

    override fun reset() {
        refusals.clear()
        latency = Duration.ZERO
        isMuted = false
        stopKeepalive(false)
    }

    /** The ABORT reason for this join when it is to be refused, else null (takes one refusal). */
    internal fun takeRefusal(): String? = refusals.take()

    private companion object {
        const val DEFAULT_REFUSAL_REASON = "wamp.error.system_shutdown"
    }
}
