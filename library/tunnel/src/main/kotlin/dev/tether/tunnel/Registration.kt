package dev.tether.tunnel

import dev.tether.core.AuthenticationFailedException
import dev.tether.core.ConnectionException
import dev.tether.core.DialerConfig
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.InternalTetherApi
import dev.tether.core.TokenProvider
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WebSocketTransport
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.slf4j.Logger
import org.slf4j.LoggerFactory
import java.time.Duration
import java.time.Instant
import kotlin.random.Random

/** A registered tunnel: the WebSocket the mux session runs on and the public URL the proxy answered. */
internal class Registered(val connection: WebSocketConnection, val publicUrl: String)

/**
 * Registers the tunnel with the proxy (specs/webhooktunnel.md §9, §13): `GET /` upgraded to a WebSocket with
 * `Authorization: Bearer <jwt>` and the id header, under the retry policy.
 *
 * Status handling as upstream: 401 is [TunnelAuthFailedException] and any other 4xx (or a 2xx that is not an
 * upgrade) is [RetryFailedException], neither retried; no answer, 1xx, 3xx and 5xx are retried until
 * [dev.tether.core.backoff.RetryTimedOutException]. Unlike upstream, the token is renewed before every attempt
 * that would send an expired one, and a 401 is retried once with a freshly generated token when a generator is
 * configured (a proxy that rotated its secret accepts the new token).
 *
 * After the first successful registration an id that older webhooktunnel proxies mangle in WebSocket viewer paths
 * is logged once as a warning ([brokenViewerPathWarning]).
 */
@OptIn(InternalTetherApi::class)
internal class Registration(
    private val config: TunnelConfig,
    keepAlive: Duration,
    private val random: Random = Random.Default,
    private val log: Logger = defaultLog,
    transport: WebSocketTransport = WebSocketTransport.default(),
) : AutoCloseable {
    @Volatile private var token: String? = config.token

    @Volatile private var dialToken: String? = null

    @Volatile private var idChecked = false

    /** Every connection of the tunnel on one I/O thread, so that [dispatcher] stays the same across reconnects. */
    private val pinned = transport.pinned()

    /** The I/O thread of every registration's connection ([kotlinx.coroutines.Dispatchers.Default] on Ktor). */
    val dispatcher: CoroutineDispatcher get() = pinned.dispatcher

    private val dialer = WebSocketDialer(
        DialerConfig.builder()
            .url(config.dialUrl)
            .transport(pinned.transport)
            // Sends from the I/O thread queue up between two flushes (an ACK per viewer stream read, a FIN per
            // answer); every stream's bytes are bounded by its window, so the count needs no tight bound.
            .outgoingFrames(OUTGOING_FRAMES)
            .header(config.flavour.idHeader, config.id)
            .tokenProvider(TokenProvider { checkNotNull(dialToken) })
            .dialTimeout(config.dialTimeout)
            // Mux DAT frames are at most a window long; the proxy's window is 4096, so 1 MiB is ample.
            .maxMessageBytes(1L shl 20)
            // The session's keepalive: ping at the mux interval, expire when no pong comes back within it.
            .pingInterval(keepAlive)
            .pongTimeout(keepAlive)
            .apply { config.trustManager?.let { trustManager(it) } }
            .observer(config.observer)
            .build(),
    )

    /** Test seam: dials with the given token instead of the WebSocket dialer (virtual-time tests). */
    internal var dialSeam: (suspend (token: String) -> WebSocketConnection)? = null

    /** Registers, retrying under [TunnelConfig.retry]. */
    suspend fun register(): Registered =
        config.retry.retry(isRetryable = { it is ConnectionException }, random = random) { attempt ->
            attemptOnce(attempt)
        }

    private suspend fun attemptOnce(attempt: Int): Registered {
        val before = token
        var current = usableToken(force = false)
        var renewed = current !== before
        while (true) {
            dialToken = current
            try {
                val connection = dialSeam?.invoke(current) ?: dialer.dial()
                token = current
                val url = connection.handshakeHeader(config.flavour.clientUrlHeader).orEmpty()
                log.info(
                    "tunnel {} registered with {} (attempt {}); public URL {}",
                    config.id,
                    config.proxyUrl,
                    attempt,
                    url.ifEmpty { "(none sent)" },
                )
                if (!idChecked) {
                    idChecked = true // once per client, not at every reconnect
                    brokenViewerPathWarning(config)?.let { log.warn(it) }
                }
                return Registered(connection, url)
            } catch (e: AuthenticationFailedException) {
                if (e.status == 401 && config.tokenGenerator != null && !renewed) {
                    log.info("the proxy refused the token of tunnel {}; retrying once with a new one", config.id)
                    current = usableToken(force = true)
                    renewed = true
                    continue
                }
                throw if (e.status == 401) {
                    TunnelAuthFailedException(config.proxyUrl, 401)
                } else {
                    RetryFailedException(config.proxyUrl, e.status)
                }
            } catch (e: HandshakeRejectedException) {
                when (e.status / 100) {
                    2, 4 -> throw RetryFailedException(config.proxyUrl, e.status)
                    else -> throw e // 1xx, 3xx, 5xx: retried
                }
            }
        }
    }

    /** The token to send: the current one while valid, else (or when [force]d) a new one from the generator. */
    private suspend fun usableToken(force: Boolean): String {
        val current = token
        if (!force && current != null && TunnelTokens.isUsable(current, Instant.now())) return current
        val generator = config.tokenGenerator
        if (generator == null) {
            // Nothing to renew with: send what we have and let the proxy decide (it may accept non-JWT tokens).
            checkNotNull(current)
            log.warn(
                "the token of tunnel {} is expired, not yet valid or not a JWT, and no generator is configured",
                config.id,
            )
            return current
        }
        val fresh = try {
            withContext(Dispatchers.IO) { generator.token(config.id) }
        } catch (e: Exception) {
            throw BadTokenException("the token generator failed: ${e.message ?: e::class.simpleName}", e)
        }
        if (!TunnelTokens.isUsable(fresh, Instant.now())) {
            throw BadTokenException(
                "the token generator returned a token that is expired, not yet valid or lacks exp/nbf",
            )
        }
        token = fresh
        return fresh
    }

    override fun close() = dialer.close()

    internal companion object {
        private val defaultLog = LoggerFactory.getLogger(Registration::class.java)
        const val OUTGOING_FRAMES = 1024

        /** Go's `\w` (ASCII): what the webhooktunnel proxy's viewer-path regex `^/(\w+)(/?)` takes as the id. */
        private fun isGoWord(c: Char): Boolean = c in 'a'..'z' || c in 'A'..'Z' || c in '0'..'9' || c == '_'

        /**
         * The warning for an id that breaks WebSocket viewers on a webhooktunnel proxy (specs/webhooktunnel.md §10,
         * "WebSocket viewer requests" step 2), or null. Proxies before the 2019 fix (webhooktunnel issue #41) strip
         * the id from a WebSocket viewer's path with `^/(\w+)(/?)`, and `\w` stops at `-` (or any character outside
         * `[A-Za-z0-9_]`): `/ab-cd/ws` reaches the client as `/-cd/ws`. Plain HTTP viewers are routed differently and
         * are not affected; websocktunnel has no such rewrite.
         */
        internal fun brokenViewerPathWarning(config: TunnelConfig): String? {
            val id = config.id
            if (config.flavour != TunnelFlavour.WEBHOOKTUNNEL) return null
            val bad = id.firstOrNull { !isGoWord(it) } ?: return null
            val word = id.takeWhile(::isGoWord)
            // No leading word character: the regex does not match and the id stays in the path.
            val broken = if (word.isEmpty()) "/$id/ws" else "/" + id.removePrefix(word) + "/ws"
            return "tunnel id \"$id\" contains '$bad': webhooktunnel proxies before the 2019 fix " +
                "(webhooktunnel issue #41) rewrite WebSocket viewer paths with ^/(\\w+)(/?), so WebSocket viewers " +
                "get a broken path (/$id/ws reaches the origin as $broken); plain HTTP viewers are not affected. " +
                "Use an id of only letters, digits and '_' if " +
                "WebSocket viewers must work through such a proxy."
        }
    }
}
