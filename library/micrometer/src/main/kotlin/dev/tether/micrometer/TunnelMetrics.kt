package dev.tether.micrometer

import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelStats
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.Tags
import io.micrometer.core.instrument.binder.MeterBinder

/**
 * Meters read from a [TunnelClient]'s counters ([TunnelClient.stats]) and state each time the registry is scraped;
 * they span every session of the client (reconnects included). Pair it with [TransportMetrics]
 * (`TunnelConfig.Builder.observer`) for the proxy WebSocket itself. Tags: `client=<client>` plus [tags].
 *
 * | meter | type | what it shows |
 * |---|---|---|
 * | `tether.tunnel.connected` | gauge | 1 while a registered session carries the tunnel, else 0 |
 * | `tether.tunnel.registrations` | counter | registrations the proxy accepted |
 * | `tether.tunnel.reconnects` | counter | registrations after the first |
 * | `tether.tunnel.viewers.active` | gauge | viewer streams being served now |
 * | `tether.tunnel.viewers` | counter | viewer streams taken (forward, serve or accept) |
 * | `tether.tunnel.viewers.refused` | counter | viewer streams refused over `TunnelConfig.maxStreams` |
 * | `tether.tunnel.requests` | counter, tag `via` (`forward`, `serve`) | requests forwarded, or answered in process |
 * | `tether.tunnel.errors` | counter, tag `cause` | viewers answered with an error or whose stream failed, by cause |
 *
 * The `cause` of an error is `origin_unreachable` (502), `origin_tls` (502, [dev.tether.tunnel.OriginTlsException]),
 * `bad_request` (400, 413, 431), `head_timeout` (408), `body_timeout` (408), `handler` (500) or `stream` (the stream
 * failed while served).
 */
public class TunnelMetrics @JvmOverloads constructor(
    private val client: TunnelClient,
    /** The `client` tag (use the same name as the client's [TransportMetrics]). */
    private val name: String,
    tags: Iterable<Tag> = emptyList(),
) : MeterBinder {
    private val tags: Tags = Tags.of(tags).and(TransportMetrics.CLIENT_TAG, name)

    override fun bindTo(registry: MeterRegistry) {
        val meters = StatsMeters(registry, client, tags, TunnelClient::stats)
        meters.sourceGauge("tether.tunnel.connected", "1 while a registered session carries the tunnel") {
            if (it.isConnected) 1 else 0
        }
        meters.gauge("tether.tunnel.viewers.active", "viewer streams being served") { it.viewersActive }
        meters.count("tether.tunnel.registrations", "registrations the proxy accepted") { it.registrations }
        meters.count("tether.tunnel.reconnects", "registrations after the first") { it.reconnects }
        meters.count("tether.tunnel.viewers", "viewer streams taken") { it.viewersServed }
        meters.count("tether.tunnel.viewers.refused", "viewer streams refused over maxStreams") { it.viewersRefused }
        meters.countBy(
            "tether.tunnel.requests",
            "viewer requests forwarded or answered",
            "via",
            listOf<Pair<String, (TunnelStats) -> Long>>(
                "forward" to { it.requestsForwarded },
                "serve" to { it.requestsAnswered },
            ),
        )
        meters.countBy(
            "tether.tunnel.errors",
            "viewers answered with an error or whose stream failed",
            TransportMetrics.CAUSE_TAG,
            listOf<Pair<String, (TunnelStats) -> Long>>(
                "origin_unreachable" to { it.originUnreachable },
                "origin_tls" to { it.originTlsFailures },
                "bad_request" to { it.badRequests },
                "head_timeout" to { it.requestHeadTimeouts },
                "body_timeout" to { it.requestBodyTimeouts },
                "handler" to { it.handlerErrors },
                "stream" to { it.streamErrors },
            ),
        )
    }
}
