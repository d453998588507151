package dev.tether.micrometer

import dev.tether.wamp.SessionStats
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
 * | `tether.wamp.requests.pending` | gauge | requests (calls and others) awaiting their reply now |
 * | `tether.wamp.calls` | counter, tag `outcome` (`answered`, `failed`, `timed_out`, `cancelled`) | calls, by how they ended |
 * | `tether.wamp.call.rtt` | function timer | round trip of answered calls, CALL to final RESULT (count and total) |
 * | `tether.wamp.invocations.running` | gauge | invocations of this side's handlers running now |
 * | `tether.wamp.invocations.refused` | counter | INVOCATIONs refused over `SessionConfig.maxConcurrentInvocations` |
 *
 * Drops by topic are in [WampSession.stats] (`eventsDroppedByTopic`); they are not meters, since topics are
 * unbounded and a meter per topic would grow the registry without limit.
 *
 * A session ends for good: for a `WampClient`, which joins a new session after each reconnect, bind
 * [WampClientMetrics] instead (the same meters, totals across reconnects, plus joins and failed attempts).
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
        bindSessionMeters(meters)
    }
}

/** Tag of `tether.wamp.calls`: how a call ended. */
internal const val OUTCOME_TAG: String = "outcome"

/** The meters of [SessionStats], shared by [WampSessionMetrics] and [WampClientMetrics]. */
internal fun <C : Any> bindSessionMeters(meters: StatsMeters<C, SessionStats>) {
    meters.count("tether.wamp.events", "EVENTs handed to a subscription's handler queue") { it.eventsQueued }
    meters.count("tether.wamp.events.dropped", "EVENTs dropped for a handler that was eventBuffer behind") {
        it.eventsDropped
    }
    meters.gauge("tether.wamp.requests.pending", "WAMP requests awaiting their reply") { it.requestsPending }
    meters.countBy(
        "tether.wamp.calls",
        "WAMP calls, by how they ended",
        OUTCOME_TAG,
        listOf<Pair<String, (SessionStats) -> Long>>(
            "answered" to { it.callsAnswered },
            "failed" to { it.callsFailed },
            "timed_out" to { it.callsTimedOut },
            "cancelled" to { it.callsCancelled },
        ),
    )
    meters.timer(
        "tether.wamp.call.rtt",
        "round trip of answered WAMP calls, CALL to final RESULT",
        { it.callsAnswered },
        { it.callRoundTripNanos },
    )
    meters.gauge("tether.wamp.invocations.running", "invocations of this side's handlers running") {
        it.invocationsRunning
    }
    meters.count("tether.wamp.invocations.refused", "INVOCATIONs refused over maxConcurrentInvocations") {
        it.invocationsRefused
    }
}
