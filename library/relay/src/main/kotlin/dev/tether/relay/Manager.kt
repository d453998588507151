@file:OptIn(InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.ConnectionStatus
import dev.tether.core.InternalTetherApi
import dev.tether.core.Lifecycle
import dev.tether.core.TetherScope
import dev.tether.core.WebSocketTransport
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.isActive
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.Executor
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.function.Consumer
import kotlin.random.Random
import kotlin.time.toKotlinDuration

/**
 * Keeps this peer reachable through relays (upstream relay client Manager).
 *
 * The constructor does no I/O. [connect] (or [start], in the background) picks a **home** relay among the configured
 * URLs; a guard brings it back after every disconnect (quick reconnect, then backoff over the picker), and [state]
 * and [events] report it all with the same [ConnectionState]s and [ConnectionEvent]s as every reconnecting Tether
 * client. Peers meet on the controlling peer's home relay: [relayInstanceAddress] is what this peer advertises.
 * [openConn] to an address other than the home instance URL dials a **foreign** relay, once per address however many
 * callers race; foreign relays without connections are closed by a cleanup that runs every
 * [ManagerConfig.cleanupInterval] (60 s) and spares relays younger than [ManagerConfig.keepUnusedServerTime] (5 s).
 *
 * Kotlin: suspend [connect], [openConn], [closeAndJoin], [awaitClosed]; [state], [events]. Java: [connectAsync],
 * [openConnAsync], [closeAsync], [closedFuture], [onState], [onEvent], and [close] from `AutoCloseable`.
 *
 * @param serverUrls the relay URLs (`rel://` or `rels://`) the home relay is picked from.
 * @param peerKey this peer's key (netbird: the WireGuard public key).
 * @param tokenStore where every handshake takes its token.
 * @param config timers and the settings of every relay client the manager makes.
 */
public class Manager @JvmOverloads constructor(
    serverUrls: List<String>,
    private val peerKey: String,
    private val tokenStore: TokenStore = TokenStore(),
    /** This manager's settings. */
    public val config: ManagerConfig = ManagerConfig.DEFAULT,
) : AutoCloseable {
    /** Called when a relay session ends; one-shot (see [addCloseListener]). */
    public fun interface OnServerCloseListener {
        /** The session with the relay this listener was added for has ended. */
        public fun onClosed()
    }

    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("tether-relay-manager"))
    private val lifecycle = Lifecycle<RelayException>(scope)

    /** Every relay client this manager makes (home, picker races, foreign) runs on this one I/O thread. */
    private val pinned = WebSocketTransport.default().pinned()

    /**
     * The I/O thread all of this manager's relay sessions run on, the same across reconnects, as a dispatcher: code
     * that never blocks may run here (`withContext(manager.dispatcher) { conn.write(…); conn.read() }`) with no thread
     * hand-off per message. Blocking here stalls every relay session of the manager.
     */
    public val dispatcher: CoroutineDispatcher get() = pinned.dispatcher

    /** Java face of [dispatcher]: the I/O thread as an executor. */
    public val executor: Executor get() = pinned.dispatcher.asExecutor()

    /** On [TetherScope]: the Java listeners must still see `Closed`, which comes after [scope] is cancelled. */
    private val status = ConnectionStatus(TetherScope)
    private val started = AtomicBoolean(false)

    @Volatile private var urls: List<String> = serverUrls.toList()

    @Volatile private var home: RelayClient? = null
    private val tracks = ConcurrentHashMap<String, RelayTrack>()
    private val closeListeners = ConcurrentHashMap<String, MutableList<OnServerCloseListener>>()

    /** Test seam: how a foreign relay client connects. */
    internal var foreignConnector: suspend (RelayClient) -> Unit = { it.connect() }

    private val guard = Guard(
        scope = scope,
        quickReconnectDelay = config.quickReconnectDelay.toKotlinDuration(),
        backoff = config.backoff,
        random = Random.Default,
        configuredUrls = { urls },
        redial = { url -> connected(RelayClient(url, tokenStore, peerKey, config.client, pinned)) },
        pick = { picker().pick() },
        onNewClient = { installHome(it) },
        report = { emit(it) },
    )

    /** The configured relay URLs. */
    public fun serverUrls(): List<String> = urls

    /** Replaces the URLs for future picks and for the quick-reconnect check; live sessions stay. */
    public fun updateServerUrls(serverUrls: List<String>) {
        urls = serverUrls.toList()
    }

    /** Replaces the token used by future handshakes (reconnects, new foreign relays); live sessions stay. */
    public fun updateToken(token: AuthToken?) {
        tokenStore.update(token)
    }

    /** True while the home relay session is up (upstream HasRelayAddress). */
    public val isConnected: Boolean get() = home?.isConnected == true

    /** The home relay's state (conflated view). */
    public val state: StateFlow<ConnectionState> get() = status.state

    /**
     * Every home relay transition from the moment collection starts, in order. A collector that falls more than
     * [ConnectionStatus.EVENT_BUFFER] events behind loses the oldest ones.
     */
    public val events: Flow<ConnectionEvent> get() = status.events

    /** Java: calls [listener] with the state after every transition, in order. Close the handle to stop. */
    public fun onState(listener: Consumer<ConnectionState>): AutoCloseable = status.onState(listener)

    /** Java: calls [listener] with every event, in order, on a library thread. Close the handle to stop. */
    public fun onEvent(listener: Consumer<ConnectionEvent>): AutoCloseable = status.onEvent(listener)

    /**
     * The home relay's instance URL, to advertise to peers.
     * @throws RelayClientNotConnectedException while the home relay is down
     */
    public fun relayInstanceAddress(): String {
        lifecycle.checkNotEnded()
        return (home ?: throw RelayClientNotConnectedException()).serverInstanceUrl()
    }

    /** The foreign relay addresses with a live track (connected or dialling). */
    public fun foreignRelays(): Set<String> =
        java.util.HashSet(tracks.keys) // not toSet(): it reads the size, then the one element a removal may have taken

    /**
     * Starts picking the home relay in the background and returns at once; the guard keeps trying until one works
     * ([state], [events]). Also starts the cleanup of foreign relays. Idempotent.
     * @throws RelayClosedException after close
     */
    public fun start() {
        lifecycle.checkNotEnded()
        if (lifecycle.isClosing) throw RelayClosedException(WHAT)
        if (!started.compareAndSet(false, true)) return
        scope.launch(CoroutineName("tether-relay-cleanup")) { cleanupLoop() }
        emit(ConnectionEvent.Connecting(1))
        scope.launch(CoroutineName("tether-relay-pick")) {
            val picked = try {
                picker().pick()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                guard.onDisconnected(null, e)
                return@launch
            }
            installHome(picked)
        }
    }

    /**
     * [start]s and returns this manager once the home relay is connected. When the attempt under way fails its
     * error is thrown,
     * but the guard keeps trying in the background; returns at once while connected.
     * @throws NoRelayAvailableException when no relay could be reached now
     * @throws RelayClosedException when the manager is closed
     */
    @JvmSynthetic
    public suspend fun connect(): Manager {
        // Subscribed before start, so the outcome cannot slip past.
        val outcome = scope.async(Dispatchers.Unconfined, CoroutineStart.UNDISPATCHED) {
            status.events.first {
                it is ConnectionEvent.Connected || it is ConnectionEvent.DialFailed || it is ConnectionEvent.Closed
            }
        }
        try {
            if (isConnected) return this
            start()
            when (val event = outcome.await()) {
                is ConnectionEvent.DialFailed -> throw event.cause
                is ConnectionEvent.Closed -> throw lifecycle.reason ?: RelayClosedException(WHAT)
                else -> Unit
            }
        } catch (e: CancellationException) {
            lifecycle.reason?.let { throw it }
            throw e
        } finally {
            outcome.cancel()
        }
        return this
    }

    /** Java face of [connect]: completes with this manager once connected. */
    public fun connectAsync(): CompletableFuture<Manager> = lifecycle.future { connect() }

    /**
     * [start]s and suspends until the home relay is connected, however many attempts that takes; bound it with
     * `withTimeout`.
     * @throws RelayClosedException when the manager is closed first
     */
    @JvmSynthetic
    public suspend fun awaitConnected() {
        start()
        val reached = status.state.first { it == ConnectionState.CONNECTED || it == ConnectionState.CLOSED }
        if (reached == ConnectionState.CLOSED) throw lifecycle.reason ?: RelayClosedException(WHAT)
    }

    /**
     * Java face of [awaitConnected]: fails with `java.util.concurrent.TimeoutException` when the home relay is not
     * connected within [timeout].
     */
    public fun awaitConnectedAsync(timeout: java.time.Duration): CompletableFuture<Void?> = lifecycle.future<Void?> {
        awaitConnected()
        null
    }.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS)

    /**
     * Opens a connection to [peerKey] through the relay at [serverAddress]: the home relay when it is the home
     * instance URL, otherwise a foreign relay (dialled once, shared by concurrent callers).
     * @throws RelayClientNotConnectedException without a home relay
     * @throws RelayClosedException when the manager is closed
     */
    @JvmSynthetic
    public suspend fun openConn(serverAddress: String, peerKey: String): RelayConn {
        lifecycle.checkNotEnded()
        if (lifecycle.isClosing) throw RelayClosedException(WHAT)
        val h = home ?: throw RelayClientNotConnectedException()
        val homeAddress = h.serverInstanceUrl()
        if (serverAddress == homeAddress) return h.openConn(peerKey)
        return foreignClient(serverAddress).openConn(peerKey)
    }

    /** Java face of [openConn]. */
    public fun openConnAsync(serverAddress: String, peerKey: String): CompletableFuture<RelayConn> =
        lifecycle.future { openConn(serverAddress, peerKey) }

    /**
     * Adds a one-shot [listener] for the end of the session with [serverAddress] (the home instance URL counts as
     * the home relay). All listeners run on the next disconnect, in registration order on a library thread, then
     * the list is cleared. The same listener object is kept once (identity, unlike upstream's code-pointer dedup).
     * They do not run when the manager itself is closed.
     */
    public fun addCloseListener(serverAddress: String, listener: OnServerCloseListener) {
        val h = home
        val homeAddress = h?.let { runCatching { it.serverInstanceUrl() }.getOrNull() }
        val key = if (h != null && homeAddress == serverAddress) h.serverUrl else serverAddress
        val list = closeListeners.computeIfAbsent(key) { ArrayList() }
        synchronized(list) {
            if (list.none { it === listener }) list.add(listener)
        }
    }

    /**
     * Closes the home and every foreign relay client, stops the guard and the cleanup, and returns once all of it is
     * gone; [state] ends in [ConnectionState.CLOSED]. Idempotent; a second caller waits for the same close.
     */
    @JvmSynthetic
    public suspend fun closeAndJoin(): Unit = lifecycle.close(::shutdown)

    /** Java face of [closeAndJoin]. */
    public fun closeAsync(): CompletableFuture<Void?> = lifecycle.closeAsync(::shutdown)

    /** [closeAndJoin] for `AutoCloseable`: blocks the calling thread until the close has finished. */
    override fun close(): Unit = lifecycle.closeBlocking(::shutdown)

    /**
     * Suspends until the manager has ended and returns why: [RelayClosedException] (a manager never gives up by
     * itself; it ends when it is closed).
     */
    @JvmSynthetic
    public suspend fun awaitClosed(): RelayException = lifecycle.awaitEnd()

    /** Java face of [awaitClosed]: completes normally with the reason. */
    public fun closedFuture(): CompletableFuture<RelayException> = lifecycle.endFuture()

    private suspend fun shutdown() {
        guard.stop()
        lifecycle.end(RelayClosedException(WHAT))
        // First the guard, the pick, the watchers and the cleanup, so nothing installs a client behind this close.
        scope.coroutineContext.job.cancelAndJoin()
        home?.closeAndJoin()
        home = null
        for (t in tracks.values) t.client?.closeAndJoin()
        tracks.clear()
        emit(ConnectionEvent.Closed(null))
        status.complete()
    }

    private fun emit(event: ConnectionEvent) {
        // After close began only Closed is reported: a late guard or pick report would reopen the state.
        if (lifecycle.isClosing && event !is ConnectionEvent.Closed) return
        status.emit(event)
    }

    private fun picker(): ServerPicker = ServerPicker(urls, tokenStore, peerKey, config.client, config.pickerTimeout)
        .also { it.pinned = pinned }

    /** Connects [client], closing it when that fails; returns it. */
    private suspend fun connected(client: RelayClient): RelayClient {
        try {
            client.connect()
        } catch (e: Throwable) {
            withContext(NonCancellable) { client.closeAndJoin() }
            throw e
        }
        return client
    }

    private fun installHome(client: RelayClient) {
        val old = home
        home = client // after a close began too: the close, which waits for the guard first, closes it
        if (old != null && old !== client) TetherScope.launch { old.closeAndJoin() }
        emit(ConnectionEvent.Connected(client.serverUrl))
        // The state leaves CONNECTED inside the session's end, before the dead session can be seen (an openConn
        // that finds it not connected sees the manager disconnected too); a session that dropped before this line
        // is handled at once.
        client.onSessionEnd { cause -> onHomeSessionEnded(client, cause) }
        // The close listeners run once the client has ended (its connections closed).
        scope.launch(CoroutineName("tether-relay-home-watch")) {
            client.awaitClosed()
            if (!lifecycle.isClosing) fireCloseListeners(client.serverUrl)
        }
    }

    /** On the thread that ends [client]'s session: starts the guard, which reports `Disconnected` before returning. */
    private fun onHomeSessionEnded(client: RelayClient, cause: RelayException) {
        if (lifecycle.isClosing || home !== client) return
        guard.onDisconnected(client, cause)
    }

    private suspend fun foreignClient(serverAddress: String): RelayClient {
        val fresh = RelayTrack(serverAddress, System.nanoTime())
        val track = tracks.putIfAbsent(serverAddress, fresh) ?: fresh
        if (track === fresh) {
            val client = RelayClient(serverAddress, tokenStore, peerKey, config.client, pinned)
            try {
                foreignConnector(client)
                track.complete(client)
            } catch (e: Throwable) {
                tracks.remove(serverAddress, track)
                track.fail(e)
                withContext(NonCancellable) { client.closeAndJoin() }
                throw e
            }
            scope.launch(CoroutineName("tether-relay-foreign-watch")) {
                client.awaitClosed()
                onForeignEnded(track, client)
            }
        }
        return track.await()
    }

    private fun onForeignEnded(track: RelayTrack, client: RelayClient) {
        // Closed by the cleanup (track already removed) or by the manager's close: no listener runs.
        if (lifecycle.isClosing || !tracks.remove(track.serverAddress, track)) return
        fireCloseListeners(client.serverUrl)
    }

    private suspend fun cleanupLoop() {
        val interval = config.cleanupInterval.toMillis()
        val keepNanos = config.keepUnusedServerTime.toNanos()
        while (scope.isActive) {
            delay(interval)
            val now = System.nanoTime()
            for (track in tracks.values) {
                val client = track.client ?: continue
                if (!client.isConnected || now - track.createdAtNanos < keepNanos || client.hasConns()) continue
                if (!tracks.remove(track.serverAddress, track)) continue
                log.debug("closing unused foreign relay {}", track.serverAddress)
                client.closeAndJoin()
            }
        }
    }

    private fun fireCloseListeners(key: String) {
        val list = closeListeners.remove(key) ?: return
        val snapshot = synchronized(list) { list.toList() }
        // One coroutine per disconnect, listeners in registration order: none waits on the disconnecting thread.
        scope.launch {
            for (l in snapshot) {
                try {
                    l.onClosed()
                } catch (e: Exception) {
                    log.warn("close listener threw", e)
                }
            }
        }
    }

    private companion object {
        private val log = LoggerFactory.getLogger(Manager::class.java)
        private const val WHAT = "relay manager"
    }
}
