package dev.tether.benchmarks

import java.io.BufferedInputStream
import java.io.BufferedOutputStream
import java.io.EOFException
import java.io.IOException
import java.net.InetSocketAddress
import java.net.Socket
import java.net.URI
import javax.net.ssl.SSLSocketFactory

/**
 * A minimal blocking HTTP/1.1 viewer on one keep-alive connection (plain or TLS) to the proxy: it writes request
 * heads itself and reads responses with Content-Length or chunked bodies, so its own cost stays far below the
 * tunnel's. [base] is the tunnel's public URL; request paths are appended to its path.
 */
internal class HttpViewer(base: URI, timeoutMillis: Int = 60_000) : AutoCloseable {
    private val tls = base.scheme.equals("https", ignoreCase = true) || base.scheme.equals("wss", ignoreCase = true)
    private val remotePort = if (base.port >= 0) {
        base.port
    } else if (tls) {
        443
    } else {
        80
    }
    private val hostHeader = if (base.port >= 0) "${base.host}:${base.port}" else base.host
    private val prefix = (base.rawPath ?: "").trimEnd('/')
    private val socket: Socket = (if (tls) SSLSocketFactory.getDefault().createSocket() else Socket()).apply {
        tcpNoDelay = true
        soTimeout = timeoutMillis
        connect(InetSocketAddress(base.host, remotePort), timeoutMillis)
    }
    private val input = BufferedInputStream(socket.getInputStream(), 64 * 1024)
    private val output = BufferedOutputStream(socket.getOutputStream(), 64 * 1024)
    private val line = StringBuilder()

    /** Status and framing of a response. */
    class Head(val status: Int, val contentLength: Long, val chunked: Boolean)

    /** Writes a request head ([contentLength] null: no body) and flushes. */
    fun sendHead(method: String, path: String, contentLength: Long? = null) {
        val head = buildString {
            append(method).append(' ').append(prefix).append(path).append(" HTTP/1.1\r\n")
            append("Host: ").append(hostHeader).append("\r\n")
            if (contentLength != null) append("Content-Length: ").append(contentLength).append("\r\n")
            append("\r\n")
        }
        output.write(head.toByteArray(Charsets.ISO_8859_1))
        output.flush()
    }

    fun write(bytes: ByteArray, offset: Int, length: Int) = output.write(bytes, offset, length)

    fun flush() = output.flush()

    fun readHead(): Head {
        val status = readLine().split(' ').getOrNull(1)?.toIntOrNull() ?: throw IOException("bad status line")
        var length = -1L
        var chunked = false
        while (true) {
            val l = readLine()
            if (l.isEmpty()) break
            val colon = l.indexOf(':')
            if (colon <= 0) continue
            val name = l.substring(0, colon).trim()
            val value = l.substring(colon + 1).trim()
            if (name.equals("Content-Length", ignoreCase = true)) length = value.toLong()
            if (name.equals(
                    "Transfer-Encoding",
                    ignoreCase = true,
                ) && value.contains("chunked", ignoreCase = true)
            ) {
                chunked = true
            }
        }
        return Head(status, length, chunked)
    }

    /** Reads exactly [length] bytes into [into]. */
    fun readFully(into: ByteArray, length: Int) {
        var got = 0
        while (got < length) {
            val n = input.read(into, got, length - got)
            if (n < 0) throw EOFException("response body ended early")
            got += n
        }
    }

    /** Reads and drops the body [head] announces; returns its size. */
    fun skipBody(head: Head, scratch: ByteArray): Long {
        if (head.chunked) {
            var total = 0L
            while (true) {
                val size = readLine().substringBefore(';').trim().toLong(16)
                if (size == 0L) {
                    while (readLine().isNotEmpty()) continue // trailers
                    return total
                }
                skip(size, scratch)
                readLine()
                total += size
            }
        }
        require(head.contentLength >= 0) { "a response without length or chunks cannot be kept alive" }
        skip(head.contentLength, scratch)
        return head.contentLength
    }

    /** Reads the whole body of [head] as text (small answers only). */
    fun readText(head: Head): String {
        val out = java.io.ByteArrayOutputStream()
        val scratch = ByteArray(8192)
        if (head.chunked) {
            while (true) {
                val size = readLine().substringBefore(';').trim().toInt(16)
                if (size == 0) {
                    while (readLine().isNotEmpty()) continue
                    break
                }
                val b = ByteArray(size).also { readFully(it, size) }
                out.write(b)
                readLine()
            }
        } else {
            var left = head.contentLength
            while (left > 0) {
                val n = minOf(left, scratch.size.toLong()).toInt()
                readFully(scratch, n)
                out.write(scratch, 0, n)
                left -= n
            }
        }
        return out.toString(Charsets.UTF_8)
    }

    private fun skip(length: Long, scratch: ByteArray) {
        var left = length
        while (left > 0) {
            val n = input.read(scratch, 0, minOf(left, scratch.size.toLong()).toInt())
            if (n < 0) throw EOFException("response body ended early")
            left -= n
        }
    }

    private fun readLine(): String {
        line.setLength(0)
        while (true) {
            val c = input.read()
            if (c < 0) throw EOFException("connection closed in a response head")
            if (c == '\n'.code) break
            if (c != '\r'.code) line.append(c.toChar())
        }
        return line.toString()
    }

    override fun close() {
        runCatching { socket.close() }
    }
}
