@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Unregister
import dev.tether.wamp.message.Unregistered
import dev.tether.wamp.message.Unsubscribe
import dev.tether.wamp.message.Unsubscribed
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.transport.LocalPeer
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeGreaterThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** ResponseTimeout on UNSUBSCRIBE and UNREGISTER, and the wait for the router's answer after CANCEL (spec: RPC). */
class RequestTimeoutSpec : FunSpec({
    suspend fun joined(
        responseTimeout: Duration,
        block: SessionConfig.Builder.() -> Unit = {},
    ): Pair<WampSession, LocalPeer> = coroutineScope {
        val (client, router) = LocalPeer.pair()
        val session =
            async {
                WampSession.join(
                    client,
                    SessionConfig("realm1") {
                        responseTimeout(responseTimeout)
                        block()
                    },
                )
            }
        router.receive().shouldBeInstanceOf<Hello>()
        router.send(Welcome(42, mapOf("authrole" to "user")))
        session.await() to router
    }

    test("unsubscribe: ResponseTimeout when the router is silent; the late UNSUBSCRIBED is dropped") {
        withTimeout(5.seconds) {
            val (s, router) = joined(300.milliseconds)
            coroutineScope {
                val sub = async { s.subscribe("t") { } }
                router.send(Subscribed(router.receive().shouldBeInstanceOf<Subscribe>().request, 5))
                sub.await()
                val unsub = async { runCatching { s.unsubscribe("t") } }
                val u = router.receive().shouldBeInstanceOf<Unsubscribe>()
                val failure = unsub.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
                failure.request shouldBe "UNSUBSCRIBE ${u.request}"
                s.subscriptionId("t") shouldBe 5L // not confirmed, so still known
                router.send(Unsubscribed(u.request))
                // The session goes on: a second attempt is answered.
                val again = async { s.unsubscribe("t") }
                router.send(Unsubscribed(router.receive().shouldBeInstanceOf<Unsubscribe>().request))
                again.await()
                s.subscriptionId("t") shouldBe null
                s.isOpen shouldBe true
            }
        }
    }

    test("unregister: ResponseTimeout when the router is silent; the late UNREGISTERED is dropped") {
        withTimeout(5.seconds) {
            val (s, router) = joined(300.milliseconds)
            coroutineScope {
                val reg = async { s.register("p") { InvokeResult() } }
                router.send(Registered(router.receive().shouldBeInstanceOf<Register>().request, 8))
                reg.await()
                val unreg = async { runCatching { s.unregister("p") } }
                val u = router.receive().shouldBeInstanceOf<Unregister>()
                val failure = unreg.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
                failure.timeoutMillis shouldBe 300L
                router.send(Unregistered(u.request))
                val again = async { s.unregister("p") }
                router.send(Unregistered(router.receive().shouldBeInstanceOf<Unregister>().request))
                again.await()
                s.registrationId("p") shouldBe null
                s.isOpen shouldBe true
            }
        }
    }

    test("cancel: after CANCEL the call completes only when the router's ERROR arrives") {
        withTimeout(10.seconds) {
            // A long response timeout: only the ERROR can end the wait within this test's bound.
            val (s, router) = joined(30.seconds)
            coroutineScope {
                val job = launch { s.call("slow") }
                val call = router.receive().shouldBeInstanceOf<Call>()
                job.cancel()
                router.receive() shouldBe Cancel(call.request, mapOf("mode" to "killnowait"))
                job.isCompleted shouldBe false
                router.send(ErrorMessage(MessageCodes.CALL, call.request, emptyMap(), "wamp.error.canceled"))
                job.join()
                job.isCancelled shouldBe true
            }
        }
    }

    test("cancel: with no answer to CANCEL the call gives up after the response timeout") {
        withTimeout(10.seconds) {
            val (s, router) = joined(300.milliseconds)
            coroutineScope {
                val job = launch { s.call("slow") }
                val call = router.receive().shouldBeInstanceOf<Call>()
                val cancelledAt = System.nanoTime()
                job.cancel(CancellationException("caller gave up"))
                router.receive() shouldBe Cancel(call.request, mapOf("mode" to "killnowait"))
                job.join()
                ((System.nanoTime() - cancelledAt) / 1_000_000) shouldBeGreaterThanOrEqual 300L
                // The router's late answer is dropped and the session keeps working.
                router.send(ErrorMessage(MessageCodes.CALL, call.request, emptyMap(), "wamp.error.canceled"))
                val ok = async { s.call("fast") }
                router.send(
                    ResultMessage(router.receive().shouldBeInstanceOf<Call>().request, emptyMap(), listOf("ok")),
                )
                ok.await().args shouldBe listOf("ok")
            }
        }
    }

    test("callTimeout: the call sends CANCEL, consumes the router's ERROR and fails with ResponseTimeoutException") {
        withTimeout(10.seconds) {
            val logger = CapturingLogger()
            val (s, router) = joined(30.seconds) {
                callTimeout(200.milliseconds)
                logger(logger)
            }
            coroutineScope {
                val call = async { runCatching { s.call("slow") } }
                val c = router.receive().shouldBeInstanceOf<Call>()
                router.receive() shouldBe Cancel(c.request, mapOf("mode" to "killnowait"))
                router.send(ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), "wamp.error.canceled"))
                val failure = call.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
                failure.request shouldBe "CALL ${c.request}"
                // The ERROR was the expected answer to CANCEL, not a late reply.
                logger.lines.none { "late or unknown" in it } shouldBe true
            }
        }
    }
    test("callTimeout from Dispatchers.Default (no timer of its own: the shared deadline thread) behaves the same") {
        withTimeout(10.seconds) {
            val logger = CapturingLogger()
            val (s, router) = joined(30.seconds) {
                callTimeout(200.milliseconds)
                logger(logger)
            }
            coroutineScope {
                val started = System.nanoTime()
                val call = async(Dispatchers.Default) { runCatching { s.call("slow") } }
                val c = router.receive().shouldBeInstanceOf<Call>()
                router.receive() shouldBe Cancel(c.request, mapOf("mode" to "killnowait"))
                ((System.nanoTime() - started) / 1_000_000) shouldBeGreaterThanOrEqual 200L
                router.send(ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), "wamp.error.canceled"))
                val failure = call.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
                failure.request shouldBe "CALL ${c.request}"
                logger.lines.none { "late or unknown" in it } shouldBe true
                // answered calls from Default are untouched by the sweep, and the session goes on
                val ok = async(Dispatchers.Default) { s.call("fast") }
                router.send(
                    ResultMessage(router.receive().shouldBeInstanceOf<Call>().request, emptyMap(), listOf("ok")),
                )
                ok.await().args shouldBe listOf("ok")
            }
        }
    }

    test("unsubscribe from Dispatchers.Default: ResponseTimeout when the router is silent, then the session goes on") {
        withTimeout(10.seconds) {
            val (s, router) = joined(300.milliseconds)
            coroutineScope {
                val sub = async(Dispatchers.Default) { s.subscribe("t") { } }
                router.send(Subscribed(router.receive().shouldBeInstanceOf<Subscribe>().request, 7))
                sub.await()
                val started = System.nanoTime()
                val gone = async(Dispatchers.Default) { runCatching { s.unsubscribe("t") } }
                val u = router.receive().shouldBeInstanceOf<Unsubscribe>()
                gone.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
                ((System.nanoTime() - started) / 1_000_000) shouldBeGreaterThanOrEqual 300L
                router.send(Unsubscribed(u.request)) // late: dropped
                val again = async(Dispatchers.Default) { s.unsubscribe("t") }
                router.send(Unsubscribed(router.receive().shouldBeInstanceOf<Unsubscribe>().request))
                again.await()
                s.subscriptionId("t") shouldBe null
            }
        }
    }
})
