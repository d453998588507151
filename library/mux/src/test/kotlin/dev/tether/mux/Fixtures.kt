package dev.tether.mux

import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import java.time.Clock
import java.time.Instant
import java.time.ZoneOffset

private val liveSessions = java.util.concurrent.ConcurrentLinkedQueue<MuxSession>()

/** A session on the test scheduler (virtual time) over [transport]; [muxTest] closes it at the end. */
internal fun TestScope.session(
    transport: MuxTransport,
    client: Boolean,
    config: MuxConfig = MuxConfig { clock(virtualClock()) },
): MuxSession =
    MuxSession(transport, config, client, StandardTestDispatcher(testScheduler)).also { liveSessions.add(it) }

/**
 * runTest that closes every session made with [session] before runTest drains the scheduler (a live session's
 * periodic timers would keep virtual time running for ever).
 */
internal fun muxTest(block: suspend TestScope.() -> Unit) = runTest {
    try {
        block()
    } finally {
        while (true) liveSessions.poll()?.closeAndJoin() ?: break
    }
}

/** A clock that follows the test scheduler's virtual time. */
internal fun TestScope.virtualClock(): Clock = object : Clock() {
    override fun getZone() = ZoneOffset.UTC
    override fun withZone(zone: java.time.ZoneId?) = this
    override fun instant(): Instant = Instant.ofEpochSecond(1_700_000_000).plusMillis(testScheduler.currentTime)
}

/** Opens a stream on [s] and lets the peer accept it with [credit] (the scripted peer's ACK). */
internal suspend fun TestScope.openAccepted(s: MuxSession, t: ScriptedTransport, credit: Long): Stream {
    val opening = async(start = CoroutineStart.UNDISPATCHED) { s.open() }
    runCurrent()
    val syn = t.nextSent() as MuxFrame.Syn
    t.deliver(MuxFrame.Ack(syn.streamId, credit))
    runCurrent()
    val stream = opening.await()
    // The opener opens the rest of its receive window with one extra ACK right after the accept.
    if (stream.acceptGrant > 0) (t.nextSent() as MuxFrame.Ack).credit shouldBe stream.acceptGrant
    return stream
}

/** Delivers a SYN from the scripted peer and accepts it; consumes the session's ACK. */
internal suspend fun TestScope.acceptFromPeer(s: MuxSession, t: ScriptedTransport, id: Int): Stream {
    t.deliver(MuxFrame.Syn(id))
    runCurrent()
    val accepting = async(start = CoroutineStart.UNDISPATCHED) { s.accept() }
    runCurrent()
    val stream = accepting.await()
    (t.nextSent() as MuxFrame.Ack).streamId shouldBeId id
    return stream
}

internal infix fun Int.shouldBeId(expected: Int) {
    check(this == expected) { "expected stream id $expected, got $this" }
}

/** Two sessions back to back over in-memory transports on real threads (for Java tests and pair tests). */
internal object SessionPairs {
    @JvmStatic
    @JvmOverloads
    fun pair(
        clientConfig: MuxConfig = MuxConfig.DEFAULT,
        serverConfig: MuxConfig = MuxConfig.DEFAULT,
    ): Array<MuxSession> {
        val (a, b) = ScriptedTransport.pair()
        return arrayOf(
            MuxSession(a, clientConfig, true, Dispatchers.Default),
            MuxSession(b, serverConfig, false, Dispatchers.Default),
        )
    }
}

internal fun <T> Deferred<T>.completedOrNull(): T? = if (isCompleted) getCompleted() else null
