@file:OptIn(InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.InternalTetherApi
import dev.tether.core.TetherScope
import dev.tether.core.WebSocketTransport
import dev.tether.core.javaFuture
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Semaphore
import kotlinx.coroutines.sync.withPermit
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.time.Duration
import java.util.concurrent.CompletableFuture
import kotlin.time.toKotlinDuration

/**
 * Picks the home relay (upstream ServerPicker): connects to every URL at once (at most [maxConcurrency] dials in
 * flight), the first session up wins, every other attempt is cancelled and any later success closed. The whole
 * pick is bounded by [timeout].
 */
public class ServerPicker @JvmOverloads constructor(
    urls: List<String>,
    private val tokenStore: TokenStore,
    private val peerKey: String,
    private val clientConfig: RelayClientConfig = RelayClientConfig.DEFAULT,
    /** Bound on one pick over all URLs. */
    public val timeout: Duration = Duration.ofMillis(RelayProtocol.PICKER_TIMEOUT_MILLIS),
    /** At most this many dials in flight. */
    public val maxConcurrency: Int = RelayProtocol.PICKER_MAX_CONCURRENCY,
) {
    /** The URLs raced, in order. */
    public val urls: List<String> = urls.toList()

    /** The I/O thread of the clients this picker makes; a [Manager] sets its own so that all its relays share it. */
    internal var pinned: WebSocketTransport.Pinned? = null

    /** Test seam: how an attempt connects a fresh client. */
    internal var connector: suspend (RelayClient) -> Unit = { it.connect() }

    init {
        require(maxConcurrency > 0) { "maxConcurrency must be positive" }
        require(!timeout.isNegative && !timeout.isZero) { "timeout must be positive" }
    }

    /**
     * Returns a connected client for the first URL that worked.
     * @throws NoRelayAvailableException when the list is empty, every URL failed, or none connected in time
     */
    @JvmSynthetic
    public suspend fun pick(): RelayClient {
        if (urls.isEmpty()) throw NoRelayAvailableException(emptyList())
        val results = Channel<Result<RelayClient>>(Channel.UNLIMITED)
        val failures = ArrayList<Throwable>()
        var winner: RelayClient? = null
        coroutineScope {
            val permits = Semaphore(maxConcurrency)
            val attempts = urls.map { url ->
                launch(CoroutineName("tether-relay-pick")) {
                    permits.withPermit {
                        val client =
                            RelayClient(
                                url,
                                tokenStore,
                                peerKey,
                                clientConfig,
                                pinned ?: WebSocketTransport.default().pinned(),
                            )
                        val result = try {
                            connector(client)
                            Result.success(client)
                        } catch (e: CancellationException) {
                            withContext(NonCancellable) { client.closeAndJoin() }
                            throw e
                        } catch (e: Exception) {
                            withContext(NonCancellable) { client.closeAndJoin() }
                            Result.failure(e)
                        }
                        results.send(result)
                    }
                }
            }
            winner = withTimeoutOrNull(timeout.toKotlinDuration()) {
                repeat(urls.size) {
                    val r = results.receive()
                    r.getOrNull()?.let { return@withTimeoutOrNull it }
                    failures += r.exceptionOrNull()!!
                }
                null
            }
            attempts.forEach { it.cancel() }
        }
        results.close()
        for (r in results) {
            val loser = r.getOrNull() ?: continue
            if (loser !== winner) {
                log.debug("closing the slower relay {}", loser.serverUrl)
                withContext(NonCancellable) { loser.closeAndJoin() }
            }
        }
        winner?.let { return it }
        throw NoRelayAvailableException(failures, timedOut = failures.size < urls.size)
    }

    /** Java face of [pick]; it runs on no object's scope (a picker owns no coroutines). */
    public fun pickAsync(): CompletableFuture<RelayClient> = TetherScope.javaFuture { pick() }

    private companion object {
        private val log = LoggerFactory.getLogger(ServerPicker::class.java)
    }
}
