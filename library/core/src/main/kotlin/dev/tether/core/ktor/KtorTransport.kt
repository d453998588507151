package dev.tether.core.ktor

import dev.tether.core.ConnectionClosedException
import dev.tether.core.ConnectionException
import dev.tether.core.DialFailedException
import dev.tether.core.DialerConfig
import dev.tether.core.MessageListener
import dev.tether.core.TransportDial
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketTransport
import dev.tether.core.refusedUpgrade
import io.ktor.client.HttpClient
import io.ktor.client.plugins.websocket.ClientWebSocketSession
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
import kotlinx.coroutines.withContext

/**
 * [WebSocketTransport.ktor]: the HttpClient [given] by the caller, or (without one) Ktor's sockets, TLS and WebSocket
 * session under an upgrade of Tether's own ([KtorSocketDial]).
 */
@OptIn(dev.tether.core.InternalTetherApi::class)
internal class KtorTransport(private val given: HttpClient?) : WebSocketTransport() {
    override fun open(config: DialerConfig): TransportDial =
        if (given == null) KtorSocketDial(config) else KtorDial(config, given)

    override fun pinned(): Pinned = Pinned(this, Dispatchers.Default)
}

/**
 * The sockets of one dialer on the caller's own Ktor [client]: one coroutine per socket runs its [KtorLink]. Sizes,
 * queues and TLS are the client's; Ktor's client applies its `maxFrameSize` only once the upgrade has been handed
 * back, so a frame sent right behind the 101 is bounded by it only from the next one (docs/security.md).
 */
internal class KtorDial(private val config: DialerConfig, private val client: HttpClient) : TransportDial {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("tether-ktor"))

    init {
        // Catch a refused upgrade before Ktor turns it into an untyped WebSocketException, keeping the status.
        client.responsePipeline.intercept(HttpResponsePipeline.Receive) {
            val response = context.response
            val upgrade = response.call.request.url.protocol.isWebsocket()
            if (upgrade && response.status != HttpStatusCode.SwitchingProtocols) {
                throw refusedUpgrade(config.url, response.status.value, response.headers[HttpHeaders.RetryAfter])
            }
        }
    }

    override suspend fun open(
        url: String,
        headers: Map<String, String>,
        listener: MessageListener?,
    ): WebSocketConnection {
        val opened = CompletableDeferred<WebSocketConnection>()
        val job = scope.launch(CoroutineName("tether-ws")) {
            var connection: WebSocketConnection? = null
            try {
                client.prepareRequest {
                    url(url)
                    for ((k, v) in headers) header(k, v)
                }.body<ClientWebSocketSession, Unit> { session ->
                    val c = WebSocketConnection(config, listener)
                    val link = KtorLink(session, { session.call.response.headers[it] }, config, c)
                    c.attach(link)
                    connection = c
                    opened.complete(c)
                    // The read loop only runs non-blocking code (listeners must not block), so it belongs on the CPU
                    // pool: resuming a caller from there queues it on the same worker instead of waking a thread of
                    // another pool (docs/performance.md).
                    withContext(Dispatchers.Default) { link.run() }
                }
            } catch (e: Throwable) {
                val passThrough = e is ConnectionException || e is CancellationException
                val mapped = if (passThrough) e else DialFailedException(config.url, e)
                if (!opened.completeExceptionally(mapped)) {
                    connection?.ended(mapped as? ConnectionException ?: ConnectionClosedException(null, null, e))
                }
                if (e is CancellationException) throw e
            }
        }
        try {
            return opened.await()
        } catch (e: Throwable) {
            job.cancel()
            throw e
        }
    }

    override fun close() {
        scope.cancel()
    }
}
