package dev.tether.micrometer

import dev.tether.wamp.WampClient
import dev.tether.wamp.WampClientStats
import dev.tether.wamp.WampJoinFailure
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.Tags
import io.micrometer.core.instrument.binder.MeterBinder

/**
 * Meters read from a [WampClient]'s counters ([WampClient.stats]) each time the registry is scraped; nothing is
 * added to the client's path. Tags: `client=<client>` plus [tags].
 *
 * The session meters of [WampSessionMetrics] (events, pending requests, calls by outcome, call round trip,
 * invocations) over every session the client joined: counts are totals since the client started, carried across
 * reconnects; the gauges are the joined session's, 0 while disconnected. `tether.wamp.session.open` is 1 while a
 * session is joined. And:
 *
 * | meter | type | what it shows |
 * |---|---|---|
 * | `tether.wamp.sessions.joined` | counter | sessions joined (and restored), the first one included |
 * | `tether.wamp.reconnects` | counter | sessions joined after the first one |
 * | `tether.wamp.join.failures` | counter, tag `cause` ([WampJoinFailure] in lower case, e.g. `connection`, `timeout`, `aborted`) | attempts to connect, join and restore that failed |
 *
 * Messages and bytes in and out, connections and keepalive round trips: give a [TransportMetrics] with the same
 * `client` name to the session configuration (`SessionConfig.Builder.observer`), which every session of the client
 * uses. Only ws/wss connections report to an observer; RawSocket (tcp, tcps, unix) connections have none.
 * Do not bind a [WampSessionMetrics] of the same name as well: its meters would have the same names and tags.
 */
public class WampClientMetrics @JvmOverloads constructor(
    private val client: WampClient,
    /** The `client` tag (use the same name as the client's [TransportMetrics]). */
    private val name: String,
    tags: Iterable<Tag> = emptyList(),
) : MeterBinder {
    private val tags: Tags = Tags.of(tags).and(TransportMetrics.CLIENT_TAG, name)

    override fun bindTo(registry: MeterRegistry) {
        val meters = StatsMeters(registry, client, tags, WampClient::stats)
        meters.sourceGauge("tether.wamp.session.open", "1 while the WAMP client has a joined session") {
            if (it.isConnected) 1 else 0
        }
        meters.count("tether.wamp.sessions.joined", "WAMP sessions joined") { it.sessionsJoined }
        meters.count("tether.wamp.reconnects", "WAMP sessions joined after the first one") { it.reconnects }
        meters.countBy(
            "tether.wamp.join.failures",
            "attempts to connect, join and restore a WAMP session that failed",
            TransportMetrics.CAUSE_TAG,
            WampJoinFailure.entries.map { cause ->
                cause.name.lowercase() to { s: WampClientStats -> s.attemptsFailed[cause] ?: 0 }
            },
        )
        bindSessionMeters(StatsMeters(registry, client, tags) { it.stats().session })
    }
}
