@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.error.ChallengeRefusedException
import dev.tether.wamp.error.ProgressBufferOverflowException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.message.Abort
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.Challenge
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.transport.LocalPeer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.test.runTest
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The bounds of issue 16 on a [WampSession] (docs/security.md), against a router the test plays over a [LocalPeer]:
 * progressive results waiting for their callback, invocations running at once, the PBKDF2 work a WAMP-CRA challenge
 * may ask for, and the keepalive and call timeout a session has by default.
 */
class SessionBoundsSpec : FunSpec({
    suspend fun joined(config: SessionConfig): Pair<WampSession, LocalPeer> = coroutineScope {
        val (client, router) = LocalPeer.pair()
        val session = async { WampSession.join(client, config) }
        router.receive().shouldBeInstanceOf<Hello>()
        router.send(Welcome(7, mapOf("authid" to "u", "authrole" to "user")))
        session.await() to router
    }

    suspend fun bye(s: WampSession, router: LocalPeer) = coroutineScope {
        val leaving = async { s.leave() }
        router.receive().shouldBeInstanceOf<Goodbye>()
        router.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
        leaving.await()
    }

    test("progressive results over progressBuffer fail the call with a typed error, and the call is cancelled") {
        withTimeout(10.seconds) {
            val (s, router) = joined(SessionConfig("realm1") { progressBuffer(2) })
            val stuck = CompletableDeferred<Unit>()
            coroutineScope {
                val result = async { runCatching { s.callProgress("com.flood") { stuck.await() } } }
                val call = router.receive().shouldBeInstanceOf<Call>()
                // One result in the callback and two in the buffer at most: the fourth cannot be queued.
                for (i in 1..4) router.send(ResultMessage(call.request, mapOf("progress" to true), listOf(i.toLong())))
                val failure = result.await().exceptionOrNull().shouldBeInstanceOf<ProgressBufferOverflowException>()
                failure.request shouldBe call.request
                failure.capacity shouldBe 2
                router.receive() shouldBe Cancel(call.request, mapOf("mode" to "killnowait"))
                router.send(ErrorMessage(MessageCodes.CALL, call.request, emptyMap(), "wamp.error.canceled"))
            }
            s.isOpen shouldBe true
            bye(s, router)
        }
    }

    test("an INVOCATION over maxConcurrentInvocations is answered at once with ERROR, the others run") {
        withTimeout(10.seconds) {
            val (s, router) = joined(SessionConfig("realm1") { maxConcurrentInvocations(2) })
            val release = CompletableDeferred<Unit>()
            val ran = java.util.concurrent.atomic.AtomicInteger()
            coroutineScope {
                val registered = async {
                    s.register("com.slow") { inv ->
                        ran.incrementAndGet()
                        release.await()
                        InvokeResult.of(inv.args.single())
                    }
                }
                val register = router.receive().shouldBeInstanceOf<Register>()
                router.send(Registered(register.request, 11))
                registered.await() shouldBe 11L
                for (i in 1L..3L) router.send(InvocationMessage(i, 11, emptyMap(), listOf(i)))
                val refused = router.receive().shouldBeInstanceOf<ErrorMessage>()
                refused.requestType shouldBe MessageCodes.INVOCATION
                refused.request shouldBe 3L
                refused.error shouldBe SessionConfig.TOO_MANY_INVOCATIONS
                release.complete(Unit)
                val answered = setOf(router.receive(), router.receive()).map { it.shouldBeInstanceOf<Yield>().request }
                answered.toSet() shouldBe setOf(1L, 2L)
                ran.get() shouldBe 2
                // Room again: the next one runs.
                router.send(InvocationMessage(4, 11, emptyMap(), listOf(4L)))
                router.receive().shouldBeInstanceOf<Yield>().args shouldBe listOf(4L)
            }
            bye(s, router)
        }
    }

    test("a WAMP-CRA challenge asking for more PBKDF2 work than the caps is refused before deriving, with ABORT") {
        withTimeout(10.seconds) {
            for (extra in listOf(mapOf("iterations" to 10_000_000L), mapOf("keylen" to 1_000_000L))) {
                val (client, router) = LocalPeer.pair()
                val config = SessionConfig("realm1") { authHandler("wampcra", AuthHandler.wampCra("secret")) }
                coroutineScope {
                    val joining = async { runCatching { WampSession.join(client, config) } }
                    router.receive().shouldBeInstanceOf<Hello>()
                    router.send(Challenge("wampcra", mapOf("challenge" to "c", "salt" to "s") + extra))
                    router.receive().shouldBeInstanceOf<Abort>().reason shouldBe "wamp.error.authentication_failed"
                    val refused = joining.await().exceptionOrNull().shouldBeInstanceOf<ChallengeRefusedException>()
                    refused.authMethod shouldBe "wampcra"
                    refused.message shouldContain "over this client's cap"
                }
            }
        }
    }

    test("WAMP-CRA: the caps are the handler's to raise; the router's defaults and values within them are answered") {
        val extra = mapOf("challenge" to "c", "salt" to "s", "iterations" to 200_000L, "keylen" to 32L)
        shouldThrow<ChallengeRefusedException> {
            AuthHandler.wampCra("secret").authenticate(Challenge("wampcra", extra))
        }
        val raised = AuthHandler.wampCra("secret", maxIterations = 200_000).authenticate(Challenge("wampcra", extra))
        raised.signature shouldBe dev.tether.wamp.auth.WampCra.respond("secret", extra, 200_000, 64)
        val plain = mapOf("challenge" to "c", "salt" to "s")
        AuthHandler.wampCra("secret").authenticate(Challenge("wampcra", plain)).signature.isNotEmpty() shouldBe true
    }

    test("a WAMP-CRA derivation that outlasts the join's timeout is interrupted: joining fails in time") {
        withTimeout(10.seconds) {
            val (client, router) = LocalPeer.pair()
            // Two billion iterations take minutes: the join must give up at its 300 ms timeout, not after them.
            val config = SessionConfig("realm1") {
                responseTimeout(300.milliseconds)
                authHandler("wampcra", AuthHandler.wampCra("secret", maxIterations = Int.MAX_VALUE))
            }
            coroutineScope {
                val joining = async { runCatching { WampSession.join(client, config) } }
                router.receive().shouldBeInstanceOf<Hello>()
                val extra = mapOf("challenge" to "c", "salt" to "s", "iterations" to 2_000_000_000L)
                router.send(Challenge("wampcra", extra))
                joining.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
            }
        }
    }

    test("a session pings every 30 s and bounds a call at 60 s unless told otherwise") {
        val config = SessionConfig("realm1")
        config.pingInterval shouldBe Duration.ofSeconds(30)
        config.callTimeout shouldBe Duration.ofSeconds(60)
        SessionConfig("realm1") { callTimeout(null) }.callTimeout shouldBe null
        SessionConfig("realm1") { pingInterval(Duration.ZERO) }.pingInterval shouldBe Duration.ZERO
    }

    test("by default an unanswered call fails after 60 s with ResponseTimeoutException and CANCEL (virtual time)") {
        runTest {
            val (s, router) = joined(SessionConfig("realm1"))
            val result = async { runCatching { s.call("com.never") } }
            val call = router.receive().shouldBeInstanceOf<Call>()
            val failure = result.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
            failure.timeoutMillis shouldBe 60_000L
            router.receive() shouldBe Cancel(call.request, mapOf("mode" to "killnowait"))
            bye(s, router)
        }
    }
})
