package dev.tether.relay

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.future.future
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.random.Random
import kotlin.time.toKotlinDuration

/**
 * Keeps this peer reachable through relays (upstream relay client Manager).
 *
 * [serve] picks a **home** relay among [serverUrls]; a [Guard] brings it back after every disconnect (quick
 * reconnect, then backoff over the picker) and the reconnected listener runs. Peers meet on the controlling peer's
 * home relay: [relayInstanceAddress] is what this peer advertises. [openConn] to an address other than the home
 * instance URL dials a **foreign** relay, once per address however many callers race ([RelayTrack]); foreign relays
 * without connections are closed by a cleanup that runs every [ManagerConfig.cleanupInterval] (60 s) and spares
 * relays younger than [ManagerConfig.keepUnusedServerTime] (5 s).
 *
 * Kotlin: suspend [serve], [openConn]. Java: [serveAsync], [openConnAsync]. Close it to stop everything.
 */
public class Manager @JvmOverloads constructor(
    serverUrls: List<String>,
    private val peerKey: String,
    private val tokenStore: TokenStore = TokenStore(),
    public val config: ManagerConfig = ManagerConfig.DEFAULT,
) : AutoCloseable {
    /** Called when a relay session ends; one-shot (see [addCloseListener]). */
    public fun interface OnServerCloseListener {
        public fun onClosed()
    }

    /** Called when the home relay is back (same client reconnected, or a new one picked). */
    public fun interface OnReconnectedListener {
        public fun onReconnected()
    }

    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("tether-relay-manager"))
    @Volatile private var urls: List<String> = serverUrls.toList()
    @Volatile private var home: RelayClient? = null
    private val tracks = ConcurrentHashMap<String, RelayTrack>()
    private val closeListeners = ConcurrentHashMap<String, MutableList<OnServerCloseListener>>()
    @Volatile private var reconnectedListener: OnReconnectedListener? = null
    private val serving = AtomicBoolean(false)
    private val closed = AtomicBoolean(false)

    /** Test seam: how a foreign relay client connects. */
    internal var foreignConnector: suspend (RelayClient) -> Unit = { it.connect() }

    private val guard = Guard(
        scope = scope,
        quickReconnectDelay = config.quickReconnectDelay.toKotlinDuration(),
        backoff = config.backoff,
        random = Random.Default,
        configuredUrls = { urls },
        reconnect = { it.connect() },
        pick = { picker().pick() },
        onReconnected = { fireReconnected() },
        onNewClient = { installHome(it) },
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

    /** True while the home relay session is up. */
    public fun hasRelayAddress(): Boolean = home?.isConnected == true

    /**
     * The home relay's instance URL, to advertise to peers.
     * @throws RelayClientNotConnectedException while the home relay is down
     */
    public fun relayInstanceAddress(): String =
        (home ?: throw RelayClientNotConnectedException()).serverInstanceUrl()

    /** The foreign relay addresses with a live track (connected or dialling). */
    public fun foreignRelays(): Set<String> =
        java.util.HashSet(tracks.keys) // not toSet(): it reads the size, then the one element a removal may have taken

    /** True while the guard is trying to bring the home relay back. */
    public val isReconnecting: Boolean get() = guard.isReconnecting

    /**
     * Picks the home relay and starts the guard and the cleanup loop. When the pick fails the error is thrown but
     * the guard keeps trying in the background.
     * @throws IllegalStateException when called twice
     * @throws NoRelayAvailableException when no relay could be reached now
     */
    @JvmSynthetic
    public suspend fun serve() {
        if (closed.get()) throw RelayClosedException("relay manager")
        check(serving.compareAndSet(false, true)) { "the manager is already serving" }
        scope.launch(CoroutineName("tether-relay-cleanup")) { cleanupLoop() }
        try {
            installHome(picker().pick(), notify = false)
        } catch (e: NoRelayAvailableException) {
            guard.onDisconnected(null)
            throw e
        }
    }

    /** Java face of [serve]. */
    public fun serveAsync(): CompletableFuture<Void?> = scope.future { serve(); null }

    /**
     * Opens a connection to [peerKey] through the relay at [serverAddress]: the home relay when it is the home
     * instance URL, otherwise a foreign relay (dialled once, shared by concurrent callers).
     * @throws RelayClientNotConnectedException without a home relay
     */
    @JvmSynthetic
    public suspend fun openConn(serverAddress: String, peerKey: String): RelayConn {
        if (closed.get()) throw RelayClosedException("relay manager")
        val h = home ?: throw RelayClientNotConnectedException()
        val homeAddress = h.serverInstanceUrl()
        if (serverAddress == homeAddress) return h.openConn(peerKey)
        return foreignClient(serverAddress).openConn(peerKey)
    }

    /** Java face of [openConn]. */
    public fun openConnAsync(serverAddress: String, peerKey: String): CompletableFuture<RelayConn> =
        scope.future { openConn(serverAddress, peerKey) }

    /**
     * Adds a one-shot [listener] for the end of the session with [serverAddress] (the home instance URL counts as
     * the home relay). All listeners run on the next disconnect, in registration order on a library thread, then
     * the list is cleared. The same listener object is kept once (identity, unlike upstream's code-pointer dedup).
     */
    public fun addCloseListener(serverAddress: String, listener: OnServerCloseListener) {
        val h = home
        val key = if (h != null && runCatching { h.serverInstanceUrl() }.getOrNull() == serverAddress) h.serverUrl else serverAddress
        val list = closeListeners.computeIfAbsent(key) { ArrayList() }
        synchronized(list) {
            if (list.none { it === listener }) list.add(listener)
        }
    }

    /** Sets (or clears) the reconnected listener. */
    public fun setOnReconnectedListener(listener: OnReconnectedListener?) {
        reconnectedListener = listener
    }

    /** Closes the home and every foreign relay session and stops the guard and the cleanup. */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        guard.stop()
        runBlocking {
            home?.let { it.setOnDisconnectListener(null); it.dispose() }
            home = null
            for (t in tracks.values) t.client?.let { it.setOnDisconnectListener(null); it.dispose() }
            tracks.clear()
            scope.coroutineContext[kotlinx.coroutines.Job]?.cancelAndJoin()
        }
    }

    private fun picker(): ServerPicker =
        ServerPicker(urls, tokenStore, peerKey, config.client, config.pickerTimeout)

    private fun installHome(client: RelayClient, notify: Boolean = true) {
        if (closed.get()) {
            scope.launch { client.dispose() }
            return
        }
        val old = home
        client.setOnDisconnectListener { url -> onHomeDisconnected(client, url) }
        home = client
        if (old != null && old !== client) {
            old.setOnDisconnectListener(null)
            scope.launch { old.dispose() }
        }
        if (notify) fireReconnected()
        // The session may have dropped before the listener was attached.
        if (!client.isConnected && home === client) onHomeDisconnected(client, client.serverUrl)
    }

    private fun onHomeDisconnected(client: RelayClient, url: String) {
        fireCloseListeners(url)
        if (closed.get() || home !== client) return
        guard.onDisconnected(client)
    }

    private suspend fun foreignClient(serverAddress: String): RelayClient {
        val fresh = RelayTrack(serverAddress, System.nanoTime())
        val track = tracks.putIfAbsent(serverAddress, fresh) ?: fresh
        if (track === fresh) {
            val client = RelayClient(serverAddress, tokenStore, peerKey, config.client)
            client.setOnDisconnectListener { url -> onForeignDisconnected(track, url) }
            try {
                foreignConnector(client)
                track.complete(client)
            } catch (e: Throwable) {
                tracks.remove(serverAddress, track)
                track.fail(e)
                withContext(NonCancellable) { client.setOnDisconnectListener(null); client.dispose() }
                throw e
            }
        }
        return track.await()
    }

    private fun onForeignDisconnected(track: RelayTrack, url: String) {
        tracks.remove(track.serverAddress, track)
        fireCloseListeners(url)
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
                client.setOnDisconnectListener(null)
                try {
                    client.dispose()
                } catch (e: Exception) {
                    if (e is CancellationException) throw e
                    log.debug("closing {} failed: {}", track.serverAddress, e.message)
                }
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

    private fun fireReconnected() {
        val l = reconnectedListener ?: return
        scope.launch {
            try {
                l.onReconnected()
            } catch (e: Exception) {
                log.warn("reconnected listener threw", e)
            }
        }
    }

    private companion object {
        private val log = LoggerFactory.getLogger(Manager::class.java)
    }
}
