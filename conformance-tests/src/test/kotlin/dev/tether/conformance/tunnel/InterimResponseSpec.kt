package dev.tether.conformance.tunnel

import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelHandler
import dev.tether.tunnel.TunnelResponse
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URI
import kotlin.concurrent.thread
import kotlin.random.Random

/** One HTTP/1.1 exchange on a fresh socket; interim 1xx heads are skipped, as curl does. */
private class RawExchange(val status: Int, val headers: Map<String, String>, val body: ByteArray)

private fun readHead(input: InputStream): String? {
    val head = ByteArrayOutputStream()
    while (true) {
        val b = input.read()
        if (b < 0) return null
        head.write(b)
        val bytes = head.toByteArray()
        if (bytes.size >= 4 && String(bytes, bytes.size - 4, 4, Charsets.ISO_8859_1) == "\r\n\r\n") {
            return String(
                bytes,
                Charsets.ISO_8859_1,
            )
        }
    }
}

private fun headers(head: String): Map<String, String> = head.split("\r\n").drop(1).filter { it.contains(':') }
    .associate { it.substringBefore(':').trim().lowercase() to it.substringAfter(':').trim() }

/** Sends a POST with `Expect: 100-continue` and its body at once (as curl does when no 100 comes within 1 s). */
private suspend fun postExpecting(url: String, body: ByteArray, expect: Boolean = true): RawExchange =
    withContext(Dispatchers.IO) {
        val uri = URI(url)
        Socket().use { s ->
            s.soTimeout = 30_000
            s.connect(InetSocketAddress(uri.host, uri.port), 10_000)
            val out = s.getOutputStream()
            val head = buildString {
                append(
                    "POST ${uri.rawPath} HTTP/1.1\r\nHost: ${uri.host}:${uri.port}\r\nContent-Length: ${body.size}\r\n",
                )
                if (expect) append("Expect: 100-continue\r\n")
                append("Connection: close\r\n\r\n")
            }
            out.write(head.toByteArray(Charsets.ISO_8859_1))
            out.write(body)
            out.flush()
            val input = s.getInputStream().buffered()
            var response = readHead(input) ?: error("no answer")
            while (response.split(
                    ' ',
                )[1].toInt() in 100..199
            ) {
                response = readHead(input) ?: error("only an interim answer")
            }
            val h = headers(response)
            val length = h["content-length"]?.toInt()
            val got = if (length != null) input.readNBytes(length) else input.readAllBytes()
            RawExchange(response.split(' ')[1].toInt(), h, got)
        }
    }

/**
 * A plain-socket origin that behaves as HTTP servers do with `Expect: 100-continue`: it answers `100 Continue`
 * before reading the body. It also sends a `103 Early Hints` before every final answer, which is legal and just
 * as fatal through the proxy. The final answer is 201 with "expect=<yes|no> bytes=<n>" and the body's hash.
 */
private class InterimOrigin : AutoCloseable {
    private val server = ServerSocket().apply { bind(InetSocketAddress("127.0.0.1", 0)) }
    val url = "http://127.0.0.1:${server.localPort}"

    init {
        thread(isDaemon = true, name = "interim-origin") {
            while (!server.isClosed) {
                val socket = runCatching { server.accept() }.getOrNull() ?: break
                thread(isDaemon = true) { socket.use { serve(it) } }
            }
        }
    }

    private fun serve(socket: Socket) {
        val input = socket.getInputStream().buffered()
        val out = socket.getOutputStream()
        val head = readHead(input) ?: return
        val h = headers(head)
        val expect = h["expect"].equals("100-continue", ignoreCase = true)
        if (expect) out.write("HTTP/1.1 100 Continue\r\n\r\n".toByteArray())
        out.flush()
        val body = input.readNBytes(h["content-length"]?.toInt() ?: 0)
        out.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n".toByteArray())
        val expected = if (expect) "yes" else "no"
        val answer = "expect=$expected bytes=${body.size} hash=${body.contentHashCode()}".toByteArray()
        out.write("HTTP/1.1 201 Created\r\nContent-Length: ${answer.size}\r\nConnection: close\r\n\r\n".toByteArray())
        out.write(answer)
        out.flush()
    }

    override fun close() = server.close()
}

/**
 * Spec §10, the `Expect: 100-continue` pitfall: the proxy takes the first response on a stream, an interim one
 * included, so the tunnel client keeps every 1xx (other than 101) out of the stream; the viewer gets the real answer.
 */
class InterimResponseSpec : FunSpec({
    test(
        "forward: a viewer's Expect: 100-continue never reaches the origin, and the origin's 1xx never reach the " +
            "viewer",
    ) {
        InterimOrigin().use { origin ->
            TunnelSubject.open().use { proxy ->
                TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                    coroutineScope {
                        val forwarding = launch { client.forward(origin.url) }
                        for (size in listOf(0, 10, 2 shl 20)) {
                            val body = Random(size).nextBytes(size)
                            val answer = postExpecting("${client.url}/upload", body)
                            answer.status shouldBe 201
                            answer.body.decodeToString() shouldBe "expect=no bytes=$size hash=${body.contentHashCode()}"
                        }
                        // Without Expect the origin's 103 alone would have been the viewer's answer.
                        val plain = postExpecting("${client.url}/upload", byteArrayOf(1, 2, 3), expect = false)
                        plain.status shouldBe 201
                        forwarding.cancel()
                    }
                }
            }
        }
    }

    test(
        "in-process: the handler never sees Expect: 100-continue and the viewer gets its answer; a 1xx answer " +
            "becomes 500",
    ) {
        TunnelSubject.open().use { proxy ->
            TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                coroutineScope {
                    val serving = launch {
                        client.serve(
                            TunnelHandler { request ->
                                if (request.path == "/interim") {
                                    TunnelResponse(100)
                                } else {
                                    val expectHeader = request.header("Expect") ?: "none"
                                    TunnelResponse(201, "expect=$expectHeader bytes=${request.body.size}".toByteArray())
                                }
                            },
                        )
                    }
                    val answer = postExpecting("${client.url}/upload", ByteArray(2 shl 20) { it.toByte() })
                    answer.status shouldBe 201
                    answer.body.decodeToString() shouldBe "expect=none bytes=${2 shl 20}"
                    postExpecting("${client.url}/interim", byteArrayOf(1)).status shouldBe 500
                    serving.cancel()
                }
            }
        }
    }
})
