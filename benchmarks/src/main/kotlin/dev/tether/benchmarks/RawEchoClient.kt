package dev.tether.benchmarks

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WsMessage
import dev.tether.wsclient.Envelope
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap

/**
 * One WebSocket on Tether's own transport (`WebSocketDialer`, the default Netty transport, client pings off) with
 * nothing of a protocol: the transport of the baseline clients. [read] is the read loop over
 * [WebSocketConnection.incoming]; it runs on the connection's I/O thread unless [readerDispatcher] is given.
 * [onFailure] hears why the read loop failed.
 */
internal class RawSocket(
    private val url: String,
    private val readerDispatcher: CoroutineDispatcher?,
    private val onFailure: (Throwable) -> Unit,
    private val read: suspend (WebSocketConnection) -> Unit,
) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    lateinit var connection: WebSocketConnection
        private set
    private var reader: Job? = null

    suspend fun open() {
        val c = WebSocketDialer(
            DialerConfig(url) {
                maxMessageBytes(1L shl 20)
                pingInterval(Duration.ZERO)
            },
        ).dial()
        connection = c
        reader = scope.launch(readerDispatcher ?: c.dispatcher) {
            try {
                read(c)
            } catch (e: Throwable) {
                onFailure(e)
            }
        }
    }

    override fun close() {
        if (::connection.isInitialized) {
            runBlocking {
                withTimeoutOrNull(1_000) { connection.close(reason = "done") }
                withTimeoutOrNull(1_000) { reader?.join() }
            }
        }
        scope.cancel()
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
    /** Where the read loop runs: the connection's I/O thread (the plain baseline), or a dispatcher given here. */
    readerDispatcher: CoroutineDispatcher? = null,
) : LoadTarget {
    private val replies = Array(inFlight) { Channel<Int>(1) }
    private val socket = RawSocket(url, readerDispatcher, { e -> for (r in replies) r.close(e) }) { s ->
        for (m in s.incoming) {
            if (m !is WsMessage.Text) continue
            val tag = slotSeq(m.text)
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
        socket.connection.send(text)
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
        for (m in s.incoming) {
            if (m !is WsMessage.Text) continue
            val reply = Envelope.decode(m.text)
            val slot = reply.inReplyTo?.let { waiting.remove(it) } ?: continue
            replies[slot].send(reply)
        }
    }

    suspend fun open() = socket.open()

    override suspend fun roundTrip(worker: Int, seq: Int) {
        val payload = EndToEnd.echoPayload(seq, worker)
        val request = Envelope.request("echo", payload)
        waiting[request.id!!] = worker
        socket.connection.send(request.encode())
        val reply = replies[worker].receive()
        check(reply.kind == "echo.result" && reply.payload == payload) { "unexpected reply $reply" }
    }

    override fun close() = socket.close()
}

private const val COLON = ':'.code.toByte()
private const val ZERO = '0'.code.toByte()

/** [slotSeq] of a text message. */
internal fun slotSeq(text: String): Long {
    var i = 0
    var slot = 0
    while (text[i] != ':') slot = slot * 10 + (text[i++] - '0')
    i++
    var seq = 0
    while (text[i] != ':') seq = seq * 10 + (text[i++] - '0')
    return (slot.toLong() shl 32) or (seq.toLong() and 0xFFFF_FFFFL)
}

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
