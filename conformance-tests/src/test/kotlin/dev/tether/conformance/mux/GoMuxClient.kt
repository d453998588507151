package dev.tether.conformance.mux

import dev.tether.core.WebSocketConnection
import dev.tether.core.WsMessage
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxProtocol
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import java.util.concurrent.ConcurrentHashMap

/**
 * A wsmux client session that behaves as Go's does with `wsmux.Config{}`: each stream holds [capacity] bytes
 * (DefaultCapacity 1024), never grants credit beyond one ACK per read, and a DAT that does not fit fails that
 * stream for good ("buffer does not have capacity to accomodate extra data", spec §5). It only opens streams.
 *
 * Test code: it stands in for the Go opener the spec's §4 correction was verified against.
 */
class GoMuxClient(
    private val connection: WebSocketConnection,
    private val capacity: Int = MuxProtocol.DEFAULT_CAPACITY,
) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    private val streams = ConcurrentHashMap<Int, GoStream>()
    private var nextId = MuxProtocol.FIRST_CLIENT_ID

    init {
        scope.launch {
            for (message in connection.incoming) {
                if (message !is WsMessage.Binary) continue
                val frame = runCatching { MuxFrame.decode(message.bytes) }.getOrNull() ?: continue
                val stream = streams[frame.streamId] ?: continue
                when (frame) {
                    is MuxFrame.Ack -> stream.onAck(frame.credit)
                    is MuxFrame.Data -> stream.onData(frame.payload())
                    is MuxFrame.Fin -> stream.onFin()
                    is MuxFrame.Syn -> Unit
                }
            }
            for (s in streams.values) s.onFin()
        }
    }

    /** Opens a stream and waits for the acceptor's first ACK. */
    suspend fun open(): GoStream {
        val id = synchronized(this) { nextId.also { nextId += MuxProtocol.ID_STEP } }
        val stream = GoStream(id)
        streams[id] = stream
        connection.send(MuxFrame.Syn(id).encode())
        stream.accepted.await()
        return stream
    }

    override fun close() {
        scope.cancel()
        connection.closeAsync()
    }

    /** The stream failed as Go's does when its peer overran the buffer. */
    class OverrunException(id: Int, got: Int, free: Int) :
        Exception("stream $id: buffer does not have capacity to accomodate extra data ($got bytes arrived, $free free)")

    inner class GoStream(val id: Int) {
        val accepted = CompletableDeferred<Unit>()
        private val lock = Any()

        // One wake-up channel per waiter: the writer waits for credit, the reader for input.
        private val creditArrived = Channel<Unit>(Channel.CONFLATED)
        private val input = Channel<Unit>(Channel.CONFLATED)
        private val buffer = java.io.ByteArrayOutputStream()
        private var window = 0L
        private var remoteClosed = false
        private var failure: OverrunException? = null

        /** Largest number of bytes that were ever buffered at once. */
        @Volatile var highWater = 0
            private set

        internal fun onAck(credit: Long) {
            synchronized(lock) {
                if (accepted.isCompleted) window += credit else window = credit
            }
            accepted.complete(Unit)
            creditArrived.trySend(Unit)
        }

        internal fun onData(bytes: ByteArray) {
            synchronized(lock) {
                val free = capacity - buffer.size()
                if (failure == null && bytes.size > free) failure = OverrunException(id, bytes.size, free)
                if (failure == null) {
                    buffer.write(bytes)
                    highWater = maxOf(highWater, buffer.size())
                }
            }
            input.trySend(Unit)
            creditArrived.trySend(Unit)
        }

        internal fun onFin() {
            synchronized(lock) { remoteClosed = true }
            input.trySend(Unit)
        }

        /** Writes all of [data]: one DAT of min(left, window) at a time, waiting while the window is zero. */
        suspend fun write(data: ByteArray) {
            var sent = 0
            while (sent < data.size) {
                val n = synchronized(lock) {
                    failure?.let { throw it }
                    minOf(window, (data.size - sent).toLong()).toInt().also { window -= it }
                }
                if (n == 0) {
                    creditArrived.receive()
                    continue
                }
                connection.send(MuxFrame.Data(id, data.copyOfRange(sent, sent + n)).encode())
                sent += n
            }
        }

        /** Half-closes (FIN). */
        suspend fun close() = connection.send(MuxFrame.Fin(id).encode())

        /** Reads up to [max] bytes and ACKs them; null at EOF; throws the sticky overrun failure. */
        suspend fun read(max: Int): ByteArray? {
            while (true) {
                val taken: ByteArray? = synchronized(lock) {
                    failure?.let { throw it }
                    if (buffer.size() == 0) {
                        if (remoteClosed) return null
                        null
                    } else {
                        val all = buffer.toByteArray()
                        val n = minOf(max, all.size)
                        buffer.reset()
                        buffer.write(all, n, all.size - n)
                        all.copyOf(n)
                    }
                }
                if (taken != null) {
                    connection.send(MuxFrame.Ack(id, taken.size.toLong()).encode())
                    return taken
                }
                input.receive()
            }
        }
    }
}
