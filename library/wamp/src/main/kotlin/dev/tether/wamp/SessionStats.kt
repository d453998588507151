package dev.tether.wamp

import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong

/**
 * A snapshot of one [WampSession]'s traffic counters ([WampSession.stats]), or, from [WampClient.stats], of all the
 * sessions a client joined so far (see [WampClientStats.session]).
 *
 * Events wait for their subscription's handler in a queue of [SessionConfig.eventBuffer] events; the session's
 * reading never waits for a handler (so the router never sees this client fall behind by its handlers' fault).
 * An event that finds its queue full is dropped and counted here.
 *
 * Every call this session sends ends in at most one of [callsAnswered], [callsFailed], [callsTimedOut] and
 * [callsCancelled]; a call still pending when the session ends is in none of them (its caller gets the session's
 * end). The mean round trip of answered calls is [callRoundTripNanos] / [callsAnswered].
 */
public data class SessionStats(
    /** EVENTs handed to a subscription's queue. */
    val eventsQueued: Long,
    /** EVENTs dropped because their subscription's handler was [SessionConfig.eventBuffer] events behind. */
    val eventsDropped: Long,
    /** [eventsDropped] by the topic the session subscribed to (only topics that lost events). */
    val eventsDroppedByTopic: Map<String, Long>,
    /** Requests (calls, publications asking for acknowledgement, (un)subscribes, (un)registers) awaiting a reply now. */
    val requestsPending: Int = 0,
    /** Calls answered with a final RESULT. */
    val callsAnswered: Long = 0,
    /** Calls answered with an ERROR (the callee's or the router's). */
    val callsFailed: Long = 0,
    /** Calls abandoned after [SessionConfig.callTimeout] without an answer (CANCEL sent). */
    val callsTimedOut: Long = 0,
    /**
     * Calls this side abandoned before their answer for another reason (CANCEL sent): the caller was cancelled, or
     * a progress callback failed or fell [SessionConfig.progressBuffer] results behind.
     */
    val callsCancelled: Long = 0,
    /** The sum of the round trips of the [callsAnswered] calls, from their CALL to their final RESULT, in nanoseconds. */
    val callRoundTripNanos: Long = 0,
    /** Invocations of this session's registered handlers running now. */
    val invocationsRunning: Int = 0,
    /** INVOCATIONs refused with [SessionConfig.TOO_MANY_INVOCATIONS] ([SessionConfig.maxConcurrentInvocations]). */
    val invocationsRefused: Long = 0,
) {
    /** Counts of both snapshots added; now-values ([requestsPending], [invocationsRunning]) are [now]'s. */
    internal fun plusTotals(now: SessionStats): SessionStats = SessionStats(
        eventsQueued + now.eventsQueued,
        eventsDropped + now.eventsDropped,
        (eventsDroppedByTopic.keys + now.eventsDroppedByTopic.keys).associateWith {
            (eventsDroppedByTopic[it] ?: 0) + (now.eventsDroppedByTopic[it] ?: 0)
        },
        now.requestsPending,
        callsAnswered + now.callsAnswered,
        callsFailed + now.callsFailed,
        callsTimedOut + now.callsTimedOut,
        callsCancelled + now.callsCancelled,
        callRoundTripNanos + now.callRoundTripNanos,
        now.invocationsRunning,
        invocationsRefused + now.invocationsRefused,
    )

    internal companion object {
        /** Nothing counted yet. */
        val NONE: SessionStats = SessionStats(0, 0, emptyMap())
    }
}

/** The live counters behind [SessionStats]; updated on the read path without locks. */
internal class SessionCounters {
    private val queued = AtomicLong()
    private val dropped = AtomicLong()
    private val droppedByTopic = ConcurrentHashMap<String, AtomicLong>()

    fun queued() {
        queued.incrementAndGet()
    }

    /** Takes back a [queued] whose event did not go into the queue after all. */
    fun notQueued() {
        queued.decrementAndGet()
    }

    /** Counts a dropped event; returns the topic's drops so far, this one included. */
    fun dropped(topic: String): Long {
        dropped.incrementAndGet()
        return droppedByTopic.computeIfAbsent(topic) { AtomicLong() }.incrementAndGet()
    }

    fun snapshot(): SessionStats =
        SessionStats(queued.get(), dropped.get(), droppedByTopic.entries.associate { (k, v) -> k to v.get() })
}

/**
 * How a session's calls ended, counted where the answer is read or the call is abandoned ([RequestCorrelator]):
 * one atomic add per call (two for an answered one), no lock, no allocation.
 */
internal class CallCounters {
    private val answered = AtomicLong()
    private val failed = AtomicLong()
    private val timedOut = AtomicLong()
    private val cancelled = AtomicLong()
    private val roundTripNanos = AtomicLong()

    fun answered(roundTripNanos: Long) {
        // Two adds, no lock: a snapshot between them is off by this one call, which a scrape can live with.
        this.roundTripNanos.addAndGet(roundTripNanos)
        answered.incrementAndGet()
    }

    fun failed() {
        failed.incrementAndGet()
    }

    fun abandoned(timedOut: Boolean) {
        (if (timedOut) this.timedOut else cancelled).incrementAndGet()
    }

    /** [events] with the call counters, the invocation counts and the now-values filled in. */
    fun addTo(events: SessionStats, requestsPending: Int, invocationsRunning: Int, invocationsRefused: Long) =
        events.copy(
            requestsPending = requestsPending,
            callsAnswered = answered.get(),
            callsFailed = failed.get(),
            callsTimedOut = timedOut.get(),
            callsCancelled = cancelled.get(),
            callRoundTripNanos = roundTripNanos.get(),
            invocationsRunning = invocationsRunning,
            invocationsRefused = invocationsRefused,
        )
}
