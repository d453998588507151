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
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull

/**
 * The baseline client: the same Ktor pieces the dialer uses (CIO engine, WebSockets plugin, raw client session, a
 * bounded outgoing queue of 64 frames) and nothing of Tether. One connection; [inFlight] slots, each with one
 * message outstanding at a time. A message is `slot:seq:` padded with `x` to [messageBytes]; the single reader
 * routes each echo to its slot by the slot number and checks the sequence number.
 */
internal class RawEchoClient(
    private val url: String,
    private val inFlight: Int,
    private val messageBytes: Int,
    /** Where the read loop runs: Ktor's own context (the IO pool, the plain baseline), or a dispatcher given here. */
    private val readerDispatcher: CoroutineDispatcher? = null,
) : LoadTarget {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private val http = HttpClient(CIO) {
        install(WebSockets) {
            maxFrameSize = 1L shl 20
            channels { outgoing = bounded(64) }
        }
        engine { requestTimeout = 0 }
    }
    private val replies = Array(inFlight) { Channel<Int>(1) }
    private lateinit var session: ClientWebSocketSession
    private var connection: Job? = null

    suspend fun open() {
        val opened = CompletableDeferred<ClientWebSocketSession>()
        connection = scope.launch {
            try {
                http.prepareRequest { url(this@RawEchoClient.url) }.body<ClientWebSocketSession, Unit> { s ->
                    opened.complete(s)
                    if (readerDispatcher == null) readLoop(s) else withContext(readerDispatcher) { readLoop(s) }
                }
            } catch (e: Throwable) {
                opened.completeExceptionally(e)
                for (r in replies) r.close(e)
            }
        }
        session = withTimeout(10_000) { opened.await() }
    }

    private suspend fun readLoop(s: ClientWebSocketSession) {
        for (frame in s.incoming) {
            if (frame !is Frame.Text) continue
            val tag = slotSeq(frame.data)
            replies[(tag ushr 32).toInt()].send(tag.toInt())
        }
    }

    /** One round trip for [slot]: send, then wait for its own echo. */
    override suspend fun roundTrip(worker: Int, seq: Int) {
        val slot = worker
        val text = buildString(messageBytes) {
            append(slot).append(':').append(seq).append(':')
            while (length < messageBytes) append('x')
        }
        session.outgoing.send(Frame.Text(text))
        val echoed = replies[slot].receive()
        check(echoed == seq) { "slot $slot expected echo of $seq, got $echoed" }
    }

    override fun close() {
        runBlocking {
            withTimeoutOrNull(1_000) { session.close(CloseReason(CloseReason.Codes.NORMAL, "done")) }
            withTimeoutOrNull(1_000) { connection?.join() }
        }
        scope.cancel()
        http.close()
    }

}

private const val COLON = ':'.code.toByte()
private const val ZERO = '0'.code.toByte()

/**
 * The `slot:seq:` tag at the start of an echo message, as `slot shl 32 or seq`: parsed in place on the read loop,
 * without a String.
 */
internal fun slotSeq(data: ByteArray): Long {
    var i = 0
    var slot = 0
    while (data[i] != COLON) slot = slot * 10 + (data[i++] - ZERO)
    i++
    var seq = 0
    while (data[i] != COLON) seq = seq * 10 + (data[i++] - ZERO)
    return (slot.toLong() shl 32) or (seq.toLong() and 0xFFFF_FFFFL)
}
