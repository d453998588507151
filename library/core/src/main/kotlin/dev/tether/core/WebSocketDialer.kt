package dev.tether.core

import io.ktor.client.HttpClient
import io.ktor.client.engine.cio.CIO
import io.ktor.client.plugins.websocket.ClientWebSocketSession
import io.ktor.client.plugins.websocket.WebSockets
import io.ktor.client.request.header
import io.ktor.client.request.prepareRequest
import io.ktor.client.request.url
import io.ktor.client.statement.HttpResponsePipeline
import io.ktor.http.HttpHeaders
import io.ktor.http.HttpStatusCode
import io.ktor.http.isWebsocket
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.future.future
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import java.util.concurrent.CompletableFuture
import org.slf4j.LoggerFactory

/**
 * Opens WebSockets described by one [DialerConfig] over the Ktor CIO client. Every [dial] asks the token
 * provider afresh. Close the dialer to release the HTTP client and every connection it opened.
 */
@OptIn(InternalTetherApi::class)
public class WebSocketDialer(public val config: DialerConfig) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("tether-dialer"))
    @OptIn(InternalTetherApi::class)
    private val tokens = TokenSource(config.tokenProvider, config.staticToken)
    private val url = wsUrl(config.url)

    private val client = HttpClient(CIO) {
        expectSuccess = false
        install(WebSockets) {
            maxFrameSize = config.maxMessageBytes
            // Bounded, so a suspending send applies backpressure instead of queueing without limit.
            channels { outgoing = bounded(config.outgoingFrames) }
        }
        engine {
            // The dial timeout is ours; a CIO request timeout would also cut long-lived WebSockets.
            requestTimeout = 0
            config.trustManager?.let { tm -> https { trustManager = tm } }
        }
    }

    init {
        // Catch a refused upgrade before Ktor turns it into an untyped WebSocketException, keeping the status.
        client.responsePipeline.intercept(HttpResponsePipeline.Receive) {
            val response = context.response
            if (response.call.request.url.protocol.isWebsocket() && response.status != HttpStatusCode.SwitchingProtocols) {
                val status = response.status.value
                throw if (status == 401 || status == 403) {
                    AuthenticationFailedException(config.url, status)
                } else {
                    HandshakeRejectedException(config.url, status, response.headers[HttpHeaders.RetryAfter]?.trim()?.toLongOrNull())
                }
            }
        }
    }

    /**
     * Opens one WebSocket. Suspends at most [DialerConfig.dialTimeout]; throws a [ConnectionException] subclass:
     * [AuthenticationFailedException] for 401/403, [HandshakeRejectedException] for any other non-101 answer,
     * [DialTimeoutException] or [DialFailedException]. With a [listener], inbound messages go to it on the read
     * loop (one hop less) and [WebSocketConnection.incoming] stays empty.
     */
    @JvmSynthetic
    public suspend fun dial(listener: MessageListener? = null): WebSocketConnection {
        val token = tokens.next { log.warn("token provider failed ({}); using the last accepted token", it.toString()) }
        val opened = CompletableDeferred<WebSocketConnection>()
        val job = scope.launch(CoroutineName("tether-ws")) {
            var connection: WebSocketConnection? = null
            try {
                client.prepareRequest {
                    url(this@WebSocketDialer.url)
                    for ((k, v) in config.headers) header(k, v)
                    if (!token.isNullOrEmpty()) header(HttpHeaders.Authorization, "Bearer $token")
                }.body<ClientWebSocketSession, Unit> { session ->
                    val c = WebSocketConnection(session, config, listener)
                    connection = c
                    opened.complete(c)
                    // The read loop only runs non-blocking code (listeners must not block), so it belongs on the CPU
                    // pool: resuming a caller from there queues it on the same worker instead of waking a thread of
                    // another pool, which measurably cut context switches per message (docs/performance.md).
                    withContext(Dispatchers.Default) { c.run() }
                }
            } catch (e: Throwable) {
                val mapped = mapDialError(e)
                if (!opened.completeExceptionally(mapped)) {
                    connection?.ended(mapped as? ConnectionException ?: ConnectionClosedException(null, null, e))
                }
                if (e is CancellationException) throw e
            }
        }
        try {
            val connection = withTimeoutOrNull(config.dialTimeout.toMillis()) { opened.await() }
                ?: throw DialTimeoutException(config.url, config.dialTimeout.toMillis())
            @OptIn(InternalTetherApi::class)
            tokens.accepted(token)
            return connection
        } catch (e: Throwable) {
            job.cancel()
            throw e
        }
    }

    /** Java face of [dial]; completes on a library thread. Cancelling the future abandons the dial. */
    @JvmOverloads
    public fun dialAsync(listener: MessageListener? = null): CompletableFuture<WebSocketConnection> = scope.future { dial(listener) }

    private fun mapDialError(e: Throwable): Throwable = when (e) {
        is ConnectionException, is CancellationException -> e
        else -> DialFailedException(config.url, e)
    }

    /** Closes the HTTP client and every connection this dialer opened. */
    override fun close() {
        scope.cancel()
        client.close()
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
