@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.ConnectionClosedException
import dev.tether.core.ConnectionException
import dev.tether.core.DialerConfig
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.Lifecycle
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WebSocketTransport
import dev.tether.core.WsMessage
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.isActive
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.net.URI
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicLong

/**
 * A client of one relay server (upstream `client.Client`): one authenticated relay session over a WebSocket, and
 * [RelayConn]s to peers through it.
 *
 * The constructor does no I/O. [connect] dials `rel://host:port` as `ws://host:port/relay` (`rels` as `wss`),
 * authenticates with the token in the [TokenStore] and waits at most 8 s for the AuthResponse. The session answers
 * the server's health checks and ends when none arrives for 35 s, when the server sends Close, or when the socket
 * drops; then every connection is closed and the client has ended for good: [awaitClosed] returns why (a
 * [RelaySessionLostException], or [RelayClosedException] after a close). A client has one session; the [Manager]
 * makes a new client to reconnect.
 *
 * [openConn] registers a connection to a peer, hands it any early message the peer already sent, subscribes to the
 * peer's state and waits (at most 30 s) until the relay reports the peer online.
 *
 * Kotlin: suspend [connect], [openConn], [closeAndJoin], [awaitClosed]. Java: [connectAsync], [openConnAsync],
 * [closeAsync], [closedFuture], and [close] from `AutoCloseable`.
 *
 * @param serverUrl `rel://host[:port]` or `rels://host[:port]`; any path is ignored.
 * @param tokenStore where the handshake takes its token.
 * @param peerKey this peer's key (netbird: the WireGuard public key); its hash is the [peerId].
 * @param config timers, queue sizes and TLS trust.
 */
public class RelayClient internal constructor(
    /** The relay URL this client dials (`rel://` or `rels://`). */
    public val serverUrl: String,
    private val tokenStore: TokenStore,
    peerKey: String,
    /** This client's settings. */
    public val config: RelayClientConfig,
    /** The session runs on one I/O thread, so [dispatcher] is known before [connect]; a [Manager] shares its own. */
    private val pinned: WebSocketTransport.Pinned,
) : AutoCloseable {
    /** A client of the relay at [serverUrl] on an I/O thread of its own choosing; see the class docs for the rest. */
    @JvmOverloads
    public constructor(
        serverUrl: String,
        tokenStore: TokenStore,
        peerKey: String,
        config: RelayClientConfig = RelayClientConfig.DEFAULT,
    ) : this(serverUrl, tokenStore, peerKey, config, WebSocketTransport.default().pinned())

    /** This peer's relay identity. */
    public val peerId: PeerId = PeerId.of(peerKey)

    /** The WebSocket URL [serverUrl] is dialled as. */
    public val webSocketUrl: String = toWebSocketUrl(serverUrl)

    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("tether-relay-client"))
    private val lifecycle = Lifecycle<RelayException>(scope)

    /**
     * The I/O thread this client's relay session runs on, as a dispatcher: latency-critical code that never blocks
     * may run here (`withContext(client.dispatcher) { conn.write(…); conn.read() }`) and needs no thread hand-off
     * per message. Blocking here stalls the relay session.
     */
    public val dispatcher: CoroutineDispatcher get() = pinned.dispatcher

    /** Java face of [dispatcher]: the I/O thread as an executor. */
    public val executor: Executor get() = pinned.dispatcher.asExecutor()
    private val connecting = Mutex()

    @Volatile private var session: Session? = null

    @Volatile private var dialer: WebSocketDialer? = null

    /** The connect in flight, cancelled by a close so the close does not wait for a dial. */
    @Volatile private var connectJob: Job? = null
    private val droppedInClosedConns = AtomicLong()
    private val malformed = AtomicLong()
    private val early = EarlyBuffer(config.earlyBufferTtl.toNanos(), config.earlyBufferCapacity)

    /** Guards [sessionEndHandler] and [sessionEndCause] between [onSessionEnd] and the session's end. */
    private val sessionEndLock = Any()
    private var sessionEndHandler: ((RelayException) -> Unit)? = null
    private var sessionEndCause: RelayException? = null

    /**
     * Runs [handler] once when the session ends, on the thread that ends it and before the end is visible: while
     * it runs [isConnected] is still true, so whatever the handler changes (a [Manager]'s state) has changed before
     * anyone can see the dead session. Runs it at once when the session has already ended. One handler per client
     * (a later one replaces it). The handler must not block or suspend.
     */
    internal fun onSessionEnd(handler: (RelayException) -> Unit) {
        val cause = synchronized(sessionEndLock) {
            sessionEndCause ?: run {
                sessionEndHandler = handler
                return
            }
        }
        handler(cause)
    }

    /** The session ends with [cause]: runs the [onSessionEnd] handler, once. */
    private fun sessionEnding(cause: RelayException) {
        val handler = synchronized(sessionEndLock) {
            if (sessionEndCause != null) return
            sessionEndCause = cause
            sessionEndHandler.also { sessionEndHandler = null }
        } ?: return
        try {
            handler(cause)
        } catch (e: Exception) {
            log.warn("the session end handler of {} threw", serverUrl, e)
        }
    }

    /** True while the relay session is up: [openConn] can be used now. */
    public val isConnected: Boolean get() = live() != null

    /**
     * The instance URL from the server's AuthResponse (what peers advertise to each other).
     * @throws RelayClientNotConnectedException when no session is up
     */
    public fun serverInstanceUrl(): String {
        lifecycle.checkNotEnded()
        return live()?.instanceUrl ?: throw RelayClientNotConnectedException("relay connection is not established")
    }

    /** True when at least one [RelayConn] is open (or waiting for its peer). */
    public fun hasConns(): Boolean = live()?.conns?.isNotEmpty() == true

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
     * Connects and authenticates, and returns this client; returns at once when the session is already up. A
     * failed connect may be retried;
     * once a session has ended, the client has ended too and this throws why (see [awaitClosed]).
     * @throws RelayDialException when the server cannot be reached
     * @throws RelayHandshakeException when the server refuses the token (it closes without answering), answers
     *   with something other than AuthResponse (a peer's Transport that comes first is kept as an early message), or
     *   does not answer within [RelayClientConfig.handshakeTimeout]
     * @throws RelayClosedException when the client is closed, also by a close during the connect
     */
    @JvmSynthetic
    public suspend fun connect(): RelayClient = connecting.withLock {
        lifecycle.checkNotEnded()
        if (lifecycle.isClosing) throw RelayClosedException(WHAT)
        if (session != null) return this
        val (connection, instanceUrl) = try {
            coroutineScope {
                connectJob = coroutineContext.job
                if (lifecycle.isClosing) throw RelayClosedException(WHAT)
                open()
            }
        } catch (e: CancellationException) {
            // Cancelled by a close (the caller's own coroutine is still active): a typed error, not a cancellation.
            if (lifecycle.isClosing && currentCoroutineContext().isActive) throw RelayClosedException(WHAT)
            throw e
        } finally {
            connectJob = null
        }
        val s = Session(connection, instanceUrl)
        session = s
        s.start()
        log.debug("relay session up: {} (instance {})", serverUrl, instanceUrl)
        this
    }

    /** Java face of [connect]: completes with this client once connected. */
    public fun connectAsync(): CompletableFuture<RelayClient> = lifecycle.future { connect() }

    /** Dials and authenticates: the connection and the server's instance URL. */
    private suspend fun open(): Pair<WebSocketConnection, String> {
        val token = tokenStore.token()
            ?: throw RelayHandshakeException(serverUrl, "no auth token: put one in the TokenStore")
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
        return connection to instanceUrl
    }

    private suspend fun handshake(connection: WebSocketConnection, auth: ByteArray): String {
        try {
            connection.send(auth)
        } catch (e: ConnectionException) {
            throw RelayHandshakeException(serverUrl, "the connection closed before Auth was sent", e)
        }
        val timeout = config.handshakeTimeout.toMillis()
        return withTimeoutOrNull(timeout) { awaitAuthResponse(connection) }
            ?: throw RelayHandshakeException(serverUrl, "no AuthResponse within $timeout ms", timedOut = true)
    }

    /** Reads until the AuthResponse; its instance URL. */
    private suspend fun awaitAuthResponse(connection: WebSocketConnection): String {
        while (true) {
            val message = connection.incoming.receiveCatching().getOrNull()
                ?: throw RelayHandshakeException(
                    serverUrl,
                    "the server closed the connection without an AuthResponse " +
                        "(token invalid or expired, or login refused)",
                    connection.awaitClosed(),
                )
            val bytes = (message as? WsMessage.Binary)?.bytes
                ?: throw RelayHandshakeException(serverUrl, "the server answered with a text frame")
            val decoded = try {
                RelayMessage.decode(bytes)
            } catch (e: MalformedRelayMessageException) {
                throw RelayHandshakeException(serverUrl, e.message ?: "malformed answer", e)
            }
            when (decoded) {
                is AuthResponse -> return decoded.instanceUrl

                // The server announces a new peer online before it answers it (spec section 4), so a peer waiting
                // for this one may have written already: keep its message as an early one (upstream fails the
                // handshake).
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
     * @throws RelayClientNotConnectedException without a session, or when the session ends during the wait (its
     *   cause is why the session ended)
     * @throws ConnAlreadyExistsException when a connection to [peer] exists or is still waiting
     * @throws PeerNotOnlineException when the peer is not online within [RelayClientConfig.openConnTimeout]
     */
    @JvmSynthetic
    public suspend fun openConn(peer: PeerId): RelayConn {
        lifecycle.checkNotEnded()
        val s = live() ?: throw RelayClientNotConnectedException()
        val conn = RelayConn(peer, s.instanceUrl, s, config.connQueueSize, config.backpressure, scope, peerId)
        if (s.conns.putIfAbsent(peer, conn) != null) throw ConnAlreadyExistsException(peer)
        val waiter = CompletableDeferred<Unit>()
        s.waiters[peer] = waiter
        if (s.ended.isCompleted) {
            s.waiters.remove(peer, waiter)
            s.conns.remove(peer, conn)
            throw RelayClientNotConnectedException("the relay session ended", s.ended.getCompleted())
        }
        var online = false
        try {
            early.take(peer)?.let { conn.deliver(it) }
            s.subscribe(peer)
            val timeout = config.openConnTimeout.toMillis()
            withTimeoutOrNull(timeout) { waiter.await() } ?: throw PeerNotOnlineException(peer, timeout)
            online = true
            return conn
        } finally {
            s.waiters.remove(peer, waiter)
            if (!online) {
                s.conns.remove(peer, conn)
                conn.remoteClosed("openConn did not complete")
                if (!s.ended.isCompleted) {
                    s.scope.launch { s.unsubscribe(listOf(peer)) }
                }
            }
        }
    }

    /** Java face of [openConn] by peer key. Cancelling the future abandons the wait. */
    public fun openConnAsync(peerKey: String): CompletableFuture<RelayConn> = lifecycle.future { openConn(peerKey) }

    /** Java face of [openConn] by peer id. */
    public fun openConnAsync(peer: PeerId): CompletableFuture<RelayConn> = lifecycle.future { openConn(peer) }

    /**
     * Closes the client for good and returns once everything is gone: a connect in flight is abandoned (it fails with
     * [RelayClosedException]), every connection is closed, Close is sent (bounded by 1 s), the socket is closed and
     * every coroutine of the client has finished. Idempotent; a second caller waits for the same close. Afterwards
     * [awaitClosed] returns [RelayClosedException], unless the session had already been lost.
     */
    @JvmSynthetic
    public suspend fun closeAndJoin(): Unit = lifecycle.close(::shutdown)

    /** Java face of [closeAndJoin]: completes once the client is fully closed. */
    public fun closeAsync(): CompletableFuture<Void?> = lifecycle.closeAsync(::shutdown)

    /** [closeAndJoin] for `AutoCloseable`: blocks the calling thread until the close has finished. */
    override fun close(): Unit = lifecycle.closeBlocking(::shutdown)

    /**
     * Suspends until the client has ended for good and returns why: [RelayClosedException] after a close, or the
     * [RelaySessionLostException] of a session that ended by itself. By then every connection is closed.
     */
    @JvmSynthetic
    public suspend fun awaitClosed(): RelayException = lifecycle.awaitEnd()

    /** Java face of [awaitClosed]: completes normally with the reason. */
    public fun closedFuture(): CompletableFuture<RelayException> = lifecycle.endFuture()

    private suspend fun shutdown() {
        connectJob?.cancel()
        val s = connecting.withLock { session }
        s?.end(RelayClosedException(WHAT), graceful = true)?.join()
        lifecycle.end(RelayClosedException(WHAT))
        dialer?.close()
        scope.coroutineContext.job.cancelAndJoin()
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
                scope.launch(CoroutineName("tether-relay-watch")) {
                    end(lost(connection.awaitClosed()), graceful = false)
                }
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
                bytes == null -> end(lost("the server sent a text frame"), graceful = false)
                handle(bytes) === CLOSED -> end(serverClosed(), graceful = false)
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
                if (!ended.isCompleted) {
                    scope.launch { unsubscribe(listOf(conn.peerId)) }
                }
            }
        }

        suspend fun sendControl(message: RelayMessage) {
            if (ended.isCompleted) throw RelayClientNotConnectedException()
            try {
                val chunks = (message as? PeerStateMessage)?.encodeChunks() ?: listOf(message.encode())
                for (bytes in chunks) connection.send(bytes)
            } catch (e: ConnectionException) {
                throw RelayClientNotConnectedException("the relay session ended")
            }
        }

        /**
         * Peer-state subscriptions in order: an unsubscribe queued for a peer (its connection closed or went
         * offline) must not reach the relay after a new openConn's subscribe, or the relay stops reporting the peer.
         */
        private val peerState = Mutex()

        suspend fun subscribe(peer: PeerId): Unit =
            peerState.withLock { sendControl(PeerStateMessage.SubscribePeerState(listOf(peer))) }

        /** Unsubscribes the [peers] that have no connection (or openConn waiting) by the time it is sent. */
        suspend fun unsubscribe(peers: List<PeerId>): Unit = peerState.withLock {
            val idle = peers.filter { conns[it] == null }
            if (idle.isNotEmpty()) sendQuietly(PeerStateMessage.UnsubscribePeerState(idle))
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
                        cause = lost("the server sent a text frame")
                        break
                    }
                    when (val outcome = handle(bytes)) {
                        CLOSED -> {
                            cause = serverClosed()
                            break
                        }

                        is Waiting -> outcome.conn.deliver(outcome.payload)
                    }
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                cause = lost("read failed: ${e.message}", e)
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
                    if (conn == null) {
                        early.put(message.peerId, message.payload)
                    } else if (!conn.offer(message.payload)) {
                        return Waiting(conn, message.payload)
                    }
                }

                RelayMessage.HealthCheck -> {
                    healthSeen = true
                    sendSoon(RelayMessage.HealthCheck)
                }

                RelayMessage.Close -> return CLOSED

                is PeerStateMessage.PeersOnline -> message.peerIds.forEach { waiters[it]?.complete(Unit) }

                is PeerStateMessage.PeersWentOffline -> {
                    val gone = message.peerIds.filter { waiters[it] == null }
                        .mapNotNull { id -> conns.remove(id)?.let { id to it } }
                    for ((_, conn) in gone) {
                        droppedInClosedConns.addAndGet(conn.droppedCount)
                        conn.remoteClosed("the remote peer went offline")
                    }
                    if (gone.isNotEmpty()) scope.launch { unsubscribe(gone.map { it.first }) }
                }

                else -> {
                    malformed.incrementAndGet()
                    log.warn("skipping an unexpected {} from {}", message, serverUrl)
                }
            }
            return null
        }

        /** Sends a control message from the reader without waiting: queued now if there is room, else later. */
        private fun sendSoon(message: RelayMessage) {
            val single = message !is PeerStateMessage
            val queued = single && !ended.isCompleted &&
                runCatching { connection.trySend(message.encode()) }.getOrDefault(false)
            if (!queued) scope.launch { sendQuietly(message) }
        }

        private suspend fun healthLoop() {
            val timeout = config.healthCheckTimeout.toMillis()
            while (true) {
                delay(timeout)
                if (!healthSeen) {
                    log.info("no health check from {} within {} ms; closing the session", serverUrl, timeout)
                    end(healthCheckTimeout(timeout), graceful = false)
                    return
                }
                healthSeen = false
            }
        }

        /** Ends the session once; returns the teardown job (the client has ended when it completes). */
        @Synchronized
        fun end(cause: RelayException, graceful: Boolean): Job {
            teardown?.let { return it }
            sessionEnding(cause) // before the session reads as ended: see onSessionEnd
            ended.complete(cause)
            val job = this@RelayClient.scope.launch(CoroutineName("tether-relay-teardown")) {
                tearDown(cause, graceful)
            }
            teardown = job
            return job
        }

        private suspend fun tearDown(cause: RelayException, graceful: Boolean) {
            for (w in waiters.values) {
                w.completeExceptionally(RelayClientNotConnectedException("the relay session ended", cause))
            }
            for (conn in conns.values) {
                droppedInClosedConns.addAndGet(conn.droppedCount)
                conn.remoteClosed("the relay session ended", cause)
            }
            conns.clear()
            early.clear()
            if (graceful) {
                withTimeoutOrNull(CLOSE_SEND_MILLIS) { runCatching { connection.send(RelayMessage.Close.encode()) } }
            }
            runCatching { connection.close() }
            job.cancelAndJoin()
            log.debug("relay session with {} ended: {}", serverUrl, cause.message)
            // One session per client: the client ends with it (the manager makes a new client to reconnect).
            lifecycle.end(cause)
            dialer?.close()
        }

        private fun lost(e: ConnectionException): RelayException = when (e) {
            is KeepAliveExpiredException -> lost("keepalive expired", e)
            is ConnectionClosedException -> lost(e.message ?: "connection closed", e)
            else -> lost(e.message ?: "connection lost", e)
        }

        private fun lost(detail: String, cause: Throwable? = null): RelayException =
            RelaySessionLostException(RelaySessionLoss.CONNECTION_LOST, detail, cause)
    }

    /** Relay URL helpers. */
    public companion object {
        private val log = LoggerFactory.getLogger(RelayClient::class.java)
        private const val CLOSE_SEND_MILLIS = 1_000L
        private const val WHAT = "relay client"

        private fun serverClosed(): RelayException =
            RelaySessionLostException(RelaySessionLoss.SERVER_CLOSED, "the relay server closed the session")

        private fun healthCheckTimeout(timeoutMillis: Long): RelayException = RelaySessionLostException(
            RelaySessionLoss.HEALTH_CHECK_TIMEOUT,
            "no health check from the relay server within $timeoutMillis ms; the server is presumed dead",
        )

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
