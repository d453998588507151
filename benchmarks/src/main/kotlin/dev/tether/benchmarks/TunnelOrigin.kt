package dev.tether.benchmarks

import io.ktor.http.ContentType
import io.ktor.http.HttpStatusCode
import io.ktor.http.content.OutgoingContent
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.embeddedServer
import io.ktor.server.request.receiveChannel
import io.ktor.server.response.respond
import io.ktor.server.response.respondBytes
import io.ktor.server.response.respondText
import io.ktor.server.routing.get
import io.ktor.server.routing.post
import io.ktor.server.routing.routing
import io.ktor.utils.io.ByteWriteChannel
import io.ktor.utils.io.readAvailable
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.runBlocking

/**
 * The local HTTP origin the tunnel scenario exposes with `TunnelClient.forward`: Ktor CIO on 127.0.0.1 (ephemeral
 * port). `GET /small` answers [SMALL_BYTES] bytes; `GET /download?bytes=N` streams N bytes with a Content-Length;
 * `POST /upload` reads the whole body and answers its length as text.
 */
internal class TunnelOrigin : AutoCloseable {
    private val server: EmbeddedServer<*, *> = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
        routing {
            get("/small") { call.respondBytes(SMALL, ContentType.Text.Plain) }
            get("/download") {
                val total = call.request.queryParameters["bytes"]?.toLongOrNull()
                if (total == null || total < 0) {
                    call.respondText("bytes=N required\n", status = HttpStatusCode.BadRequest)
                    return@get
                }
                call.respond(object : OutgoingContent.WriteChannelContent() {
                    override val contentLength: Long = total
                    override val contentType: ContentType = ContentType.Application.OctetStream
                    override suspend fun writeTo(channel: ByteWriteChannel) {
                        var left = total
                        while (left > 0) {
                            val n = minOf(left, BLOCK.size.toLong()).toInt()
                            channel.writeFully(BLOCK, 0, n)
                            left -= n
                        }
                    }
                })
            }
            post("/upload") {
                val body = call.receiveChannel()
                val buffer = ByteArray(64 * 1024)
                var total = 0L
                while (true) {
                    val n = body.readAvailable(buffer, 0, buffer.size)
                    if (n < 0) break
                    total += n
                }
                call.respondText(total.toString())
            }
        }
    }.start(wait = false)

    val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }

    /** `http://127.0.0.1:PORT`, for `TunnelClient.forward`. */
    val url: String get() = "http://127.0.0.1:$port"

    override fun close() {
        server.stop(0, 1_000)
    }

    companion object {
        const val SMALL_BYTES = 100
        private val SMALL = ByteArray(SMALL_BYTES) { ('a'.code + it % 26).toByte() }
        private val BLOCK = ByteArray(64 * 1024) { (it % 251).toByte() }
    }
}
