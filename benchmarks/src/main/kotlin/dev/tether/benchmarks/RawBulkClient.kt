package dev.tether.benchmarks

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WsMessage
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import java.time.Duration
import kotlin.coroutines.CoroutineContext
import kotlin.coroutines.EmptyCoroutineContext

/**
 * The raw baseline of one-way transfers: Tether's own transport (`WebSocketDialer`, the default Netty transport,
 * client pings off) with none of a protocol's work, one connection, one worker. Upload: each op sends one binary
 * message of [messageBytes] to [LoopbackServer]'s `/sink`, and [finish] waits until the sink has received every
 * byte sent. Download: `/source` streams [totalBytes] in messages of [messageBytes]; each op receives one message.
 *
 * With a [windowBytes], the transfer follows wsmux's flow-control rule on the raw WebSocket, through
 * `/window-sink` and `/window-source`: the sender keeps at most [windowBytes] unacknowledged and sends each op's
 * bytes in messages of at most [chunkBytes]; the receiver answers each message it has read with a 4-byte credit.
 * That is what the credit rule alone allows over this transport, with none of wsmux's own work. With [onIoThread]
 * the worker runs on the connection's I/O thread (`WebSocketConnection.dispatcher`) instead of `Dispatchers.Default`.
 */
internal class RawBulkClient(
    private val server: LoopbackServer,
    private val upload: Boolean,
    private val messageBytes: Int,
    private val totalBytes: Long,
    private val windowBytes: Int = 0,
    private val chunkBytes: Int = messageBytes,
    private val onIoThread: Boolean = false,
) : LoadTarget {
    private val windowed = windowBytes > 0
    private var credit = windowBytes.toLong()
    private val message = ByteArray(messageBytes) { (it % 251).toByte() }

    /** One windowed upload message (an op's last may be shorter). */
    private val chunk = if (chunkBytes >= messageBytes) message else message.copyOf(chunkBytes)
    private lateinit var connection: WebSocketConnection
    private var sent = 0L
    private var sinkStart = 0L

    override val workers: CoroutineContext
        get() = if (onIoThread) connection.dispatcher else EmptyCoroutineContext

    suspend fun open(): RawBulkClient {
        val path = when {
            windowed && upload -> "/window-sink"
            windowed -> "/window-source"
            upload -> "/sink"
            else -> "/source"
        }
        connection = WebSocketDialer(
            DialerConfig(server.url(path)) {
                maxMessageBytes(2L shl 20)
                pingInterval(Duration.ZERO)
            },
        ).dial()
        sinkStart = server.sunkBytes()
        if (!upload) {
            connection.send(
                if (windowed) "$totalBytes $chunkBytes $windowBytes" else "$totalBytes $messageBytes",
            )
        }
        return this
    }

    override suspend fun roundTrip(worker: Int, seq: Int) {
        if (windowed) return windowedRoundTrip()
        if (upload) {
            connection.send(message)
            sent += messageBytes
        } else {
            val m = connection.incoming.receive()
            check(m is WsMessage.Binary && m.bytes.size == messageBytes) { "unexpected message $m" }
        }
    }

    private suspend fun windowedRoundTrip() {
        var done = 0
        while (done < messageBytes) {
            if (upload) {
                val n = minOf(chunkBytes, messageBytes - done)
                while (credit < n) {
                    val m = connection.incoming.receive()
                    if (m is WsMessage.Binary) credit += credit(m.bytes)
                }
                connection.send(if (n == chunk.size) chunk else message.copyOf(n))
                credit -= n
                sent += n
                done += n
            } else {
                val m = connection.incoming.receive()
                check(m is WsMessage.Binary) { "unexpected message $m" }
                connection.send(creditMessage(m.bytes.size))
                done += m.bytes.size
            }
        }
        check(done == messageBytes) { "a download op got $done bytes, not $messageBytes" }
    }

    override suspend fun finish() {
        if (upload) withTimeout(60_000) { while (server.sunkBytes() - sinkStart < sent) delay(1) }
    }

    companion object {
        /** The 4-byte little-endian credit message of a windowed transfer. */
        fun creditMessage(bytes: Int): ByteArray =
            byteArrayOf(bytes.toByte(), (bytes ushr 8).toByte(), (bytes ushr 16).toByte(), (bytes ushr 24).toByte())

        fun credit(message: ByteArray): Long =
            (message[0].toLong() and 0xFF) or ((message[1].toLong() and 0xFF) shl 8) or
                ((message[2].toLong() and 0xFF) shl 16) or ((message[3].toLong() and 0xFF) shl 24)
    }

    override fun close() {
        if (!::connection.isInitialized) return
        runBlocking { withTimeoutOrNull(1_000) { connection.close(reason = "done") } }
    }
}
