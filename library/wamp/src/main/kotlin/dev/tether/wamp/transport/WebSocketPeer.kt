@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.ConnectionClosedException
import dev.tether.core.DialerConfig
import dev.tether.core.InternalTetherApi
import dev.tether.core.TransportObserver
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WebSocketTransport
import dev.tether.core.WsMessage
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.WampException
import dev.tether.wamp.message.Message
import dev.tether.wamp.serializer.Serializer
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.channels.ClosedReceiveChannelException
import java.time.Duration
import java.util.concurrent.atomic.AtomicBoolean
import javax.net.ssl.SSLContext
import javax.net.ssl.X509TrustManager

/**
 * A WAMP peer over a WebSocket from tether-core's dialer: one message per frame, text frames for JSON and binary
 * frames for MessagePack and CBOR; the subprotocol (`wamp.2.json`, ...) is offered in the upgrade request and the
 * router's choice is checked. With [listen] messages are decoded and pushed on the connection's I/O thread.
 */
@InternalTetherApi
public class WebSocketPeer private constructor(
    private val dialer: WebSocketDialer,
    private val connection: WebSocketConnection,
    private val serializer: Serializer,
    override val description: String,
) : Peer {
    override val dispatcher: CoroutineDispatcher get() = connection.dispatcher

    override suspend fun send(message: Message) {
        val bytes = serializer.encode(message)
        if (serializer.serialization.isText) connection.sendText(bytes) else connection.send(bytes)
    }

    override suspend fun receive(): Message {
        val frame = try {
            connection.incoming.receive()
        } catch (e: ClosedReceiveChannelException) {
            throw ConnectionClosedException(null, "WebSocket closed", e)
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException) throw e
            throw ConnectionClosedException(null, "WebSocket closed", e)
        }
        return decode(frame)
    }

    private fun decode(frame: WsMessage): Message = when (frame) {
        is WsMessage.Text -> serializer.decode(frame.utf8)
        is WsMessage.Binary -> serializer.decode(frame.bytes)
    }

    /**
     * Decodes and pushes every message inline on the connection's I/O thread ([WebSocketConnection.listen]); an
     * undecodable one stops delivery and is reported to [PeerListener.onEnd] (the connection stays open for the
     * ABORT); the connection's end follows as its cause (`KeepAliveExpiredException`, `MessageTooLargeException`,
     * `ConnectionClosedException`). False when the connection cannot switch (its queue is behind).
     */
    override fun listen(listener: PeerListener): Boolean {
        val done = AtomicBoolean(false)
        val switched = connection.listen { frame ->
            if (done.get()) return@listen
            val message = try {
                decode(frame)
            } catch (e: Exception) {
                if (done.compareAndSet(false, true)) {
                    listener.onEnd(
                        e as? WampException ?: ProtocolViolationException(
                            "undecodable message from the router: ${e.message}",
                            e,
                        ),
                    )
                }
                return@listen
            }
            listener.onMessage(message)
        }
        if (switched) {
            connection.closedFuture().whenComplete { cause, _ ->
                if (done.compareAndSet(
                        false,
                        true,
                    )
                ) {
                    listener.onEnd(cause ?: ConnectionClosedException(null, "WebSocket closed"))
                }
            }
        }
        return switched
    }

    override suspend fun close() {
        runCatching { connection.close(1000, "goodbye") }
        dialer.close()
    }

    override fun toString(): String = description

    /** Dialing. */
    public companion object {
        /**
         * Dials [url] offering [serializer]'s subprotocol; fails with [ProtocolViolationException] if the router picked
         * another (or none). [recvLimit] bounds inbound messages ([MessageTooLongException] semantics are the dialer's:
         * the connection closes with 1009). TLS trusts [sslContext] (whose key managers present a client certificate;
         * it needs the Netty transport, which is then used) or else [trustManager]. [webSocketTransport], when given,
         * carries the connection (a reconnecting client's pinned one); else the dialer's default.
         */
        public suspend fun connect(
            url: String,
            serializer: Serializer,
            recvLimit: Long,
            dialTimeout: Duration,
            trustManager: X509TrustManager?,
            sslContext: SSLContext? = null,
            pingInterval: Duration = Duration.ZERO,
            pongTimeout: Duration = Duration.ofSeconds(10),
            observer: TransportObserver? = null,
            webSocketTransport: WebSocketTransport? = null,
        ): WebSocketPeer {
            val config = DialerConfig.builder()
                .url(url)
                .header("Sec-WebSocket-Protocol", serializer.serialization.subprotocol)
                .dialTimeout(dialTimeout)
                .maxMessageBytes(recvLimit)
                .pingInterval(pingInterval)
                .pongTimeout(pongTimeout)
                .trustManager(trustManager)
                .sslContext(sslContext)
                .observer(observer)
                .apply {
                    if (webSocketTransport != null) {
                        transport(webSocketTransport)
                    } else if (sslContext != null) {
                        transport(WebSocketTransport.netty())
                    }
                }
                .build()
            val dialer = WebSocketDialer(config)
            try {
                val connection = dialer.dial()
                val chosen = connection.handshakeHeader("Sec-WebSocket-Protocol")?.trim()
                if (chosen != serializer.serialization.subprotocol) {
                    runCatching { connection.close(1002, "subprotocol") }
                    throw ProtocolViolationException(
                        "router at $url accepted subprotocol ${chosen ?: "(none)"} instead " +
                            "of ${serializer.serialization.subprotocol}",
                    )
                }
                return WebSocketPeer(dialer, connection, serializer, "websocket ${url.substringBefore('?')}")
            } catch (e: Throwable) {
                dialer.close()
                throw e
            }
        }
    }
}
