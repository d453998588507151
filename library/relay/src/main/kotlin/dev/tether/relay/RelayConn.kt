@file:OptIn(InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.InternalTetherApi
import dev.tether.core.javaFuture
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.selects.onTimeout
import kotlinx.coroutines.selects.select
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.time.Instant
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReference

/**
 * A connection to one remote peer through a relay (upstream `Conn`, a `net.Conn`), with datagram semantics: each
 * [write] is one relay message and each [read] returns one whole message.
 *
 * Inbound messages wait in a queue of [RelayClientConfig.connQueueSize] (100). When it is full the message is
 * dropped (so one slow reader never stalls the other peers on the same relay session) and the drop is counted in
 * [stats] and reported to [onDrop]; in backpressure mode the relay socket stops being read instead.
 *
 * [close] is local: the remote peer is not told and its connection stays open until this client's relay session
 * ends. Reads and writes honour deadlines ([setReadDeadline], [setWriteDeadline]); a passed deadline fails the
 * call with [DeadlineExceededException] and leaves the connection usable.
 *
 * Kotlin: suspend [read]/[write]. Java: blocking `read(byte[])`/`write(byte[])`, or [readAsync]/[writeAsync].
 */
public class RelayConn internal constructor(
    /** The remote peer. */
    public val peerId: PeerId,
    /** The relay server's instance URL this connection runs through (upstream RemoteAddr). */
    public val instanceUrl: String,
    private val link: Link,
    queueSize: Int,
    private val backpressure: Boolean,
    private val javaScope: CoroutineScope,
    /** This side's peer id on the relay (upstream LocalAddr: the relay knows us by it). */
    public val localPeerId: PeerId? = null,
) : AutoCloseable {
    /** What the connection needs from its relay session. */
    internal interface Link {
        suspend fun send(peerId: PeerId, payload: ByteArray)
        fun release(conn: RelayConn)
    }

    /** Told about every dropped inbound message; runs on the relay read loop, so it must be quick. */
    public fun interface DropListener {
        /** [conn] dropped an inbound message; [droppedSoFar] counts its drops. */
        public fun onDrop(conn: RelayConn, droppedSoFar: Long)
    }

    private val queue = Channel<ByteArray>(queueSize)
    private val closedLocally = AtomicReference<ConnClosedException?>(null)
    private val readDeadline = AtomicReference<Instant?>(null)
    private val writeDeadline = AtomicReference<Instant?>(null)
    private val readDeadlineChanged = Channel<Unit>(Channel.CONFLATED)

    @Volatile private var dropListener: DropListener? = null
    private val received = AtomicLong()
    private val dropped = AtomicLong()
    private val truncated = AtomicLong()
    private val delivered = AtomicLong()
    private val sent = AtomicLong()

    /** True until [close] or the end of the remote peer / relay session. */
    public val isOpen: Boolean get() = closedLocally.get() == null && !queue.isClosedForSend

    /** Counters of this connection (a snapshot). */
    public fun stats(): RelayConnStats =
        RelayConnStats(received.get(), delivered.get(), dropped.get(), truncated.get(), sent.get())

    /** Sets (or with null clears) the listener told about dropped inbound messages. */
    public fun onDrop(listener: DropListener?) {
        dropListener = listener
    }

    /**
     * Reads the next message. Throws [ConnClosedException] once the connection is closed (messages already queued
     * when the remote side or the session ended are still returned first) and [DeadlineExceededException] when
     * the read deadline passes.
     */
    @JvmSynthetic
    @OptIn(ExperimentalCoroutinesApi::class)
    public suspend fun read(): ByteArray {
        while (true) {
            closedLocally.get()?.let { throw it }
            val deadline = readDeadline.get()
            val remaining = deadline?.let { it.toEpochMilli() - System.currentTimeMillis() }
            if (remaining != null && remaining <= 0) throw DeadlineExceededException("read")
            // A message already queued needs no select (the common case when the reader keeps up).
            queue.tryReceive().getOrNull()?.let {
                delivered.incrementAndGet()
                return it
            }
            val result = select<Any> {
                queue.onReceiveCatching { it.exceptionOrNull() ?: it.getOrNull() ?: ConnClosedException("closed") }
                readDeadlineChanged.onReceiveCatching { RETRY }
                if (remaining != null) onTimeout(remaining) { RETRY }
            }
            when (result) {
                is ByteArray -> {
                    delivered.incrementAndGet()
                    return result
                }

                is ConnClosedException -> throw closedLocally.get() ?: result

                is Throwable -> throw ConnClosedException("relay connection failed", result)
            }
        }
    }

    /** Reads one message into [buffer]; returns its length. A longer message is truncated (counted in [stats]). */
    @JvmSynthetic
    public suspend fun read(buffer: ByteArray): Int = copyInto(read(), buffer)

    /**
     * Sends [payload] as one relay message to the peer. Throws [PayloadTooLargeException] above 8782 bytes,
     * [ConnClosedException] after close, [DeadlineExceededException] when the write deadline passes first (the
     * message was then not sent).
     */
    @JvmSynthetic
    public suspend fun write(payload: ByteArray) {
        closedLocally.get()?.let { throw it }
        if (queue.isClosedForSend) throw ConnClosedException("the remote peer or the relay session is gone")
        if (payload.size > RelayProtocol.MAX_PAYLOAD_SIZE) throw PayloadTooLargeException(payload.size)
        val deadline = writeDeadline.get()
        if (deadline == null) {
            link.send(peerId, payload)
        } else {
            val remaining = deadline.toEpochMilli() - System.currentTimeMillis()
            if (remaining <= 0) throw DeadlineExceededException("write")
            withTimeoutOrNull(remaining) { link.send(peerId, payload) } ?: throw DeadlineExceededException("write")
        }
        sent.incrementAndGet()
    }

    /** Java: blocks for the next message and copies it into [buffer]; returns its length (see [read]). */
    @JvmName("read")
    public fun readBlocking(buffer: ByteArray): Int = runBlocking { read(buffer) }

    /** Java: blocks until [payload] is handed to the relay socket; returns its length (see [write]). */
    @JvmName("write")
    public fun writeBlocking(payload: ByteArray): Int {
        runBlocking { write(payload) }
        return payload.size
    }

    /**
     * Java face of [read]. A message that arrives while it waits completes it on the relay connection's I/O thread:
     * use `thenApplyAsync` for slow work. Cancelling it gives the message back to the queue's next reader.
     */
    public fun readAsync(): CompletableFuture<ByteArray> = javaScope.javaFuture { read() }

    /** Java face of [write]. */
    public fun writeAsync(payload: ByteArray): CompletableFuture<Void?> = javaScope.javaFuture {
        write(payload)
        null
    }

    /** Sets both deadlines (null clears them), like `net.Conn.SetDeadline`. */
    public fun setDeadline(deadline: Instant?) {
        setReadDeadline(deadline)
        setWriteDeadline(deadline)
    }

    /** Sets the read deadline; a read already waiting observes the change. Null clears it. */
    public fun setReadDeadline(deadline: Instant?) {
        readDeadline.set(deadline)
        readDeadlineChanged.trySend(Unit)
    }

    /** Sets the write deadline for writes that start after this call. Null clears it. */
    public fun setWriteDeadline(deadline: Instant?) {
        writeDeadline.set(deadline)
    }

    /**
     * Closes locally: pending and later reads and writes fail with [ConnClosedException], the relay stops
     * reporting this peer's state. The remote peer is not told (protocol limitation). Idempotent.
     */
    override fun close() {
        if (!closedLocally.compareAndSet(null, ConnClosedException("closed by this side"))) return
        queue.close()
        readDeadlineChanged.close()
        link.release(this)
    }

    override fun toString(): String = "RelayConn(${localPeerId?.let { "$it -> " } ?: ""}$peerId via $instanceUrl)"

    /**
     * Queues [payload] without waiting: a full queue drops it (counted), except in backpressure mode, where false
     * says the caller must wait with [deliver] (and stop reading the socket meanwhile).
     */
    internal fun offer(payload: ByteArray): Boolean {
        // Counted first: a reader on another thread may take the message (and count it delivered) before trySend
        // returns here, and stats must never show more delivered than received.
        received.incrementAndGet()
        val result = queue.trySend(payload)
        if (result.isSuccess) return true
        if (backpressure && !result.isClosed) {
            received.decrementAndGet() // deliver counts it when it waits for room
            return false
        }
        countDrop()
        return true
    }

    /** Queues [payload], waiting for room in backpressure mode. */
    internal suspend fun deliver(payload: ByteArray) {
        if (offer(payload)) return
        received.incrementAndGet()
        try {
            queue.send(payload)
        } catch (_: Exception) {
            countDrop()
        }
    }

    private fun countDrop() {
        val n = dropped.incrementAndGet()
        log.debug("dropped an inbound message for {} ({} so far): queue full or closed", peerId, n)
        val l = dropListener ?: return
        try {
            l.onDrop(this, n)
        } catch (e: Exception) {
            log.warn("drop listener threw", e)
        }
    }

    /** The remote peer went offline or the relay session ended: queued messages stay readable, then reads fail. */
    internal fun remoteClosed(reason: String, cause: Throwable? = null) {
        queue.close(ConnClosedException(reason, cause))
    }

    internal val droppedCount: Long get() = dropped.get()

    private fun copyInto(message: ByteArray, buffer: ByteArray): Int {
        val n = minOf(message.size, buffer.size)
        System.arraycopy(message, 0, buffer, 0, n)
        if (n < message.size) truncated.incrementAndGet()
        return n
    }

    private companion object {
        private val log = LoggerFactory.getLogger(RelayConn::class.java)
        private val RETRY = Any()
    }
}

/**
 * A snapshot of one [RelayConn]'s counters.
 *
 * @property received inbound messages that reached the connection.
 * @property delivered messages handed to a reader.
 * @property dropped inbound messages lost because the queue was full (datagram mode) or the connection closed.
 * @property truncated messages cut short because the caller's buffer was smaller.
 * @property sent messages written.
 */
public data class RelayConnStats(
    val received: Long,
    val delivered: Long,
    val dropped: Long,
    val truncated: Long,
    val sent: Long,
)
