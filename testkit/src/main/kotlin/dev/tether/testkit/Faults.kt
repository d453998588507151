package dev.tether.testkit

import java.time.Duration

/**
 * The faults every testkit fake injects, under the same names on each. A fake's own controls (such as the broker's
 * [FakeBrokerFaults.dropAfterFrames] or the WAMP router's `mute`) sit beside these on its faults class. Each switch
 * takes effect at once and is safe to flip from any thread; docs/testkit.md has the table of faults by fake.
 */
public interface Faults {
    /**
     * Cuts every live connection at once, without a close frame or message, as a network failure would. Returns how
     * many it cut.
     */
    public fun dropAll(): Int

    /**
     * Delays the handling of every inbound message by [delay] (also every upgrade or login where the fake's page says
     * so); [Duration.ZERO] turns it off.
     */
    public fun latency(delay: Duration)

    /**
     * Stops the fake's side of the keepalive ([stop] = true) or resumes it: the fake stops answering the client's
     * pings (or, on the relay, stops sending health checks), so the client's keepalive expires.
     */
    public fun stopKeepalive(stop: Boolean)

    /**
     * Refuses the next [count] connection attempts the way this server refuses one (an HTTP status for an upgrade, a
     * closed socket for a relay login, ABORT for a WAMP join); 0 cancels the refusals still pending.
     */
    public fun refuseNext(count: Int)

    /** Clears every fault. */
    public fun reset()
}
