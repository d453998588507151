package dev.tether.relay

import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.GuardBackoff
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Job
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import org.slf4j.LoggerFactory
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.TimeSource

/**
 * Brings the home relay back after a disconnect (upstream Guard). First a quick reconnect to the same URL after
 * [quickReconnectDelay] (1.5 s), when that URL is still configured; then ticks of [backoff] (immediately, then about
 * 2, 4, 8 … 60 s, ±50 %), each running the picker over all URLs, until one works. Never gives up; only one loop
 * runs at a time. An interval starts counting when its attempt starts, so a slow attempt is followed at once.
 *
 * A relay client has one session, so the quick reconnect makes a new client for the lost one's URL ([redial]); both
 * ways end in [onNewClient]. The loop counts as finished before it reports success, so a disconnect reported from
 * then on (even from inside [onNewClient]) starts a new loop.
 *
 * The loop reports what it does as [ConnectionEvent]s ([report]): `Disconnected` or `DialFailed` with the wait
 * before the next attempt, `Connecting` for each attempt, `DialFailed` for each failed one. The owner reports
 * `Connected` once it has installed the new client. The first report is made by [onDisconnected] itself, on the
 * caller's thread, so that an owner that calls it from the session's end has left `CONNECTED` before anyone can
 * see the dead session.
 */
internal class Guard(
    private val scope: CoroutineScope,
    private val quickReconnectDelay: Duration,
    private val backoff: GuardBackoff,
    private val random: Random,
    private val configuredUrls: () -> List<String>,
    private val redial: suspend (serverUrl: String) -> RelayClient,
    private val pick: suspend () -> RelayClient,
    private val onNewClient: (RelayClient) -> Unit,
    private val report: (ConnectionEvent) -> Unit = {},
) {
    /** The running loop; null once it has finished or is about to report success. Guarded by `this`. */
    @Volatile private var loop: Job? = null

    /** True while a reconnect loop runs. */
    val isReconnecting: Boolean get() = loop != null

    /**
     * Starts the reconnect loop after [lost] ended with [cause], or after the first pick failed with [cause] (null
     * [lost]); ignored while a loop runs. Reports the first event (`Disconnected`, or `DialFailed` after a failed
     * first pick) before it returns.
     */
    @Synchronized
    fun onDisconnected(lost: RelayClient?, cause: Throwable) {
        if (loop != null) return
        val quick = lost != null && lost.serverUrl in configuredUrls()
        // Without a quick reconnect the backoff's first wait is the one reported; after a failed quick reconnect the
        // loop makes the schedule, as it always has (the random draws keep their order).
        val schedule = if (quick) null else backoff.newSchedule(random)
        val firstWait = schedule?.next()
        report(
            when {
                quick -> ConnectionEvent.Disconnected(cause, quickReconnectDelay.inWholeMilliseconds)
                lost != null -> ConnectionEvent.Disconnected(cause, firstWait!!.inWholeMilliseconds)
                else -> ConnectionEvent.DialFailed(cause, firstWait!!.inWholeMilliseconds)
            },
        )
        val job = scope.launch(CoroutineName("tether-relay-guard"), start = CoroutineStart.LAZY) {
            try {
                run(lost, schedule, firstWait)
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

    /**
     * The loop after [onDisconnected] reported its first event: the quick reconnect when [schedule] is null, else
     * the backoff from [firstWait] on.
     */
    private suspend fun run(lost: RelayClient?, schedule: GuardBackoff.Schedule?, firstWait: Duration?) {
        // Dials since the last established connection: the failed first pick was one.
        var attempt = if (lost == null) 1 else 0
        val ticks: GuardBackoff.Schedule
        var wait: Duration
        if (schedule != null && firstWait != null) {
            ticks = schedule
            wait = firstWait
        } else {
            val failure = quickReconnect(checkNotNull(lost) { "a quick reconnect needs the lost client" }) ?: return
            attempt = 1
            ticks = backoff.newSchedule(random)
            wait = ticks.next()
            report(ConnectionEvent.DialFailed(failure, wait.inWholeMilliseconds))
        }
        while (true) {
            delay(wait)
            val next = ticks.next()
            val started = TimeSource.Monotonic.markNow()
            report(ConnectionEvent.Connecting(++attempt))
            var failure: Exception? = null
            val picked = coroutineScope {
                val ticker = async { delay(next) } // the next interval runs while this attempt does
                val c = try {
                    pick()
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Exception) {
                    log.info("relay reconnect attempt failed: {}", e.message)
                    failure = e
                    null
                }
                if (c == null) {
                    val retryIn = (next - started.elapsedNow()).coerceAtLeast(Duration.ZERO)
                    report(ConnectionEvent.DialFailed(failure!!, retryIn.inWholeMilliseconds))
                    ticker.await()
                } else {
                    ticker.cancel()
                }
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

    /** A new client for [lost]'s URL after [quickReconnectDelay]: null once installed, else why it failed. */
    private suspend fun quickReconnect(lost: RelayClient): Exception? {
        delay(quickReconnectDelay)
        report(ConnectionEvent.Connecting(1))
        return try {
            val fresh = redial(lost.serverUrl)
            log.info("relay {} reconnected", lost.serverUrl)
            finished(currentCoroutineContext().job)
            onNewClient(fresh) // checks, once installed, whether the new session already dropped
            null
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            log.info("quick reconnect to {} failed: {}", lost.serverUrl, e.message)
            e
        }
    }

    private companion object {
        private val log = LoggerFactory.getLogger(Guard::class.java)
    }
}
