package dev.tether.micrometer

import dev.tether.wamp.WampSession
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.Tags
import io.micrometer.core.instrument.binder.MeterBinder

/**
 * Meters read from one [WampSession]'s counters ([WampSession.stats]) and state each time the registry is scraped;
 * nothing is added to the session's path. Pair it with [TransportMetrics] on the session's transport for
 * connections, messages and bytes. Tags: `client=<client>` plus [tags].
 *
 * | meter | type | what it shows |
 * |---|---|---|
 * | `tether.wamp.session.open` | gauge | 1 while the session is open, else 0 |
 * | `tether.wamp.events` | counter | EVENTs handed to a subscription's handler queue |
 * | `tether.wamp.events.dropped` | counter | EVENTs dropped because the handler was `SessionConfig.eventBuffer` behind |
 *
 * Drops by topic are in [WampSession.stats] (`eventsDroppedByTopic`); they are not meters, since topics are
 * unbounded and a meter per topic would grow the registry without limit.
 *
 * A session ends for good: with a `WampClient`, which joins a new session after each reconnect, bind a new
 * [WampSessionMetrics] to each session it joins (e.g. from its `Connected` event), after removing the old meters
 * from the registry if it should not keep their last values.
 */
public class WampSessionMetrics @JvmOverloads constructor(
    private val session: WampSession,
    /** The `client` tag (use the same name as the session transport's [TransportMetrics]). */
    private val name: String,
    tags: Iterable<Tag> = emptyList(),
) : MeterBinder {
    private val tags: Tags = Tags.of(tags).and(TransportMetrics.CLIENT_TAG, name)

    override fun bindTo(registry: MeterRegistry) {
        val meters = StatsMeters(registry, session, tags, WampSession::stats)
        meters.sourceGauge("tether.wamp.session.open", "1 while the WAMP session is open") {
            if (it.isOpen) 1 else 0
        }
        meters.count("tether.wamp.events", "EVENTs handed to a subscription's handler queue") { it.eventsQueued }
        meters.count("tether.wamp.events.dropped", "EVENTs dropped for a handler that was eventBuffer behind") {
            it.eventsDropped
        }
    }
}
