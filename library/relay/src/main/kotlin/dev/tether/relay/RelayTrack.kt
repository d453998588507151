package dev.tether.relay

import kotlinx.coroutines.CompletableDeferred

/**
 * One foreign relay the [Manager] connects to (upstream RelayTrack): the first caller that needs [serverAddress]
 * dials it, concurrent callers wait for that one dial and share its client.
 */
internal class RelayTrack(
    /** The foreign relay's instance URL. */
    val serverAddress: String,
    /** When the track was created ([System.nanoTime]); cleanup spares young tracks. */
    internal val createdAtNanos: Long,
) {
    private val ready = CompletableDeferred<RelayClient>()

    /** True once the dial finished, with success or not. */
    val isReady: Boolean get() = ready.isCompleted

    /** The client, once the dial succeeded; null before or after a failure. */
    val client: RelayClient?
        get() = if (ready.isCompleted && !ready.isCancelled) runCatching { ready.getCompleted() }.getOrNull() else null

    internal fun complete(client: RelayClient) {
        ready.complete(client)
    }

    internal fun fail(cause: Throwable) {
        ready.completeExceptionally(cause)
    }

    /** Suspends until the first caller's dial finished; rethrows its failure. */
    internal suspend fun await(): RelayClient = ready.await()

    override fun toString(): String = "RelayTrack($serverAddress, ready=$isReady)"
}
