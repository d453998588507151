package dev.tether.mux

import io.netty.buffer.ByteBuf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong

/**
 * One end of an in-memory WebSocket: what the session sends lands in [sent]; the test (or a paired transport)
 * pushes inbound messages with [deliver], as arrays or, like a Netty transport, in buffers. Pongs answer pings only
 * while [answerPings] is true.
 */
internal class ScriptedTransport : PullTransport() {
    /** Inbound messages in order: arrays, and [Lent] buffers (released however they leave the queue). */
    val inbound = Channel<Any>(Channel.UNLIMITED, onUndeliveredElement = { (it as? Lent)?.release() })
    val sent = Channel<ByteArray>(Channel.UNLIMITED)
    var peer: ScriptedTransport? = null

    @Volatile var answerPings = true
    val pings = AtomicInteger()
    val closed = AtomicInteger()
    private val pongCount = AtomicLong()

    override val keepsAliveItself: Boolean get() = false
    override val pongs: Long get() = pongCount.get()

    @Volatile private var onBuffer: (ByteBuf) -> Unit = {}

    /** What escaped the session's buffer handler, or releasing a buffer after it (an over-release). */
    val lendFailures = CopyOnWriteArrayList<Throwable>()

    override fun start(
        scope: CoroutineScope,
        onMessage: (ByteArray) -> Unit,
        onEnd: (MuxException) -> Unit,
        onBuffer: (ByteBuf) -> Unit,
    ) {
        this.onBuffer = onBuffer
        super.start(scope, onMessage, onEnd, onBuffer)
    }

    override suspend fun receive(): ByteArray? {
        while (true) {
            when (val message = inbound.receiveCatching().getOrNull() ?: return null) {
                is Lent -> lend(message)
                else -> return message as ByteArray
            }
        }
    }

    /** Hands a buffer to the session for the call, then releases it, as a Netty transport releases a frame. */
    private fun lend(message: Lent) {
        try {
            onBuffer(message.content)
        } catch (e: Throwable) {
            lendFailures += e
            throw e
        } finally {
            try {
                message.release()
            } catch (e: Throwable) {
                lendFailures += e
            }
        }
    }

    /** While set, [send] waits for it: a connection with no room to send. */
    @Volatile var sendGate: CompletableDeferred<Unit>? = null

    override suspend fun send(message: ByteArray) {
        sendGate?.await()
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

    /**
     * The peer sends a message in [content] (its readable bytes), whose reference this transport takes: it is lent
     * to the session in order behind what was delivered before, and released after that call, or when it can no
     * longer be delivered ([close] then [discardInbound], or a delivery after [close]).
     */
    fun deliver(content: ByteBuf) {
        val lent = Lent(content)
        if (inbound.trySend(lent).isFailure) lent.release()
    }

    /** Drops (and releases) whatever the session did not read before the transport closed; call once it ended. */
    fun discardInbound() {
        inbound.cancel()
    }

    /** A buffer on its way to the session, released exactly once by this transport. */
    private class Lent(val content: ByteBuf) {
        private val released = AtomicBoolean()

        fun release() {
            if (released.compareAndSet(false, true)) content.release()
        }
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
