package dev.tether.micrometer

import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelStats
import io.micrometer.core.instrument.FunctionCounter
import io.micrometer.core.instrument.Gauge
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
 * `bad_request` (400, 413, 431), `head_timeout` (408), `handler` (500) or `stream` (the stream failed while served).
 */
public class TunnelMetrics @JvmOverloads constructor(
    private val client: TunnelClient,
    /** The `client` tag (use the same name as the client's [TransportMetrics]). */
    private val name: String,
    tags: Iterable<Tag> = emptyList(),
) : MeterBinder {
    private val tags: Tags = Tags.of(tags).and(TransportMetrics.CLIENT_TAG, name)

    override fun bindTo(registry: MeterRegistry) {
        Gauge.builder("tether.tunnel.connected", client) { if (it.isConnected) 1.0 else 0.0 }.tags(tags)
            .description("1 while a registered session carries the tunnel").register(registry)
        Gauge.builder("tether.tunnel.viewers.active", client) { it.stats().viewersActive.toDouble() }.tags(tags)
            .description("viewer streams being served").register(registry)
        count(registry, "tether.tunnel.registrations", "registrations the proxy accepted") { it.registrations }
        count(registry, "tether.tunnel.reconnects", "registrations after the first") { it.reconnects }
        count(registry, "tether.tunnel.viewers", "viewer streams taken") { it.viewersServed }
        count(registry, "tether.tunnel.viewers.refused", "viewer streams refused over maxStreams") {
            it.viewersRefused
        }
        for ((via, read) in listOf<Pair<String, (TunnelStats) -> Long>>(
            "forward" to { it.requestsForwarded },
            "serve" to { it.requestsAnswered },
        )) {
            val tag = Tags.of("via", via)
            count(registry, "tether.tunnel.requests", "viewer requests forwarded or answered", tag, read)
        }
        for ((cause, read) in listOf<Pair<String, (TunnelStats) -> Long>>(
            "origin_unreachable" to { it.originUnreachable },
            "origin_tls" to { it.originTlsFailures },
            "bad_request" to { it.badRequests },
            "head_timeout" to { it.requestHeadTimeouts },
            "handler" to { it.handlerErrors },
            "stream" to { it.streamErrors },
        )) {
            count(
                registry,
                "tether.tunnel.errors",
                "viewers answered with an error or whose stream failed",
                Tags.of(TransportMetrics.CAUSE_TAG, cause),
                read,
            )
        }
    }

    private fun count(
        registry: MeterRegistry,
        name: String,
        description: String,
        extra: Tags = Tags.empty(),
        read: (TunnelStats) -> Long,
    ) {
        FunctionCounter.builder(name, client) { read(it.stats()).toDouble() }.tags(tags.and(extra))
            .description(description).register(registry)
    }
}
