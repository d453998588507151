@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.testkit.wamp

import dev.tether.wamp.CallChunk
import dev.tether.wamp.CallOptions
import dev.tether.wamp.InvokePolicy
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.Roles
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.serializer.Serialization
import dev.tether.wamp.transport.RawSocketConnector
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.asFlow
import kotlinx.coroutines.flow.consumeAsFlow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOf
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Progressive call invocations through the testkit router: a caller streams a call's arguments in chunks and the
 * callee receives them in order on one invocation; cancellation, a caller or callee leaving, timeouts, shared
 * registrations, a handler that does not stream, and the ABORT of a caller that did not announce the feature.
 */
class ProgressiveCallInvocationsSpec : FunSpec({
    fun config(block: SessionConfig.Builder.() -> Unit = {}) = SessionConfig("realm1") {
        responseTimeout(5.seconds)
        block()
    }

    /** HELLO roles like the client's, with [feature] removed from [role]. */
    fun rolesWithout(role: String, feature: String): Map<String, Any?> = Roles.CLIENT.mapValues { (name, value) ->
        if (name != role) {
            value
        } else {
            mapOf("features" to ((value as Map<*, *>)["features"] as Map<*, *>).filterKeys { it != feature })
        }
    }

    /** Registers a streaming handler that records every chunk's first argument and answers their sum. */
    suspend fun WampSession.registerSum(procedure: String, seen: MutableList<Long> = CopyOnWriteArrayList()) =
        registerStreaming(procedure) { _, chunks ->
            var sum = 0L
            chunks.collect { chunk ->
                WampValues.asLong(chunk.args[0])!!.also {
                    seen.add(it)
                    sum += it
                }
            }
            InvokeResult.of(sum)
        }

    test("a caller streams 100 chunks; the callee sees them in order on one invocation and answers their sum") {
        FakeWampRouter.start().use { router ->
            withTimeout(30.seconds) {
                for ((calleeUrl, callerUrl) in listOf(router.tcpUrl to router.wsUrl, router.wsUrl to router.tcpUrl)) {
                    WampSession.connect(calleeUrl, config()).use { callee ->
                        WampSession.connect(callerUrl, config()).use { caller ->
                            val seen = CopyOnWriteArrayList<Long>()
                            callee.registerSum("com.sum", seen)
                            val result = caller.callStreaming("com.sum", (1..100).asFlow().map { CallChunk.of(it) })
                            result.args shouldBe listOf(5050L)
                            seen.toList() shouldBe (1..100L).toList()
                        }
                    }
                }
            }
        }
    }

    test("progressive results both ways: the callee answers each chunk while the caller still streams") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { callee ->
                    WampSession.connect(router.wsUrl, config()).use { caller ->
                        callee.registerStreaming("com.running") { inv, chunks ->
                            var sum = 0L
                            chunks.collect {
                                sum += WampValues.asLong(it.args[0])!!
                                inv.sendProgress(listOf(sum))
                            }
                            InvokeResult.of("total", sum)
                        }
                        val upstream = Channel<CallChunk>(Channel.UNLIMITED)
                        val running = Channel<Long>(Channel.UNLIMITED)
                        coroutineScope {
                            val result = async {
                                caller.callStreaming(
                                    "com.running",
                                    upstream.consumeAsFlow(),
                                ) { running.send(it.args[0] as Long) }
                            }
                            upstream.send(CallChunk.of(1))
                            upstream.send(CallChunk.of(2)) // releases chunk 1
                            running.receive() shouldBe 1L // answered before the caller's next chunk
                            upstream.send(CallChunk.of(3))
                            running.receive() shouldBe 3L
                            upstream.close()
                            result.await().args shouldBe listOf("total", 6L)
                            running.receive() shouldBe 6L
                        }
                    }
                }
            }
        }
    }

    test("the wire at the callee: one invocation id, the first's details on every chunk, timeout only on the first") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val callee = RawSocketConnector.connect(
                    router.tcpUrl,
                    RawSocketConnector.Target.Tcp(
                        "127.0.0.1",
                        router.rawSocketPort,
                        false,
                    ),
                    Serialization.JSON.serializer(),
                    0,
                    5.seconds,
                )
                callee.send(Hello("realm1", mapOf("roles" to Roles.CLIENT)))
                callee.receive().shouldBeInstanceOf<Welcome>()
                callee.send(Register(1, mapOf("forward_timeout" to true, "disclose_caller" to true), "com.raw"))
                val registration = callee.receive().shouldBeInstanceOf<Registered>().registration
                WampSession.connect(router.wsUrl, config()).use { caller ->
                    coroutineScope {
                        val result = async {
                            caller.callStreaming(
                                "com.raw",
                                flowOf(CallChunk.of("a"), CallChunk.of("b"), CallChunk.of("c")),
                                CallOptions { timeout(30.seconds) },
                            )
                        }
                        val disclosed = mapOf(
                            "caller" to caller.id,
                            "caller_authid" to caller.authId,
                            "caller_authrole" to caller.authRole,
                        )
                        val first = callee.receive().shouldBeInstanceOf<InvocationMessage>()
                        first shouldBe InvocationMessage(
                            first.request,
                            registration,
                            disclosed + mapOf("timeout" to 30_000L, "progress" to true),
                            listOf("a"),
                        )
                        val progressing = disclosed + ("progress" to true)
                        callee.receive() shouldBe
                            InvocationMessage(first.request, registration, progressing, listOf("b"))
                        callee.receive() shouldBe InvocationMessage(first.request, registration, disclosed, listOf("c"))
                        callee.send(Yield(first.request, emptyMap(), listOf("abc")))
                        result.await().args shouldBe listOf("abc")
                    }
                }
                callee.close()
            }
        }
    }

    test("cancelling the caller mid-stream interrupts the callee's handler") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { callee ->
                    WampSession.connect(router.wsUrl, config()).use { caller ->
                        val firstChunk = CompletableDeferred<Unit>()
                        val interrupted = CompletableDeferred<Throwable>()
                        callee.registerStreaming("com.upload") { _, chunks ->
                            try {
                                chunks.collect { firstChunk.complete(Unit) }
                            } catch (e: CancellationException) {
                                interrupted.complete(e)
                                throw e
                            }
                            InvokeResult()
                        }
                        val call = launch {
                            caller.callStreaming(
                                "com.upload",
                                flow {
                                    emit(CallChunk.of(1))
                                    emit(CallChunk.of(2))
                                    awaitCancellation()
                                },
                            )
                        }
                        firstChunk.await()
                        call.cancel()
                        call.join()
                        interrupted.await().message shouldContain "interrupted"
                    }
                }
            }
        }
    }

    test("a handler that does not stream answers from the first chunk; the rest of the stream is dropped") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { callee ->
                    WampSession.connect(router.wsUrl, config()).use { caller ->
                        val runs = CopyOnWriteArrayList<List<Any?>>()
                        callee.register("com.plain") { inv ->
                            runs.add(inv.args)
                            InvokeResult.of("first was ${inv.args[0]}", inv.isProgressive)
                        }
                        val chunks = (1..20).asFlow().map { CallChunk.of(it) }
                        caller.callStreaming("com.plain", chunks).args shouldBe listOf("first was 1", true)
                        caller.call("com.plain", listOf("plain")).args shouldBe listOf("first was plain", false)
                        runs.toList() shouldBe listOf(listOf(1L), listOf("plain")) // later chunks never ran it again
                    }
                }
            }
        }
    }

    test("shared registration: every chunk goes to the callee the first went to") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { a ->
                    WampSession.connect(router.wsUrl, config()).use { b ->
                        WampSession.connect(router.tcpUrl, config()).use { caller ->
                            val seenA = CopyOnWriteArrayList<Long>()
                            val seenB = CopyOnWriteArrayList<Long>()
                            for ((callee, seen) in listOf(a to seenA, b to seenB)) {
                                callee.registerStreaming(
                                    "com.shared",
                                    RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) },
                                ) { _, chunks ->
                                    chunks.collect { seen.add(WampValues.asLong(it.args[0])!!) }
                                    InvokeResult.of(callee.id)
                                }
                            }
                            val chunks = (1..10).asFlow().map { CallChunk.of(it) }
                            caller.callStreaming("com.shared", chunks).args shouldBe listOf(a.id)
                            caller.callStreaming("com.shared", chunks).args shouldBe listOf(b.id)
                            seenA.toList() shouldBe (1..10L).toList()
                            seenB.toList() shouldBe (1..10L).toList()
                        }
                    }
                }
            }
        }
    }

    test("a router-side timeout ends a stalled stream: wamp.error.timeout for the caller, INTERRUPT for the callee") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { callee ->
                    WampSession.connect(router.wsUrl, config()).use { caller ->
                        val interrupted = CompletableDeferred<Unit>()
                        callee.registerStreaming("com.stall") { _, chunks ->
                            try {
                                chunks.collect { }
                            } catch (e: CancellationException) {
                                interrupted.complete(Unit)
                                throw e
                            }
                            InvokeResult()
                        }
                        val stalled = flow {
                            emit(CallChunk.of(1))
                            emit(CallChunk.of(2))
                            awaitCancellation()
                        }
                        val e = shouldThrow<RpcException> {
                            caller.callStreaming(
                                "com.stall",
                                stalled,
                                CallOptions { timeout(200.milliseconds) },
                            )
                        }
                        e.error shouldBe "wamp.error.timeout"
                        interrupted.await()
                    }
                }
            }
        }
    }

    test("a caller that leaves mid-stream gets its callee interrupted; a callee that leaves ends the caller's call") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { callee ->
                    val firstChunk = CompletableDeferred<Unit>()
                    val interrupted = CompletableDeferred<Unit>()
                    callee.registerStreaming("com.upload") { _, chunks ->
                        try {
                            chunks.collect { firstChunk.complete(Unit) }
                        } catch (e: CancellationException) {
                            interrupted.complete(Unit)
                            throw e
                        }
                        InvokeResult()
                    }
                    val caller = WampSession.connect(router.wsUrl, config())
                    val call = launch {
                        runCatching {
                            caller.callStreaming(
                                "com.upload",
                                flow {
                                    emit(CallChunk.of(1))
                                    emit(CallChunk.of(2))
                                    awaitCancellation()
                                },
                            )
                        }
                    }
                    firstChunk.await()
                    callee.call("wamp.session.kill", listOf(caller.id)) // the caller's session ends, with no CANCEL
                    interrupted.await()
                    call.join()
                    caller.isOpen shouldBe false
                }
                WampSession.connect(router.tcpUrl, config()).use { caller ->
                    val callee = WampSession.connect(router.wsUrl, config())
                    val firstChunk = CompletableDeferred<Unit>()
                    callee.registerStreaming("com.upload2") { _, chunks ->
                        chunks.collect { firstChunk.complete(Unit) }
                        InvokeResult()
                    }
                    coroutineScope {
                        val result = async {
                            runCatching {
                                caller.callStreaming(
                                    "com.upload2",
                                    flow {
                                        emit(CallChunk.of(1))
                                        emit(CallChunk.of(2))
                                        awaitCancellation()
                                    },
                                )
                            }
                        }
                        firstChunk.await()
                        callee.close()
                        val e = result.await().exceptionOrNull().shouldBeInstanceOf<RpcException>()
                        e.error shouldBe "wamp.error.canceled"
                    }
                }
            }
        }
    }

    test("a callee without the feature is refused with wamp.error.feature_not_supported; its session stays") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val old = config { helloDetail("roles", rolesWithout("callee", "progressive_call_invocations")) }
                WampSession.connect(router.tcpUrl, old).use { callee ->
                    WampSession.connect(router.wsUrl, config()).use { caller ->
                        callee.register("com.old") { inv -> InvokeResult.of(inv.args) }
                        val chunks = (1..5).asFlow().map { CallChunk.of(it) }
                        shouldThrow<RpcException> { caller.callStreaming("com.old", chunks) }.error shouldBe
                            "wamp.error.feature_not_supported"
                        caller.call("com.old", listOf(1)).args shouldBe listOf(listOf(1L))
                        callee.isOpen shouldBe true
                    }
                }
            }
        }
    }

    test("a progressive CALL from a caller that did not announce the feature ABORTs its session (protocol_violation)") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { callee ->
                    callee.registerSum("com.sum")
                    val old = WampSession.connect(
                        router.wsUrl,
                        config { helloDetail("roles", rolesWithout("caller", "progressive_call_invocations")) },
                    )
                    // one chunk: a plain call
                    old.callStreaming("com.sum", flowOf(CallChunk.of(5))).args shouldBe listOf(5L)
                    shouldThrow<WampSessionClosedException> {
                        old.callStreaming(
                            "com.sum",
                            flowOf(CallChunk.of(1), CallChunk.of(2)),
                        )
                    }
                    old.awaitClosed().message shouldContain "wamp.error.protocol_violation"

                    // The same with a raw HELLO that announces no roles at all.
                    val raw = RawSocketConnector.connect(
                        router.tcpUrl,
                        RawSocketConnector.Target.Tcp(
                            "127.0.0.1",
                            router.rawSocketPort,
                            false,
                        ),
                        Serialization.JSON.serializer(),
                        0,
                        5.seconds,
                    )
                    raw.send(Hello("realm1", emptyMap()))
                    raw.receive().shouldBeInstanceOf<Welcome>()
                    raw.send(Call(1, mapOf("progress" to true), "com.sum", listOf(1)))
                    val abort = raw.receive().shouldBeInstanceOf<dev.tether.wamp.message.Abort>()
                    abort.reason shouldBe "wamp.error.protocol_violation"
                    raw.close()
                    router.sessionCount("realm1") shouldBe 1
                }
            }
        }
    }
})
