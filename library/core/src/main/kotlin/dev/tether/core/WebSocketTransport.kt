package dev.tether.core

import dev.tether.core.ktor.KtorTransport
import dev.tether.core.netty.NettyTransport
import dev.tether.core.netty.TetherEventLoops
import io.ktor.client.HttpClient
import io.netty.channel.EventLoopGroup
import kotlinx.coroutines.CoroutineDispatcher

/**
 * Which WebSocket client stack carries the connections of a [WebSocketDialer] ([DialerConfig.Builder.transport]).
 *
 * - [netty] (the default): Netty's WebSocket codec on an event loop, with each protocol's per-frame work done on
 *   that loop. One round trip costs about one thread wake-up, against about fifteen through Ktor's coroutine
 *   pipeline (docs/performance.md), so this is the choice wherever latency per message matters.
 * - [ktor]: Ktor's CIO client, or your own Ktor [HttpClient], for teams that already run one and want its engine,
 *   proxies or plugins. Every protocol works on it; messages cross more threads.
 *
 * `-Dtether.transport=ktor` changes the default for a whole process.
 */
public abstract class WebSocketTransport internal constructor() {
    /** Opens the sockets of one dialer; closing it ends every connection it opened. */
    internal abstract fun open(config: DialerConfig): TransportDial

    /**
     * This transport with every socket on one I/O thread, and that thread as a dispatcher: what a reconnecting
     * client uses so that its `dispatcher` stays the same across reconnects. Ktor has no such thread; its
     * dispatcher is [kotlinx.coroutines.Dispatchers.Default].
     */
    @InternalTetherApi
    public abstract fun pinned(): Pinned

    /** A transport whose sockets all run on [dispatcher]. */
    @InternalTetherApi
    public class Pinned(public val transport: WebSocketTransport, public val dispatcher: CoroutineDispatcher)

    public companion object {
        /** Netty on the process-wide event loops ([TetherEventLoops.shared]). */
        @JvmStatic
        public fun netty(): WebSocketTransport = NettyTransport(null)

        /** Netty on [group], an event loop group you own, NIO or epoll (Tether never shuts it down). */
        @JvmStatic
        public fun netty(group: EventLoopGroup): WebSocketTransport = NettyTransport(group)

        /**
         * Ktor's sockets, TLS client and WebSocket session (what its CIO engine runs on) under an upgrade of
         * Tether's own, configured from the [DialerConfig]; its frame limit holds from the first frame after the 101.
         */
        @JvmStatic
        public fun ktor(): WebSocketTransport = KtorTransport(null)

        /**
         * Your own Ktor [client] with the WebSockets plugin installed; you keep owning it (Tether never closes it).
         * Size limits, queues and TLS settings then come from the client, not from the [DialerConfig]: Ktor applies
         * its `maxFrameSize` only from the frame after the upgrade is handed back, and its queues are unbounded
         * unless its `channels` config bounds them (docs/security.md).
         */
        @JvmStatic
        public fun ktor(client: HttpClient): WebSocketTransport = KtorTransport(client)

        /** [netty], unless the system property `tether.transport` is `ktor`. */
        @JvmStatic
        public fun default(): WebSocketTransport =
            if (System.getProperty("tether.transport").equals("ktor", ignoreCase = true)) ktor() else netty()
    }
}

/** The sockets of one [WebSocketDialer] on one transport. */
internal interface TransportDial : AutoCloseable {
    /**
     * Opens one WebSocket to [url] (`ws` or `wss`) with [headers] on the upgrade request and returns it running.
     * Throws [HandshakeRejectedException] / [AuthenticationFailedException] for a non-101 answer and
     * [DialFailedException] for anything else; cancelling the call abandons the socket.
     */
    suspend fun open(url: String, headers: Map<String, String>, listener: MessageListener?): WebSocketConnection

    /** Ends every connection opened here and releases what the dial holds (never a caller's own client or group). */
    override fun close()
}

/** The typed error for a refused upgrade. */
internal fun refusedUpgrade(url: String, status: Int, retryAfter: String?): HandshakeRejectedException =
    if (status == 401 || status == 403) {
        AuthenticationFailedException(url, status)
    } else {
        HandshakeRejectedException(url, status, retryAfter?.trim()?.toLongOrNull())
    }
