package dev.tether.micrometer

import dev.tether.mux.MuxSession
import dev.tether.mux.MuxSessionStats
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.Tags
import io.micrometer.core.instrument.binder.MeterBinder

/**
 * Meters read from one [MuxSession]'s counters ([MuxSession.stats]) each time the registry is scraped; nothing is
 * added to the session's path. Pair it with [TransportMetrics] on the dialer of the session's WebSocket. Tags:
 * `client=<client>` plus [tags].
 *
 * | meter | type | what it shows |
 * |---|---|---|
 * | `tether.mux.streams.open` | gauge | streams open now, both ways |
 * | `tether.mux.streams.incoming` | gauge | of those, the ones the peer opened (bounded by `MuxConfig.maxStreams`) |
 * | `tether.mux.accept.queued` | gauge | streams of the peer waiting for `accept()` |
 * | `tether.mux.streams` | counter, tag `direction` (`out`: opened here, `in`: accepted from the peer) | streams |
 * | `tether.mux.streams.refused` | counter | SYNs refused over `MuxConfig.maxStreams` |
 * | `tether.mux.frames` | counter, tag `direction` | frames |
 * | `tether.mux.bytes` | counter, tag `direction` | stream bytes (DAT payloads) |
 * | `tether.mux.acks` | counter, tag `direction` | ACK frames (accepts and credit) |
 * | `tether.mux.frames.dropped` | counter, tag `reason` | frames dropped: `malformed`, `unknown_stream`, `overrun` |
 * | `tether.mux.keepalive.pings` | counter | keepalive pings the session sent (see below) |
 * | `tether.mux.keepalive.pongs` | counter | pongs received for them |
 *
 * Over a tether-core connection the connection pings by itself, so the keepalive counters stay 0 there and
 * [TransportMetrics] times the round trips (`tether.ping.rtt`).
 *
 * A session ends for good: bind a new [MuxMetrics] to a new session under the same name, after removing the old
 * meters from the registry if the registry should not keep the last values.
 */
public class MuxMetrics @JvmOverloads constructor(
    private val session: MuxSession,
    /** The `client` tag (use the same name as the connection's [TransportMetrics]). */
    private val name: String,
    tags: Iterable<Tag> = emptyList(),
) : MeterBinder {
    private val tags: Tags = Tags.of(tags).and(TransportMetrics.CLIENT_TAG, name)

    override fun bindTo(registry: MeterRegistry) {
        val meters = StatsMeters(registry, session, tags, MuxSession::stats)
        meters.gauge("tether.mux.streams.open", "streams open, both ways") { it.streamsOpen }
        meters.gauge("tether.mux.streams.incoming", "streams the peer opened that are open") { it.incomingOpen }
        meters.gauge("tether.mux.accept.queued", "streams of the peer waiting for accept") { it.acceptQueued }
        meters.count("tether.mux.streams.refused", "SYNs refused over maxStreams") { it.streamsRefused }
        meters.count("tether.mux.keepalive.pings", "keepalive pings sent") { it.keepAlivePings }
        meters.count("tether.mux.keepalive.pongs", "keepalive pongs received") { it.keepAlivePongs }
        meters.inOut(
            "tether.mux.streams",
            "streams opened (out) or accepted (in)",
            inbound = { it.streamsAccepted },
            outbound = { it.streamsOpened },
        )
        meters.inOut("tether.mux.frames", "wsmux frames", { it.framesIn }, { it.framesOut })
        meters.inOut("tether.mux.bytes", "stream bytes (DAT payloads)", { it.bytesIn }, { it.bytesOut }, unit = "bytes")
        meters.inOut("tether.mux.acks", "ACK frames", { it.acksIn }, { it.acksOut })
        meters.countBy(
            "tether.mux.frames.dropped",
            "inbound frames dropped",
            REASON_TAG,
            listOf<Pair<String, (MuxSessionStats) -> Long>>(
                "malformed" to { it.malformedFrames },
                "unknown_stream" to { it.unknownStreamFrames },
                "overrun" to { it.overruns },
            ),
        )
    }
}

/** The tag of a drop's reason (wsmux frames, relay messages, wsclient refusals). */
internal const val REASON_TAG: String = "reason"
