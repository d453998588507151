package dev.tether.testkit.tunnel

import dev.tether.core.InternalTetherApi
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import dev.tether.mux.Stream
import dev.tether.testkit.FakeServer
import dev.tether.testkit.snapshot
import dev.tether.tunnel.TunnelFlavour
import io.ktor.http.ContentType
import io.ktor.http.Headers
import io.ktor.http.HttpHeaders
import io.ktor.http.HttpStatusCode
import io.ktor.http.content.OutgoingContent
import io.ktor.server.application.ApplicationCall
import io.ktor.server.application.ApplicationCallPipeline
import io.ktor.server.application.call
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.embeddedServer
import io.ktor.server.request.header
import io.ktor.server.request.httpMethod
import io.ktor.server.request.path
import io.ktor.server.request.receiveChannel
import io.ktor.server.request.uri
import io.ktor.server.response.header
import io.ktor.server.response.respond
import io.ktor.server.response.respondText
import io.ktor.server.websocket.WebSocketUpgrade
import io.ktor.server.websocket.WebSockets
import io.ktor.utils.io.ByteWriteChannel
import io.ktor.utils.io.readAvailable
import io.ktor.utils.io.writeFully
import io.ktor.websocket.Frame
import io.ktor.websocket.WebSocketSession
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import org.jose4j.jwa.AlgorithmConstraints
import org.jose4j.jws.AlgorithmIdentifiers
import org.jose4j.jws.JsonWebSignature
import org.jose4j.jwt.JwtClaims
import org.jose4j.keys.HmacKey
import org.slf4j.LoggerFactory
import java.time.Duration
import java.util.Base64
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.random.Random
import kotlin.time.toKotlinDuration

/**
 * A webhooktunnel proxy on 127.0.0.1 with an ephemeral port, behaving as specs/webhooktunnel.md §9-12 describes
 * the real one: JWT-checked registration on `/` (400/404/401 answers, secrets A and B, last registration wins, the
 * client URL in the 101 response), path-style viewer routing (domain style too with
 * [FakeTunnelProxyConfig.domainStyle]), one
 * wsmux stream per viewer request with the original-path header, HTTP and WebSocket viewers, 504 for an unknown id.
 *
 * With the websocktunnel flavour it behaves as websocktunnel (spec §12, C): renamed headers, client URL
 * [FakeTunnelProxyConfig.urlPrefix] + `/` + id, ids checked against `^[a-zA-Z0-9_~.%-]+$` (400), an optional audience
 * check,
 * `/__lbheartbeat__`, no domain mode.
 *
 * Faults: [faults] (drop every session, stop answering pings, refuse the next registrations with a status,
 * latency per viewer request, black hole), [FakeTunnelProxy.rotateCredentials] (issued tokens stop working for new
 * registrations while
 * registered clients stay).
 */
@OptIn(InternalTetherApi::class)
public class FakeTunnelProxy private constructor(
    /** The settings this proxy started with. */
    public val config: FakeTunnelProxyConfig,
) : FakeServer<FakeTunnelProxyFaults> {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("fake-tunnel-proxy"))
    private val clients = ConcurrentHashMap<String, MuxSession>()
    private val registered = MutableStateFlow(0)

    /**
     * Ids whose 101 is on its way but whose session is not recorded yet. The client's `connect` returns on the 101,
     * so a viewer request sent right after it waits for the session instead of seeing a spurious 504.
     */
    private val upgrading = ConcurrentHashMap.newKeySet<String>()

    @Volatile private var secrets: Pair<String, String> = config.secretA to config.secretB
    private val viewerRequestCount = AtomicInteger()
    private val attempts = AtomicInteger()

    /** Fault controls: drops, keepalive silence, refusals, latency, black hole. */
    override val faults: FakeTunnelProxyFaults = FakeTunnelProxyFaults(::dropClient, ::dropAllSessions)
    private val closed = AtomicBoolean(false)

    private val server: EmbeddedServer<*, *> = embeddedServer(CIO, port = config.port, host = FakeServer.LOOPBACK) {
        install(WebSockets) { maxFrameSize = 16L shl 20 }
        intercept(ApplicationCallPipeline.Plugins) {
            dispatch(call)
            finish()
        }
    }.start(wait = false)

    override val host: String = FakeServer.LOOPBACK

    /** The port the proxy listens on. */
    override val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }

    /** `http://127.0.0.1:PORT`: where clients register (the tunnel client rewrites it to `ws://`). */
    override val url: String = "http://$host:$port"

    /** The host name used in client URLs (the HOSTNAME setting); defaults to `127.0.0.1:PORT`. */
    public val hostname: String = config.hostname ?: "127.0.0.1:$port"

    /** websocktunnel's URL_PREFIX; default `http://127.0.0.1:PORT`. */
    public val urlPrefix: String = (config.urlPrefix ?: url).trimEnd('/')

    /** The public URL the proxy hands to the client registered as [id]. */
    public fun clientUrl(id: String): String = when {
        config.flavour == TunnelFlavour.WEBSOCKTUNNEL -> "$urlPrefix/$id"
        config.domainStyle -> "http://$id.$hostname"
        else -> "http://$hostname/$id"
    }

    /** Successful registrations so far. */
    public val registrations: StateFlow<Int> get() = registered.asStateFlow()

    /** Registration requests received so far, whatever their answer. */
    public val registrationAttempts: Int get() = attempts.get()

    /** Viewer requests routed to a client so far. */
    public val viewerRequests: Int get() = viewerRequestCount.get()

    /** True while a client is registered as [id]. */
    public fun isRegistered(id: String): Boolean = clients[id]?.isOpen == true

    /** Suspends until the registration count reaches [count]. */
    @JvmSynthetic
    public suspend fun awaitRegistrations(count: Int, timeout: kotlin.time.Duration) {
        withTimeout(timeout) { registered.first { it >= count } }
    }

    /** Java face of [awaitRegistrations]. */
    public fun awaitRegistrationsAsync(count: Int, timeout: Duration): CompletableFuture<Void?> = scope.future {
        awaitRegistrations(count, timeout.toKotlinDuration())
        null
    }

    private fun dropClient(id: String): Boolean {
        // The client's connect returns on the 101, a moment before the session is recorded: wait for it (bounded).
        if (clients[id] == null && id in upgrading) {
            runBlocking { withTimeoutOrNull(UPGRADE_GRACE_MILLIS) { registered.first { clients[id] != null } } }
        }
        return clients.remove(id)?.let {
            it.close()
            true
        } ?: false
    }

    /**
     * Replaces the signing secrets: registrations with tokens signed by the old ones fail with 401 from now on;
     * registered clients stay connected (token rotation).
     */
    public fun rotateCredentials(secretA: String, secretB: String) {
        require(secretA.isNotEmpty() && secretB.isNotEmpty()) {
            "both secrets must be non-empty (whproxy panics otherwise)"
        }
        secrets = secretA to secretB
    }

    /** The secrets currently accepted (A, B). */
    public val currentSecrets: Pair<String, String> get() = secrets

    private fun dropAllSessions(): Int {
        val all = clients.values.snapshot()
        clients.clear()
        all.forEach { it.close() }
        return all.size
    }

    // ---------------------------------------------------------------------------------------------- dispatch

    private suspend fun dispatch(call: ApplicationCall) {
        val id = call.request.header(config.flavour.idHeader)
        when {
            call.request.path() == "/" && !id.isNullOrEmpty() -> register(call, id)

            config.flavour == TunnelFlavour.WEBSOCKTUNNEL && call.request.path() == LB_HEARTBEAT ->
                call.respondText("OK\n", status = HttpStatusCode.OK)

            else -> viewer(call)
        }
    }

    /** §9: the decision order of the real proxy. */
    private suspend fun register(call: ApplicationCall, id: String) {
        attempts.incrementAndGet()
        if (faults.isBlackHoled) {
            CompletableDeferred<Unit>().await() // never answers; the client's dial timeout fires
        }
        if (faults.latency > 0) delay(faults.latency)
        if (config.flavour == TunnelFlavour.WEBSOCKTUNNEL && !WEBSOCKTUNNEL_ID.matches(id)) {
            call.respondText("Invalid client id\n", status = HttpStatusCode.BadRequest)
            return
        }
        val token = BEARER.matchEntire(call.request.header(HttpHeaders.Authorization) ?: "")?.groupValues?.get(1)
        if (token == null) {
            call.respondText("Bad Request\n", status = HttpStatusCode.BadRequest)
            return
        }
        if (!call.request.header(HttpHeaders.Upgrade).equals("websocket", ignoreCase = true)) {
            call.respondText("404 page not found\n", status = HttpStatusCode.NotFound)
            return
        }
        if (!tokenValid(token, id)) {
            call.respondText("Unauthorized\n", status = HttpStatusCode.Unauthorized)
            return
        }
        faults.takeRefusal()?.let { status ->
            call.respondText("refused by fault injection\n", status = HttpStatusCode.fromValue(status))
            return
        }
        clients.remove(id)?.close() // last registration wins
        call.response.header(config.flavour.clientUrlHeader, clientUrl(id))
        upgrading.add(id)
        call.respond(
            WebSocketUpgrade(call) {
                val session = MuxSession.server(PingFilter(this, faults), config.muxConfig)
                clients[id] = session
                upgrading.remove(id)
                registered.update { it + 1 }
                log.info("tunnel client {} registered", id)
                session.awaitClosed()
                clients.remove(id, session)
            },
        )
    }

    /** §11: HS256 with secret A or B, exp and nbf required and current, tid equal to the id. */
    private fun tokenValid(token: String, id: String): Boolean {
        val (a, b) = secrets
        for (secret in listOf(a, b)) {
            val jws = JsonWebSignature()
            val verified = try {
                jws.setAlgorithmConstraints(
                    AlgorithmConstraints(AlgorithmConstraints.ConstraintType.PERMIT, AlgorithmIdentifiers.HMAC_SHA256),
                )
                jws.compactSerialization = token
                jws.key = HmacKey(secret.toByteArray(Charsets.UTF_8))
                jws.isDoKeyValidation = false
                jws.verifySignature()
            } catch (e: Exception) {
                false
            }
            if (!verified) continue
            return try {
                val claims = JwtClaims.parse(jws.payload)
                val now = config.clock.instant().epochSecond
                val exp = claims.expirationTime?.value ?: return false
                val nbf = claims.notBefore?.value ?: return false
                val audienceOk = config.audience == null || claims.audience.orEmpty().contains(config.audience)
                exp != 0L && nbf != 0L && now <= exp && now >= nbf && claims.getClaimValue("tid") == id && audienceOk
            } catch (e: Exception) {
                false
            }
        }
        return false
    }

    /**
     * §10. Path style: `/<id>/rest?query` goes to client `id` as `/rest?query`. Domain style (A's rule, when
     * configured): a Host starting with HOSTNAME is path style, a host ending in `.HOSTNAME` names the id in its
     * first label and the whole request URI is forwarded, anything else is 404.
     */
    private suspend fun viewer(call: ApplicationCall) {
        val path = call.request.path()
        val uri = call.request.uri
        val query = uri.substringAfter('?', "").let { if (uri.contains('?')) "?$it" else "" }
        val host = call.request.header(HttpHeaders.Host).orEmpty()
        val domainId = if (config.domainStyle && !host.startsWith(hostname)) {
            val bare = host.substringBefore(':')
            if (!bare.endsWith("." + hostname.substringBefore(':'))) {
                call.respondText("404 page not found\n", status = HttpStatusCode.NotFound)
                return
            }
            bare.substringBefore('.')
        } else {
            null
        }
        val trimmed = path.removePrefix("/")
        val id = domainId ?: trimmed.substringBefore('/')
        if (id.isEmpty()) {
            call.respondText("404 page not found\n", status = HttpStatusCode.NotFound)
            return
        }
        val rest = when {
            domainId != null -> path
            trimmed.contains('/') -> "/" + trimmed.substringAfter('/')
            else -> "/"
        }
        val session = clients[id] ?: if (id in upgrading) {
            withTimeoutOrNull(UPGRADE_GRACE_MILLIS) { registered.first { clients[id] != null } }
            clients[id]
        } else {
            null
        }
        if (session == null || !session.isOpen) {
            call.respondText("No client is connected with that id\n", status = HttpStatusCode.GatewayTimeout)
            return
        }
        viewerRequestCount.incrementAndGet()
        log.debug("viewer request {} {} for tunnel {}", call.request.httpMethod.value, path, id)
        if (faults.latency > 0) delay(faults.latency)
        val stream = try {
            session.open()
        } catch (e: Exception) {
            call.respondText(
                "could not open a stream to the client: ${e.message}\n",
                status = HttpStatusCode.InternalServerError,
            )
            return
        }
        try {
            if (call.request.header(HttpHeaders.Upgrade).equals("websocket", ignoreCase = true)) {
                ViewerWebSocket(call, stream, rest + query, path, config.flavour).run()
            } else {
                ViewerHttp(call, stream, rest + query, path, config.flavour).run()
            }
        } finally {
            stream.close()
        }
    }

    /** Stops the proxy and drops every session. */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        dropAllSessions()
        server.stop(0, 500)
        scope.cancel()
    }

    /** Starting one: the factories. */
    public companion object {
        private val log = LoggerFactory.getLogger(FakeTunnelProxy::class.java)
        private val BEARER = Regex("^Bearer ([\\w\\-.]+)$")
        private val WEBSOCKTUNNEL_ID = Regex("^[a-zA-Z0-9_~.%-]+$")
        private const val LB_HEARTBEAT = "/__lbheartbeat__"

        /**
         * How long a viewer request waits for a session whose 101 was just sent (a failed upgrade never records one).
         */
        private const val UPGRADE_GRACE_MILLIS = 5_000L

        /** Starts a proxy with the default config. */
        @JvmStatic
        public fun start(): FakeTunnelProxy = FakeTunnelProxy(FakeTunnelProxyConfig.DEFAULT)

        /** Starts a proxy with [config]. */
        @JvmStatic
        public fun start(config: FakeTunnelProxyConfig): FakeTunnelProxy = FakeTunnelProxy(config)

        /** Kotlin: `FakeTunnelProxy.start { secrets("a", "b") }`. */
        @JvmSynthetic
        public fun start(block: FakeTunnelProxyConfig.Builder.() -> Unit): FakeTunnelProxy =
            FakeTunnelProxy(FakeTunnelProxyConfig(block))
    }
}

/** A raw server WebSocket whose inbound pings vanish while [faults] says so (keepalive expiry on the client). */
internal class PingFilter(
    private val raw: WebSocketSession,
    private val faults: FakeTunnelProxyFaults,
) : WebSocketSession by raw {
    private val filtered = Channel<Frame>(64)

    init {
        raw.launch {
            try {
                for (frame in raw.incoming) {
                    if (frame is Frame.Ping && !faults.answersPings) continue
                    filtered.send(frame)
                }
            } finally {
                filtered.close()
            }
        }
    }

    override val incoming: kotlinx.coroutines.channels.ReceiveChannel<Frame> get() = filtered
}

/** Secure random `Sec-WebSocket-Key` values for the handshake the proxy runs over a stream. */
internal fun newWebSocketKey(): String = Base64.getEncoder().encodeToString(Random.nextBytes(16))
