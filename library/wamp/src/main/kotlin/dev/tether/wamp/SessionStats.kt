package dev.tether.wamp

import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong

/**
 * A snapshot of what a [WampSession] received and what it had to drop ([WampSession.stats]).
 *
 * Events wait for their subscription's handler in a queue of [SessionConfig.eventBuffer] events; the session's
 * reading never waits for a handler (so the router never sees this client fall behind by its handlers' fault).
 * An event that finds its queue full is dropped and counted here.
 */
public data class SessionStats(
    /** EVENTs handed to a subscription's queue. */
    val eventsQueued: Long,
    /** EVENTs dropped because their subscription's handler was [SessionConfig.eventBuffer] events behind. */
    val eventsDropped: Long,
    /** [eventsDropped] by the topic the session subscribed to (only topics that lost events). */
    val eventsDroppedByTopic: Map<String, Long>,
)

/** The live counters behind [SessionStats]; updated on the read path without locks. */
internal class SessionCounters {
    private val queued = AtomicLong()
    private val dropped = AtomicLong()
    private val droppedByTopic = ConcurrentHashMap<String, AtomicLong>()

    fun queued() {
        queued.incrementAndGet()
    }

    /** Counts a dropped event; returns the topic's drops so far, this one included. */
    fun dropped(topic: String): Long {
        dropped.incrementAndGet()
        return droppedByTopic.computeIfAbsent(topic) { AtomicLong() }.incrementAndGet()
    }

    fun snapshot(): SessionStats =
        SessionStats(queued.get(), dropped.get(), droppedByTopic.entries.associate { (k, v) -> k to v.get() })
}
