package dev.tether.relay

import dev.tether.core.backoff.GuardBackoff
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Job
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import org.slf4j.LoggerFactory
import kotlin.random.Random
import kotlin.time.Duration

/**
 * Brings the home relay back after a disconnect (upstream Guard). First a quick reconnect of the same client after
 * [quickReconnectDelay] (1.5 s), when its URL is still configured; then ticks of [backoff] (immediately, then about
 * 2, 4, 8 … 60 s, ±50 %), each running the picker over all URLs, until one works. Never gives up; only one loop
 * runs at a time. An interval starts counting when its attempt starts, so a slow attempt is followed at once.
 *
 * The loop counts as finished before it reports success, so a disconnect reported from then on (even from inside
 * the success callback) starts a new loop; a session that dropped while the quick reconnect was finishing is caught
 * by checking [isConnected] after the report.
 */
internal class Guard(
    private val scope: CoroutineScope,
    private val quickReconnectDelay: Duration,
    private val backoff: GuardBackoff,
    private val random: Random,
    private val configuredUrls: () -> List<String>,
    private val reconnect: suspend (RelayClient) -> Unit,
    private val pick: suspend () -> RelayClient,
    private val onReconnected: () -> Unit,
    private val onNewClient: (RelayClient) -> Unit,
    private val isConnected: (RelayClient) -> Boolean = { it.isConnected },
) {
    /** The running loop; null once it has finished or is about to report success. Guarded by `this`. */
    @Volatile private var loop: Job? = null

    /** True while a reconnect loop runs. */
    val isReconnecting: Boolean get() = loop != null

    /** Starts the reconnect loop for [client] (null when the first pick failed); ignored while one runs. */
    @Synchronized
    fun onDisconnected(client: RelayClient?) {
        if (loop != null) return
        val job = scope.launch(CoroutineName("tether-relay-guard"), start = CoroutineStart.LAZY) {
            try {
                run(client)
            } finally {
                finished(currentCoroutineContext().job)
            }
        }
        loop = job
        job.start()
    }

    /** Stops the reconnect loop, if any. */
    @Synchronized
    fun stop() {
        loop?.cancel()
        loop = null
    }

    @Synchronized
    private fun finished(job: Job) {
        if (loop === job) loop = null
    }

    private suspend fun run(client: RelayClient?) {
        if (client != null && client.serverUrl in configuredUrls()) {
            delay(quickReconnectDelay)
            try {
                reconnect(client)
                log.info("relay {} reconnected", client.serverUrl)
                finished(currentCoroutineContext().job)
                onReconnected()
                // Its disconnect report may have come while this loop still counted as running, and been ignored.
                if (!isConnected(client)) onDisconnected(client)
                return
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                log.info("quick reconnect to {} failed: {}", client.serverUrl, e.message)
            }
        }
        val schedule = backoff.newSchedule(random)
        var wait = schedule.next()
        while (true) {
            delay(wait)
            val next = schedule.next()
            val picked = coroutineScope {
                val ticker = async { delay(next) } // the next interval runs while this attempt does
                val c = try {
                    pick()
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Exception) {
                    log.info("relay reconnect attempt failed: {}", e.message)
                    null
                }
                if (c != null) ticker.cancel() else ticker.await()
                c
            }
            if (picked != null) {
                log.info("new home relay {}", picked.serverUrl)
                finished(currentCoroutineContext().job)
                onNewClient(picked) // checks, once installed, whether the new session already dropped
                return
            }
            wait = Duration.ZERO
        }
    }

    private companion object {
        private val log = LoggerFactory.getLogger(Guard::class.java)
    }
}
