@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.WebSocketTransport
import dev.tether.core.netty.TetherEventLoops
import dev.tether.wamp.transport.Peer
import dev.tether.wamp.transport.RawSocketConnector
import dev.tether.wamp.transport.WebSocketPeer
import io.netty.channel.EventLoopGroup
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import java.net.URI
import kotlin.time.toKotlinDuration

/** Picks and opens the transport for a router URL by scheme. */
internal object Transports {
    /**
     * Where every connection of one reconnecting client runs: the WebSocket transport for ws/wss URLs, the event loop
     * group for RawSocket ones, and the I/O thread they share as [dispatcher]. Null fields leave the choice to
     * [open]'s defaults (the shared loops, or a caller's own socket read by a coroutine).
     */
    class Pin(val webSocket: WebSocketTransport?, val rawSocket: EventLoopGroup?, val dispatcher: CoroutineDispatcher)

    /**
     * One I/O thread for every connection to [url] under [config]: a Netty event loop when the scheme's transport runs
     * on one, else [Dispatchers.Default] (the Ktor transport, a [SessionConfig.socketDialer] socket).
     */
    fun pin(url: String, config: SessionConfig): Pin = when (url.substringBefore("://", "").lowercase()) {
        "ws", "wss", "http", "https" -> {
            val pinned = webSocketTransport(config).pinned()
            Pin(pinned.transport, null, pinned.dispatcher)
        }

        "tcp", "tcps" -> if (config.socketDialer != null) Pin(null, null, Dispatchers.Default) else loopPin()

        "unix" -> loopPin()

        else -> Pin(null, null, Dispatchers.Default) // open() refuses the URL
    }

    private fun loopPin(): Pin {
        val loop = TetherEventLoops.shared().next()
        return Pin(null, loop, TetherEventLoops.dispatcher(loop))
    }

    /** A TLS context with client certificates needs Netty; otherwise the process default. */
    private fun webSocketTransport(config: SessionConfig): WebSocketTransport =
        if (config.sslContext != null) WebSocketTransport.netty() else WebSocketTransport.default()

    /** Opens a connection to [url]; on [pin]'s thread when given, else wherever the transport picks. */
    suspend fun open(url: String, config: SessionConfig, pin: Pin? = null): Peer {
        val scheme = url.substringBefore("://", "").lowercase()
        val serializer = config.serializer()
        return when (scheme) {
            "ws", "wss", "http", "https" -> WebSocketPeer.connect(
                url, serializer, config.effectiveRecvLimit, config.dialTimeout, config.trustManager,
                config.sslContext, config.pingInterval, config.pongTimeout, config.observer,
                pin?.webSocket ?: webSocketTransport(config),
            )

            "tcp", "tcps" -> {
                val uri = URI(url)
                val host = uri.host ?: throw IllegalArgumentException("no host in $url")
                require(uri.port > 0) { "no port in $url" }
                RawSocketConnector.connect(
                    url, RawSocketConnector.Target.Tcp(host, uri.port, scheme == "tcps"), serializer,
                    config.recvLimit, config.dialTimeout.toKotlinDuration(), config.trustManager, config.sslContext,
                    config.socketDialer,
                    config.pingInterval.toKotlinDuration(), config.pongTimeout.toKotlinDuration(),
                    pin?.rawSocket,
                )
            }

            "unix" -> {
                val path = url.substringAfter("://")
                require(path.isNotEmpty()) { "no socket path in $url" }
                RawSocketConnector.connect(
                    url,
                    RawSocketConnector.Target.Unix(path),
                    serializer,
                    config.recvLimit,
                    config.dialTimeout.toKotlinDuration(),
                    pingInterval = config.pingInterval.toKotlinDuration(),
                    pongTimeout = config.pongTimeout.toKotlinDuration(),
                    group = pin?.rawSocket,
                )
            }

            else -> throw IllegalArgumentException(
                "unsupported WAMP URL scheme '$scheme' in $url (use ws, wss, http, https, tcp, tcps or unix)",
            )
        }
    }
}
