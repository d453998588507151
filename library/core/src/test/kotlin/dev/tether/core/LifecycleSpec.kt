package dev.tether.core

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeSameInstanceAs
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancel
import kotlinx.coroutines.future.await
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CancellationException
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds

@OptIn(InternalTetherApi::class)
class LifecycleSpec : FunSpec({
    class Closed(message: String) : TetherException(message)

    fun owner() = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    test("close runs the shutdown once; a second caller waits for the first one's shutdown to finish") {
        val scope = owner()
        val lifecycle = Lifecycle<Closed>(scope)
        val runs = AtomicInteger()
        val release = CompletableDeferred<Unit>()
        val shutdown: suspend () -> Unit = {
            runs.incrementAndGet()
            release.await()
        }
        withTimeout(10.seconds) {
            val first = async { lifecycle.close(shutdown) }
            while (!lifecycle.isClosing) kotlinx.coroutines.yield()
            val second = lifecycle.closeAsync(shutdown)
            second.isDone shouldBe false
            release.complete(Unit)
            first.await()
            second.await()
        }
        runs.get() shouldBe 1
        // A close after the shutdown finished returns at once, without running it again.
        withTimeout(10.seconds) { lifecycle.close(shutdown) }
        runs.get() shouldBe 1
        scope.cancel()
    }

    test("the first end reason wins and is what awaitEnd and endFuture report, normally completed") {
        val lifecycle = Lifecycle<Closed>(owner())
        lifecycle.reason shouldBe null
        val future = lifecycle.endFuture()
        val first = Closed("first")
        lifecycle.end(first) shouldBe true
        lifecycle.end(Closed("second")) shouldBe false
        lifecycle.isEnded shouldBe true
        lifecycle.awaitEnd() shouldBeSameInstanceAs first
        future.get(10, TimeUnit.SECONDS) shouldBeSameInstanceAs first
        shouldThrow<Closed> { lifecycle.checkNotEnded() } shouldBeSameInstanceAs first
    }

    test("a Java future started after the end fails at once with the typed reason") {
        val lifecycle = Lifecycle<Closed>(owner())
        val reason = Closed("gone")
        lifecycle.end(reason)
        val ran = AtomicInteger()
        val f = lifecycle.future { ran.incrementAndGet() }
        val e = shouldThrow<ExecutionException> { f.get(10, TimeUnit.SECONDS) }
        e.cause shouldBeSameInstanceAs reason
        ran.get() shouldBe 0
    }

    test("a Java future still waiting when the object ends fails with the reason, not a bare cancellation") {
        val scope = owner()
        val lifecycle = Lifecycle<Closed>(scope)
        val f = lifecycle.future<Unit> { awaitCancellation() }
        f.isDone shouldBe false
        val reason = Closed("closed while waiting")
        lifecycle.end(reason)
        scope.cancel()
        val e = shouldThrow<ExecutionException> { f.get(10, TimeUnit.SECONDS) }
        e.cause shouldBeSameInstanceAs reason
    }

    test("javaFuture runs in the caller's thread until it first waits, and cancelling the future cancels the block") {
        val scope = owner()
        val caller = Thread.currentThread()
        var ranOn: Thread? = null
        val cancelled = CompletableDeferred<Unit>()
        val f = scope.javaFuture {
            ranOn = Thread.currentThread()
            try {
                awaitCancellation()
            } finally {
                cancelled.complete(Unit)
            }
        }
        ranOn shouldBeSameInstanceAs caller
        f.cancel(true)
        withTimeout(10.seconds) { cancelled.await() }
        shouldThrow<CancellationException> { f.get(10, TimeUnit.SECONDS) }
        scope.cancel()
    }

    test("closeBlocking returns once the shutdown has run, and a later close returns at once") {
        val lifecycle = Lifecycle<Closed>(owner())
        val runs = AtomicInteger()
        lifecycle.closeBlocking { runs.incrementAndGet() }
        lifecycle.closeBlocking { runs.incrementAndGet() }
        runs.get() shouldBe 1
    }
})
