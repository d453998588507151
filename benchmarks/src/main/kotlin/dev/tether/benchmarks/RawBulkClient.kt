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
 */
internal class RawBulkClient(
    private val server: LoopbackServer,
    private val upload: Boolean,
    private val messageBytes: Int,
    private val totalBytes: Long,
) : LoadTarget {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private val http = HttpClient(CIO) {
        install(WebSockets) {
            maxFrameSize = 2L shl 20
            channels { outgoing = bounded(64) }
        }
        engine { requestTimeout = 0 }
    }
    private val message = ByteArray(messageBytes) { (it % 251).toByte() }
    private lateinit var session: ClientWebSocketSession
    private var connection: Job? = null
    private var sent = 0L
    private var sinkStart = 0L

    suspend fun open(): RawBulkClient {
        val opened = CompletableDeferred<ClientWebSocketSession>()
        connection = scope.launch {
            try {
                http.prepareRequest { url(server.url(if (upload) "/sink" else "/source")) }.body<ClientWebSocketSession, Unit> { s ->
                    opened.complete(s)
                    awaitCancellation()
                }
            } catch (e: Throwable) {
                opened.completeExceptionally(e)
            }
        }
        session = withTimeout(10_000) { opened.await() }
        sinkStart = server.sunkBytes()
        if (!upload) session.outgoing.send(Frame.Text("$totalBytes $messageBytes"))
        return this
    }

    override suspend fun roundTrip(worker: Int, seq: Int) {
        if (upload) {
            session.outgoing.send(Frame.Binary(true, message))
            sent += messageBytes
        } else {
            val frame = session.incoming.receive()
            check(frame is Frame.Binary && frame.data.size == messageBytes) { "unexpected frame $frame" }
        }
    }

    override suspend fun finish() {
        if (upload) withTimeout(60_000) { while (server.sunkBytes() - sinkStart < sent) delay(1) }
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
