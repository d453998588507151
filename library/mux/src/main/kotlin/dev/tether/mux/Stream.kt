package dev.tether.mux

import kotlinx.coroutines.CancellableContinuation
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import java.io.InputStream
import java.io.OutputStream
import java.time.Duration
import java.time.Instant
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.resume
import kotlin.time.Duration.Companion.nanoseconds

/**
 * One multiplexed byte stream of a [MuxSession] (upstream `*stream`, a `net.Conn`).
 *
 * Flow control is per stream: [write] sends at most the credit the peer granted and suspends while it is zero;
 * [read] returns ACK credit for exactly the bytes it hands out, batched until half the window has been read (a
 * quarter of windows of four full DATs or more) or the peer has run out of credit (one ACK per read with
 * [MuxConfig.ackEveryRead], as upstream does). [close] is a
 * half-close (FIN): reading goes on until the peer's FIN, and writing after the peer's FIN is still allowed. There
 * is no reset frame: a stream that fails (session end, [NoCapacityException]) fails loudly on this side only.
 *
 * Java: [inputStream], [outputStream] or [MuxSocket] give blocking views.
 */
public class Stream internal constructor(
    private val session: MuxSession,
    internal val rawId: Int,
    /** True when this side opened the stream (it waits for the peer's first ACK). */
    public val isOpener: Boolean,
    capacity: Int,
    initialWindow: Long,
) : AutoCloseable {
    /** The stream id as the unsigned number on the wire. */
    public val id: Long = rawId.toLong() and 0xFFFF_FFFFL

    // Everything below is guarded by `this`.
    private var chunks: ArrayDeque<Chunk>? = null
    private var buffered = 0

    /** Bytes read and not yet returned as credit (see [read]). */
    private var unacked = 0L
    private var capacity = capacity

    /** Bytes beyond [capacity] the peer may legitimately have in flight (see [onAck]). */
    private var slack = 0
    private var window = initialWindow
    private var accepted = !isOpener
    private var localClosed = false
    private var remoteClosed = false
    private var failure: MuxException? = null
    private var overrun: NoCapacityException? = null
    private var writing = false
    private var readDeadline: Instant? = null
    private var writeDeadline: Instant? = null

    /**
     * Readers and writers wait apart: an ACK (credit for the writer) must not wake a reader that waits for data, nor a
     * DAT a writer that waits for credit. In a request/response exchange the peer's ACK arrives just before its reply,
     * and a shared wake-up resumed the reader twice per round trip (a thread hand-off each when it runs on
     * `Dispatchers.Default`). Each side is a change count and who waits for the next change, under the lock; fields
     * of the stream rather than objects of their own, since every idle stream carries them.
     */
    private var readerVersion = 0
    private var writerVersion = 0
    private var waitingReaders: ArrayList<CancellableContinuation<Unit>>? = null
    private var waitingWriters: ArrayList<CancellableContinuation<Unit>>? = null

    /** The peer answered our SYN with FIN: it refused the stream. */
    private var refused = false

    /** [MuxSession.open] failed, so nobody will ever read this stream (see [abandon]). */
    private var abandoned = false

    /** The session's count of open streams this one is in, until it is closed both ways or fails; else null. */
    private var openCount: AtomicInteger? = null

    /** Per-read bound (like `Socket.setSoTimeout`); null waits forever. Independent of [setReadDeadline]. */
    @Volatile public var readTimeout: Duration? = null

    /** Per-write bound on waiting for send credit; null waits forever. */
    @Volatile public var writeTimeout: Duration? = null

    /** Bytes received and not read yet. */
    public val bufferedBytes: Int get() = synchronized(this) { buffered }

    /** The receive capacity (bytes the peer may have in flight). */
    public val receiveCapacity: Int get() = synchronized(this) { capacity }

    /** Send credit left right now. */
    public val sendWindow: Long get() = synchronized(this) { window }

    /** True after [close] (FIN sent or session ended). */
    public val isClosed: Boolean get() = synchronized(this) { localClosed || failure != null }

    /** True once the peer's FIN arrived. */
    public val isRemoteClosed: Boolean get() = synchronized(this) { remoteClosed }

    /**
     * Reads up to [length] bytes into [buffer] at [offset]; suspends until some arrive. Returns the count, or -1 at
     * EOF (peer's FIN and nothing buffered). Throws [NoCapacityException] once the peer overran the window,
     * [ReadTimeoutException] when the deadline or [readTimeout] passes, and the session's end reason
     * ([MuxSessionClosedException], [MuxKeepAliveExpiredException], …) when the session ended before the peer's FIN.
     */
    @JvmSynthetic
    public suspend fun read(buffer: ByteArray, offset: Int = 0, length: Int = buffer.size - offset): Int {
        require(offset >= 0 && length >= 0 && offset + length <= buffer.size) { "range out of bounds" }
        if (length == 0) return 0
        val opEnd = readTimeout?.let { System.nanoTime() + it.toNanos() } ?: NO_END
        while (true) {
            var n = 0
            var credit = 0L
            var seen = 0
            var deadline: Instant? = null
            synchronized(this) {
                overrun?.let { throw it }
                if (buffered > 0) {
                    // The peer has no credit left: it waits for this read's ACK (and, when auto-tuning, for more).
                    val stalled = buffered + unacked >= capacity
                    n = take(buffer, offset, length)
                    unacked += n
                    val growth = if (stalled) grow() else 0
                    // Credit is additive, so holding back less than half a window ([ackThreshold]) never stalls the
                    // peer (its window stays above half until buffered bytes, which a read drains, fill it) and saves
                    // an ACK, and with it a wake-up of the event loop, on most reads of a request/response exchange.
                    if (stalled || growth > 0 || unacked >= ackThreshold() || session.config.ackEveryRead) {
                        credit = unacked + growth
                        unacked = 0
                    }
                } else {
                    if (remoteClosed) return -1
                    failure?.let { throw it }
                    seen = readerVersion
                    deadline = readDeadline
                }
            }
            if (n > 0) {
                // The credit of the reads so far (plus any auto-tune growth), queued without suspending: a read whose
                // caller is cancelled meanwhile still returns the bytes it took, and the credit still goes out.
                if (credit > 0) session.sendSoon(MuxFrame.Ack(rawId, credit).encode())
                return n
            }
            awaitChange(reader = true, seen, deadline, opEnd) { ReadTimeoutException() }
        }
    }

    /**
     * Writes all [length] bytes of [buffer] from [offset], as DATs no bigger than the peer's credit (and at most
     * [MuxProtocol.MAX_DATA_PAYLOAD] each); suspends while the credit is zero. Returns once everything is sent (not
     * acknowledged). Throws [BrokenPipeException] after [close] or the session's end, [WriteTimeoutException] when
     * the deadline or [writeTimeout] passes while waiting for credit (some bytes may have been sent),
     * [NoCapacityException] once the stream failed.
     */
    @JvmSynthetic
    public suspend fun write(buffer: ByteArray, offset: Int = 0, length: Int = buffer.size - offset) {
        require(offset >= 0 && length >= 0 && offset + length <= buffer.size) { "range out of bounds" }
        if (length == 0) return // an empty DAT would corrupt Go receivers
        val opEnd = writeTimeout?.let { System.nanoTime() + it.toNanos() } ?: NO_END
        acquireWriter(opEnd)
        try {
            var sent = 0
            while (sent < length) {
                var n = 0
                var seen = 0
                var deadline: Instant? = null
                synchronized(this) {
                    checkWritable()
                    if (window > 0) {
                        n = minOf(window, (length - sent).toLong(), MuxProtocol.MAX_DATA_PAYLOAD.toLong()).toInt()
                        window -= n
                    } else {
                        seen = writerVersion
                        deadline = writeDeadline
                    }
                }
                if (n == 0) {
                    awaitChange(reader = false, seen, deadline, opEnd) { WriteTimeoutException() }
                    continue
                }
                try {
                    withContext(NonCancellable) { session.sendData(rawId, buffer, offset + sent, n) }
                } catch (e: MuxException) {
                    throw BrokenPipeException("the session ended", e)
                }
                sent += n
            }
        } finally {
            update(Wake.WRITERS) { writing = false }
        }
    }

    /** Half-closes the stream: sends FIN once (later [write]s fail with [BrokenPipeException]); reading goes on. */
    override fun close() {
        val send = synchronized(this) {
            if (localClosed || failure != null) {
                false
            } else {
                localClosed = true
                if (remoteClosed) release()
                true
            }
        }
        if (!send) return
        update(Wake.WRITERS) { }
        session.sendFin(rawId)
    }

    /** Sets the read deadline; null clears it. A deadline already past throws [InvalidDeadlineException]. */
    public fun setReadDeadline(deadline: Instant?) {
        checkDeadline(deadline)
        update(Wake.READERS) { readDeadline = deadline }
    }

    /** Sets the write deadline; null clears it. A deadline already past throws [InvalidDeadlineException]. */
    public fun setWriteDeadline(deadline: Instant?) {
        checkDeadline(deadline)
        update(Wake.WRITERS) { writeDeadline = deadline }
    }

    /** Sets both deadlines. */
    public fun setDeadline(deadline: Instant?) {
        checkDeadline(deadline)
        update(Wake.ALL) {
            readDeadline = deadline
            writeDeadline = deadline
        }
    }

    /** A blocking [InputStream] over [read]; failures surface as `IOException`s with the [MuxException] as cause. */
    public fun inputStream(): InputStream = StreamInputStream(this)

    /** A blocking [OutputStream] over [write]; closing it half-closes the stream. */
    public fun outputStream(): OutputStream = StreamOutputStream(this)

    override fun toString(): String = "Stream($id)"

    // ---- session side ------------------------------------------------------------------------------------------

    /** An ACK: the opener's first accepts the stream and sets the window; later ones add credit. */
    internal fun onAck(credit: Long) = update(Wake.WRITERS) {
        if (!accepted) {
            accepted = true
            window = credit
            // The acceptor will assume we hold what it holds: adopt its number so it cannot overrun us innocently.
            capacity = maxOf(capacity, minOf(credit, MAX_ADOPTED_CAPACITY.toLong()).toInt())
            // The acceptor starts sending with min(credit, what it assumes we hold) (Tether: MuxConfig.peerCapacity,
            // assumed equal on both ends) or credit (Go); the opener never announces its capacity on the wire, so
            // [MuxSession.open] grants the rest as one extra ACK. A Go acceptor may then have up to credit - assumed
            // more in flight: tolerated as slack, not an overrun.
            val assumed = minOf(credit, session.config.peerCapacity.toLong())
            acceptGrant = (capacity - assumed).coerceAtLeast(0)
            slack = (minOf(credit, MAX_ADOPTED_CAPACITY.toLong()) - assumed).toInt()
        } else {
            window += credit
        }
    }

    /** Credit the opener grants right after the accept (see [onAck]); read once by [MuxSession.open]. */
    internal var acceptGrant: Long = 0
        get() = synchronized(this) { field }
        private set

    /**
     * A DAT's bytes, which the stream now owns: buffered, or dropped with a sticky [NoCapacityException] when they do
     * not fit.
     */
    internal fun onData(chunk: Chunk): Boolean = update(Wake.READERS) {
        // After the peer's FIN nothing more is read (a Go peer never writes after its Close): EOF stays EOF.
        if (failure != null || overrun != null || abandoned || remoteClosed) {
            chunk.drop()
            return@update true
        }
        if (chunk.remaining > capacity + slack - buffered) {
            chunk.drop()
            overrun = NoCapacityException(id, capacity)
            // Reads fail from now on: what is buffered will never be read, so it holds no pooled memory either.
            chunks?.forEach { it.detach() }
            return@update false
        }
        val q = chunks ?: ArrayDeque<Chunk>(2).also { chunks = it }
        q.addLast(chunk)
        buffered += chunk.remaining
        true
    }.also { fits -> if (!fits) update(Wake.WRITERS) { } } // the overrun fails writes too

    /** A FIN: the peer writes no more. Before the stream was accepted, it is the peer's refusal. */
    internal fun onFin() = update(Wake.ALL) {
        remoteClosed = true
        if (!accepted) refused = true
        if (localClosed) release()
    }

    /** The session ended: every waiter wakes to [reason]. */
    internal fun kill(reason: MuxException) = update(Wake.ALL) {
        if (failure == null) failure = reason
        // What was received stays readable, but no longer in the session's (pooled) read buffers.
        chunks?.forEach { it.detach() }
        release()
    }

    /**
     * [MuxSession.open] failed (refused, timed out, cancelled, the session ended): the stream is never handed out, so
     * the bytes the peer sent it before that are dropped, and so is anything still on its way, releasing its buffers.
     */
    internal fun abandon() = update(Wake.ALL) {
        abandoned = true
        chunks?.forEach { it.drop() }
        chunks = null
        buffered = 0
    }

    /**
     * Counts this stream in [counter] (the session's open streams) until it is closed both ways or fails; false,
     * counting nothing, when it already is.
     */
    internal fun countIn(counter: AtomicInteger): Boolean = synchronized(this) {
        if (failure != null || (localClosed && remoteClosed)) return false
        counter.incrementAndGet()
        openCount = counter
        true
    }

    /** Leaves the open count, once; under the lock. */
    private fun release() {
        openCount?.decrementAndGet()
        openCount = null
    }

    /** Dead (FIN both ways) and drained: the sweep may forget it. */
    internal fun isDeadAndDrained(): Boolean = synchronized(this) { localClosed && remoteClosed && buffered == 0 }

    /** Suspends until the peer's first ACK; throws [StreamRefusedException] or the session's end reason. */
    internal suspend fun awaitAccepted() {
        while (true) {
            val seen = synchronized(this) {
                if (accepted) return
                if (refused) throw StreamRefusedException(id)
                failure?.let { throw it }
                writerVersion
            }
            awaitVersion(reader = false, seen)
        }
    }

    // ---- internals ---------------------------------------------------------------------------------------------

    private fun take(dst: ByteArray, offset: Int, length: Int): Int {
        val q = chunks!!
        var copied = 0
        while (copied < length && q.isNotEmpty()) {
            val head = q.first()
            copied += head.read(dst, offset + copied, length - copied)
            if (head.remaining == 0) q.removeFirst()
        }
        buffered -= copied
        if (q.isEmpty()) chunks = null
        return copied
    }

    /**
     * Auto-tuning: the peer filled the whole window, so it is waiting on credit. Double the capacity (up to the
     * configured bound) and return the growth, granted as extra credit in this read's ACK.
     */
    private fun grow(): Long {
        val max = session.config.autoTuneMaxWindow
        if (capacity >= max) return 0
        val growth = minOf(capacity, max - capacity)
        capacity += growth
        return growth.toLong()
    }

    private fun checkWritable() {
        overrun?.let { throw it }
        failure?.let { throw BrokenPipeException("the session ended", it) }
        if (localClosed) throw BrokenPipeException("the stream was closed")
    }

    private suspend fun acquireWriter(opEnd: Long) {
        while (true) {
            var seen = 0
            var deadline: Instant? = null
            synchronized(this) {
                checkWritable()
                if (!writing) {
                    writing = true
                    return
                }
                seen = writerVersion
                deadline = writeDeadline
            }
            awaitChange(reader = false, seen, deadline, opEnd) { WriteTimeoutException() }
        }
    }

    private fun checkDeadline(deadline: Instant?) {
        if (deadline != null && deadline.isBefore(session.config.clock.instant())) {
            throw InvalidDeadlineException(deadline)
        }
    }

    /** Waits for a state change after [seen], bounded by the absolute [deadline] and the monotonic [opEnd]. */
    private suspend fun awaitChange(
        reader: Boolean,
        seen: Int,
        deadline: Instant?,
        opEnd: Long,
        timeout: () -> MuxException,
    ) {
        var bound = Long.MAX_VALUE
        if (deadline != null) {
            bound = Duration.between(session.config.clock.instant(), deadline).toNanos()
            if (bound <= 0) throw timeout()
        }
        if (opEnd != NO_END) {
            val left = opEnd - System.nanoTime()
            if (left <= 0) throw timeout()
            bound = minOf(bound, left)
        }
        if (bound == Long.MAX_VALUE) {
            awaitVersion(reader, seen)
        } else {
            withTimeoutOrNull(bound.nanoseconds) { awaitVersion(reader, seen) } ?: throw timeout()
        }
    }

    /** Suspends until the readers' or the writers' side changes after [seen] (under the lock: no change is missed). */
    private suspend fun awaitVersion(reader: Boolean, seen: Int) = suspendCancellableCoroutine { c ->
        c.invokeOnCancellation { synchronized(this) { (if (reader) waitingReaders else waitingWriters)?.remove(c) } }
        val changed = synchronized(this) {
            if ((if (reader) readerVersion else writerVersion) != seen) {
                true
            } else if (reader) {
                (waitingReaders ?: ArrayList<CancellableContinuation<Unit>>(1).also { waitingReaders = it }).add(c)
                false
            } else {
                (waitingWriters ?: ArrayList<CancellableContinuation<Unit>>(1).also { waitingWriters = it }).add(c)
                false
            }
        }
        if (changed) c.resume(Unit)
    }

    /** Runs [block] under the lock, marks a change for the side(s) [wake] names, then wakes them outside the lock. */
    private inline fun <T> update(wake: Wake, block: () -> T): T {
        var woken: ArrayList<CancellableContinuation<Unit>>? = null
        var wokenWriters: ArrayList<CancellableContinuation<Unit>>? = null
        val result: T
        synchronized(this) {
            result = block()
            if (wake != Wake.WRITERS) {
                readerVersion++
                woken = waitingReaders
                waitingReaders = null
            }
            if (wake != Wake.READERS) {
                writerVersion++
                wokenWriters = waitingWriters
                waitingWriters = null
            }
        }
        woken?.forEach { it.resume(Unit) }
        wokenWriters?.forEach { it.resume(Unit) }
        return result
    }

    /**
     * Read bytes held back before their credit goes out: half the capacity, or a quarter once the window holds four
     * full DATs or more, so that a bulk sender with a large window keeps three quarters of it in flight instead of
     * idling until half has been read (small windows keep the half: a quarter of them would be an ACK per message).
     */
    private fun ackThreshold(): Int =
        if (capacity >= 4 * MuxProtocol.MAX_DATA_PAYLOAD) capacity / 4 else (capacity + 1) / 2

    /** Which waiters a state change concerns. */
    private enum class Wake { READERS, WRITERS, ALL }

    private companion object {
        const val NO_END = Long.MIN_VALUE

        /** Ceiling on the capacity an opener adopts from the acceptor's first ACK. */
        const val MAX_ADOPTED_CAPACITY = 1 shl 20
    }
}
