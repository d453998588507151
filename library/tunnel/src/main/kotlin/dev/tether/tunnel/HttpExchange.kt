package dev.tether.tunnel

import dev.tether.core.InternalTetherApi
import dev.tether.mux.Stream
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.time.Duration
import java.util.concurrent.atomic.LongAdder
import kotlin.coroutines.CoroutineContext

/**
 * One viewer request on one stream, answered by a [TunnelHandler]: the proxy writes an HTTP/1.1 request (head,
 * then a body framed by Content-Length or chunked encoding; it does not FIN after it, spec §10), reads one
 * response, then FINs. We answer with a Content-Length response and FIN; never with an interim 1xx, which the proxy
 * would take for the response (`Expect: 100-continue` is dropped before the handler sees the request). A request
 * head that has not arrived within [Timeouts.head], or a body that has not followed it within [Timeouts.body], is
 * answered `408 Request Timeout` (the proxy relays any final response it reads, spec §10), and the stream is closed.
 */
@OptIn(InternalTetherApi::class)
internal class HttpExchange(
    private val stream: Stream,
    private val flavour: TunnelFlavour,
    private val maxBodyBytes: Int,
    private val timeouts: Timeouts,
    private val counters: TunnelStats.Counters,
) {
    /** The request head's bound from the stream's start, and the body's from the end of the head. */
    class Timeouts(val head: Duration, val body: Duration)

    private val requests = HttpRequestReader(StreamReader(stream), flavour, maxBodyBytes)

    /**
     * Reads the request, runs [handler] in [handlerContext] (where it may block, unless the user chose otherwise),
     * answers.
     */
    suspend fun serve(handler: TunnelHandler, handlerContext: CoroutineContext) {
        val request = try {
            var timedOut = true
            val head = withTimeoutOrNull(timeouts.head.toMillis()) { requests.readHead().also { timedOut = false } }
            if (timedOut) {
                requestTimedOut(timeouts.head, "head", counters.requestHeadTimeouts)
                return
            }
            if (head == null) return // the proxy gave up before sending anything
            // readBody never returns null: null is the timeout.
            withTimeoutOrNull(timeouts.body.toMillis()) { requests.readBody(head) } ?: run {
                requestTimedOut(timeouts.body, "body", counters.requestBodyTimeouts)
                return
            }
        } catch (e: BadRequestException) {
            counters.badRequests.increment()
            log.info("bad request on tunnel stream {}: {}", stream.id, e.message)
            respond(TunnelResponse(e.status, (e.message ?: "bad request").toByteArray()))
            return
        } catch (e: LineTooLongException) {
            counters.badRequests.increment()
            respond(TunnelResponse(431, (e.message ?: "line too long").toByteArray()))
            return
        }
        log.debug("stream {}: {} {} with {} body bytes", stream.id, request.method, request.target, request.body.size)
        if (request.header("Upgrade").equals("websocket", ignoreCase = true)) {
            respond(TunnelResponse.text("WebSocket viewers need TunnelClient.forward to a local server\n", 501))
            return
        }
        val response = try {
            withContext(handlerContext) { handler.handle(request) }
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            counters.handlerErrors.increment()
            log.warn("tunnel handler failed on {} {}", request.method, request.path, e)
            respond(TunnelResponse.text("handler failed\n", 500))
            return
        }
        if (response.status < 200) {
            counters.handlerErrors.increment()
            // The proxy would relay a 1xx as the whole answer (spec §10): never let one into the stream.
            log.warn(
                "tunnel handler answered {} {} with the interim status {}; the viewer gets 500",
                request.method,
                request.path,
                response.status,
            )
            respond(TunnelResponse.text("handler answered with the interim status ${response.status}\n", 500))
            return
        }
        counters.requestsAnswered.increment()
        respond(response)
    }

    /** The viewer took longer than [limit] to send its request's [part]: 408, and the stream is closed (FIN). */
    private suspend fun requestTimedOut(limit: Duration, part: String, count: LongAdder) {
        val millis = limit.toMillis()
        count.increment()
        log.info("tunnel stream {}: the request {} did not arrive within {} ms; answering 408", stream.id, part, millis)
        respond(TunnelResponse.text("the request $part did not arrive within $millis ms\n", 408))
    }

    private suspend fun respond(response: TunnelResponse) {
        val head = StringBuilder()
        head.append("HTTP/1.1 ").append(response.status).append(' ').append(reason(response.status)).append("\r\n")
        for ((name, value) in response.headers) {
            val framing = name.equals("Content-Length", true) || name.equals("Transfer-Encoding", true) ||
                name.equals("Connection", true)
            if (framing) continue
            require(name.none { it == '\r' || it == '\n' } && value.none { it == '\r' || it == '\n' }) {
                "header $name holds a line break"
            }
            head.append(name).append(": ").append(value).append("\r\n")
        }
        head.append("Content-Length: ").append(response.body.size).append("\r\n")
        head.append("Connection: close\r\n\r\n")
        stream.write(head.toString().toByteArray(Charsets.ISO_8859_1))
        if (response.body.isNotEmpty()) stream.write(response.body)
        stream.close()
        log.debug("stream {}: answered {} with {} body bytes", stream.id, response.status, response.body.size)
    }

    private companion object {
        private val log = LoggerFactory.getLogger(HttpExchange::class.java)

        fun reason(status: Int): String = when (status) {
            200 -> "OK"
            201 -> "Created"
            202 -> "Accepted"
            204 -> "No Content"
            301 -> "Moved Permanently"
            302 -> "Found"
            304 -> "Not Modified"
            400 -> "Bad Request"
            401 -> "Unauthorized"
            403 -> "Forbidden"
            404 -> "Not Found"
            405 -> "Method Not Allowed"
            408 -> "Request Timeout"
            413 -> "Content Too Large"
            431 -> "Request Header Fields Too Large"
            500 -> "Internal Server Error"
            501 -> "Not Implemented"
            502 -> "Bad Gateway"
            503 -> "Service Unavailable"
            else -> "Status"
        }
    }
}

/**
 * Buffered reads of lines and exact byte counts from a stream (HTTP/1.1 heads and bodies). Shared with the
 * testkit's proxy; not part of the supported API.
 */
@InternalTetherApi
public class StreamReader internal constructor(private val source: suspend (ByteArray, Int, Int) -> Int) {
    /** Reads [stream]. */
    public constructor(stream: Stream) : this({ buffer, offset, length -> stream.read(buffer, offset, length) })

    private val buffer = ByteArray(8192)
    private var pos = 0
    private var limit = 0

    /** Up to [max] bytes: what is buffered, else one read of the stream; null at EOF. */
    public suspend fun readSome(max: Int): ByteArray? {
        if (pos == limit && !fill()) return null
        val take = minOf(max, limit - pos)
        return buffer.copyOfRange(pos, pos + take).also { pos += take }
    }

    /** Bytes buffered beyond what was read so far (handed on when the stream changes protocol). */
    public fun drainBuffered(): ByteArray = buffer.copyOfRange(pos, limit).also { pos = limit }

    private suspend fun fill(): Boolean {
        val n = source(buffer, 0, buffer.size)
        if (n < 0) return false
        pos = 0
        limit = n
        return true
    }

    /** The next line without its CRLF (a bare LF is accepted), or null at EOF before any byte. */
    public suspend fun readLine(max: Int): String? {
        val line = StringBuilder()
        while (true) {
            if (pos == limit && !fill()) return if (line.isEmpty()) null else line.toString()
            val b = buffer[pos++].toInt() and 0xFF
            if (b == '\n'.code) {
                if (line.isNotEmpty() && line[line.length - 1] == '\r') line.setLength(line.length - 1)
                return line.toString()
            }
            line.append(b.toChar())
            if (line.length > max + 1) throw LineTooLongException(max)
        }
    }

    /** Exactly [n] bytes, or null when the stream ends first. */
    public suspend fun readFully(n: Int): ByteArray? {
        val out = ByteArray(n)
        var got = 0
        while (got < n) {
            if (pos == limit && !fill()) return null
            val take = minOf(n - got, limit - pos)
            System.arraycopy(buffer, pos, out, got, take)
            pos += take
            got += take
        }
        return out
    }
}

/** A request line or header line over the limit; answered 431, never seen by users. */
internal class LineTooLongException(max: Int) : Exception("line longer than $max bytes")
