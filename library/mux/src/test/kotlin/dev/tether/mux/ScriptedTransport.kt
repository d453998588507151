package dev.tether.mux

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong

/**
 * One end of an in-memory WebSocket: what the session sends lands in [sent]; the test (or a paired transport)
 * pushes inbound messages with [deliver]. Pongs answer pings only while [answerPings] is true.
 */
internal class ScriptedTransport : PullTransport() {
    val inbound = Channel<ByteArray>(Channel.UNLIMITED)
    val sent = Channel<ByteArray>(Channel.UNLIMITED)
    var peer: ScriptedTransport? = null

    @Volatile var answerPings = true
    val pings = AtomicInteger()
    val closed = AtomicInteger()
    private val pongCount = AtomicLong()

    override val keepsAliveItself: Boolean get() = false
    override val pongs: Long get() = pongCount.get()

    override suspend fun receive(): ByteArray? = inbound.receiveCatching().getOrNull()

    override suspend fun send(message: ByteArray) {
        if (closed.get() > 0) throw IllegalStateException("transport closed")
        val p = peer
        if (p != null) p.inbound.send(message) else sent.send(message)
    }

    /** When true, [trySend] queues at once (as a tether-core connection with room does); otherwise it declines. */
    @Volatile var immediate = false

    /** Messages taken by [trySend]. */
    val immediateSends = AtomicInteger()

    override fun trySend(message: ByteArray): Boolean {
        if (!immediate) return false
        if (closed.get() > 0) throw IllegalStateException("transport closed")
        val p = peer
        val queued = if (p != null) p.inbound.trySend(message).isSuccess else sent.trySend(message).isSuccess
        if (queued) immediateSends.incrementAndGet()
        return queued
    }

    override suspend fun ping() {
        pings.incrementAndGet()
        if (answerPings) pongCount.incrementAndGet()
    }

    override suspend fun endReason(): MuxException = MuxSessionClosedException("session closed: test transport ended")

    override fun close() {
        closed.incrementAndGet()
        inbound.close()
        peer?.inbound?.close()
    }

    /** The peer sends [frame]. */
    fun deliver(frame: MuxFrame) = deliver(frame.encode())

    fun deliver(bytes: ByteArray) {
        inbound.trySend(bytes)
    }

    /** The next frame the session sent, decoded (bounded wait). */
    suspend fun nextSent(): MuxFrame = MuxFrame.decode(withTimeout(5_000) { sent.receive() })

    /** Frames sent so far, decoded, without waiting. */
    fun drainSent(): List<MuxFrame> =
        generateSequence { sent.tryReceive().getOrNull() }.map { MuxFrame.decode(it) }.toList()

    companion object {
        /** Two transports wired back to back. */
        fun pair(): Pair<ScriptedTransport, ScriptedTransport> {
            val a = ScriptedTransport()
            val b = ScriptedTransport()
            a.peer = b
            b.peer = a
            return a to b
        }
    }
}
