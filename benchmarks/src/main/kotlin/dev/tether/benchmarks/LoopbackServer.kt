package dev.tether.benchmarks

import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.embeddedServer
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.readReason
import kotlinx.coroutines.runBlocking
import java.util.concurrent.atomic.AtomicLong

/**
 * The benchmark's own WebSocket server on 127.0.0.1 (ephemeral port), Ktor CIO with raw sessions, as FakeBroker:
 * * `/echo` sends every text frame back unchanged (the bytes, no decoding): the raw round-trip baseline;
 * * `/envelope-echo` answers each wsclient request `{"kind":…,"id":"X",…,"payload":P}` with
 *   `{"kind":"echo.result","in_reply_to":"X","ts":…,"payload":P}` found by plain string search, no JSON parsing:
 *   the cheapest correct peer for the correlating client, so that its figures show the client's own costs. It
 *   understands only the flat payloads the benchmark sends;
 * * `/source` answers one text request `TOTAL SIZE` with TOTAL bytes in binary messages of SIZE bytes (the raw
 *   baseline of one-way downloads);
 * * `/sink` reads and discards every frame, keeping only a count: a peer that never answers and retains nothing,
 *   so that the client's heap is all that grows while requests are pending;
 * * `/window-sink` and `/window-source` are `/sink` and `/source` under a credit window, wsmux's flow-control rule
 *   without wsmux ([RawBulkClient.windowBytes]): the receiver answers each binary message it has read with a 4-byte
 *   little-endian credit of its size, and the sender keeps at most the window unacknowledged. `/window-source`
 *   takes the text request `TOTAL CHUNK WINDOW`.
 */
internal class LoopbackServer : AutoCloseable {
    private val sunk = AtomicLong()
    private val sunkByteCount = AtomicLong()

    private val server: EmbeddedServer<*, *> = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
        install(WebSockets) { maxFrameSize = 2L shl 20 }
        routing {
            webSocketRaw("/echo") {
                for (frame in incoming) {
                    when (frame) {
                        is Frame.Text -> outgoing.send(Frame.Text(true, frame.data))
                        is Frame.Ping -> outgoing.send(Frame.Pong(frame.data))
                        is Frame.Close -> {
                            outgoing.send(Frame.Close(frame.readReason() ?: CloseReason(CloseReason.Codes.NORMAL, "")))
                            return@webSocketRaw
                        }
                        else -> Unit
                    }
                }
            }
            webSocketRaw("/envelope-echo") {
                for (frame in incoming) {
                    when (frame) {
                        is Frame.Text -> leanReply(frame.data.decodeToString())?.let { outgoing.send(Frame.Text(it)) }
                        is Frame.Ping -> outgoing.send(Frame.Pong(frame.data))
                        is Frame.Close -> {
                            outgoing.send(Frame.Close(frame.readReason() ?: CloseReason(CloseReason.Codes.NORMAL, "")))
                            return@webSocketRaw
                        }
                        else -> Unit
                    }
                }
            }
            webSocketRaw("/source") {
                // One text request "TOTAL SIZE": TOTAL bytes back in binary messages of SIZE bytes each.
                val request = (incoming.receive() as? Frame.Text)?.data?.decodeToString() ?: return@webSocketRaw
                val (total, size) = request.split(' ').map { it.toLong() }
                val message = ByteArray(size.toInt()) { (it % 251).toByte() }
                var sent = 0L
                while (sent < total) {
                    val n = minOf(size, total - sent).toInt()
                    outgoing.send(Frame.Binary(true, if (n == message.size) message else message.copyOf(n)))
                    sent += n
                }
                for (frame in incoming) if (frame is Frame.Close) return@webSocketRaw
            }
            webSocketRaw("/window-source") {
                val request = (incoming.receive() as? Frame.Text)?.data?.decodeToString() ?: return@webSocketRaw
                val (total, chunk, window) = request.split(' ').map { it.toLong() }
                val message = ByteArray(chunk.toInt()) { (it % 251).toByte() }
                var sent = 0L
                var credit = window
                while (sent < total) {
                    val n = minOf(chunk, total - sent).toInt()
                    while (credit < n) {
                        when (val frame = incoming.receive()) {
                            is Frame.Binary -> credit += RawBulkClient.credit(frame.data)
                            is Frame.Close -> return@webSocketRaw
                            else -> Unit
                        }
                    }
                    outgoing.send(Frame.Binary(true, if (n == message.size) message else message.copyOf(n)))
                    credit -= n
                    sent += n
                }
                for (frame in incoming) if (frame is Frame.Close) return@webSocketRaw
            }
            webSocketRaw("/window-sink") {
                for (frame in incoming) {
                    when (frame) {
                        is Frame.Binary -> {
                            sunkByteCount.addAndGet(frame.data.size.toLong())
                            sunk.incrementAndGet()
                            outgoing.send(Frame.Binary(true, RawBulkClient.creditMessage(frame.data.size)))
                        }
                        is Frame.Close -> {
                            outgoing.send(Frame.Close(frame.readReason() ?: CloseReason(CloseReason.Codes.NORMAL, "")))
                            return@webSocketRaw
                        }
                        else -> Unit
                    }
                }
            }
            webSocketRaw("/sink") {
                for (frame in incoming) {
                    when (frame) {
                        is Frame.Text, is Frame.Binary -> {
                            sunkByteCount.addAndGet(frame.data.size.toLong())
                            sunk.incrementAndGet()
                        }
                        is Frame.Ping -> outgoing.send(Frame.Pong(frame.data))
                        is Frame.Close -> {
                            outgoing.send(Frame.Close(frame.readReason() ?: CloseReason(CloseReason.Codes.NORMAL, "")))
                            return@webSocketRaw
                        }
                        else -> Unit
                    }
                }
            }
        }
    }.start(wait = false)

    val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }

    fun url(path: String): String = "ws://127.0.0.1:$port$path"

    /** Payload bytes the sink has swallowed since start. */
    fun sunkBytes(): Long = sunkByteCount.get()

    /** Data frames the sink has swallowed since start. */
    fun sunkFrames(): Long = sunk.get()

    /** The `/envelope-echo` answer to [request], or null when it has no id (nothing to correlate). */
    internal fun leanReply(request: String): String? {
        val idAt = request.indexOf(ID_KEY)
        if (idAt < 0) return null
        val idStart = idAt + ID_KEY.length
        val idEnd = request.indexOf('"', idStart)
        val payloadAt = request.indexOf(PAYLOAD_KEY)
        val payload = if (payloadAt < 0) "null" else request.substring(payloadAt + PAYLOAD_KEY.length, request.indexOf('}', payloadAt) + 1)
        return buildString(request.length + 32) {
            append("{\"kind\":\"echo.result\",\"in_reply_to\":\"").append(request, idStart, idEnd)
            append("\",\"ts\":\"").append(REPLY_TS).append("\",\"payload\":").append(payload).append('}')
        }
    }

    override fun close() {
        server.stop(0, 1_000)
    }

    private companion object {
        const val ID_KEY = "\"id\":\""
        const val PAYLOAD_KEY = "\"payload\":"
        const val REPLY_TS = "2025-06-01T12:34:56.123456789Z"
    }
}
