package dev.tether.tunnel

import dev.tether.core.InternalTetherApi
import java.io.ByteArrayOutputStream

/**
 * Reads one viewer request as the proxy writes it onto a stream (specs/webhooktunnel.md §10): an HTTP/1.1 head,
 * then a body framed by Content-Length or chunked encoding. The proxy does not FIN after the request, so the
 * framing alone says where it ends.
 *
 * Every size is bounded: a line by [maxLine] ([LineTooLongException]), the header and trailer sections by
 * [maxHead] (431), the body by [maxBodyBytes] (413). Anything malformed is a [BadRequestException] carrying the
 * status to answer with.
 */
@OptIn(InternalTetherApi::class)
internal class HttpRequestReader(
    private val reader: StreamReader,
    private val flavour: TunnelFlavour,
    private val maxBodyBytes: Int,
    private val maxLine: Int = MAX_LINE,
    private val maxHead: Int = MAX_HEAD,
) {
    /** The request, or null when the stream ended before its first byte. */
    suspend fun read(): TunnelRequest? {
        val head = readHead() ?: return null
        return readBody(head)
    }

    /**
     * The request line and the headers, or null when the stream ended before its first byte: the part a viewer
     * must send within [TunnelConfig.requestHeadTimeout].
     */
    suspend fun readHead(): RequestHead? {
        val requestLine = reader.readLine(maxLine) ?: return null
        val parts = requestLine.split(' ')
        if (parts.size != 3 || parts[0].isEmpty() || parts[1].isEmpty() || !parts[2].startsWith("HTTP/1.")) {
            throw BadRequestException(400, "malformed request line")
        }
        val headers = LinkedHashMap<String, MutableList<String>>()
        var headerBytes = 0
        while (true) {
            val line = reader.readLine(maxLine) ?: throw BadRequestException(400, "the request head ended early")
            if (line.isEmpty()) break
            headerBytes += line.length
            if (headerBytes > maxHead) throw BadRequestException(431, "request headers too large")
            val colon = line.indexOf(':')
            if (colon <= 0) throw BadRequestException(400, "malformed header line")
            // The body follows anyway (the proxy does not wait for a 100): the handler has nothing to answer here.
            if (InterimResponses.isExpectContinue(line.substring(0, colon), line.substring(colon + 1))) continue
            headers.getOrPut(line.substring(0, colon).trim()) { ArrayList(1) }.add(line.substring(colon + 1).trim())
        }
        return RequestHead(parts[0], parts[1], headers)
    }

    /** The body [head] announces, and with it the whole request. */
    suspend fun readBody(head: RequestHead): TunnelRequest {
        fun header(name: String) =
            head.headers.entries.firstOrNull { it.key.equals(name, ignoreCase = true) }?.value?.firstOrNull()
        val body = when {
            header("Transfer-Encoding")?.contains("chunked", ignoreCase = true) == true -> readChunked()

            header("Content-Length") != null -> {
                val length = header("Content-Length")!!.toLongOrNull()
                    ?: throw BadRequestException(400, "bad Content-Length")
                if (length < 0) throw BadRequestException(400, "bad Content-Length")
                if (length > maxBodyBytes) throw BadRequestException(413, "request body over $maxBodyBytes bytes")
                reader.readFully(length.toInt()) ?: throw BadRequestException(400, "the request body ended early")
            }

            else -> ByteArray(0)
        }
        return TunnelRequest(head.method, head.target, head.headers, body, header(flavour.originalPathHeader))
    }

    private suspend fun readChunked(): ByteArray {
        val out = ByteArrayOutputStream()
        while (true) {
            val sizeLine = reader.readLine(maxLine) ?: throw BadRequestException(400, "the chunked body ended early")
            val size = sizeLine.substringBefore(';').trim().toIntOrNull(16)
                ?: throw BadRequestException(400, "bad chunk size")
            if (size < 0) throw BadRequestException(400, "bad chunk size")
            if (size == 0) break
            if (out.size().toLong() + size > maxBodyBytes) {
                throw BadRequestException(413, "request body over $maxBodyBytes bytes")
            }
            out.write(reader.readFully(size) ?: throw BadRequestException(400, "the chunked body ended early"))
            if (reader.readLine(2) != "") throw BadRequestException(400, "missing CRLF after a chunk")
        }
        var trailerBytes = 0
        while (true) { // trailers: read past, bounded like the headers
            val line = reader.readLine(maxLine) ?: break
            if (line.isEmpty()) break
            trailerBytes += line.length
            if (trailerBytes > maxHead) throw BadRequestException(431, "request trailers too large")
        }
        return out.toByteArray()
    }

    internal companion object {
        /** Longest request, header, chunk-size or trailer line. */
        const val MAX_LINE = 16 * 1024

        /** Most bytes of header lines (and, separately, of trailer lines). */
        const val MAX_HEAD = 64 * 1024
    }
}

/** A request line and its headers, read; the body not yet. */
internal class RequestHead(val method: String, val target: String, val headers: Map<String, List<String>>)

/** A request the client cannot serve as sent; answered with [status] and the message, then the stream ends. */
internal class BadRequestException(val status: Int, message: String) : Exception(message)
