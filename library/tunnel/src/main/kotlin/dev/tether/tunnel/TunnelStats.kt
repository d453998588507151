package dev.tether.tunnel

import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.LongAdder

/**
 * What a [TunnelClient] has done since it was made, and what it serves now: a snapshot, take a new one with
 * [TunnelClient.stats]. The counts add up over every session of the client (they survive reconnects).
 *
 * @property registrations registrations the proxy accepted: the first and every one after a lost session.
 * @property reconnects of those, the ones after the first.
 * @property viewersActive viewer streams being served now (by [TunnelClient.forward] or [TunnelClient.serve]).
 * @property viewersServed viewer streams taken: handed to [TunnelClient.forward] or [TunnelClient.serve], or
 * returned by [TunnelClient.accept].
 * @property viewersRefused viewer streams refused because [TunnelConfig.maxStreams] were open (the proxy got FIN
 * instead of an ACK).
 * @property requestsForwarded viewer streams [TunnelClient.forward] piped to the origin (its connection, and TLS for an
 * `https` origin, succeeded).
 * @property requestsAnswered requests [TunnelClient.serve] answered with the handler's response.
 * @property originUnreachable viewers answered `502` because the origin could not be connected to.
 * @property originTlsFailures viewers answered `502` because the TLS handshake with an `https` origin failed (an
 * untrusted certificate, or one that does not name the host): [OriginTlsException].
 * @property badRequests requests [TunnelClient.serve] answered `400`, `413` or `431` (malformed or over a bound).
 * @property requestHeadTimeouts viewers answered `408` because their request head did not arrive within
 * [TunnelConfig.requestHeadTimeout].
 * @property requestBodyTimeouts viewers answered `408` because the rest of their request (the body after the head)
 * did not arrive within [TunnelConfig.requestBodyTimeout].
 * @property handlerErrors requests answered `500` because the [TunnelHandler] threw or answered an interim status.
 * @property streamErrors viewer streams that ended with an error while being served (the session dropped, the
 * origin reset its connection, a window was overrun).
 */
public data class TunnelStats(
    val registrations: Long,
    val reconnects: Long,
    val viewersActive: Int,
    val viewersServed: Long,
    val viewersRefused: Long,
    val requestsForwarded: Long,
    val requestsAnswered: Long,
    val originUnreachable: Long,
    val originTlsFailures: Long,
    val badRequests: Long,
    val requestHeadTimeouts: Long,
    val handlerErrors: Long,
    val streamErrors: Long,
    val requestBodyTimeouts: Long,
) {
    /** The client's running counts, shared by its pipes and exchanges. */
    internal class Counters {
        val registrations = LongAdder()
        val viewersActive = AtomicInteger()
        val viewersServed = LongAdder()
        val requestsForwarded = LongAdder()
        val requestsAnswered = LongAdder()
        val originUnreachable = LongAdder()
        val originTlsFailures = LongAdder()
        val badRequests = LongAdder()
        val requestHeadTimeouts = LongAdder()
        val requestBodyTimeouts = LongAdder()
        val handlerErrors = LongAdder()
        val streamErrors = LongAdder()

        fun snapshot(viewersRefused: Long): TunnelStats {
            val registered = registrations.sum()
            return TunnelStats(
                registrations = registered,
                reconnects = (registered - 1).coerceAtLeast(0),
                viewersActive = viewersActive.get(),
                viewersServed = viewersServed.sum(),
                viewersRefused = viewersRefused,
                requestsForwarded = requestsForwarded.sum(),
                requestsAnswered = requestsAnswered.sum(),
                originUnreachable = originUnreachable.sum(),
                originTlsFailures = originTlsFailures.sum(),
                badRequests = badRequests.sum(),
                requestHeadTimeouts = requestHeadTimeouts.sum(),
                handlerErrors = handlerErrors.sum(),
                streamErrors = streamErrors.sum(),
                requestBodyTimeouts = requestBodyTimeouts.sum(),
            )
        }
    }
}
