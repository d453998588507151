@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.conformance.wamp

import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.message.Message
import dev.tether.wamp.transport.RawSocketConnector
import dev.tether.wamp.transport.WampTransport
import dev.tether.wamp.transport.WebSocketPeer
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import java.net.URI
import kotlin.time.toKotlinDuration

/**
 * A transport that keeps every message its session sends and receives, in order: what a case asserts about the
 * wire (which CANCEL mode went out, whether an INTERRUPT came, what the callee answered) where the API shows only
 * the outcome. The session reads it by [receive] (no push path), which changes nothing the router sees.
 */
class WireTap private constructor(private val inner: WampTransport) : WampTransport {
    private val sentLog = MutableStateFlow<List<Message>>(emptyList())
    private val receivedLog = MutableStateFlow<List<Message>>(emptyList())

    override val description: String get() = inner.description

    override suspend fun send(message: Message) {
        // Logged first: the router may answer (and the case look) before send returns.
        sentLog.update { it + message }
        inner.send(message)
    }

    override suspend fun receive(): Message = inner.receive().also { m -> receivedLog.update { it + m } }

    override suspend fun close(): Unit = inner.close()

    /** The messages of type [T] matching [where] sent so far. */
    inline fun <reified T : Message> sent(noinline where: (T) -> Boolean = { true }): List<T> =
        sentSoFar().filterIsInstance<T>().filter(where)

    /** The messages of type [T] matching [where] received so far. */
    inline fun <reified T : Message> received(noinline where: (T) -> Boolean = { true }): List<T> =
        receivedSoFar().filterIsInstance<T>().filter(where)

    /** The first message of type [T] matching [where] the session sent, once it has (bound it with withTimeout). */
    suspend inline fun <reified T : Message> awaitSent(noinline where: (T) -> Boolean = { true }): T =
        awaitIn(true) { it is T && where(it) } as T

    /** The first message of type [T] matching [where] the session received, once it has. */
    suspend inline fun <reified T : Message> awaitReceived(noinline where: (T) -> Boolean = { true }): T =
        awaitIn(false) { it is T && where(it) } as T

    fun sentSoFar(): List<Message> = sentLog.value

    fun receivedSoFar(): List<Message> = receivedLog.value

    suspend fun awaitIn(sent: Boolean, match: (Message) -> Boolean): Message =
        (if (sent) sentLog else receivedLog).first { log -> log.any(match) }.first(match)

    companion object {
        /**
         * Dials [url] as [WampSession.connect] does (ws/wss/http/https, tcp/tcps, unix) and joins [config]'s realm
         * over a [WireTap] of that connection.
         */
        suspend fun connect(url: String, config: SessionConfig): Pair<WampSession, WireTap> {
            val tap = WireTap(dial(url, config))
            return WampSession.join(tap, config) to tap
        }

        private suspend fun dial(url: String, config: SessionConfig): WampTransport {
            val scheme = url.substringBefore("://").lowercase()
            val serializer = config.serialization.serializer()
            val recvLimit = if (config.recvLimit > 0) config.recvLimit else DEFAULT_RECV_LIMIT
            val dialTimeout = config.dialTimeout.toKotlinDuration()
            return when (scheme) {
                "ws", "wss", "http", "https" ->
                    WebSocketPeer.connect(url, serializer, recvLimit, config.dialTimeout, config.trustManager)

                "tcp", "tcps" -> {
                    val uri = URI(url)
                    val target = RawSocketConnector.Target.Tcp(uri.host, uri.port, scheme == "tcps")
                    RawSocketConnector.connect(url, target, serializer, recvLimit, dialTimeout, config.trustManager)
                }

                "unix" -> RawSocketConnector.connect(
                    url,
                    RawSocketConnector.Target.Unix(url.substringAfter("://")),
                    serializer,
                    recvLimit,
                    dialTimeout,
                )

                else -> throw IllegalArgumentException("no WAMP transport for $url")
            }
        }

        private const val DEFAULT_RECV_LIMIT = 16L shl 20
    }
}
