@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.testkit.wamp

import dev.tether.testkit.FakeServer
import dev.tether.testkit.snapshot
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.rawsocket.Handshake
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.Serialization
import dev.tether.wamp.transport.LocalPeer
import dev.tether.wamp.transport.Peer
import dev.tether.wamp.transport.RawSocketPeer
import io.ktor.network.selector.SelectorManager
import io.ktor.network.sockets.InetSocketAddress
import io.ktor.network.sockets.ServerSocket
import io.ktor.network.sockets.Socket
import io.ktor.network.sockets.UnixSocketAddress
import io.ktor.network.sockets.aSocket
import io.ktor.network.sockets.openReadChannel
import io.ktor.network.sockets.openWriteChannel
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.embeddedServer
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocket
import io.ktor.server.websocket.webSocketRaw
import io.ktor.utils.io.readFully
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.future.future
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.security.SecureRandom
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import kotlin.time.toKotlinDuration

/**
 * An embeddable WAMP router for tests: WebSocket (`ws://127.0.0.1:PORT/`, subprotocols `wamp.2.json`,
 * `wamp.2.msgpack`, `wamp.2.cbor`, chosen in that order of preference), RawSocket over TCP
 * (`tcp://127.0.0.1:PORT2`) and optionally a Unix socket, all three serializers, realms, ticket / wampcra (plain
 * and salted) / cryptosign / anonymous authentication, RPC and PubSub with most of the advanced profile (pattern-based
 * and shared registrations, pattern-based subscriptions, call timeouts timed here or forwarded to the callee, cancel
 * modes, caller and publisher disclosure, subscriber black- and whitelisting, progressive call results) and the
 * meta API procedures of sessions, registrations and subscriptions (no meta events). Ports are ephemeral on
 * 127.0.0.1. With [FakeWampRouterConfig.tls] it also
 * serves `wss` ([wssUrl]) and RawSocket over TLS ([tcpsUrl]) with the [FakeWampRouterTls] test certificate.
 *
 * [faults] drops sessions, refuses joins, stops answering RawSocket PINGs, delays or mutes the router;
 * [rotateCredentials] changes a
 * credential (existing sessions stay, new logins with the old one fail). [connectLocal] attaches an in-process
 * client with no socket and no serialization.
 *
 * ```
 * FakeWampRouter.start().use { router ->
 *     val session = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
 * }
 * ```
 */
public class FakeWampRouter private constructor(
    /** The settings this router started with. */
    public val config: FakeWampRouterConfig,
) : FakeServer<FakeWampRouterFaults> {
    private val log = LoggerFactory.getLogger(FakeWampRouter::class.java)
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("wamp-router"))
    private val realms = ConcurrentHashMap<String, RouterRealm>()
    private val users = ConcurrentHashMap<String, RouterUser>()
    private val random = SecureRandom()
    private val connections = ConcurrentHashMap.newKeySet<RouterSession>()
    private val selector = SelectorManager(Dispatchers.IO)

    /** Fault controls: drops, refused joins, keepalive silence, latency, mute. */
    override val faults: FakeWampRouterFaults = FakeWampRouterFaults(this)
    private val closed = java.util.concurrent.atomic.AtomicBoolean(false)

    init {
        for ((name, anonymous) in config.realms) realms[name] = RouterRealm(name, anonymous, this)
        for (u in config.users) users[u.authId] = u
    }

    private val server: EmbeddedServer<*, *> = embeddedServer(
        CIO,
        port = config.webSocketPort,
        host = FakeServer.LOOPBACK,
    ) {
        install(WebSockets) { maxFrameSize = config.maxWebSocketMessage }
        routing {
            // Same preference as nexus: the first of json, msgpack, cbor that the client offered.
            for (s in listOf(Serialization.JSON, Serialization.MSGPACK, Serialization.CBOR)) {
                webSocket("/", protocol = s.subprotocol) {
                    serve(ServerWebSocketPeer(this, s.serializer(), "websocket ${s.subprotocol}"))
                }
            }
            // No WAMP subprotocol offered: upgrade (101 without Sec-WebSocket-Protocol), then drop the TCP
            // connection without a close frame, as nexus does. A raw session sends no close frame of its own.
            webSocketRaw("/") { }
        }
    }.start(wait = false)

    /** The WebSocket port. */
    public val webSocketPort: Int = runBlocking { server.engine.resolvedConnectors().first().port }

    /** `ws://127.0.0.1:PORT/`. */
    public val wsUrl: String = "ws://127.0.0.1:$webSocketPort/"

    override val host: String = FakeServer.LOOPBACK

    /** The WebSocket port (the same as [webSocketPort]). */
    override val port: Int get() = webSocketPort

    /** The WebSocket URL, `ws://127.0.0.1:PORT/` (the same as [wsUrl]; [url] of a transport gives the others). */
    override val url: String get() = wsUrl

    private val tcpServer: ServerSocket =
        runBlocking { aSocket(selector).tcp().bind(InetSocketAddress(FakeServer.LOOPBACK, config.rawSocketPort)) }

    /** The RawSocket TCP port. */
    public val rawSocketPort: Int = (tcpServer.localAddress as InetSocketAddress).port

    /** `tcp://127.0.0.1:PORT`. */
    public val tcpUrl: String = "tcp://127.0.0.1:$rawSocketPort"

    private val unixServer: ServerSocket? = config.unixSocketPath?.let { path ->
        java.io.File(path).delete()
        runBlocking { aSocket(selector).tcp().bind(UnixSocketAddress(path)) }
    }

    /** `unix://PATH` when a Unix socket was configured, else null. */
    public val unixUrl: String? = config.unixSocketPath?.let { "unix://$it" }

    private val wssFront: TlsFront? = if (config.tls) TlsFront("wss", webSocketPort, config.tlsClientAuth) else null
    private val tcpsFront: TlsFront? = if (config.tls) TlsFront("tcps", rawSocketPort, config.tlsClientAuth) else null

    /**
     * `wss://127.0.0.1:PORT/` when TLS is enabled ([FakeWampRouterConfig.tls]), else null. The certificate is
     * [FakeWampRouterTls]'s: clients must trust [FakeWampRouterTls.trustManager].
     */
    public val wssUrl: String? = wssFront?.let { "wss://127.0.0.1:${it.port}/" }

    /** `tcps://127.0.0.1:PORT` (RawSocket over TLS) when TLS is enabled, else null. */
    public val tcpsUrl: String? = tcpsFront?.let { "tcps://127.0.0.1:${it.port}" }

    init {
        scope.launch(CoroutineName("rawsocket-accept")) { acceptLoop(tcpServer, "tcp") }
        unixServer?.let { s -> scope.launch(CoroutineName("unix-accept")) { acceptLoop(s, "unix") } }
    }

    /** The URL for [transport]: `ws`, `tcp`, `unix`, `wss` or `tcps`. */
    public fun url(transport: String): String = when (transport) {
        "ws" -> wsUrl

        "tcp" -> tcpUrl

        "unix" ->
            unixUrl
                ?: throw IllegalStateException("router has no Unix socket; set FakeWampRouterConfig.unixSocket")

        "wss" -> wssUrl ?: throw IllegalStateException("router has no TLS; set FakeWampRouterConfig.tls")

        "tcps" -> tcpsUrl ?: throw IllegalStateException("router has no TLS; set FakeWampRouterConfig.tls")

        else -> throw IllegalArgumentException("transport must be ws, tcp, unix, wss or tcps")
    }

    /** Number of sessions joined to [realm]. */
    @JvmOverloads
    public fun sessionCount(realm: String = "realm1"): Int = realms[realm]?.sessionCount ?: 0

    /** The ids of the sessions joined to [realm]. */
    @JvmOverloads
    public fun sessionIds(realm: String = "realm1"): List<Long> =
        realms[realm]?.sessions()?.map { it.id } ?: emptyList()

    /**
     * Replaces (or adds) a user's credentials. Sessions already joined stay; new logins must use the new
     * credential.
     */
    public fun rotateCredentials(user: RouterUser) {
        users[user.authId] = user
    }

    /** Removes a user: new logins as [authId] fail. */
    public fun removeUser(authId: String) {
        users.remove(authId)
    }

    /**
     * Attaches an in-process client to the router, with no socket and no serialization, and joins [config]'s
     * realm (nexus's ConnectLocal).
     */
    @JvmSynthetic
    public suspend fun connectLocal(config: SessionConfig): WampSession {
        val (client, routerEnd) = LocalPeer.pair()
        scope.launch(CoroutineName("local-session")) { serve(routerEnd) }
        return WampSession.join(client, config)
    }

    /** Java face of [connectLocal]. */
    public fun connectLocalAsync(config: SessionConfig): CompletableFuture<WampSession> =
        scope.future { connectLocal(config) }

    internal fun realm(name: String): RouterRealm? = realms[name]

    /** Runs [block] after [millis] unless the router stopped first (router-side call timeouts). */
    internal fun after(millis: Long, block: () -> Unit) {
        scope.launch(CoroutineName("router-timer")) {
            kotlinx.coroutines.delay(millis)
            block()
        }
    }

    internal fun user(authId: String): RouterUser? = users[authId]

    /** EVENTs dropped to blocked subscribers ([FakeWampRouterConfig.outboundQueueSize]). */
    internal val eventDrops = EventDropCounter()

    /**
     * The EVENTs this router dropped so far because their subscriber's outbound queue was full
     * ([FakeWampRouterConfig.outboundQueueSize]), in total and by session id, as nexus drops (and logs) events to a
     * subscriber that does not read its connection. A snapshot.
     */
    public fun eventStats(): RouterEventStats = eventDrops.snapshot()

    internal fun newSessionId(): Long = 1 + (random.nextLong() and Long.MAX_VALUE) % WampValues.MAX_ID

    internal fun rawSocketPeers(): List<RawSocketPeer> = connections.mapNotNull { it.peer as? RawSocketPeer }

    internal fun liveSessions(): List<RouterSession> = connections.snapshot()

    private suspend fun serve(peer: Peer) {
        if (peer is RawSocketPeer) peer.answerPings = !faults.pongsStopped
        val session = RouterSession(this, peer)
        connections.add(session)
        try {
            kotlinx.coroutines.coroutineScope { session.run(this) }
        } finally {
            connections.remove(session)
        }
    }

    private suspend fun acceptLoop(server: ServerSocket, kind: String) {
        while (scope.isActive) {
            val socket = try {
                server.accept()
            } catch (e: Exception) {
                if (e is kotlinx.coroutines.CancellationException) throw e
                log.debug("router: {} accept stopped: {}", kind, e.message)
                return
            }
            scope.launch(CoroutineName("rawsocket-$kind")) { rawSocket(socket, kind) }
        }
    }

    private suspend fun rawSocket(socket: Socket, kind: String) {
        val input = socket.openReadChannel()
        val output = socket.openWriteChannel(autoFlush = false)
        try {
            val hs = ByteArray(RawSocketProtocol.HANDSHAKE_LENGTH)
            withTimeoutOrNull(config.helloTimeout.toKotlinDuration()) { input.readFully(hs) } ?: return socket.close()
            val handshake = when (val request = Handshake.parseRequest(hs)) {
                Handshake.Request.Drop -> return socket.close()

                is Handshake.Request.Refuse -> {
                    output.writeFully(Handshake.errorReply(request.errorCode))
                    output.flush()
                    return socket.close()
                }

                is Handshake.Request.Valid -> request.handshake
            }
            val serialization = Serialization.fromRawSocketId(handshake.serializerId)
            if (serialization == null) {
                output.writeFully(Handshake.errorReply(RawSocketProtocol.ERROR_SERIALIZER_UNSUPPORTED))
                output.flush()
                return socket.close()
            }
            val exponent = RawSocketProtocol.exponentFor(config.rawSocketRecvLimit)
            output.writeFully(Handshake(exponent, handshake.serializerId).encode())
            output.flush()
            val peer = RawSocketPeer(
                input,
                output,
                serialization.serializer(),
                sendLimit = handshake.maxLength,
                recvLimit = RawSocketProtocol.maxLengthOf(exponent),
                description = "rawsocket $kind ${serialization.subprotocol}",
            ) { runCatching { socket.close() } }
            serve(peer)
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException) throw e
            log.debug("router: RawSocket connection ended: {}", e.message)
        } finally {
            runCatching { socket.close() }
        }
    }

    /** Says GOODBYE (`wamp.close.system_shutdown`) to every session, then stops all listeners. */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        runBlocking {
            realms.values.forEach { it.shutdown() }
            withTimeoutOrNull(500) { while (connections.any { it.realm != null }) kotlinx.coroutines.delay(10) }
            runCatching { tcpServer.close() }
            runCatching { unixServer?.close() }
            runCatching { wssFront?.close() }
            runCatching { tcpsFront?.close() }
            connections.forEach { it.terminate() }
            scope.coroutineContext[kotlinx.coroutines.Job]!!.cancelAndJoin()
            runCatching { selector.close() }
        }
        server.stop(0, 1_000)
        config.unixSocketPath?.let { java.io.File(it).delete() }
    }

    /** Starting one: the factories. */
    public companion object {
        /** Starts a router with realm `realm1` open to anonymous sessions. */
        @JvmStatic
        public fun start(): FakeWampRouter = FakeWampRouter(FakeWampRouterConfig.DEFAULT)

        /** Starts a router with [config]. */
        @JvmStatic
        public fun start(config: FakeWampRouterConfig): FakeWampRouter = FakeWampRouter(config)

        /** Kotlin: `FakeWampRouter.start { ticketUser("alice", "secret") }`. */
        @JvmSynthetic
        public fun start(block: FakeWampRouterConfig.Builder.() -> Unit): FakeWampRouter =
            FakeWampRouter(FakeWampRouterConfig(block))
    }
}
