package dev.tether.tunnel

import dev.tether.core.WebSocketTransport
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxProtocol
import dev.tether.mux.MuxSession
import dev.tether.mux.Stream
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.embeddedServer
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

/**
 * The proxy's side of a tunnel, without HTTP viewers: takes registrations on `/` (any token) and keeps each
 * registration's wsmux server session (the proxy's settings: 4 KiB windows), so a test opens viewer streams itself
 * and writes and reads their raw bytes.
 */
class TestProxy : AutoCloseable {
    private val sessions = Channel<MuxSession>(Channel.UNLIMITED)
    private val server = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
        install(WebSockets)
        routing {
            webSocketRaw("/") {
                val config = MuxConfig {
                    streamBufferSize(MuxProtocol.PROXY_CAPACITY)
                    peerCapacity(MuxProtocol.PROXY_CAPACITY)
                }
                val session = MuxSession.server(this, config)
                sessions.send(session)
                session.awaitClosed()
            }
        }
    }.start(wait = false)

    val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }
    val url: String = "http://127.0.0.1:$port"

    /** A configuration registering [id] here. */
    @JvmOverloads
    fun config(id: String = "t1", block: TunnelConfig.Builder.() -> Unit = {}): TunnelConfig = TunnelConfig(id, url) {
        token(TunnelTokens.testToken(id))
        block()
    }

    /** The proxy session of the next registration (bounded wait). */
    suspend fun nextSession(): MuxSession = withTimeout(10.seconds) { sessions.receive() }

    /** Java: [nextSession], blocking. */
    fun nextSessionBlocking(): MuxSession = runBlocking { nextSession() }

    override fun close() {
        while (true) sessions.tryReceive().getOrNull()?.close() ?: break
        server.stop(0, 500)
    }

    companion object {
        /** The two WebSocket transports the tunnel runs on. */
        val transports: List<Pair<String, WebSocketTransport>> =
            listOf("netty" to WebSocketTransport.netty(), "ktor" to WebSocketTransport.ktor())

        /**
         * Java: one viewer request: writes [request] on a new stream of [session], then reads until the client's FIN.
         */
        @JvmStatic
        fun exchange(session: MuxSession, request: ByteArray): ByteArray = runBlocking {
            withTimeout(10.seconds) {
                val stream = session.open()
                stream.write(request)
                readToEnd(stream).also { stream.close() }
            }
        }

        /** Reads [stream] until the peer's FIN. */
        suspend fun readToEnd(stream: Stream): ByteArray {
            val out = ByteArrayOutputStream()
            val buffer = ByteArray(64 * 1024)
            while (true) {
                val n = stream.read(buffer)
                if (n < 0) return out.toByteArray()
                out.write(buffer, 0, n)
            }
        }

        /** Reads exactly [n] bytes of [stream] (bounded by the caller). */
        suspend fun readExactly(stream: Stream, n: Int): ByteArray {
            val out = ByteArray(n)
            var got = 0
            while (got < n) {
                val r = stream.read(out, got, n - got)
                check(r >= 0) { "EOF after $got of $n bytes" }
                got += r
            }
            return out
        }
    }
}

/** A plain TCP origin on 127.0.0.1:0 whose connections the test takes one by one and drives with blocking I/O. */
class RawOrigin : AutoCloseable {
    private val server = ServerSocket().apply { bind(InetSocketAddress("127.0.0.1", 0)) }
    val port: Int = server.localPort
    val url: String = "http://127.0.0.1:$port"

    /** The next connection the tunnel client made (bounded wait); reads on it time out after 10 s. */
    suspend fun accept(): Socket = withContext(Dispatchers.IO) {
        server.soTimeout = 10_000
        server.accept().apply { soTimeout = 10_000 }
    }

    override fun close() = server.close()

    companion object {
        /** A port nothing listens on (bound, then closed). */
        fun deadPort(): Int = ServerSocket().use {
            it.bind(InetSocketAddress("127.0.0.1", 0))
            it.localPort
        }

        /** Reads until EOF. */
        fun readToEnd(input: InputStream): ByteArray = input.readAllBytes()

        /** Reads one HTTP head (through the blank line). */
        fun readHead(input: InputStream): String {
            val head = ByteArrayOutputStream()
            while (true) {
                val b = input.read()
                check(b >= 0) { "EOF inside the head: ${head.toString(Charsets.ISO_8859_1)}" }
                head.write(b)
                val s = head.toString(Charsets.ISO_8859_1)
                if (s.endsWith("\r\n\r\n")) return s
            }
        }

        /** Waits for [thread] at most 10 s. */
        fun join(thread: Thread) {
            thread.join(TimeUnit.SECONDS.toMillis(10))
            check(!thread.isAlive) { "${thread.name} did not end" }
        }
    }
}
