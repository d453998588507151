package dev.tether.benchmarks.scale

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.sync.Semaphore
import kotlinx.coroutines.sync.withPermit
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import java.io.PrintStream
import kotlin.time.Duration
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/** What every load gets: the options, the servers' addresses, where progress goes. */
internal class LoadContext(val options: ScaleOptions, val servers: ServerProcess, val log: PrintStream)

/** How a load is run: with the run's counts and times, or as a small warm-up whose figures are thrown away. */
internal data class LoadPlan(val divisor: Int, val warm: Duration, val hold: Duration) {
    fun count(full: Int): Int = full / divisor
}

/** Bounds shared by the loads. */
internal object Bounds {
    /** Opens at once: enough to keep both cores busy, few enough not to overrun the servers' accept queues. */
    const val OPEN_PARALLELISM: Int = 64

    /** Opening everything of one kind. */
    val OPEN: Duration = 5.minutes

    /** One client's connect or one stream's open. */
    val CONNECT: Duration = 30.seconds

    /** How long workers may still be inside an operation after a rate's window ends. */
    val GRACE: Duration = 1.minutes

    /** Closing everything of one kind. */
    val CLOSE: Duration = 2.minutes
}

/** A [Snapshot] taken off the coroutine threads (it sleeps between GC rounds). */
internal suspend fun snapshot(): Snapshot = withContext(Dispatchers.IO) { Snapshot.take() }

/**
 * Opens [count] things with [open], [Bounds.OPEN_PARALLELISM] at a time, the whole within [Bounds.OPEN]; returns
 * those that opened (in index order) and records each failure. A failed open is skipped, not retried: the report
 * says how many opened.
 */
internal suspend fun <T : Any> openAll(
    count: Int,
    failures: Failures,
    phase: String,
    open: suspend (index: Int) -> T,
): List<T> {
    val permits = Semaphore(Bounds.OPEN_PARALLELISM)
    val opened = withTimeoutOrNull(Bounds.OPEN) {
        coroutineScope {
            (0 until count).map { i ->
                async(Dispatchers.Default) {
                    permits.withPermit {
                        try {
                            open(i)
                        } catch (e: CancellationException) {
                            throw e
                        } catch (e: Exception) {
                            failures.record(phase, e)
                            null
                        }
                    }
                }
            }.awaitAll()
        }
    }
    if (opened == null) {
        failures.record(phase, "not all $count opened within ${Bounds.OPEN}", count.toLong())
        return emptyList()
    }
    return opened.filterNotNull()
}

/** Closes every one of [items] with [close], [Bounds.OPEN_PARALLELISM] at a time, within [Bounds.CLOSE]. */
internal suspend fun <T> closeAll(items: List<T>, failures: Failures, phase: String, close: suspend (T) -> Unit) {
    val permits = Semaphore(Bounds.OPEN_PARALLELISM)
    val done = withTimeoutOrNull(Bounds.CLOSE) {
        coroutineScope {
            items.map { item ->
                async(Dispatchers.Default) {
                    permits.withPermit {
                        try {
                            close(item)
                        } catch (e: CancellationException) {
                            throw e
                        } catch (e: Exception) {
                            failures.record(phase, e)
                        }
                    }
                }
            }.awaitAll()
        }
    }
    if (done == null) failures.record(phase, "closing did not finish within ${Bounds.CLOSE}")
}

/** Milliseconds [block] took, with its result. */
internal suspend fun <T> timed(block: suspend () -> T): Pair<T, Long> {
    val t0 = System.nanoTime()
    val r = block()
    return r to (System.nanoTime() - t0) / 1_000_000
}

/** The [Snapshot] after a load closed: once its threads are gone, or after [ScaleOptions.settle]. */
internal suspend fun LoadContext.afterClose(baseline: Snapshot): Snapshot =
    withContext(Dispatchers.IO) { Snapshot.afterClose(baseline, options.settle) }
