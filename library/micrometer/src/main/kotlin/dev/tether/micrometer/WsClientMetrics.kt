package dev.tether.micrometer

import dev.tether.core.ConnectionState
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientStats
import io.micrometer.core.instrument.FunctionCounter
import io.micrometer.core.instrument.Gauge
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
        Gauge.builder("tether.wsclient.pending", client) { it.stats().pendingRequests.toDouble() }.tags(tags)
            .description("requests waiting for a reply").register(registry)
        Gauge.builder("tether.wsclient.connected", client) {
            if (it.state.value == ConnectionState.CONNECTED) 1.0 else 0.0
        }
            .tags(tags).description("1 while a connection is open").register(registry)
        count(registry, "tether.wsclient.requests.timed.out", "requests that timed out") { it.requestsTimedOut }
        count(registry, "tether.wsclient.drops", "established connections that dropped") { it.drops }
        count(registry, "tether.wsclient.late.replies", "replies that matched no pending request") { it.lateReplies }
        count(registry, "tether.wsclient.handler.errors", "exceptions thrown by the handler") { it.handlerErrors }
        for ((reason, read) in listOf<Pair<String, (WsClientStats) -> Long>>(
            "malformed" to {
                it.malformedFrames
            },
            "binary" to { it.binaryFrames },
            "oversize" to { it.oversizeMessages },
        )) {
            count(
                registry,
                "tether.wsclient.frames.refused",
                "frames the client refused",
                Tags.of("reason", reason),
                read,
            )
        }
    }

    private fun count(
        registry: MeterRegistry,
        name: String,
        description: String,
        extra: Tags = Tags.empty(),
        read: (WsClientStats) -> Long,
    ) {
        FunctionCounter.builder(name, client) { read(it.stats()).toDouble() }.tags(tags.and(extra))
            .description(description).register(registry)
    }
}
