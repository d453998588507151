package dev.tether.conformance.soak

import kotlin.time.Duration

/** The faults a soak injects, named as in docs/testkit.md's table of faults. */
internal enum class FaultKind(val label: String) {
    /** `dropAll()`: every connection cut without a close frame. */
    DROP("drop"),

    /** `stopKeepalive(true)` until the client's keepalive has expired, then `false`. */
    KEEPALIVE("keepalive"),

    /** `rotateCredentials(...)` and a drop: the client's old credential is refused until it gets the new one. */
    ROTATION("rotation"),

    /** `latency(d)` for a while, then zero. */
    LATENCY("latency"),

    /** `refuseNext(n)` and a drop: the next dials (or logins) are refused. */
    REFUSAL("refusal"),

    /** Frames the protocol does not allow, sent to the client; it must drop them and keep its connection. */
    MALFORMED("malformed"),
}

/**
 * One fault a target can suffer: [inject] breaks the fake, keeps it broken for about `hold` (real time: that is the
 * load), and heals it before it returns. The soak measures recovery from that return.
 */
internal class Fault(val kind: FaultKind, val inject: suspend (hold: Duration) -> Unit)
