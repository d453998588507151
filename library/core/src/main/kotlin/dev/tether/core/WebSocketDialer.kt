package dev.tether.core

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.future.future
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture

/**
 * Opens WebSockets described by one [DialerConfig] on its [DialerConfig.transport] (Netty by default). Every [dial]
 * asks the token provider afresh. Close the dialer to end every connection it opened.
 */
@OptIn(InternalTetherApi::class)
public class WebSocketDialer(public val config: DialerConfig) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("tether-dialer"))
    private val tokens = TokenSource(config.tokenProvider, config.staticToken)
    private val url = wsUrl(config.url)
    private val sockets = config.transport.open(config)
    private val observer = config.observer?.let(::ObserverCalls)

    /**
     * Opens one WebSocket. Suspends at most [DialerConfig.dialTimeout]; throws a [ConnectionException] subclass:
     * [AuthenticationFailedException] for 401/403, [HandshakeRejectedException] for any other non-101 answer,
     * [DialTimeoutException] or [DialFailedException]. With a [listener], inbound messages go to it on the
     * connection's I/O thread, inline (it must not block), and [WebSocketConnection.incoming] stays empty.
     */
    @JvmSynthetic
    public suspend fun dial(listener: MessageListener? = null): WebSocketConnection {
        val token = tokens.next { log.warn("token provider failed ({}); using the last accepted token", it.toString()) }
        val headers = LinkedHashMap(config.headers)
        if (!token.isNullOrEmpty()) headers["Authorization"] = "Bearer $token"
        val connection = try {
            withTimeoutOrNull(config.dialTimeout.toMillis()) { sockets.open(url, headers, listener) }
                ?: throw DialTimeoutException(config.url, config.dialTimeout.toMillis())
        } catch (e: ConnectionException) {
            observer?.dialFailed(e)
            throw e
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            throw DialFailedException(config.url, e).also { observer?.dialFailed(it) }
        }
        tokens.accepted(token)
        connection.opened()
        return connection
    }

    /** Java face of [dial]; completes on a library thread. Cancelling the future abandons the dial. */
    @JvmOverloads
    public fun dialAsync(listener: MessageListener? = null): CompletableFuture<WebSocketConnection> =
        scope.future { dial(listener) }

    /** Ends every connection this dialer opened and releases its transport resources. */
    override fun close() {
        scope.cancel()
        sockets.close()
    }

    internal companion object {
        private val log = LoggerFactory.getLogger(WebSocketDialer::class.java)

        /** http(s) URLs are dialled as ws(s), as upstream's prefix rewrite does. */
        fun wsUrl(url: String): String = when {
            url.startsWith("https://", ignoreCase = true) -> "wss://" + url.substring(8)
            url.startsWith("http://", ignoreCase = true) -> "ws://" + url.substring(7)
            else -> url
        }
    }
}
