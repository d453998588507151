package dev.tether.micrometer

import io.micrometer.core.instrument.FunctionCounter
import io.micrometer.core.instrument.FunctionTimer
import io.micrometer.core.instrument.Gauge
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tags
import java.util.concurrent.TimeUnit.NANOSECONDS as NANOS

/**
 * Registers the meters of one client's counters: each meter reads [source]'s snapshot ([snapshot]) when the
 * registry is scraped, so the client's path carries nothing extra. Shared by every binder over a `stats()` method
 * (wsclient, relay, wsmux, tunnel, WAMP); every meter carries [tags].
 *
 * Micrometer holds [source] weakly: a meter of a client that was collected reads NaN, it does not keep the client.
 */
internal class StatsMeters<C : Any, S>(
    private val registry: MeterRegistry,
    private val source: C,
    private val tags: Tags,
    private val snapshot: (C) -> S,
) {
    /** A counter of one monotonic count of the snapshot. */
    fun count(name: String, description: String, extra: Tags = Tags.empty(), unit: String? = null, read: (S) -> Long) {
        FunctionCounter.builder(name, source) { read(snapshot(it)).toDouble() }.tags(tags.and(extra))
            .description(description).apply { if (unit != null) baseUnit(unit) }.register(registry)
    }

    /** One counter per value of the tag [tagKey], e.g. `direction` `in` and `out`, or drops by `reason`. */
    fun countBy(
        name: String,
        description: String,
        tagKey: String,
        reads: List<Pair<String, (S) -> Long>>,
        unit: String? = null,
    ) {
        for ((tagValue, read) in reads) count(name, description, Tags.of(tagKey, tagValue), unit, read)
    }

    /** One counter per direction ([TransportMetrics.DIRECTION_TAG] `in` and `out`), e.g. frames or bytes. */
    fun inOut(name: String, description: String, inbound: (S) -> Long, outbound: (S) -> Long, unit: String? = null) {
        countBy(name, description, TransportMetrics.DIRECTION_TAG, listOf("in" to inbound, "out" to outbound), unit)
    }

    /** A timer over a count of events and the sum of their durations in nanoseconds, both from the snapshot. */
    fun timer(name: String, description: String, count: (S) -> Long, totalNanos: (S) -> Long) {
        FunctionTimer.builder(name, source, { count(snapshot(it)) }, { totalNanos(snapshot(it)).toDouble() }, NANOS)
            .tags(tags).description(description).register(registry)
    }

    /** A gauge of something the snapshot holds now. */
    fun gauge(name: String, description: String, read: (S) -> Number) {
        sourceGauge(name, description) { read(snapshot(it)) }
    }

    /** A gauge of the source's own state (not in its snapshot), e.g. whether it is connected. */
    fun sourceGauge(name: String, description: String, read: (C) -> Number) {
        Gauge.builder(name, source) { read(it).toDouble() }.tags(tags).description(description).register(registry)
    }
}
