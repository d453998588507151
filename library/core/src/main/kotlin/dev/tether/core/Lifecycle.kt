package dev.tether.core

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.future.future
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.coroutines.CoroutineContext

/**
 * The owner of coroutines that have no object to belong to: a Java future started before its object exists (a
 * static `connectAsync`), and the shutdown behind `closeAsync`, which cannot run in the scope it cancels. Its jobs
 * are independent (a supervisor) and run on daemon threads, so nothing here keeps a JVM alive.
 */
@InternalTetherApi
public object TetherScope : CoroutineScope {
    override val coroutineContext: CoroutineContext = SupervisorJob() + Dispatchers.Default + CoroutineName("tether")
}

/**
 * A Java face for [block]: it runs in the caller's thread until it first waits, and the future completes where the
 * outcome arrives (often a connection's I/O thread), so a call costs no thread hand-off either way. Cancelling the
 * future cancels [block].
 */
@InternalTetherApi
public fun <T> CoroutineScope.javaFuture(block: suspend CoroutineScope.() -> T): CompletableFuture<T> =
    future(Dispatchers.Unconfined, CoroutineStart.UNDISPATCHED, block)

/**
 * The end of one client or session, written once for all of them: the reason it ended ([end], first call wins), a
 * close that runs its shutdown exactly once while concurrent and later callers wait for the same shutdown, and Java
 * futures that fail with the typed reason rather than a bare cancellation once the object has ended.
 *
 * [scope] is the owner's scope; the owner cancels it in its shutdown.
 */
@InternalTetherApi
public class Lifecycle<E : Throwable>(private val scope: CoroutineScope) {
    private val ended = CompletableDeferred<E>()
    private val closing = AtomicBoolean(false)
    private val closeDone = CompletableDeferred<Unit>()

    /** True once the object has ended (closed by its owner or lost for good). */
    public val isEnded: Boolean get() = ended.isCompleted

    /** True once a close has started (it may still be running). */
    public val isClosing: Boolean get() = closing.get()

    /** Why the object ended, or null while it runs. */
    public val reason: E? get() = if (ended.isCompleted) ended.getCompleted() else null

    /** Records why the object ended; the first call wins. Returns true if this call ended it. */
    public fun end(reason: E): Boolean = ended.complete(reason)

    /** Throws the reason if the object has ended: for operations started after the end. */
    public fun checkNotEnded() {
        reason?.let { throw it }
    }

    /** Suspends until the object ends and returns why. */
    public suspend fun awaitEnd(): E = ended.await()

    /** Java face of [awaitEnd]: completes normally with the reason (an ending is not a failure of the wait). */
    public fun endFuture(): CompletableFuture<E> {
        val f = CompletableFuture<E>()
        ended.invokeOnCompletion { f.complete(ended.getCompleted()) }
        return f
    }

    /**
     * Runs [shutdown] once, not cancellable; concurrent and later callers suspend until that shutdown has finished.
     * [shutdown] must bound each of its waits.
     */
    public suspend fun close(shutdown: suspend () -> Unit) {
        if (!closing.compareAndSet(false, true)) return closeDone.await()
        try {
            withContext(NonCancellable) { shutdown() }
        } finally {
            closeDone.complete(Unit)
        }
    }

    /** [close] for `AutoCloseable.close()`: blocks the calling thread for as long as [shutdown]'s bounds allow. */
    public fun closeBlocking(shutdown: suspend () -> Unit): Unit = runBlocking { close(shutdown) }

    /** Java face of [close]; the shutdown runs on [TetherScope] because it cancels the owner's scope. */
    public fun closeAsync(shutdown: suspend () -> Unit): CompletableFuture<Void?> = TetherScope.future {
        close(shutdown)
        null
    }

    /**
     * A Java face on the owner's scope (see [javaFuture]). After the end it fails with the reason at once, and a
     * future still running when the object ends fails with the reason instead of the scope's cancellation.
     */
    public fun <T> future(block: suspend CoroutineScope.() -> T): CompletableFuture<T> {
        reason?.let { return CompletableFuture.failedFuture(it) }
        val f = scope.javaFuture(block)
        if (f.isDone) return f
        val handle = ended.invokeOnCompletion { if (!f.isDone) f.completeExceptionally(ended.getCompleted()) }
        f.whenComplete { _, _ -> handle.dispose() }
        return f
    }
}
