@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.ConnectionClosedException
import dev.tether.core.ConnectionException
import dev.tether.core.DialerConfig
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WsMessage
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asExecutor
import dev.tether.core.WebSocketTransport
import java.util.concurrent.Executor
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.net.URI
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.toKotlinDuration

/**
 * A client of one relay server (upstream `client.Client`): one authenticated relay session over a WebSocket, and
 * [RelayConn]s to peers through it.
 *
 * [connect] dials `rel://host:port` as `ws://host:port/relay` (`rels` as `wss`), authenticates with the token in
 * the [TokenStore] and waits at most 8 s for the AuthResponse. The session answers the server's health checks and
 * ends when none arrives for 35 s, when the server sends Close, or when the socket drops; then every connection
 * is closed and the [DisconnectListener] runs (also after [close]). The client is reusable: [connect] again.
 *
 * [openConn] registers a connection to a peer, hands it any early message the peer already sent, subscribes to the
 * peer's state and waits (at most 30 s) until the relay reports the peer online.
 *
 * Kotlin: suspend [connect], [openConn], [shutdown]. Java: [connectAsync], [openConnAsync], [closeAsync], [close].
 *
 * @param serverUrl `rel://host[:port]` or `rels://host[:port]`; any path is ignored.
 * @param tokenStore where each handshake takes its token.
 * @param peerKey this peer's key (netbird: the WireGuard public key); its hash is the [peerId].
 */
public class RelayClient @JvmOverloads constructor(
    public val serverUrl: String,
    private val tokenStore: TokenStore,
    peerKey: String,
    public val config: RelayClientConfig = RelayClientConfig.DEFAULT,
) : AutoCloseable {
    /** This peer's relay identity. */
    public val peerId: PeerId = PeerId.of(peerKey)

    /** The WebSocket URL [serverUrl] is dialled as. */
    public val webSocketUrl: String = toWebSocketUrl(serverUrl)

    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("tether-relay-client"))

    /** Every session of this client runs on one I/O thread, so [dispatcher] survives reconnects. */
    private val pinned = WebSocketTransport.default().pinned()

    /**
     * The I/O thread this client's relay sessions run on, as a dispatcher: latency-critical code that never blocks
     * may run here (`withContext(client.dispatcher) { conn.write(…); conn.read() }`) and needs no thread hand-off
     * per message. Blocking here stalls the relay session.
     */
    public val dispatcher: CoroutineDispatcher get() = pinned.dispatcher

    /** Java face of [dispatcher]: the I/O thread as an executor. */
    public val executor: Executor get() = pinned.dispatcher.asExecutor()
    private val lifecycle = Mutex()
    @Volatile private var session: Session? = null
    @Volatile private var dialer: WebSocketDialer? = null
    @Volatile private var disconnectListener: DisconnectListener? = null
    private val droppedInClosedConns = AtomicLong()
    private val malformed = AtomicLong()
    private val early = EarlyBuffer(config.earlyBufferTtl.toNanos(), config.earlyBufferCapacity)

    /** Called once per ended session with the configured [serverUrl] (upstream onDisconnectListener). */
    public fun interface DisconnectListener {
        public fun onDisconnected(serverUrl: String)
    }

    /** True while a relay session is up. */
    public val isConnected: Boolean get() = session?.ended?.isCompleted == false

    /** The reason the last session ended, or null while connected or before the first connect. */
    @Volatile public var lastDisconnectCause: RelayException? = null
        private set

    /**
     * The instance URL from the server's AuthResponse (what peers advertise to each other).
     * @throws RelayClientNotConnectedException when no session is up
     */
    public fun serverInstanceUrl(): String =
        live()?.instanceUrl ?: throw RelayClientNotConnectedException("relay connection is not established")

    /** True when at least one [RelayConn] is open (or waiting for its peer). */
    public fun hasConns(): Boolean = live()?.conns?.isNotEmpty() == true

    /** Replaces the single disconnect listener (null removes it). It runs on a library thread. */
    public fun setOnDisconnectListener(listener: DisconnectListener?) {
        disconnectListener = listener
    }

    /** Counters of this client (a snapshot). */
    public fun stats(): RelayClientStats {
        val s = live()
        val inConns = s?.conns?.values?.sumOf { it.droppedCount } ?: 0
        return RelayClientStats(
            openConns = s?.conns?.size ?: 0,
            droppedMessages = droppedInClosedConns.get() + inConns,
            earlyReplaced = early.replaced,
            earlyExpired = early.expired,
            earlyRejected = early.rejected,
            earlyBuffered = early.size,
            malformedMessages = malformed.get(),
        )
    }

    /**
     * Connects and authenticates; returns at once when a session is already up.
     * @throws RelayDialException when the server cannot be reached
     * @throws RelayHandshakeException when the server refuses the token (it closes without answering) or answers
     *   with something other than AuthResponse (a peer's Transport that comes first is kept as an early message)
     * @throws RelayHandshakeTimeoutException when no answer comes within [RelayClientConfig.handshakeTimeout]
     */
    @JvmSynthetic
    public suspend fun connect(): Unit = lifecycle.withLock {
        if (live() != null) return
        val token = tokenStore.token() ?: throw RelayHandshakeException(serverUrl, "no auth token: put one in the TokenStore")
        val auth = Auth(peerId, token.toWire()).encode()
        val d = dialer ?: WebSocketDialer(
            DialerConfig(webSocketUrl) {
                dialTimeout(config.dialTimeout)
                pingInterval(Duration.ZERO) // liveness is the relay's own health check
                transport(pinned.transport)
                maxMessageBytes(RelayProtocol.MAX_MESSAGE_SIZE.toLong())
                trustManager(config.trustManager)
                observer(config.observer)
            },
        ).also { dialer = it }
        val connection = try {
            d.dial()
        } catch (e: ConnectionException) {
            throw RelayDialException(serverUrl, e)
        }
        early.clear() // before the handshake, which may already put a peer's message in it
        val instanceUrl = try {
            handshake(connection, auth)
        } catch (e: Throwable) {
            withContext(NonCancellable) { runCatching { connection.close() } }
            throw e
        }
        val s = Session(connection, instanceUrl)
        session = s
        lastDisconnectCause = null
        s.start()
        log.debug("relay session up: {} (instance {})", serverUrl, instanceUrl)
    }

    /** Java face of [connect]. */
    public fun connectAsync(): CompletableFuture<Void?> = scope.future { connect(); null }

    private suspend fun handshake(connection: WebSocketConnection, auth: ByteArray): String {
        try {
            connection.send(auth)
        } catch (e: ConnectionException) {
            throw RelayHandshakeException(serverUrl, "the connection closed before Auth was sent", e)
        }
        val timeout = config.handshakeTimeout.toMillis()
        return withTimeoutOrNull(timeout) { awaitAuthResponse(connection) }
            ?: throw RelayHandshakeTimeoutException(serverUrl, timeout)
    }

    /** Reads until the AuthResponse; its instance URL. */
    private suspend fun awaitAuthResponse(connection: WebSocketConnection): String {
        while (true) {
            val message = connection.incoming.receiveCatching().getOrNull()
                ?: throw RelayHandshakeException(
                    serverUrl,
                    "the server closed the connection without an AuthResponse (token invalid or expired, or login refused)",
                    connection.awaitClosed(),
                )
            val bytes = (message as? WsMessage.Binary)?.bytes ?: throw RelayHandshakeException(serverUrl, "the server answered with a text frame")
            val decoded = try {
                RelayMessage.decode(bytes)
            } catch (e: MalformedRelayMessageException) {
                throw RelayHandshakeException(serverUrl, e.message ?: "malformed answer", e)
            }
            when (decoded) {
                is AuthResponse -> return decoded.instanceUrl
                // The server announces a new peer online before it answers it (spec section 4), so a peer waiting for
                // this one may have written already: keep its message as an early one (upstream fails the handshake).
                is Transport -> early.put(decoded.peerId, decoded.payload)
                else -> throw RelayHandshakeException(serverUrl, "expected AuthResponse, got $decoded")
            }
        }
    }

    /**
     * Opens a connection to the peer whose key is [peerKey] and waits until it is online (see [openConn]).
     */
    @JvmSynthetic
    public suspend fun openConn(peerKey: String): RelayConn = openConn(PeerId.of(peerKey))

    /**
     * Opens a connection to [peer]: registers it (an early message from the peer becomes its first read),
     * subscribes to the peer's state and suspends until the relay reports it online.
     * @throws RelayClientNotConnectedException without a session
     * @throws ConnAlreadyExistsException when a connection to [peer] exists or is still waiting
     * @throws PeerNotOnlineException when the peer is not online within [RelayClientConfig.openConnTimeout]
     * @throws PeerWaitCancelledException when the session ends during the wait
     */
    @JvmSynthetic
    public suspend fun openConn(peer: PeerId): RelayConn {
        val s = live() ?: throw RelayClientNotConnectedException()
        val conn = RelayConn(peer, s.instanceUrl, s, config.connQueueSize, config.backpressure, scope, peerId)
        if (s.conns.putIfAbsent(peer, conn) != null) throw ConnAlreadyExistsException(peer)
        val waiter = CompletableDeferred<Unit>()
        s.waiters[peer] = waiter
        if (s.ended.isCompleted) {
            s.waiters.remove(peer, waiter)
            s.conns.remove(peer, conn)
            throw RelayClientNotConnectedException()
        }
        var online = false
        try {
            early.take(peer)?.let { conn.deliver(it) }
            s.sendControl(PeerStateMessage.SubscribePeerState(listOf(peer)))
            val timeout = config.openConnTimeout.toMillis()
            withTimeoutOrNull(timeout) { waiter.await() } ?: throw PeerNotOnlineException(peer, timeout)
            online = true
            return conn
        } catch (e: RelayClientNotConnectedException) {
            throw PeerWaitCancelledException(peer, e)
        } finally {
            s.waiters.remove(peer, waiter)
            if (!online) {
                s.conns.remove(peer, conn)
                conn.remoteClosed("openConn did not complete")
                if (!s.ended.isCompleted) s.scope.launch { s.sendQuietly(PeerStateMessage.UnsubscribePeerState(listOf(peer))) }
            }
        }
    }

    /** Java face of [openConn] by peer key. Cancelling the future abandons the wait. */
    public fun openConnAsync(peerKey: String): CompletableFuture<RelayConn> = scope.future { openConn(peerKey) }

    /** Java face of [openConn] by peer id. */
    public fun openConnAsync(peer: PeerId): CompletableFuture<RelayConn> = scope.future { openConn(peer) }

    /**
     * Ends the session gracefully: closes every connection, sends Close, closes the socket and waits for the
     * session's coroutines. The disconnect listener runs. The client can [connect] again afterwards.
     */
    @JvmSynthetic
    public suspend fun shutdown() {
        val s = lifecycle.withLock { session } ?: return
        s.end(RelayClosedException("relay client"), graceful = true).join()
    }

    /** Java face of [shutdown]. */
    public fun closeAsync(): CompletableFuture<Void?> = scope.future { shutdown(); null }

    /** Blocking [shutdown] that also releases the HTTP client; [connect] still works afterwards. */
    override fun close() {
        runBlocking { dispose() }
    }

    /** [shutdown] and release the HTTP client (a later [connect] makes a new one). */
    internal suspend fun dispose() {
        shutdown()
        lifecycle.withLock {
            dialer?.close()
            dialer = null
        }
    }

    override fun toString(): String = "RelayClient($serverUrl, $peerId)"

    private fun live(): Session? = session?.takeIf { !it.ended.isCompleted }

    /** [Session.handle]'s answer when the server closed the session. */
    private object CLOSED

    /** A Transport the reader must wait to deliver (backpressure mode, full queue). */
    private class Waiting(val conn: RelayConn, val payload: ByteArray)

    /** One authenticated WebSocket and the connections over it. */
    private inner class Session(val connection: WebSocketConnection, val instanceUrl: String) : RelayConn.Link {
        val job: Job = SupervisorJob(this@RelayClient.scope.coroutineContext[Job])
        val scope: CoroutineScope = CoroutineScope(this@RelayClient.scope.coroutineContext + job)
        val conns = ConcurrentHashMap<PeerId, RelayConn>()
        val waiters = ConcurrentHashMap<PeerId, CompletableDeferred<Unit>>()
        val ended = CompletableDeferred<RelayException>()
        @Volatile private var healthSeen = false
        @Volatile private var teardown: Job? = null

        fun start() {
            // Frames are handled inline on the connection's I/O thread; backpressure mode needs a reader that can
            // wait for the application, so it keeps the reading coroutine.
            val inline = !config.backpressure && connection.listen { message -> onInline(message) }
            if (inline) {
                scope.launch(CoroutineName("tether-relay-watch")) { end(lost(connection.awaitClosed()), graceful = false) }
            } else {
                scope.launch(CoroutineName("tether-relay-read")) { readLoop() }
            }
            scope.launch(CoroutineName("tether-relay-health")) { healthLoop() }
        }

        /** One inbound message on the I/O thread. */
        private fun onInline(message: WsMessage) {
            if (ended.isCompleted) return
            val bytes = (message as? WsMessage.Binary)?.bytes
            when {
                bytes == null -> end(RelaySessionLostException("the server sent a text frame"), graceful = false)
                handle(bytes) === CLOSED -> end(ServerClosedException(), graceful = false)
            }
        }

        override suspend fun send(peerId: PeerId, payload: ByteArray) {
            val bytes = Transport.encode(peerId, payload)
            if (ended.isCompleted) throw ConnClosedException("the relay session ended", ended.getCompleted())
            try {
                connection.send(bytes)
            } catch (e: ConnectionException) {
                throw ConnClosedException("the relay session ended", e)
            }
        }

        override fun release(conn: RelayConn) {
            if (conns.remove(conn.peerId, conn)) {
                droppedInClosedConns.addAndGet(conn.droppedCount)
                if (!ended.isCompleted) scope.launch { sendQuietly(PeerStateMessage.UnsubscribePeerState(listOf(conn.peerId))) }
            }
        }

        suspend fun sendControl(message: RelayMessage) {
            if (ended.isCompleted) throw RelayClientNotConnectedException()
            try {
                for (bytes in (message as? PeerStateMessage)?.encodeChunks() ?: listOf(message.encode())) connection.send(bytes)
            } catch (e: ConnectionException) {
                throw RelayClientNotConnectedException("the relay session ended")
            }
        }

        suspend fun sendQuietly(message: RelayMessage) {
            try {
                sendControl(message)
            } catch (e: RelayException) {
                log.debug("could not send {}: {}", message, e.message)
            }
        }

        private suspend fun readLoop() {
            var cause: RelayException? = null
            try {
                for (message in connection.incoming) {
                    val bytes = (message as? WsMessage.Binary)?.bytes
                    if (bytes == null) {
                        cause = RelaySessionLostException("the server sent a text frame")
                        break
                    }
                    when (val outcome = handle(bytes)) {
                        CLOSED -> {
                            cause = ServerClosedException()
                            break
                        }
                        is Waiting -> outcome.conn.deliver(outcome.payload)
                    }
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                cause = RelaySessionLostException("read failed: ${e.message}", e)
            }
            end(cause ?: lost(connection.awaitClosed()), graceful = false)
        }

        /**
         * Handles one inbound message without waiting: null to go on, [CLOSED] when the server closed the session, or
         * a [Waiting] Transport for a connection whose queue is full in backpressure mode (the reader waits for it).
         */
        private fun handle(bytes: ByteArray): Any? {
            val message = try {
                RelayMessage.decode(bytes)
            } catch (e: MalformedRelayMessageException) {
                // Upstream logs and skips what it cannot parse; the session stays up.
                malformed.incrementAndGet()
                log.warn("skipping a relay message from {}: {}", serverUrl, e.message)
                return null
            }
            when (message) {
                is Transport -> {
                    val conn = conns[message.peerId]
                    if (conn == null) early.put(message.peerId, message.payload) else if (!conn.offer(message.payload)) return Waiting(conn, message.payload)
                }
                RelayMessage.HealthCheck -> {
                    healthSeen = true
                    sendSoon(RelayMessage.HealthCheck)
                }
                RelayMessage.Close -> return CLOSED
                is PeerStateMessage.PeersOnline -> message.peerIds.forEach { waiters[it]?.complete(Unit) }
                is PeerStateMessage.PeersWentOffline -> {
                    val gone = message.peerIds.filter { waiters[it] == null }.mapNotNull { id -> conns.remove(id)?.let { id to it } }
                    for ((_, conn) in gone) {
                        droppedInClosedConns.addAndGet(conn.droppedCount)
                        conn.remoteClosed("the remote peer went offline")
                    }
                    if (gone.isNotEmpty()) sendSoon(PeerStateMessage.UnsubscribePeerState(gone.map { it.first }))
                }
                else -> {
                    malformed.incrementAndGet()
                    log.warn("skipping an unexpected {} from {}", message, serverUrl)
                }
            }
            return null
        }

        /** Sends a control message from the reader without waiting: queued now if there is room, else by a coroutine. */
        private fun sendSoon(message: RelayMessage) {
            val single = message !is PeerStateMessage
            val queued = single && !ended.isCompleted && runCatching { connection.trySend(message.encode()) }.getOrDefault(false)
            if (!queued) scope.launch { sendQuietly(message) }
        }

        private suspend fun healthLoop() {
            val timeout = config.healthCheckTimeout.toMillis()
            while (true) {
                delay(timeout)
                if (!healthSeen) {
                    log.info("no health check from {} within {} ms; closing the session", serverUrl, timeout)
                    end(HealthCheckTimeoutException(timeout), graceful = false)
                    return
                }
                healthSeen = false
            }
        }

        /** Ends the session once; returns the teardown job (the listener has run when it completes). */
        @Synchronized
        fun end(cause: RelayException, graceful: Boolean): Job {
            teardown?.let { return it }
            ended.complete(cause)
            lastDisconnectCause = cause
            val job = this@RelayClient.scope.launch(CoroutineName("tether-relay-teardown")) { tearDown(cause, graceful) }
            teardown = job
            return job
        }

        private suspend fun tearDown(cause: RelayException, graceful: Boolean) {
            for (w in waiters.values) w.completeExceptionally(RelayClientNotConnectedException("the relay session ended"))
            for (conn in conns.values) {
                droppedInClosedConns.addAndGet(conn.droppedCount)
                conn.remoteClosed("the relay session ended", cause)
            }
            conns.clear()
            early.clear()
            if (graceful) withTimeoutOrNull(CLOSE_SEND_MILLIS) { runCatching { connection.send(RelayMessage.Close.encode()) } }
            runCatching { connection.close() }
            job.cancelAndJoin()
            log.debug("relay session with {} ended: {}", serverUrl, cause.message)
            val listener = disconnectListener ?: return
            try {
                listener.onDisconnected(serverUrl)
            } catch (e: Exception) {
                log.warn("disconnect listener threw", e)
            }
        }

        private fun lost(e: ConnectionException): RelayException = when (e) {
            is KeepAliveExpiredException -> RelaySessionLostException("keepalive expired", e)
            is ConnectionClosedException -> RelaySessionLostException(e.message ?: "connection closed", e)
            else -> RelaySessionLostException(e.message ?: "connection lost", e)
        }
    }

    public companion object {
        private val log = LoggerFactory.getLogger(RelayClient::class.java)
        private const val CLOSE_SEND_MILLIS = 1_000L

        /**
         * `rel://host[:port][/any]` → `ws://host[:port]/relay`, `rels://…` → `wss://…/relay`.
         * @throws IllegalArgumentException for another scheme or no host
         */
        @JvmStatic
        public fun toWebSocketUrl(relayUrl: String): String {
            val uri = try {
                URI(relayUrl)
            } catch (e: Exception) {
                throw IllegalArgumentException("not a relay URL: $relayUrl", e)
            }
            val scheme = when (uri.scheme?.lowercase()) {
                RelayProtocol.SCHEME_PLAIN -> "ws"
                RelayProtocol.SCHEME_TLS -> "wss"
                else -> throw IllegalArgumentException("a relay URL starts with rel:// or rels://: $relayUrl")
            }
            val host = uri.host ?: throw IllegalArgumentException("relay URL without a host: $relayUrl")
            val hostPart = if (host.contains(':') && !host.startsWith("[")) "[$host]" else host
            val port = if (uri.port >= 0) ":${uri.port}" else ""
            return "$scheme://$hostPart$port${RelayProtocol.WEBSOCKET_PATH}"
        }
    }
}

/**
 * A snapshot of a [RelayClient]'s counters.
 *
 * @property openConns connections open (or waiting for their peer) now.
 * @property droppedMessages inbound messages dropped by full connection queues, over the client's life.
 * @property earlyReplaced early messages replaced by a newer one from the same peer (upstream keeps one per peer).
 * @property earlyExpired early messages that expired before openConn took them.
 * @property earlyRejected early messages lost because the early buffer was full.
 * @property earlyBuffered early messages waiting for an openConn now.
 * @property malformedMessages inbound messages skipped because they could not be decoded.
 */
public data class RelayClientStats(
    val openConns: Int,
    val droppedMessages: Long,
    val earlyReplaced: Long,
    val earlyExpired: Long,
    val earlyRejected: Long,
    val earlyBuffered: Int,
    val malformedMessages: Long,
)
