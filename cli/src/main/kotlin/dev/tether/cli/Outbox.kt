package dev.tether.cli

import dev.tether.relay.RelayProtocol
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.channels.Channel
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

/**
 * Input of `tether relay` that the peer has not been handed yet: at most [capacity] bytes (by default one relay
 * message, 8782 bytes), filled by the thread reading standard input and drained by the coroutine writing to the peer.
 *
 * The writer takes everything held as **one** message ([next]) and removes it only once the write succeeded ([sent]),
 * so a write that fails because the peer or the relay went away leaves it held. One message matters after a
 * reconnect: the peer's client keeps only the newest message that arrives before it has reopened its side (the
 * early buffer), so a backlog sent as one message is never replaced by a later one.
 *
 * When there is no room, [put] blocks the reading thread: what is typed then waits unread in the terminal or pipe,
 * never dropped. [close] releases a blocked [put].
 */
internal class Outbox(val capacity: Int = RelayProtocol.MAX_PAYLOAD_SIZE) {
    private val lock = ReentrantLock()
    private val room = lock.newCondition()
    private val buffer = ByteArray(capacity)
    private var size = 0
    private var ended = false
    private var closed = false
    private var peerUp = false
    private val ready = Channel<Unit>(Channel.CONFLATED)

    /** Completes once input has ended and everything held was sent. */
    val drained = CompletableDeferred<Unit>()

    init {
        require(capacity > 0) { "capacity must be positive" }
    }

    /** Bytes held now. */
    val held: Int get() = lock.withLock { size }

    /** Lines (newlines) among the bytes held now. */
    val heldLines: Int get() = lock.withLock { (0 until size).count { buffer[it] == '\n'.code.toByte() } }

    /** True while the peer connection is up (set by the writer's side; [put] reports waits only while it is not). */
    var isPeerUp: Boolean
        get() = lock.withLock { peerUp }
        set(value) = lock.withLock {
            peerUp = value
            room.signalAll()
        }

    /**
     * Appends [chunk] (at most [capacity] bytes), blocking until it fits. [onFull] runs when the wait starts while
     * the peer is away, and again each time the peer goes away during the wait (not while a connected writer merely
     * lags). Returns false when [close]d.
     */
    fun put(chunk: ByteArray, onFull: () -> Unit = {}): Boolean {
        require(chunk.size <= capacity) { "a chunk of ${chunk.size} bytes exceeds the capacity of $capacity" }
        var told = false
        while (true) {
            var tell = false
            lock.withLock {
                if (closed) return false
                if (size + chunk.size <= capacity) {
                    check(!ended) { "input already ended" }
                    chunk.copyInto(buffer, size)
                    size += chunk.size
                    ready.trySend(Unit)
                    return true
                }
                if (peerUp) {
                    told = false
                } else if (!told) {
                    told = true
                    tell = true
                }
                if (!tell) room.await()
            }
            if (tell) onFull() // outside the lock: it may block on a slow standard error
        }
    }

    /** End of input: [next] returns null once everything held was sent. */
    fun end() {
        lock.withLock {
            ended = true
            if (size == 0) drained.complete(Unit)
        }
        ready.trySend(Unit)
    }

    /**
     * Everything held, as one message (still held until [sent]); waits for input; null when input ended and all was
     * sent.
     */
    suspend fun next(): ByteArray? {
        while (true) {
            lock.withLock {
                if (size > 0) return buffer.copyOf(size)
                if (ended) return null
            }
            ready.receive()
        }
    }

    /** The first [count] bytes (what [next] returned) reached the relay socket: forget them. */
    fun sent(count: Int) {
        lock.withLock {
            require(count in 0..size) { "sent $count of $size held bytes" }
            buffer.copyInto(buffer, 0, count, size)
            size -= count
            if (ended && size == 0) drained.complete(Unit)
            room.signalAll()
        }
    }

    /** Releases a blocked [put] (it returns false) for good. */
    fun close() {
        lock.withLock {
            closed = true
            room.signalAll()
        }
    }
}
