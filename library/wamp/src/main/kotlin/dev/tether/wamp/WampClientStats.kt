package dev.tether.wamp

import dev.tether.core.AuthenticationFailedException
import dev.tether.core.ConnectionException
import dev.tether.core.DialTimeoutException
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.ChallengeRefusedException
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.SerializationException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.error.WampErrorException
import java.io.IOException
import java.util.EnumMap
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicLongArray
import java.util.concurrent.atomic.AtomicReference

/**
 * A snapshot of a [WampClient]'s counters ([WampClient.stats]).
 *
 * [session] adds up every session the client joined: its counts (events, calls, refused invocations, round trips)
 * are totals since the client started, carried across reconnects, while its now-values
 * ([SessionStats.requestsPending], [SessionStats.invocationsRunning]) are the joined session's, 0 while disconnected.
 */
public data class WampClientStats(
    /** Sessions joined (and restored), the first one included. */
    val sessionsJoined: Long,
    /** Attempts (dial, join, restore) that failed, by cause; every cause is present, most with 0. */
    val attemptsFailed: Map<WampJoinFailure, Long>,
    /** The sessions' counters, totals across reconnects (see the class description). */
    val session: SessionStats,
) {
    /** Sessions joined after the first one: the reconnects that succeeded. */
    val reconnects: Long get() = (sessionsJoined - 1).coerceAtLeast(0)

    /** Every failed attempt, whatever its cause. */
    val attemptsFailedTotal: Long get() = attemptsFailed.values.sum()
}

/** Why a [WampClient]'s attempt to connect, join and restore failed ([WampClientStats.attemptsFailed]). */
public enum class WampJoinFailure {
    /** The connection could not be made or was lost while joining (socket, TLS, HTTP upgrade). */
    CONNECTION,

    /** A dial, the join, or a restoring request took longer than its timeout. */
    TIMEOUT,

    /** The HTTP upgrade was refused with 401/403, or the client refused the router's challenge. */
    AUTH,

    /** The router answered HELLO with ABORT (no such realm, authentication failed, …). */
    ABORTED,

    /** A registration, subscription or testament could not be restored: the router answered with ERROR. */
    RESTORE,

    /** The router broke the protocol (malformed or unexpected message, rejected RawSocket handshake, size limit). */
    PROTOCOL,

    /** Anything else. */
    OTHER,
    ;

    internal companion object {
        /** [e]'s cause; a lost connection is looked through, as it may wrap what went wrong (e.g. a dial timeout). */
        fun of(e: Throwable): WampJoinFailure = when (e) {
            is DialTimeoutException, is ResponseTimeoutException -> TIMEOUT
            is AuthenticationFailedException, is ChallengeRefusedException -> AUTH
            is AbortException -> ABORTED
            is WampErrorException -> RESTORE
            is WampConnectionLostException -> e.cause?.let { of(it) }?.takeIf { it != OTHER } ?: CONNECTION
            is ConnectionException, is IOException -> CONNECTION
            is ProtocolViolationException, is SerializationException -> PROTOCOL
            is RawSocketHandshakeException, is MessageTooLongException -> PROTOCOL
            else -> OTHER
        }
    }
}

/**
 * The live counters behind [WampClientStats]: the client's reconnect loop reports joins, failures and ended
 * sessions; [snapshot] reads them from any thread without a lock.
 */
internal class ClientCounters {
    /** The sessions that ended, added up, and the joined one: swapped as one so a snapshot counts each once. */
    private class Sessions(val ended: SessionStats, val joined: WampSession?)

    private val joins = AtomicLong()
    private val failures = AtomicLongArray(WampJoinFailure.entries.size)
    private val sessions = AtomicReference(Sessions(SessionStats.NONE, null))

    fun joined(session: WampSession) {
        joins.incrementAndGet()
        sessions.updateAndGet { Sessions(it.ended, session) }
    }

    fun failed(cause: Throwable) {
        failures.incrementAndGet(WampJoinFailure.of(cause).ordinal)
    }

    /** [session] ended: its final counts join the totals, its now-values go. */
    fun ended(session: WampSession) {
        val last = session.stats()
        sessions.updateAndGet { if (it.joined === session) Sessions(it.ended.plusTotals(last), null) else it }
    }

    fun snapshot(): WampClientStats {
        val now = sessions.get()
        val session = now.joined?.let { now.ended.plusTotals(it.stats()) }
            ?: now.ended.copy(requestsPending = 0, invocationsRunning = 0)
        val byCause = EnumMap<WampJoinFailure, Long>(WampJoinFailure::class.java)
        for (cause in WampJoinFailure.entries) byCause[cause] = failures.get(cause.ordinal)
        return WampClientStats(joins.get(), byCause, session)
    }
}
