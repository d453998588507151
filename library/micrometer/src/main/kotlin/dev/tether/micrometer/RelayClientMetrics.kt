package dev.tether.micrometer

import dev.tether.relay.RelayClient
import dev.tether.relay.RelayClientStats
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.Tags
import io.micrometer.core.instrument.binder.MeterBinder

/**
 * Meters read from a [RelayClient]'s counters ([RelayClient.stats]) each time the registry is scraped. Pair it with
 * [TransportMetrics] (`RelayClientConfig.Builder.observer`) for the relay WebSocket itself. Tags: `client=<client>`
 * plus [tags].
 *
 * | meter | type | what it shows |
 * |---|---|---|
 * | `tether.relay.conns` | gauge | peer connections open now |
 * | `tether.relay.early.buffered` | gauge | messages from peers without a connection, held now |
 * | `tether.relay.dropped` | counter, tag `reason` | inbound messages lost, by why |
 *
 * The `reason` of a drop is `conn` (a peer connection's queue was full or it had closed), `early_replaced`,
 * `early_expired`, `early_full` or `malformed`.
 */
public class RelayClientMetrics @JvmOverloads constructor(
    private val client: RelayClient,
    /** The `client` tag (use the same name as the client's [TransportMetrics]). */
    private val name: String,
    tags: Iterable<Tag> = emptyList(),
) : MeterBinder {
    private val tags: Tags = Tags.of(tags).and(TransportMetrics.CLIENT_TAG, name)

    override fun bindTo(registry: MeterRegistry) {
        val meters = StatsMeters(registry, client, tags, RelayClient::stats)
        meters.gauge("tether.relay.conns", "peer connections open") { it.openConns }
        meters.gauge("tether.relay.early.buffered", "messages from peers without a connection, held") {
            it.earlyBuffered
        }
        meters.countBy(
            "tether.relay.dropped",
            "inbound relay messages lost",
            REASON_TAG,
            listOf<Pair<String, (RelayClientStats) -> Long>>(
                "conn" to { it.droppedMessages },
                "early_replaced" to { it.earlyReplaced },
                "early_expired" to { it.earlyExpired },
                "early_full" to { it.earlyRejected },
                "malformed" to { it.malformedMessages },
            ),
        )
    }
}
