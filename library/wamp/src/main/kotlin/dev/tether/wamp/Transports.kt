@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.wamp.transport.Peer
import dev.tether.wamp.transport.RawSocketConnector
import dev.tether.wamp.transport.WebSocketPeer
import java.net.URI
import kotlin.time.toKotlinDuration

/** Picks and opens the transport for a router URL by scheme. */
internal object Transports {
    suspend fun open(url: String, config: SessionConfig): Peer {
        val scheme = url.substringBefore("://", "").lowercase()
        val serializer = config.serializer()
        return when (scheme) {
            "ws", "wss", "http", "https" -> WebSocketPeer.connect(
                url, serializer, config.effectiveRecvLimit, config.dialTimeout, config.trustManager,
                config.sslContext, config.pingInterval, config.pongTimeout, config.observer,
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
                )
            }

            else -> throw IllegalArgumentException(
                "unsupported WAMP URL scheme '$scheme' in $url (use ws, wss, http, https, tcp, tcps or unix)",
            )
        }
    }
}
