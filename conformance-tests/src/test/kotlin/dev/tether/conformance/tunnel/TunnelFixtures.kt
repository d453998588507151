package dev.tether.conformance.tunnel

import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.embeddedServer
import io.ktor.server.request.receive
import io.ktor.server.request.uri
import io.ktor.server.response.respondBytes
import io.ktor.server.response.respondText
import io.ktor.server.routing.get
import io.ktor.server.routing.post
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocket
import io.ktor.websocket.Frame
import io.ktor.websocket.readText
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.future.await
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import org.jose4j.jws.AlgorithmIdentifiers
import org.jose4j.jws.JsonWebSignature
import org.jose4j.jwt.JwtClaims
import org.jose4j.keys.HmacKey
import java.net.InetSocketAddress
import java.net.Socket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.WebSocket
import java.util.concurrent.CompletionStage
import kotlin.time.Duration.Companion.seconds

/** Tokens with arbitrary claims, for the rows of the §11 table that the library's own signer cannot make. */
object JwtFixtures {
    fun sign(secret: String, claims: Map<String, Any>): String {
        val c = JwtClaims()
        for ((k, v) in claims) c.setClaim(k, v)
        return JsonWebSignature().apply {
            payload = c.toJson()
            algorithmHeaderValue = AlgorithmIdentifiers.HMAC_SHA256
            key = HmacKey(secret.toByteArray())
            isDoKeyValidation = false
        }.compactSerialization
    }
}

/** Sends raw request bytes and returns the status code of the answer (for requests no client library makes). */
object RawHttp {
    // Suspending on the IO pool: the test's own coroutines (a client serving the request) share its thread.
    suspend fun status(host: String, port: Int, request: String): Int = withContext(Dispatchers.IO) {
        Socket().use { s ->
            s.soTimeout = 10_000
            s.connect(InetSocketAddress(host, port), 10_000)
            s.getOutputStream().write(request.toByteArray(Charsets.ISO_8859_1))
            s.getOutputStream().flush()
            val line = s.getInputStream().bufferedReader(Charsets.ISO_8859_1).readLine() ?: error("no answer")
            line.split(' ')[1].toInt()
        }
    }

    /** Sends [request] and returns the response head: the status line and headers (lower-case names). */
    suspend fun head(
        host: String,
        port: Int,
        request: String,
    ): Pair<
        Int,
        Map<
            String,
            String,
            >,
        > =
        withContext(Dispatchers.IO) {
            Socket().use { s ->
                s.soTimeout = 10_000
                s.connect(InetSocketAddress(host, port), 10_000)
                s.getOutputStream().write(request.toByteArray(Charsets.ISO_8859_1))
                s.getOutputStream().flush()
                val reader = s.getInputStream().bufferedReader(Charsets.ISO_8859_1)
                val status = (reader.readLine() ?: error("no answer")).split(' ')[1].toInt()
                val headers = generateSequence { reader.readLine()?.takeIf { it.isNotEmpty() } }
                    .associate { it.substringBefore(':').trim().lowercase() to it.substringAfter(':').trim() }
                status to headers
            }
        }
}

/** A local origin on 127.0.0.1:0, what a tunnel forwards to: `/hello`, `/echo` (POST body back), `/ws` (echo). */
class LocalOrigin private constructor() : AutoCloseable {
    private val server: EmbeddedServer<*, *> = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
        install(WebSockets)
        routing {
            get("/hello") { call.respondText("hello from the origin: GET ${call.request.uri}") }
            post("/echo") { call.respondBytes(call.receive<ByteArray>()) }
            webSocket("/ws") {
                for (frame in incoming) {
                    if (frame is Frame.Text) {
                        outgoing.send(Frame.Text("echo ${frame.readText()} (path ${call.request.uri})"))
                    }
                }
            }
        }
    }.start(wait = false)

    val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }
    val url: String = "http://127.0.0.1:$port"

    override fun close() = server.stop(0, 500)

    companion object {
        fun start(): LocalOrigin = LocalOrigin()
    }
}

/** A viewer's WebSocket (JDK client), with received text messages in a channel. */
class WsViewer private constructor(private val texts: Channel<String>) {
    private lateinit var socket: WebSocket

    suspend fun sendText(text: String) {
        socket.sendText(text, true).await()
    }

    suspend fun nextText(): String = withTimeout(10.seconds) { texts.receive() }

    suspend fun close() {
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").await()
    }

    companion object {
        suspend fun open(url: String): WsViewer {
            val texts = Channel<String>(Channel.UNLIMITED)
            val viewer = WsViewer(texts)
            val buffer = StringBuilder()
            viewer.socket = HttpClient.newHttpClient().newWebSocketBuilder().buildAsync(
                URI(url),
                object : WebSocket.Listener {
                    override fun onText(webSocket: WebSocket, data: CharSequence, last: Boolean): CompletionStage<*>? {
                        buffer.append(data)
                        if (last) {
                            texts.trySend(buffer.toString())
                            buffer.setLength(0)
                        }
                        webSocket.request(1)
                        return null
                    }
                },
            ).await()
            return viewer
        }
    }
}
