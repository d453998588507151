package dev.tether.benchmarks

import io.ktor.client.HttpClient
import io.ktor.client.engine.cio.CIO
import io.ktor.client.plugins.websocket.ClientWebSocketSession
import io.ktor.client.plugins.websocket.WebSockets
import io.ktor.client.request.prepareRequest
import io.ktor.client.request.url
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.close
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull

/**
 * The raw baseline of one-way transfers: the Ktor pieces [RawEchoClient] uses (CIO client, raw session, outgoing
 * queue of 64 frames), one connection, one worker. Upload: each op sends one binary message of [messageBytes] to
 * [LoopbackServer]'s `/sink`, and [finish] waits until the sink has received every byte sent. Download: `/source`
 * streams [totalBytes] in messages of [messageBytes]; each op receives one message.
 *
 * With a [windowBytes], the transfer follows wsmux's flow-control rule on the raw WebSocket, through
 * `/window-sink` and `/window-source`: the sender keeps at most [windowBytes] unacknowledged and sends each op's
 * bytes in messages of at most [chunkBytes]; the receiver answers each message it has read with a 4-byte credit.
 * That is what the credit rule alone allows over this stack, with none of wsmux's own work.
 */
internal class RawBulkClient(
    private val server: LoopbackServer,
    private val upload: Boolean,
    private val messageBytes: Int,
    private val totalBytes: Long,
    private val windowBytes: Int = 0,
    private val chunkBytes: Int = messageBytes,
) : LoadTarget {
    private val windowed = windowBytes > 0
    private var credit = windowBytes.toLong()
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private val http = HttpClient(CIO) {
        install(WebSockets) {
            maxFrameSize = 2L shl 20
            channels { outgoing = bounded(64) }
        }
        engine { requestTimeout = 0 }
    }
    private val message = ByteArray(messageBytes) { (it % 251).toByte() }
    /** One windowed upload message (an op's last may be shorter). */
    private val chunk = if (chunkBytes >= messageBytes) message else message.copyOf(chunkBytes)
    private lateinit var session: ClientWebSocketSession
    private var connection: Job? = null
    private var sent = 0L
    private var sinkStart = 0L

    suspend fun open(): RawBulkClient {
        val opened = CompletableDeferred<ClientWebSocketSession>()
        connection = scope.launch {
            try {
                val path = when {
                    windowed && upload -> "/window-sink"
                    windowed -> "/window-source"
                    upload -> "/sink"
                    else -> "/source"
                }
                http.prepareRequest { url(server.url(path)) }.body<ClientWebSocketSession, Unit> { s ->
                    opened.complete(s)
                    awaitCancellation()
                }
            } catch (e: Throwable) {
                opened.completeExceptionally(e)
            }
        }
        session = withTimeout(10_000) { opened.await() }
        sinkStart = server.sunkBytes()
        if (!upload) {
            session.outgoing.send(Frame.Text(if (windowed) "$totalBytes $chunkBytes $windowBytes" else "$totalBytes $messageBytes"))
        }
        return this
    }

    override suspend fun roundTrip(worker: Int, seq: Int) {
        if (windowed) return windowedRoundTrip()
        if (upload) {
            session.outgoing.send(Frame.Binary(true, message))
            sent += messageBytes
        } else {
            val frame = session.incoming.receive()
            check(frame is Frame.Binary && frame.data.size == messageBytes) { "unexpected frame $frame" }
        }
    }

    private suspend fun windowedRoundTrip() {
        var done = 0
        while (done < messageBytes) {
            if (upload) {
                val n = minOf(chunkBytes, messageBytes - done)
                while (credit < n) {
                    val frame = session.incoming.receive()
                    if (frame is Frame.Binary) credit += credit(frame.data)
                }
                session.outgoing.send(Frame.Binary(true, if (n == chunk.size) chunk else message.copyOf(n)))
                credit -= n
                sent += n
                done += n
            } else {
                val frame = session.incoming.receive()
                check(frame is Frame.Binary) { "unexpected frame $frame" }
                session.outgoing.send(Frame.Binary(true, creditMessage(frame.data.size)))
                done += frame.data.size
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

        fun credit(message: ByteArray): Long = (message[0].toLong() and 0xFF) or ((message[1].toLong() and 0xFF) shl 8) or
            ((message[2].toLong() and 0xFF) shl 16) or ((message[3].toLong() and 0xFF) shl 24)
    }

    override fun close() {
        runBlocking {
            withTimeoutOrNull(1_000) { session.close(CloseReason(CloseReason.Codes.NORMAL, "done")) }
        }
        connection?.cancel()
        scope.cancel()
        http.close()
    }
}
