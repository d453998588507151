package dev.tether.core.ktor

import dev.tether.core.ConnectionClosedException
import dev.tether.core.ConnectionException
import dev.tether.core.DialFailedException
import dev.tether.core.DialerConfig
import dev.tether.core.MessageListener
import dev.tether.core.TransportDial
import dev.tether.core.WebSocketConnection
import dev.tether.core.refusedUpgrade
import io.ktor.http.cio.parseResponse
import io.ktor.network.selector.SelectorManager
import io.ktor.network.sockets.Socket
import io.ktor.network.sockets.aSocket
import io.ktor.network.sockets.openReadChannel
import io.ktor.network.sockets.openWriteChannel
import io.ktor.network.tls.tls
import io.ktor.utils.io.writeStringUtf8
import io.ktor.websocket.RawWebSocket
import io.ktor.websocket.WebSocketChannelsConfig
import io.ktor.websocket.WebSocketSession
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import java.io.IOException
import java.net.URI
import java.security.MessageDigest
import java.security.SecureRandom
import java.util.Base64

/**
 * The sockets of one dialer on Ktor without a client of the caller's: TCP and TLS from Ktor's sockets (what its CIO
 * engine runs on), an upgrade request of our own, the answer read by Ktor's HTTP parser, and the frames on Ktor's
 * raw WebSocket session, made with [DialerConfig.maxMessageBytes] as its frame limit from the first byte.
 *
 * Why not Ktor's HttpClient: its engine makes the session without a frame limit and its WebSockets plugin sets
 * `maxFrameSize` only once the upgrade has been handed back, while the session's reader already runs; a frame the
 * server sends right behind its 101 could declare any length up to 2 GiB, and Ktor's reader allocates a frame's
 * whole declared length before it reads the frame.
 *
 * `RawWebSocket` is marked internal in Ktor (no public factory takes a frame limit): the version is pinned, and
 * WebSocketConnectionSpec, TlsSpec and HostilePeerSpec run every case on this dial, so a change shows on upgrade.
 */
@OptIn(dev.tether.core.InternalTetherApi::class, io.ktor.utils.io.InternalAPI::class)
internal class KtorSocketDial(private val config: DialerConfig) : TransportDial {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("tether-ktor"))

    init {
        require(config.sslContext == null) {
            "DialerConfig.sslContext (client certificates) needs the Netty transport or your own Ktor client"
        }
    }

    override suspend fun open(
        url: String,
        headers: Map<String, String>,
        listener: MessageListener?,
    ): WebSocketConnection {
        val opened = CompletableDeferred<WebSocketConnection>()
        val job = scope.launch(CoroutineName("tether-ws")) {
            var socket: Socket? = null
            var connection: WebSocketConnection? = null
            try {
                val target = Target.of(url)
                val tcp = aSocket(selector).tcp().connect(target.host, target.port) { noDelay = true }
                socket = tcp
                val tls = if (target.secure) {
                    tcp.tls(currentCoroutineContext()) {
                        // The chain against the configured trust (the JVM's by default), then the host name: ours,
                        // because Ktor's name check passes a certificate without a name of the host's kind.
                        val trust = config.trustManager ?: HostnameCheckingTrustManager.jvmDefault()
                        trustManager = HostnameCheckingTrustManager(trust, target.host)
                        serverName = target.host
                    }
                } else {
                    tcp
                }
                socket = tls
                val input = tls.openReadChannel()
                val output = tls.openWriteChannel(autoFlush = false)
                val key = Base64.getEncoder().encodeToString(ByteArray(16).also { random.nextBytes(it) })
                output.writeStringUtf8(target.upgradeRequest(key, headers))
                output.flush()
                val answer = parseResponse(input)
                    ?: throw IOException("the connection closed during the WebSocket handshake")
                val status = answer.status
                val answerHeaders = answer.headers.let { h ->
                    h.offsets().map { h.nameAtOffset(it).toString() to h.valueAtOffset(it).toString() }.toList()
                }
                answer.release()
                val header = { name: String -> answerHeaders.firstOrNull { it.first.equals(name, true) }?.second }
                if (status != 101) throw refusedUpgrade(config.url, status, header("Retry-After"))
                val upgraded = header("Upgrade").equals("websocket", ignoreCase = true)
                if (!upgraded || header("Sec-WebSocket-Accept") != acceptFor(key)) {
                    throw IOException("the 101 answer is not a valid WebSocket upgrade (Upgrade, Sec-WebSocket-Accept)")
                }
                val session = RawWebSocket(
                    input,
                    output,
                    config.maxMessageBytes,
                    true,
                    currentCoroutineContext(),
                    WebSocketChannelsConfig().apply {
                        // Both bounded: a full incoming queue stops the reader (and so the socket's reading) while
                        // our read loop waits for the consumer; a full outgoing one makes a send wait.
                        incoming = bounded(KTOR_INCOMING_FRAMES)
                        outgoing = bounded(config.outgoingFrames)
                    },
                )
                val c = WebSocketConnection(config, listener)
                val link = KtorLink(session, header, config, c)
                c.attach(link)
                connection = c
                opened.complete(c)
                try {
                    // As in KtorDial: the read loop runs only non-blocking code, so it belongs on the CPU pool.
                    withContext(Dispatchers.Default) { link.run() }
                } finally {
                    finish(session)
                }
            } catch (e: Throwable) {
                val passThrough = e is ConnectionException || e is CancellationException
                val mapped = if (passThrough) e else DialFailedException(config.url, e)
                if (!opened.completeExceptionally(mapped)) {
                    connection?.ended(mapped as? ConnectionException ?: ConnectionClosedException(null, null, e))
                }
                if (e is CancellationException) throw e
            } finally {
                socket?.close()
            }
        }
        try {
            return opened.await()
        } catch (e: Throwable) {
            job.cancel()
            throw e
        }
    }

    /** Lets the session write what is queued (the answering close frame), within a bound, then ends it. */
    private suspend fun finish(session: WebSocketSession) {
        withContext(kotlinx.coroutines.NonCancellable) {
            withTimeoutOrNull(FLUSH_WAIT_MILLIS) { runCatching { session.flush() } }
        }
        session.cancel()
    }

    override fun close() {
        scope.cancel()
    }

    /** Where a `ws://` or `wss://` URL points, and the upgrade request for it. */
    private class Target(val uri: URI, val host: String, val port: Int, val secure: Boolean) {
        fun upgradeRequest(key: String, headers: Map<String, String>): String = buildString {
            val path = (uri.rawPath?.takeIf { it.isNotEmpty() } ?: "/") + (uri.rawQuery?.let { "?$it" } ?: "")
            val defaultPort = if (secure) 443 else 80
            append("GET ").append(path).append(" HTTP/1.1\r\n")
            append("Host: ").append(if (port == defaultPort) host else "$host:$port").append("\r\n")
            append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
            append("Sec-WebSocket-Key: ").append(key).append("\r\nSec-WebSocket-Version: 13\r\n")
            for ((name, value) in headers) {
                // A header value cannot carry a line break; refusing it keeps a caller's value from adding headers.
                require(name.none { it == '\r' || it == '\n' } && value.none { it == '\r' || it == '\n' }) {
                    "header $name contains a line break"
                }
                append(name).append(": ").append(value).append("\r\n")
            }
            append("\r\n")
        }

        companion object {
            fun of(url: String): Target {
                val uri = URI(url)
                val secure = uri.scheme.equals("wss", ignoreCase = true)
                val host = requireNotNull(uri.host) { "url has no host: $url" }
                val port = if (uri.port >= 0) {
                    uri.port
                } else if (secure) {
                    443
                } else {
                    80
                }
                return Target(uri, host, port, secure)
            }
        }
    }

    private companion object {
        val random = SecureRandom()

        /**
         * One selector for every Ktor socket of the process: a selector waits for its sockets on a thread of
         * Dispatchers.IO, so one per dialer (as a CIO client per dialer had) would hold a thread per client.
         */
        val selector: SelectorManager by lazy { SelectorManager(Dispatchers.IO) }

        /** Frames Ktor's reader may hold for our read loop; the socket is not read while they wait. */
        const val KTOR_INCOMING_FRAMES = 8

        const val FLUSH_WAIT_MILLIS = 1_000L

        fun acceptFor(key: String): String = Base64.getEncoder().encodeToString(
            MessageDigest.getInstance("SHA-1")
                .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").toByteArray(Charsets.US_ASCII)),
        )
    }
}
