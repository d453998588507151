package dev.tether.testkit.wamp

import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong

/**
 * EVENTs a [FakeWampRouter] dropped because their subscriber's outbound queue was full
 * ([FakeWampRouterConfig.outboundQueueSize]), as nexus drops events to a session that does not keep up with its
 * socket. Other messages are never dropped. A snapshot: [FakeWampRouter.eventStats] takes a new one.
 */
public data class RouterEventStats(
    /** EVENTs dropped so far, across every session and realm. */
    val eventsDropped: Long,
    /** [eventsDropped] by the id of the session that did not get them (sessions that lost none are absent). */
    val eventsDroppedBySession: Map<Long, Long>,
) {
    /** The EVENTs dropped to session [sessionId] (0 when none). */
    public fun droppedTo(sessionId: Long): Long = eventsDroppedBySession[sessionId] ?: 0L
}

/** The router's live drop counters behind [RouterEventStats]; kept after a session ends, so tests can read them. */
internal class EventDropCounter {
    private val total = AtomicLong()
    private val bySession = ConcurrentHashMap<Long, AtomicLong>()

    /** Counts one dropped EVENT to [sessionId]; returns that session's drops so far, this one included. */
    fun dropped(sessionId: Long): Long {
        total.incrementAndGet()
        return bySession.computeIfAbsent(sessionId) { AtomicLong() }.incrementAndGet()
    }

    fun snapshot(): RouterEventStats =
        RouterEventStats(total.get(), bySession.entries.associate { (k, v) -> k to v.get() })
}
