@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.ConnectionClosedException
import dev.tether.core.DialFailedException
import dev.tether.core.DialTimeoutException
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.InternalTetherApi
import dev.tether.wamp.MessageTooLongException
import dev.tether.wamp.ProtocolViolationException
import dev.tether.wamp.message.Message
import dev.tether.wamp.serializer.Serializer
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.io.ByteArrayOutputStream
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpTimeoutException
import java.net.http.WebSocket
import java.net.http.WebSocketHandshakeException
import java.nio.ByteBuffer
import java.time.Duration
import java.util.concurrent.CompletionException
import java.util.concurrent.CompletionStage
import java.util.concurrent.atomic.AtomicReference
import javax.net.ssl.SSLContext
import kotlin.time.toKotlinDuration

/**
 * A WAMP peer over the JDK's WebSocket client, used for wss/https when the session has its own [SSLContext]
 * (client certificates): tether-core's dialer takes only a trust manager. Same contract as [WebSocketPeer]: one
 * message per frame, the subprotocol offered and checked, inbound messages over [recvLimit] close the
 * connection with 1009, keepalive pings when [pingInterval] is set.
 */
internal class JdkWebSocketPeer private constructor(
    private val serializer: Serializer,
    private val recvLimit: Long,
    override val description: String,
) : Peer {
    private val log = LoggerFactory.getLogger(JdkWebSocketPeer::class.java)
    private val scope = CoroutineScope(Job() + Dispatchers.IO + CoroutineName("wamp-jdk-websocket"))
    private val inbox = Channel<Message>(Channel.UNLIMITED)
    private val pong = AtomicReference<CompletableDeferred<Unit>?>(null)
    private lateinit var ws: WebSocket

    /** Reassembles fragments; the next message is requested only once receive() took this one (flow control). */
    private val listener = object : WebSocket.Listener {
        private val partial = ByteArrayOutputStream()

        override fun onText(webSocket: WebSocket, data: CharSequence, last: Boolean): CompletionStage<*>? =
            onData(webSocket, data.toString().toByteArray(Charsets.UTF_8), last)

        override fun onBinary(webSocket: WebSocket, data: ByteBuffer, last: Boolean): CompletionStage<*>? =
            onData(webSocket, ByteArray(data.remaining()).also { data.get(it) }, last)

        private fun onData(webSocket: WebSocket, bytes: ByteArray, last: Boolean): CompletionStage<*>? {
            partial.write(bytes)
            if (partial.size() > recvLimit) {
                log.warn("{}: router sent a message over the {}-byte limit; closing", description, recvLimit)
                inbox.close(MessageTooLongException(partial.size().toLong(), recvLimit, outbound = false))
                webSocket.sendClose(1009, "message too big")
                webSocket.abort()
                return null
            }
            if (last) {
                val message = try {
                    serializer.decode(partial.toByteArray())
                } catch (e: Exception) {
                    inbox.close(e)
                    webSocket.abort()
                    return null
                } finally {
                    partial.reset()
                }
                inbox.trySend(message)
                return null // the next frame is requested when this message is taken by receive()
            }
            webSocket.request(1)
            return null
        }

        override fun onPong(webSocket: WebSocket, message: ByteBuffer): CompletionStage<*>? {
            pong.get()?.complete(Unit)
            webSocket.request(1)
            return null
        }

        override fun onPing(webSocket: WebSocket, message: ByteBuffer): CompletionStage<*>? {
            webSocket.request(1) // the JDK answers the ping itself
            return null
        }

        override fun onClose(webSocket: WebSocket, statusCode: Int, reason: String?): CompletionStage<*>? {
            inbox.close(ConnectionClosedException(statusCode, reason ?: "WebSocket closed"))
            return null
        }

        override fun onError(webSocket: WebSocket, error: Throwable) {
            inbox.close(ConnectionClosedException(null, "WebSocket failed", error))
        }
    }

    override suspend fun send(message: Message) {
        val bytes = serializer.encode(message)
        try {
            if (serializer.serialization.isText) ws.sendText(String(bytes, Charsets.UTF_8), true).await()
            else ws.sendBinary(ByteBuffer.wrap(bytes), true).await()
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException) throw e
            throw ConnectionClosedException(null, "WebSocket closed", e)
        }
    }

    override suspend fun receive(): Message = try {
        inbox.receive().also { ws.request(1) }
    } catch (e: kotlinx.coroutines.channels.ClosedReceiveChannelException) {
        throw ConnectionClosedException(null, "WebSocket closed", e)
    }

    override suspend fun close() {
        if (this::ws.isInitialized && !ws.isOutputClosed) {
            runCatching { withTimeoutOrNull(1_000) { ws.sendClose(WebSocket.NORMAL_CLOSURE, "goodbye").await() } }
        }
        if (this::ws.isInitialized) ws.abort()
        inbox.close()
        scope.cancel()
    }

    private fun startKeepAlive(interval: Duration, timeout: Duration) {
        scope.launch(CoroutineName("wamp-jdk-websocket-ping")) {
            while (true) {
                delay(interval.toKotlinDuration())
                val waiter = CompletableDeferred<Unit>()
                pong.set(waiter)
                runCatching { ws.sendPing(ByteBuffer.wrap(byteArrayOf(1))).await() }
                if (withTimeoutOrNull(timeout.toKotlinDuration()) { waiter.await() } == null) {
                    log.warn("{}: no pong within {}; closing", description, timeout)
                    inbox.close(ConnectionClosedException(null, "no pong within $timeout"))
                    ws.abort()
                    return@launch
                }
            }
        }
    }

    companion object {
        /** Dials [url] (wss/https, or ws/http) with [sslContext], offering [serializer]'s subprotocol only. */
        suspend fun connect(
            url: String,
            serializer: Serializer,
            recvLimit: Long,
            dialTimeout: Duration,
            sslContext: SSLContext,
            pingInterval: Duration,
            pongTimeout: Duration,
        ): Peer {
            val uri = URI(
                when {
                    url.startsWith("https://", ignoreCase = true) -> "wss://" + url.substring(8)
                    url.startsWith("http://", ignoreCase = true) -> "ws://" + url.substring(7)
                    else -> url
                },
            )
            val peer = JdkWebSocketPeer(serializer, recvLimit, "websocket ${url.substringBefore('?')}")
            val client = HttpClient.newBuilder().sslContext(sslContext).connectTimeout(dialTimeout).build()
            val subprotocol = serializer.serialization.subprotocol
            val ws = try {
                client.newWebSocketBuilder().subprotocols(subprotocol).connectTimeout(dialTimeout)
                    .buildAsync(uri, peer.listener).await()
            } catch (e: Exception) {
                if (e is kotlinx.coroutines.CancellationException) throw e
                throw when (val cause = (e as? CompletionException)?.cause ?: e) {
                    is HttpTimeoutException -> DialTimeoutException(url, dialTimeout.toMillis())
                    // A 101 the JDK refused names a subprotocol that was not offered.
                    is WebSocketHandshakeException -> if (cause.response.statusCode() == 101) {
                        ProtocolViolationException("router at $url accepted a subprotocol other than $subprotocol", cause)
                    } else {
                        HandshakeRejectedException(url, cause.response.statusCode(), null)
                    }
                    else -> DialFailedException(url, cause)
                }
            }
            peer.ws = ws
            if (ws.subprotocol != subprotocol) {
                ws.abort()
                throw ProtocolViolationException("router at $url accepted subprotocol ${ws.subprotocol.ifEmpty { "(none)" }} instead of $subprotocol")
            }
            if (!pingInterval.isZero && !pingInterval.isNegative) peer.startKeepAlive(pingInterval, pongTimeout)
            return peer
        }
    }
}
