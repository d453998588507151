package dev.tether.testkit.tunnel

import dev.tether.core.InternalTetherApi
import dev.tether.mux.Stream
import dev.tether.mux.toByteWriteChannel
import dev.tether.tunnel.StreamReader
import dev.tether.tunnel.TunnelFlavour
import io.ktor.http.ContentType
import io.ktor.http.Headers
import io.ktor.http.HttpHeaders
import io.ktor.http.HttpStatusCode
import io.ktor.http.content.OutgoingContent
import io.ktor.server.application.ApplicationCall
import io.ktor.server.request.header
import io.ktor.server.request.httpMethod
import io.ktor.server.request.receiveChannel
import io.ktor.server.response.respond
import io.ktor.server.response.respondText
import io.ktor.server.websocket.WebSocketUpgrade
import io.ktor.utils.io.ByteWriteChannel
import io.ktor.utils.io.readAvailable
import io.ktor.utils.io.writeFully
import io.ktor.utils.io.writer
import io.ktor.websocket.Frame
import io.ktor.websocket.RawWebSocket
import io.ktor.websocket.WebSocketChannelsConfig
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.cancel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch

private const val MAX_LINE = 16 * 1024
private val log = org.slf4j.LoggerFactory.getLogger("dev.tether.testkit.tunnel.Viewers")
private val HOP_BY_HOP = setOf("connection", "transfer-encoding", "content-length", "keep-alive", "upgrade")

/** A parsed HTTP/1.1 response head read from a stream. */
@OptIn(InternalTetherApi::class)
private class ResponseHead(val status: Int, val headers: List<Pair<String, String>>) {
    fun header(name: String): String? = headers.firstOrNull { it.first.equals(name, ignoreCase = true) }?.second

    companion object {
        suspend fun read(reader: StreamReader): ResponseHead? {
            val statusLine = reader.readLine(MAX_LINE) ?: return null
            val parts = statusLine.split(' ', limit = 3)
            if (parts.size < 2 || !parts[0].startsWith("HTTP/1.")) return null
            val status = parts[1].toIntOrNull() ?: return null
            val headers = ArrayList<Pair<String, String>>()
            while (true) {
                val line = reader.readLine(MAX_LINE) ?: return null
                if (line.isEmpty()) break
                val colon = line.indexOf(':')
                if (colon <= 0) return null
                headers += line.substring(0, colon).trim() to line.substring(colon + 1).trim()
            }
            return ResponseHead(status, headers)
        }
    }
}

/** Writes the viewer's request head with the proxy's rewrites: forwarded target, Host kept, original path added. */
private fun requestHead(
    call: ApplicationCall,
    method: String,
    target: String,
    originalPath: String,
    flavour: TunnelFlavour,
    skip: Set<String>,
    extra: List<String>,
): String {
    val head = StringBuilder()
    head.append(method).append(' ').append(target).append(" HTTP/1.1\r\n")
    head.append("Host: ").append(call.request.header(HttpHeaders.Host) ?: "").append("\r\n")
    for (line in extra) head.append(line).append("\r\n")
    for ((name, values) in call.request.headers.entries()) {
        val lower = name.lowercase()
        if (lower == "host" || lower in skip || lower == flavour.originalPathHeader.lowercase()) continue
        for (v in values) head.append(name).append(": ").append(v).append("\r\n")
    }
    head.append(flavour.originalPathHeader).append(": ").append(originalPath).append("\r\n\r\n")
    return head.toString()
}

/**
 * §10 plain HTTP: request through the stream (the viewer's `Expect` included, as the real proxy forwards it), the
 * first response head read back taken as the response (a 1xx gives the viewer an empty 200, as it does through the
 * real proxy), the body streamed back with flushes, then FIN (by the caller).
 */
@OptIn(InternalTetherApi::class)
internal class ViewerHttp(
    private val call: ApplicationCall,
    private val stream: Stream,
    private val target: String,
    private val originalPath: String,
    private val flavour: TunnelFlavour,
) {
    suspend fun run() {
        val length = call.request.header(HttpHeaders.ContentLength)
        val chunked = call.request.header(HttpHeaders.TransferEncoding)?.contains("chunked", ignoreCase = true) == true
        val extra = if (chunked) listOf("Transfer-Encoding: chunked") else emptyList()
        // An h2c upgrade offer (JDK HttpClient's default) is not forwarded: the tunnel speaks HTTP/1.1 only.
        val skip = setOf("transfer-encoding", "connection", "upgrade", "http2-settings")
        val head = requestHead(call, call.request.httpMethod.value, target, originalPath, flavour, skip, extra)
        stream.write(head.toByteArray(Charsets.ISO_8859_1))
        val declared = length?.toLongOrNull()
        if (declared != null || chunked) {
            val body = call.receiveChannel()
            val buffer = ByteArray(32 * 1024)
            // Copy exactly the declared length: with an upgrade offer the engine's body channel does not end there.
            var left = declared ?: Long.MAX_VALUE
            while (left > 0) {
                val n = body.readAvailable(buffer, 0, minOf(buffer.size.toLong(), left).toInt())
                if (n < 0) break
                if (n == 0) continue
                left -= n
                if (chunked) stream.write("${Integer.toHexString(n)}\r\n".toByteArray())
                stream.write(buffer, 0, n)
                if (chunked) stream.write("\r\n".toByteArray())
            }
            if (chunked) stream.write("0\r\n\r\n".toByteArray())
        }
        log.debug("stream {}: request written", stream.id)
        val reader = StreamReader(stream)
        val response = ResponseHead.read(reader)
        log.debug("stream {}: response head {}", stream.id, response?.status)
        if (response == null) {
            call.respondText(
                "the tunnel client sent no valid HTTP response\n",
                status = HttpStatusCode.InternalServerError,
            )
            return
        }
        if (response.status in 100..199) {
            // The real proxy's http.ReadResponse takes the first head, an interim 1xx included, for the response: the
            // viewer gets that 1xx and then an empty 200, and the real answer is lost (spec §10, Expect pitfall).
            log.info(
                "stream {}: the tunnel client wrote the interim status {} first; relayed as the real proxy does",
                stream.id,
                response.status,
            )
            call.respond(HttpStatusCode.OK, "")
            return
        }
        val responseLength = response.header(HttpHeaders.ContentLength)?.toLongOrNull()
        val responseChunked =
            response.header(HttpHeaders.TransferEncoding)?.contains("chunked", ignoreCase = true) == true
        call.respond(object : OutgoingContent.WriteChannelContent() {
            override val status: HttpStatusCode = HttpStatusCode.fromValue(response.status)
            override val contentLength: Long? = if (responseChunked) null else responseLength
            override val contentType: ContentType? =
                response.header(HttpHeaders.ContentType)?.let { runCatching { ContentType.parse(it) }.getOrNull() }
            override val headers: Headers = Headers.build {
                for ((name, value) in response.headers) {
                    val lower = name.lowercase()
                    if (lower in HOP_BY_HOP || lower == "content-type") continue
                    append(name, value)
                }
            }

            override suspend fun writeTo(channel: ByteWriteChannel) {
                when {
                    responseChunked -> while (true) {
                        val size = reader.readLine(MAX_LINE)?.substringBefore(';')?.trim()?.toIntOrNull(16) ?: break
                        if (size == 0) break
                        val data = reader.readFully(size) ?: break
                        channel.writeFully(data)
                        channel.flush()
                        reader.readLine(2)
                    }

                    responseLength != null -> {
                        var left = responseLength
                        while (left > 0) {
                            val piece = reader.readSome(minOf(left, 64L * 1024).toInt()) ?: break
                            channel.writeFully(piece)
                            channel.flush()
                            left -= piece.size
                        }
                    }

                    else -> while (true) { // no framing: the body runs to the client's FIN
                        val piece = reader.readSome(64 * 1024) ?: break
                        channel.writeFully(piece)
                        channel.flush()
                    }
                }
            }
        })
    }
}

/**
 * §10 WebSocket viewers: a client handshake over the stream to the tunnel client's server, then message-by-message
 * relay (type kept, pings and pongs forwarded, close frames not). A failed handshake gives the viewer an empty 200.
 */
@OptIn(InternalTetherApi::class)
internal class ViewerWebSocket(
    private val call: ApplicationCall,
    private val stream: Stream,
    private val target: String,
    private val originalPath: String,
    private val flavour: TunnelFlavour,
) {
    suspend fun run() {
        val extra = mutableListOf(
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: ${newWebSocketKey()}",
            "Sec-WebSocket-Version: 13",
        )
        call.request.header(HttpHeaders.SecWebSocketProtocol)?.let { extra += "Sec-WebSocket-Protocol: $it" }
        val skip = setOf(
            "upgrade",
            "connection",
            "sec-websocket-key",
            "sec-websocket-version",
            "sec-websocket-extensions",
            "sec-websocket-protocol",
        )
        val head = requestHead(call, "GET", target, originalPath, flavour, skip, extra)
        stream.write(head.toByteArray(Charsets.ISO_8859_1))
        val reader = StreamReader(stream)
        val response = ResponseHead.read(reader)
        if (response == null || response.status != 101) {
            call.respond(HttpStatusCode.OK, "") // what the real proxy does
            return
        }
        val leftover = reader.drainBuffered()
        call.respond(
            WebSocketUpgrade(call, response.header(HttpHeaders.SecWebSocketProtocol)) {
                val viewer = this
                coroutineScope {
                    val relayJob = Job(coroutineContext[Job])
                    val relayScope = CoroutineScope(coroutineContext + relayJob)
                    val input = relayScope.writer {
                        if (leftover.isNotEmpty()) channel.writeFully(leftover)
                        channel.flush()
                        while (true) {
                            val piece = reader.readSome(64 * 1024) ?: break
                            channel.writeFully(piece)
                            channel.flush()
                        }
                    }.channel
                    val origin = RawWebSocket(
                        input,
                        stream.toByteWriteChannel(relayScope),
                        Int.MAX_VALUE.toLong(),
                        true,
                        relayScope.coroutineContext,
                        WebSocketChannelsConfig.UNLIMITED,
                    )
                    val up = launch {
                        for (frame in viewer.incoming) {
                            if (frame is Frame.Close) break
                            origin.outgoing.send(copy(frame))
                        }
                    }
                    try {
                        for (frame in origin.incoming) {
                            if (frame is Frame.Close) break
                            viewer.outgoing.send(copy(frame))
                        }
                    } finally {
                        up.cancel()
                        origin.cancel()
                        relayJob.cancel()
                    }
                }
            },
        )
    }

    private fun copy(frame: Frame): Frame =
        Frame.byType(frame.fin, frame.frameType, frame.data, frame.rsv1, frame.rsv2, frame.rsv3)
}
