package dev.tether.testkit.wamp

import dev.tether.wamp.CallOptions
import dev.tether.wamp.CancelMode
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Typed call options against the testkit router: each cancel mode as the spec describes it (skip: the callee is
 * not told; kill: the caller's answer waits for the callee; killnowait: the caller is answered at once and the
 * callee interrupted), the router-side call timeout, and caller disclosure.
 */
class CallOptionsSpec : FunSpec({
    /** A callee whose handler waits for [release]; it records whether the router interrupted it. */
    class Callee {
        val started = CompletableDeferred<Unit>()
        val interrupted = CompletableDeferred<String>()
        val finished = CompletableDeferred<Unit>()
        val release = CompletableDeferred<Unit>()
        var details: Map<String, Any?> = emptyMap()

        suspend fun register(s: WampSession, procedure: String) {
            s.register(procedure) { inv ->
                details = inv.details
                started.complete(Unit)
                try {
                    release.await()
                } catch (e: CancellationException) {
                    interrupted.complete(e.message ?: "")
                    withContext(NonCancellable) { release.await() }
                    throw e
                }
                finished.complete(Unit)
                InvokeResult.of("done")
            }
        }
    }

    fun config(block: SessionConfig.Builder.() -> Unit = {}) = SessionConfig("realm1") {
        responseTimeout(5.seconds)
        block()
    }

    /**
     * A router, a callee session with `com.slow` registered (over tcp), and a caller (over ws) configured by [caller].
     */
    suspend fun withCallee(
        caller: SessionConfig = config(),
        block: suspend CoroutineScope.(Callee, WampSession) -> Unit,
    ) {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { calleeSession ->
                    WampSession.connect(router.wsUrl, caller).use { callerSession ->
                        val callee = Callee().also { it.register(calleeSession, "com.slow") }
                        coroutineScope { block(callee, callerSession) }
                    }
                }
            }
        }
    }

    test("skip: the caller's cancellation ends at once and the callee is never interrupted") {
        withCallee { callee, caller ->
            val call = launch { caller.call("com.slow", options = CallOptions { cancelMode(CancelMode.SKIP) }) }
            callee.started.await()
            call.cancel()
            call.join() // the router answered the CANCEL without the callee
            callee.release.complete(Unit)
            callee.finished.await()
            callee.interrupted.isCompleted shouldBe false
        }
    }

    test("kill: the callee is interrupted and the caller's cancellation waits for the callee's answer") {
        withCallee(config { cancelMode(CancelMode.KILL) }) { callee, caller ->
            val call = launch(start = CoroutineStart.UNDISPATCHED) { caller.call("com.slow") }
            callee.started.await()
            call.cancel()
            callee.interrupted.await()
            // The callee holds its answer until released, so the router cannot have answered yet.
            call.isCompleted shouldBe false
            callee.release.complete(Unit)
            call.join()
        }
    }

    test("killnowait: the caller's cancellation ends while the interrupted callee still holds its answer") {
        withCallee(config { cancelMode(CancelMode.SKIP) }) { callee, caller ->
            // The call's own mode wins over the session's skip.
            val call = launch { caller.call("com.slow", options = CallOptions { cancelMode(CancelMode.KILL_NO_WAIT) }) }
            callee.started.await()
            call.cancel()
            call.join()
            callee.interrupted.await()
            callee.release.complete(Unit)
        }
    }

    test("the router-side timeout answers wamp.error.timeout and interrupts the callee; disclose_me names the caller") {
        withCallee { callee, caller ->
            val e = shouldThrow<RpcException> {
                caller.call(
                    "com.slow",
                    listOf(1),
                    options = CallOptions {
                        timeout(200.milliseconds)
                        discloseMe()
                    },
                )
            }
            e.error shouldBe "wamp.error.timeout"
            callee.interrupted.await()
            callee.release.complete(Unit)
            callee.details["caller"] shouldBe caller.id
        }
    }
})
