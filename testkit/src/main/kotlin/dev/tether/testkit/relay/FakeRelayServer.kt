@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.testkit.relay

import dev.tether.relay.Auth
import dev.tether.relay.AuthResponse
import dev.tether.relay.AuthToken
import dev.tether.relay.MalformedRelayMessageException
import dev.tether.relay.PeerId
import dev.tether.relay.PeerStateMessage
import dev.tether.relay.RelayMessage
import dev.tether.relay.RelayProtocol
import dev.tether.relay.TokenStore
import dev.tether.relay.Transport
import dev.tether.testkit.FakeServer
import dev.tether.testkit.dropEach
import dev.tether.testkit.snapshot
import io.ktor.http.HttpStatusCode
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.connector
import io.ktor.server.engine.embeddedServer
import io.ktor.server.response.respondText
import io.ktor.server.routing.get
import io.ktor.server.routing.route
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSocketServerSession
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import io.ktor.websocket.Frame
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.future.future
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.toKotlinDuration

/**
 * A netbird relay server on 127.0.0.1 (ephemeral port) that behaves as specs/netbird-relay.md describes: Auth
 * validation (HMAC token with constant-time compare and expiry; a bad login just closes the socket), a peer store
 * where the last login wins, Transport forwarding with the id rewritten to the source, peer-state subscriptions with
 * online/offline notifications, health checks (every 25 s, peers that do not answer within 45 s are closed),
 * AuthResponse carrying the instance URL, and Close to every peer on [close].
 *
 * Several instances can run at once (home and foreign relays). [faults] and [rotateCredentials] break it on purpose.
 *
 * ```
 * FakeRelayServer.start().use { relay ->
 *     RelayClient(relay.url, relay.tokenStore(), "peerA").use { it.connect() }
 * }
 * ```
 */
public class FakeRelayServer private constructor(
    /** The settings this relay started with. */
    public val config: FakeRelayServerConfig,
) : FakeServer<FakeRelayServerFaults> {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("fake-relay"))

    @Volatile private var currentSecret: String = config.secret
    private val peers = ConcurrentHashMap<PeerId, Peer>()
    private val onlineInterest = ConcurrentHashMap<PeerId, MutableSet<Peer>>()
    private val offlineInterest = ConcurrentHashMap<PeerId, MutableSet<Peer>>()
    private val online = MutableStateFlow<Set<PeerId>>(emptySet())
    private val logins = MutableStateFlow(0L)
    private val rejected = AtomicLong()
    private val forwarded = AtomicLong()
    private val unrouted = AtomicLong()
    private val healthTimeouts = AtomicLong()
    private val healthAnswers = AtomicLong()
    private val closing = AtomicBoolean(false)

    /** Fault controls: drops, health-check silence, refused logins, latency. */
    override val faults: FakeRelayServerFaults = FakeRelayServerFaults(
        { id ->
            peers[id]?.let {
                it.session.cancel()
                true
            } ?: false
        },
        ::dropEveryone,
    )

    private val server: EmbeddedServer<*, *> = embeddedServer(
        CIO,
        configure = {
            connector {
                host = FakeServer.LOOPBACK
                port = config.port
            }
            // A restart on the port of a stopped instance must not wait for its connections' TIME_WAIT.
            reuseAddress = true
        },
    ) {
        install(WebSockets) { maxFrameSize = Long.MAX_VALUE }
        routing {
            route(RelayProtocol.WEBSOCKET_PATH) {
                webSocketRaw { serve(this) }
                get { call.respondText("upgrade required\n", status = HttpStatusCode.UpgradeRequired) }
            }
        }
    }.start(wait = false)

    override val host: String = FakeServer.LOOPBACK

    /** The port the server listens on. */
    override val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }

    /** `rel://127.0.0.1:PORT`: what clients are configured with. */
    override val url: String = "rel://$host:$port"

    /** `ws://127.0.0.1:PORT/relay`. */
    public val webSocketUrl: String = "ws://127.0.0.1:$port${RelayProtocol.WEBSOCKET_PATH}"

    /** What AuthResponse carries: [FakeRelayServerConfig.instanceUrl], or [url]. */
    public val instanceUrl: String = config.instanceUrl ?: url

    /** The secret new logins are checked against. */
    public val secret: String get() = currentSecret

    /** A token for the current secret, valid for [ttl] (default 12 h). */
    @JvmOverloads
    public fun token(ttl: Duration = Duration.ofHours(12)): AuthToken =
        AuthToken.generate(currentSecret, ttl, config.clock)

    /** A token store holding a fresh [token]. */
    public fun tokenStore(): TokenStore = TokenStore(token())

    /**
     * Token rotation: from now on logins must be signed with [newSecret]; sessions already up stay up.
     */
    public fun rotateCredentials(newSecret: String) {
        require(newSecret.isNotEmpty()) { "the secret must not be empty" }
        currentSecret = newSecret
    }

    /** Peers online right now. */
    public fun onlinePeers(): Set<PeerId> = online.value

    /** Online peers as a flow. */
    public val onlinePeerIds: StateFlow<Set<PeerId>> get() = online

    /** True when [peerKey] has a session. */
    public fun isOnline(peerKey: String): Boolean = PeerId.of(peerKey) in online.value

    /** Logins accepted since start. */
    public fun acceptedLogins(): Long = logins.value

    /** Logins refused (bad first message, bad token, fault) since start. */
    public fun rejectedLogins(): Long = rejected.get()

    /** Transport messages forwarded. */
    public fun forwardedMessages(): Long = forwarded.get()

    /** Transport messages dropped because the destination was not online. */
    public fun unroutedMessages(): Long = unrouted.get()

    /** Health-check answers received from peers since start. */
    public fun healthChecksAnswered(): Long = healthAnswers.get()

    /** Sessions closed because the peer did not answer health checks. */
    public fun healthCheckTimeouts(): Long = healthTimeouts.get()

    /** Suspends until [count] logins have been accepted since start. */
    @JvmSynthetic
    public suspend fun awaitLogins(count: Long) {
        logins.first { it >= count }
    }

    /** Suspends until [peerKey] is online. */
    @JvmSynthetic
    public suspend fun awaitOnline(peerKey: String) {
        val id = PeerId.of(peerKey)
        online.first { id in it }
    }

    /** Suspends until [peerKey] is offline. */
    @JvmSynthetic
    public suspend fun awaitOffline(peerKey: String) {
        val id = PeerId.of(peerKey)
        online.first { id !in it }
    }

    /** Java face of [awaitLogins], bounded by [timeout]. */
    public fun awaitLoginsAsync(count: Long, timeout: Duration): CompletableFuture<Void?> = scope.future {
        withTimeout(timeout.toKotlinDuration()) { awaitLogins(count) }
        null
    }

    /** Java face of [awaitOnline], bounded by [timeout]. */
    public fun awaitOnlineAsync(peerKey: String, timeout: Duration): CompletableFuture<Void?> = scope.future {
        withTimeout(timeout.toKotlinDuration()) { awaitOnline(peerKey) }
        null
    }

    /** Java face of [awaitOffline], bounded by [timeout]. */
    public fun awaitOfflineAsync(peerKey: String, timeout: Duration): CompletableFuture<Void?> = scope.future {
        withTimeout(timeout.toKotlinDuration()) { awaitOffline(peerKey) }
        null
    }

    /** Sends Close to every peer (3 s bound), then stops the server. */
    override fun close() {
        if (!closing.compareAndSet(false, true)) return
        runBlocking {
            for (p in peers.values) {
                withTimeoutOrNull(3_000) {
                    runCatching {
                        p.session.outgoing.send(Frame.Binary(true, RelayMessage.Close.encode()))
                        p.session.flush() // the Close must reach the wire before the socket is cut
                    }
                }
            }
            // A peer that read the Close hangs up itself; cutting its socket first could make it see a plain
            // connection loss instead. Bounded: a peer that ignores the Close is cut after a second.
            withTimeoutOrNull(1_000) { for (p in peers.values.snapshot()) p.session.coroutineContext.job.join() }
        }
        dropEveryone()
        scope.cancel()
        server.stop(0, 1_000)
    }

    private fun dropEveryone(): Int = peers.values.dropEach { it.session }

    private inner class Peer(val id: PeerId, val session: WebSocketServerSession) {
        @Volatile var healthAnswered = true

        suspend fun send(bytes: ByteArray): Boolean {
            val sent = withTimeoutOrNull(config.writeTimeout.toMillis()) {
                runCatching { session.outgoing.send(Frame.Binary(true, bytes)) }.isSuccess
            }
            if (sent != true) {
                if (sent == null) log.debug("write to {} timed out; closing it", id)
                session.cancel()
                return false
            }
            return true
        }

        suspend fun sendPeerState(message: PeerStateMessage) {
            for (chunk in message.encodeChunks()) if (!send(chunk)) return
        }
    }

    private suspend fun serve(session: WebSocketServerSession) {
        if (closing.get()) return
        val peer = login(session) ?: run {
            rejected.incrementAndGet()
            session.cancel()
            return
        }
        val replaced = peers.put(peer.id, peer)
        replaced?.session?.cancel() // last login wins: no Close, no offline notice for the old session
        online.update { it + peer.id }
        onlineInterest.remove(peer.id)?.forEach { it.sendPeerState(PeerStateMessage.PeersOnline(listOf(peer.id))) }
        val health = session.launch { healthLoop(peer) }
        // Counted before the AuthResponse goes out: the client may read it and act (a test may drop the peer) before
        // this coroutine resumes from the send, and a cancelled resume would otherwise leave the login uncounted.
        logins.update { it + 1 }
        try {
            if (peer.send(AuthResponse(instanceUrl).encode())) readLoop(peer)
        } catch (e: Exception) {
            log.debug("peer {} ended: {}", peer.id, e.toString())
        } finally {
            health.cancel()
            session.cancel()
            onlineInterest.values.forEach { it.remove(peer) }
            offlineInterest.values.forEach { it.remove(peer) }
            if (peers.remove(peer.id, peer)) {
                online.update { it - peer.id }
                offlineInterest[peer.id]?.snapshot()?.forEach { sub ->
                    scope.launch { sub.sendPeerState(PeerStateMessage.PeersWentOffline(listOf(peer.id))) }
                }
            }
        }
    }

    /** Reads and checks the first message; the peer on success, null to close silently. */
    private suspend fun login(session: WebSocketServerSession): Peer? {
        val frame =
            withTimeoutOrNull(config.handshakeTimeout.toMillis()) {
                session.incoming.receiveCatching().getOrNull()
            } ?: return null
        if (faults.latency > 0) delay(faults.latency)
        if (frame !is Frame.Binary || !frame.fin) return null
        if (faults.takeRefusal()) return null
        val bytes = frame.data
        if (bytes.size > RelayProtocol.MAX_AUTH_SIZE) return null
        val auth = try {
            RelayMessage.decode(bytes) as? Auth
        } catch (e: MalformedRelayMessageException) {
            null
        } ?: return null
        val verdict = AuthToken.verify(auth.token, currentSecret, config.clock.instant())
        if (verdict != AuthToken.Verdict.VALID) {
            log.debug("login of {} refused: {}", auth.peerId, verdict)
            return null
        }
        return Peer(auth.peerId, session)
    }

    private suspend fun readLoop(peer: Peer) {
        for (frame in peer.session.incoming) {
            if (faults.latency > 0) delay(faults.latency)
            when (frame) {
                is Frame.Ping -> peer.session.outgoing.send(Frame.Pong(frame.data))

                is Frame.Close -> return

                is Frame.Binary -> {
                    // The real server reads into an 8820-byte buffer: anything longer or fragmented breaks the session.
                    if (!frame.fin || frame.data.size > RelayProtocol.MAX_MESSAGE_SIZE) return
                    if (!handle(peer, frame.data)) return
                }

                is Frame.Text -> return

                else -> Unit
            }
        }
    }

    /** Handles one message from an authenticated peer; false closes the session. */
    private suspend fun handle(peer: Peer, bytes: ByteArray): Boolean {
        if (bytes.size < 2 || bytes[0] != RelayProtocol.VERSION) return false
        when (bytes[1].toInt() and 0xff) {
            RelayProtocol.TYPE_TRANSPORT -> {
                if (bytes.size < RelayProtocol.HEADER_SIZE + RelayProtocol.PEER_ID_SIZE) return false
                val dst = try {
                    Transport.peerIdOf(bytes)
                } catch (e: MalformedRelayMessageException) {
                    return false
                }
                val target = peers[dst]
                if (target == null) {
                    unrouted.incrementAndGet()
                    return true
                }
                Transport.rewritePeerId(bytes, peer.id)
                // Forwarded in the sender's read loop, as the real server does: a slow receiver stalls the sender.
                if (target.send(bytes)) forwarded.incrementAndGet()
            }

            RelayProtocol.TYPE_CLOSE -> return false

            RelayProtocol.TYPE_HEALTH_CHECK -> {
                peer.healthAnswered = true
                healthAnswers.incrementAndGet()
            }

            RelayProtocol.TYPE_AUTH -> log.warn("peer {} sent Auth again; ignored", peer.id)

            RelayProtocol.TYPE_SUBSCRIBE_PEER_STATE -> {
                val ids = peerIds(bytes) ?: return false
                for (id in ids) {
                    onlineInterest.computeIfAbsent(id) { ConcurrentHashMap.newKeySet() }.add(peer)
                    offlineInterest.computeIfAbsent(id) { ConcurrentHashMap.newKeySet() }.add(peer)
                }
                val already = ids.filter { peers.containsKey(it) }
                if (already.isNotEmpty()) peer.sendPeerState(PeerStateMessage.PeersOnline(already))
            }

            RelayProtocol.TYPE_UNSUBSCRIBE_PEER_STATE -> {
                val ids = peerIds(bytes) ?: return false
                for (id in ids) {
                    onlineInterest[id]?.remove(peer)
                    offlineInterest[id]?.remove(peer)
                }
            }

            else -> return false
        }
        return true
    }

    private fun peerIds(bytes: ByteArray): List<PeerId>? = try {
        (RelayMessage.decode(bytes) as PeerStateMessage).peerIds
    } catch (e: MalformedRelayMessageException) {
        null
    }

    private suspend fun healthLoop(peer: Peer) {
        val interval = config.healthCheckInterval.toMillis()
        val timeout = config.healthCheckTimeout.toMillis()
        peer.session.launch {
            while (true) {
                delay(interval)
                if (faults.sendsHealthChecks) peer.send(RelayMessage.HealthCheck.encode())
            }
        }
        while (true) {
            delay(timeout)
            if (!faults.sendsHealthChecks) {
                peer.healthAnswered = true
                continue
            }
            if (!peer.healthAnswered) {
                log.debug("peer {} did not answer health checks within {} ms", peer.id, timeout)
                healthTimeouts.incrementAndGet()
                peer.session.cancel()
                return
            }
            peer.healthAnswered = false
        }
    }

    /** Starting one: the factories. */
    public companion object {
        private val log = LoggerFactory.getLogger(FakeRelayServer::class.java)

        /** Starts a relay with the real server's defaults and a random secret. */
        @JvmStatic
        public fun start(): FakeRelayServer = FakeRelayServer(FakeRelayServerConfig.builder().build())

        /** Starts a relay with [config]. */
        @JvmStatic
        public fun start(config: FakeRelayServerConfig): FakeRelayServer = FakeRelayServer(config)

        /** Kotlin: `FakeRelayServer.start { healthCheckInterval(Duration.ofMillis(200)) }`. */
        @JvmSynthetic
        public fun start(block: FakeRelayServerConfig.Builder.() -> Unit): FakeRelayServer =
            FakeRelayServer(FakeRelayServerConfig(block))
    }
}
