package dev.tether.benchmarks

import dev.tether.wsclient.Envelope
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
import java.util.concurrent.ConcurrentHashMap

/**
 * One WebSocket made with the same Ktor pieces the dialer uses (CIO engine, WebSockets plugin, raw client session, a
 * bounded outgoing queue of 64 frames) and nothing of Tether: the transport of the baseline clients. [read] is the
 * read loop; it runs in Ktor's context (the IO pool) unless [readerDispatcher] is given. [onFailure] hears why the
 * socket could not open or failed.
 */
internal class RawSocket(
    private val url: String,
    private val readerDispatcher: CoroutineDispatcher?,
    private val onFailure: (Throwable) -> Unit,
    private val read: suspend (ClientWebSocketSession) -> Unit,
) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private val http = HttpClient(CIO) {
        install(WebSockets) {
            maxFrameSize = 1L shl 20
            channels { outgoing = bounded(64) }
        }
        engine { requestTimeout = 0 }
    }
    lateinit var session: ClientWebSocketSession
        private set
    private var connection: Job? = null

    suspend fun open() {
        val opened = CompletableDeferred<ClientWebSocketSession>()
        connection = scope.launch {
            try {
                http.prepareRequest { url(this@RawSocket.url) }.body<ClientWebSocketSession, Unit> { s ->
                    opened.complete(s)
                    if (readerDispatcher == null) read(s) else withContext(readerDispatcher) { read(s) }
                }
            } catch (e: Throwable) {
                opened.completeExceptionally(e)
                onFailure(e)
            }
        }
        session = withTimeout(10_000) { opened.await() }
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

/**
 * The baseline client over [RawSocket]. One connection; [inFlight] slots, each with one message outstanding at a
 * time. A message is `slot:seq:` padded with `x` to [messageBytes]; the single reader routes each echo to its slot by
 * the slot number and checks the sequence number.
 */
internal class RawEchoClient(
    url: String,
    inFlight: Int,
    private val messageBytes: Int,
    /** Where the read loop runs: Ktor's own context (the IO pool, the plain baseline), or a dispatcher given here. */
    readerDispatcher: CoroutineDispatcher? = null,
) : LoadTarget {
    private val replies = Array(inFlight) { Channel<Int>(1) }
    private val socket = RawSocket(url, readerDispatcher, { e -> for (r in replies) r.close(e) }) { s ->
        for (frame in s.incoming) {
            if (frame !is Frame.Text) continue
            val tag = slotSeq(frame.data)
            replies[(tag ushr 32).toInt()].send(tag.toInt())
        }
    }

    suspend fun open() = socket.open()

    /** One round trip for [slot]: send, then wait for its own echo. */
    override suspend fun roundTrip(worker: Int, seq: Int) {
        val slot = worker
        val text = buildString(messageBytes) {
            append(slot).append(':').append(seq).append(':')
            while (length < messageBytes) append('x')
        }
        socket.session.outgoing.send(Frame.Text(text))
        val echoed = replies[slot].receive()
        check(echoed == seq) { "slot $slot expected echo of $seq, got $echoed" }
    }

    override fun close() = socket.close()
}

/**
 * The least a correlating JSON client must do, over [RawSocket] and without wsclient's machinery: each round trip
 * builds and encodes a request envelope (ULID id, time stamp) with wsclient's own codec, records its id in a
 * concurrent map, and the read loop decodes every reply and finds its caller by `in_reply_to`. No reconnects, pending
 * bookkeeping, timeouts, send pump or handler queue. Against `/envelope-echo` it marks how close to the raw echo any
 * client of this protocol can come on this stack; wsclient is measured beside it.
 */
internal class EnvelopeEchoClient(url: String, inFlight: Int) : LoadTarget {
    private val replies = Array(inFlight) { Channel<Envelope>(1) }
    private val waiting = ConcurrentHashMap<String, Int>()
    private val socket = RawSocket(url, Dispatchers.Default, { e -> for (r in replies) r.close(e) }) { s ->
        for (frame in s.incoming) {
            if (frame !is Frame.Text) continue
            val reply = Envelope.decode(frame.data.decodeToString())
            val slot = reply.inReplyTo?.let { waiting.remove(it) } ?: continue
            replies[slot].send(reply)
        }
    }

    suspend fun open() = socket.open()

    override suspend fun roundTrip(worker: Int, seq: Int) {
        val payload = EndToEnd.echoPayload(seq, worker)
        val request = Envelope.request("echo", payload)
        waiting[request.id!!] = worker
        socket.session.outgoing.send(Frame.Text(request.encode()))
        val reply = replies[worker].receive()
        check(reply.kind == "echo.result" && reply.payload == payload) { "unexpected reply $reply" }
    }

    override fun close() = socket.close()
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
