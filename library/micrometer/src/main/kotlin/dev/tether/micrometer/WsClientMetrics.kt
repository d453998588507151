package dev.tether.micrometer

import dev.tether.core.ConnectionState
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientStats
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.Tags
import io.micrometer.core.instrument.binder.MeterBinder

/**
 * Meters read from a [WsClient]'s own counters ([WsClient.stats]) and state, each time the registry is scraped;
 * nothing is added to the client's path. Pair it with [TransportMetrics] on the client's dialer for connections,
 * traffic and round trips. Tags: `client=<client>` plus [tags].
 *
 * | meter | type | what it shows |
 * |---|---|---|
 * | `tether.wsclient.pending` | gauge | requests waiting for a reply now |
 * | `tether.wsclient.connected` | gauge | 1 while a connection is open, else 0 |
 * | `tether.wsclient.requests.timed.out` | counter | requests that timed out |
 * | `tether.wsclient.drops` | counter | established connections that dropped |
 * | `tether.wsclient.frames.refused` | counter, tag `reason` (`malformed`, `binary`, `oversize`) | frames the client refused |
 * | `tether.wsclient.late.replies` | counter | replies that matched no pending request |
 * | `tether.wsclient.handler.errors` | counter | exceptions thrown by the handler |
 */
public class WsClientMetrics @JvmOverloads constructor(
    private val client: WsClient,
    /** The `client` tag (use the same name as the client's [TransportMetrics]). */
    private val name: String,
    tags: Iterable<Tag> = emptyList(),
) : MeterBinder {
    private val tags: Tags = Tags.of(tags).and(TransportMetrics.CLIENT_TAG, name)

    override fun bindTo(registry: MeterRegistry) {
        val meters = StatsMeters(registry, client, tags, WsClient::stats)
        meters.gauge("tether.wsclient.pending", "requests waiting for a reply") { it.pendingRequests }
        meters.sourceGauge("tether.wsclient.connected", "1 while a connection is open") {
            if (it.state.value == ConnectionState.CONNECTED) 1 else 0
        }
        meters.count("tether.wsclient.requests.timed.out", "requests that timed out") { it.requestsTimedOut }
        meters.count("tether.wsclient.drops", "established connections that dropped") { it.drops }
        meters.count("tether.wsclient.late.replies", "replies that matched no pending request") { it.lateReplies }
        meters.count("tether.wsclient.handler.errors", "exceptions thrown by the handler") { it.handlerErrors }
        meters.countBy(
            "tether.wsclient.frames.refused",
            "frames the client refused",
            REASON_TAG,
            listOf<Pair<String, (WsClientStats) -> Long>>(
                "malformed" to { it.malformedFrames },
                "binary" to { it.binaryFrames },
                "oversize" to { it.oversizeMessages },
            ),
        )
    }
}
