@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.wamp.error.ProgressNotAcceptedException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.transport.LocalPeer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** Progressive call results (nexus's CallProgress / SendProgress) against a scripted router. */
class ProgressSpec : FunSpec({
    suspend fun joined(
        config: SessionConfig = SessionConfig("realm1") { responseTimeout(500.milliseconds) },
    ): Pair<WampSession, LocalPeer> = coroutineScope {
        val (client, router) = LocalPeer.pair()
        val session = async { WampSession.join(client, config) }
        router.receive().shouldBeInstanceOf<Hello>()
        router.send(Welcome(7, mapOf("authid" to "u", "authrole" to "user")))
        session.await() to router
    }

    // Plays the router's side of GOODBYE, so leaving does not wait out the response timeout.
    suspend fun bye(s: WampSession, router: LocalPeer) = coroutineScope {
        val leaving = async { s.leave() }
        router.receive().shouldBeInstanceOf<Goodbye>()
        router.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
        leaving.await()
    }

    test(
        "callProgress sends receive_progress; every progress callback runs, in order, before the final result returns",
    ) {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            val seen = java.util.concurrent.CopyOnWriteArrayList<Any?>()
            coroutineScope {
                val result = async {
                    s.callProgress("com.count", listOf(3), options = mapOf("disclose_me" to true)) { p ->
                        kotlinx.coroutines.yield() // a slow callback must still see every chunk, in order
                        seen.add(p.args.single())
                    }
                }
                val call = router.receive().shouldBeInstanceOf<Call>()
                call.options shouldBe mapOf("disclose_me" to true, "receive_progress" to true)
                for (i in 1..3) router.send(ResultMessage(call.request, mapOf("progress" to true), listOf(i.toLong())))
                router.send(ResultMessage(call.request, emptyMap(), listOf("done")))
                result.await().args shouldBe listOf("done")
                seen.toList() shouldBe listOf(1L, 2L, 3L) // all delivered before callProgress returned
            }
            bye(s, router)
        }
    }

    test("a progressive RESULT for a call that did not ask for progress is dropped, not taken as the final result") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val result = async { s.call("com.plain") }
                val call = router.receive().shouldBeInstanceOf<Call>()
                call.options.containsKey("receive_progress") shouldBe false
                router.send(ResultMessage(call.request, mapOf("progress" to true), listOf("chunk")))
                router.send(ResultMessage(call.request, emptyMap(), listOf("final")))
                result.await().args shouldBe listOf("final")
            }
            bye(s, router)
        }
    }

    test("the call timeout covers a progressive call: progress alone does not keep it alive; CANCEL is sent") {
        withTimeout(5.seconds) {
            val (s, router) = joined(
                SessionConfig("realm1") {
                    responseTimeout(500.milliseconds)
                    callTimeout(300.milliseconds)
                },
            )
            val seen = java.util.concurrent.CopyOnWriteArrayList<Any?>()
            coroutineScope {
                val result = async { runCatching { s.callProgress("com.stall") { seen.add(it.args.single()) } } }
                val call = router.receive().shouldBeInstanceOf<Call>()
                router.send(ResultMessage(call.request, mapOf("progress" to true), listOf("first")))
                result.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
                router.receive() shouldBe Cancel(call.request, mapOf("mode" to "killnowait"))
                seen.toList() shouldBe listOf("first")
            }
            bye(s, router)
        }
    }

    test("a progress callback that throws cancels the call and the exception reaches the caller") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val result = async { runCatching { s.callProgress("com.bad") { error("callback broke") } } }
                val call = router.receive().shouldBeInstanceOf<Call>()
                router.send(ResultMessage(call.request, mapOf("progress" to true), listOf(1)))
                router.receive() shouldBe Cancel(call.request, mapOf("mode" to "killnowait"))
                result.await().exceptionOrNull()!!.message shouldBe "callback broke"
            }
            bye(s, router)
        }
    }

    test("callee: sendProgress sends YIELD progress:true in order, then the final YIELD without progress") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val reg = async {
                    s.register("com.count") { inv ->
                        inv.receiveProgress shouldBe true
                        for (i in 1..3) inv.sendProgress(listOf(i))
                        InvokeResult.of("done")
                    }
                }
                val register = router.receive().shouldBeInstanceOf<Register>()
                router.send(Registered(register.request, 99))
                reg.await()
                router.send(InvocationMessage(5, 99, mapOf("receive_progress" to true), listOf(3)))
                for (i in 1..3) router.receive() shouldBe Yield(5, mapOf("progress" to true), listOf(i.toLong()))
                router.receive() shouldBe Yield(5, emptyMap(), listOf("done"))
            }
            bye(s, router)
        }
    }

    test(
        "callee: sendProgress without receive_progress, or after the handler returned, is ProgressNotAcceptedException",
    ) {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            var kept: Invocation? = null
            coroutineScope {
                val reg = async {
                    s.register("com.quiet") { inv ->
                        kept = inv
                        val refused = shouldThrow<ProgressNotAcceptedException> { inv.sendProgress(listOf("chunk")) }
                        InvokeResult.of(refused::class.simpleName)
                    }
                }
                val register = router.receive().shouldBeInstanceOf<Register>()
                router.send(Registered(register.request, 11))
                reg.await()
                router.send(InvocationMessage(6, 11, emptyMap(), emptyList()))
                router.receive() shouldBe Yield(6, emptyMap(), listOf("ProgressNotAcceptedException"))
            }
            coroutineScope {
                val reg = async {
                    s.register("com.late") { inv ->
                        kept = inv
                        InvokeResult()
                    }
                }
                val register = router.receive().shouldBeInstanceOf<Register>()
                router.send(Registered(register.request, 12))
                reg.await()
                router.send(InvocationMessage(8, 12, mapOf("receive_progress" to true), emptyList()))
                router.receive() shouldBe Yield(8, emptyMap())
            }
            kept!!.receiveProgress shouldBe true
            shouldThrow<ProgressNotAcceptedException> { kept!!.sendProgress(listOf("too late")) }
            bye(s, router)
        }
    }
})
