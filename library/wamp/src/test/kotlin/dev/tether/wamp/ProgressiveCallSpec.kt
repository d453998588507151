@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.wamp.error.ChunkBufferOverflowException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.SerializationException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.Interrupt
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.transport.LocalPeer
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
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.consumeAsFlow
import kotlinx.coroutines.flow.emptyFlow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOf
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.SubmissionPublisher
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Progressive call invocations against a scripted router: the CALLs a streaming caller sends (one request id, the
 * options of the first chunk and of the later ones, the last without `progress`), how it cancels, and how a
 * callee hands INVOCATION chunks to streaming and plain handlers, bounded by the chunk buffer.
 */
class ProgressiveCallSpec : FunSpec({
    val dealer =
        mapOf(
            "roles" to mapOf(
                "dealer" to mapOf(
                    "features" to mapOf("progressive_call_invocations" to true, "call_canceling" to true),
                ),
            ),
        )

    suspend fun joined(
        config: SessionConfig = SessionConfig("realm1") { responseTimeout(2.seconds) },
        welcome: Map<String, Any?> = dealer,
    ): Pair<WampSession, LocalPeer> = coroutineScope {
        val (client, router) = LocalPeer.pair()
        val session = async { WampSession.join(client, config) }
        router.receive().shouldBeInstanceOf<Hello>()
        router.send(Welcome(9, welcome))
        session.await() to router
    }

    // Plays the router's side of GOODBYE; also proves nothing else was sent before it.
    suspend fun bye(s: WampSession, router: LocalPeer) = coroutineScope {
        val leaving = async { s.leave() }
        router.receive().shouldBeInstanceOf<Goodbye>()
        router.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
        leaving.await()
    }

    suspend fun registered(s: WampSession, router: LocalPeer, id: Long, register: suspend () -> Long) = coroutineScope {
        val reg = async { register() }
        router.send(Registered(router.receive().shouldBeInstanceOf<Register>().request, id))
        reg.await() shouldBe id
    }

    fun chunks(vararg values: Int): Flow<CallChunk> = flowOf(*values.map { CallChunk.of(it) }.toTypedArray())

    test(
        "caller: one request id; the first CALL carries the options and progress, later ones only progress, the last " +
            "none",
    ) {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val options =
                    CallOptions {
                        timeout(5.seconds)
                        discloseMe()
                        option("x_custom", 1)
                        option("progress", false)
                    }
                val result = async { s.callStreaming("com.upload", chunks(1, 2, 3), options) }
                val first = router.receive().shouldBeInstanceOf<Call>()
                first.procedure shouldBe "com.upload"
                first.options shouldBe mapOf(
                    "timeout" to 5000L,
                    "disclose_me" to true,
                    "x_custom" to 1L,
                    "progress" to true,
                )
                first.args shouldBe listOf(1L)
                router.receive() shouldBe Call(first.request, mapOf("progress" to true), "com.upload", listOf(2L))
                router.receive() shouldBe Call(first.request, emptyMap(), "com.upload", listOf(3L))
                router.send(ResultMessage(first.request, emptyMap(), listOf(6L)))
                result.await().args shouldBe listOf(6L)
            }
            bye(s, router)
        }
    }

    test(
        "caller with progressive results: receive_progress on every CALL; results arrive in order while still " +
            "streaming",
    ) {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val upstream = Channel<CallChunk>(Channel.UNLIMITED)
            val seen = CopyOnWriteArrayList<Any?>()
            val progressSeen = Channel<Any?>(Channel.UNLIMITED)
            coroutineScope {
                val result = async {
                    s.callStreaming("com.echo", upstream.consumeAsFlow()) { p ->
                        seen.add(p.args[0])
                        progressSeen.send(p.args[0])
                    }
                }
                upstream.send(CallChunk(listOf("a"), mapOf("k" to 1)))
                upstream.send(CallChunk.of("b")) // releases "a": a chunk is held until the next one or the end
                val first = router.receive().shouldBeInstanceOf<Call>()
                first.options shouldBe mapOf("receive_progress" to true, "progress" to true)
                first.args shouldBe listOf("a")
                first.kwargs shouldBe mapOf("k" to 1L)
                router.send(ResultMessage(first.request, mapOf("progress" to true), listOf("echo a")))
                progressSeen.receive() shouldBe "echo a" // the callee answers progressively while the caller streams
                upstream.send(CallChunk.of("c"))
                router.receive() shouldBe Call(
                    first.request,
                    mapOf("progress" to true, "receive_progress" to true),
                    "com.echo",
                    listOf("b"),
                )
                upstream.close()
                router.receive() shouldBe Call(
                    first.request,
                    mapOf("receive_progress" to true),
                    "com.echo",
                    listOf("c"),
                )
                router.send(ResultMessage(first.request, mapOf("progress" to true), listOf("echo b")))
                router.send(ResultMessage(first.request, mapOf("progress" to true), listOf("echo c")))
                router.send(ResultMessage(first.request, emptyMap(), listOf("done")))
                result.await().args shouldBe listOf("done")
                seen.toList() shouldBe listOf("echo a", "echo b", "echo c")
            }
            bye(s, router)
        }
    }

    test(
        "caller: one chunk is a plain CALL, an empty flow a CALL without arguments; neither needs the router's feature",
    ) {
        withTimeout(10.seconds) {
            val (s, router) = joined(welcome = emptyMap())
            coroutineScope {
                val one = async { s.callStreaming("com.one", chunks(7), CallOptions { discloseMe() }) }
                val call = router.receive().shouldBeInstanceOf<Call>()
                call.options shouldBe mapOf("disclose_me" to true)
                call.args shouldBe listOf(7L)
                router.send(ResultMessage(call.request, emptyMap(), listOf("one")))
                one.await().args shouldBe listOf("one")

                val none = async { runCatching { s.callStreaming("com.none", emptyFlow()) } }
                val empty = router.receive().shouldBeInstanceOf<Call>()
                empty shouldBe Call(empty.request, emptyMap(), "com.none")
                router.send(ErrorMessage(MessageCodes.CALL, empty.request, emptyMap(), "com.app.empty"))
                none.await().exceptionOrNull().shouldBeInstanceOf<RpcException>().error shouldBe "com.app.empty"
            }
            bye(s, router)
        }
    }

    test(
        "caller: a router that did not announce progressive_call_invocations gets nothing; the call fails with " +
            "feature_not_supported",
    ) {
        withTimeout(10.seconds) {
            val (s, router) = joined(
                welcome = mapOf("roles" to mapOf("dealer" to mapOf("features" to mapOf("call_canceling" to true)))),
            )
            val e = shouldThrow<RpcException> { s.callStreaming("com.upload", chunks(1, 2)) }
            e.error shouldBe "wamp.error.feature_not_supported"
            s.isOpen shouldBe true
            bye(s, router) // GOODBYE is the first message the router sees
        }
    }

    test("caller: cancelling mid-stream sends CANCEL (killnowait) and no CALL follows it") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val upstream = Channel<CallChunk>(Channel.UNLIMITED)
            val flowEnded = CompletableDeferred<Throwable?>()
            coroutineScope {
                val call = launch {
                    s.callStreaming(
                        "com.upload",
                        flow {
                            try {
                                for (c in upstream) emit(c)
                            } catch (e: Throwable) {
                                flowEnded.complete(e)
                                throw e
                            }
                        },
                    )
                }
                upstream.send(CallChunk.of(1))
                upstream.send(CallChunk.of(2))
                upstream.send(CallChunk.of(3))
                val first = router.receive().shouldBeInstanceOf<Call>()
                router.receive().shouldBeInstanceOf<Call>().request shouldBe first.request
                call.cancel()
                router.receive() shouldBe Cancel(first.request, mapOf("mode" to "killnowait"))
                router.send(ErrorMessage(MessageCodes.CALL, first.request, emptyMap(), "wamp.error.canceled"))
                call.join()
                flowEnded.await().shouldBeInstanceOf<CancellationException>()
            }
            bye(s, router)
        }
    }

    test("caller: a chunk flow that fails cancels the call with the configured mode and rethrows its exception") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val failing = flow {
                    emit(CallChunk.of(1))
                    emit(CallChunk.of(2))
                    throw IllegalStateException("disk read failed")
                }
                val result =
                    async {
                        runCatching {
                            s.callStreaming("com.upload", failing, CallOptions { cancelMode(CancelMode.KILL) })
                        }
                    }
                val first = router.receive().shouldBeInstanceOf<Call>()
                router.receive() shouldBe Cancel(first.request, mapOf("mode" to "kill"))
                router.send(ErrorMessage(MessageCodes.CALL, first.request, emptyMap(), "wamp.error.canceled"))
                result.await().exceptionOrNull()!!.message shouldBe "disk read failed"
            }
            // A chunk the router would refuse to read is a send error too: nothing of it goes out, the call is
            // cancelled.
            coroutineScope {
                val bad = flowOf(CallChunk.of(1), CallChunk.of(Any()), CallChunk.of(3))
                val result = async { runCatching { s.callStreaming("com.upload", bad) } }
                val first = router.receive().shouldBeInstanceOf<Call>()
                router.receive() shouldBe Cancel(first.request, mapOf("mode" to "killnowait"))
                router.send(ErrorMessage(MessageCodes.CALL, first.request, emptyMap(), "wamp.error.canceled"))
                result.await().exceptionOrNull().shouldBeInstanceOf<SerializationException>()
            }
            bye(s, router)
        }
    }

    test("caller: an answer before the last chunk ends the call at once and stops the flow") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val upstream = Channel<CallChunk>(Channel.UNLIMITED)
            coroutineScope {
                val result = async { s.callStreaming("com.quick", upstream.consumeAsFlow()) }
                upstream.send(CallChunk.of(1))
                upstream.send(CallChunk.of(2))
                val first = router.receive().shouldBeInstanceOf<Call>()
                router.send(ResultMessage(first.request, emptyMap(), listOf("enough")))
                result.await().args shouldBe listOf("enough")
                upstream.isClosedForSend shouldBe true // consumeAsFlow cancelled it: the flow's collection ended
            }
            bye(s, router)
        }
    }

    test(
        "caller: callTimeout covers the whole stream; past it CANCEL goes out and ResponseTimeoutException is thrown",
    ) {
        withTimeout(10.seconds) {
            val (s, router) = joined(
                SessionConfig("realm1") {
                    responseTimeout(2.seconds)
                    callTimeout(300.milliseconds)
                },
            )
            coroutineScope {
                val stalled = flow {
                    emit(CallChunk.of(1))
                    emit(CallChunk.of(2))
                    awaitCancellation()
                }
                val result = async { runCatching { s.callStreaming("com.stall", stalled) } }
                val first = router.receive().shouldBeInstanceOf<Call>()
                router.receive() shouldBe Cancel(first.request, mapOf("mode" to "killnowait"))
                router.send(ErrorMessage(MessageCodes.CALL, first.request, emptyMap(), "wamp.error.canceled"))
                result.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
            }
            bye(s, router)
        }
    }

    test("caller, Java face: a SubmissionPublisher's items are the chunks; closing it sends the last") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            SubmissionPublisher<CallChunk>().use { publisher ->
                val future = s.callStreamingAsync("com.upload", publisher, CallOptions.DEFAULT)
                publisher.submit(CallChunk.of("x"))
                publisher.submit(CallChunk.of("y"))
                val first = router.receive().shouldBeInstanceOf<Call>()
                first shouldBe Call(first.request, mapOf("progress" to true), "com.upload", listOf("x"))
                publisher.close()
                router.receive() shouldBe Call(first.request, emptyMap(), "com.upload", listOf("y"))
                router.send(ResultMessage(first.request, emptyMap(), listOf("xy")))
                future.await().args shouldBe listOf("xy")
            }
            bye(s, router)
        }
    }

    test("callee: a streaming handler reads every chunk in order, the first included, and answers once") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val invocation = CompletableDeferred<Invocation>()
            registered(s, router, 41) {
                s.registerStreaming("com.sum") { inv, chunks ->
                    invocation.complete(inv)
                    var sum = 0L
                    chunks.collect { sum += WampValues.asLong(it.args[0])!! }
                    InvokeResult.of(sum)
                }
            }
            router.send(InvocationMessage(5, 41, mapOf("progress" to true, "caller" to 3L), listOf(1)))
            router.send(InvocationMessage(5, 41, mapOf("progress" to true), listOf(2)))
            router.send(InvocationMessage(5, 41, emptyMap(), listOf(3)))
            router.receive() shouldBe Yield(5, emptyMap(), listOf(6L))
            with(invocation.await()) {
                isProgressive shouldBe true
                args shouldBe listOf(1L)
                caller shouldBe 3L
            }
            // A call that does not stream is a flow of one chunk.
            router.send(InvocationMessage(6, 41, emptyMap(), listOf(10)))
            router.receive() shouldBe Yield(6, emptyMap(), listOf(10L))
            bye(s, router)
        }
    }

    test("callee: a plain handler gets the first chunk only; later and late chunks never start another invocation") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val seen = CopyOnWriteArrayList<List<Any?>>()
            val progressive = CopyOnWriteArrayList<Boolean>()
            registered(s, router, 42) {
                s.register("com.plain") { inv ->
                    seen.add(inv.args)
                    progressive.add(inv.isProgressive)
                    InvokeResult.of("got ${inv.args}")
                }
            }
            router.send(InvocationMessage(7, 42, mapOf("progress" to true), listOf("first")))
            router.receive() shouldBe Yield(7, emptyMap(), listOf("got [first]"))
            router.send(InvocationMessage(7, 42, mapOf("progress" to true), listOf("late")))
            router.send(InvocationMessage(7, 42, emptyMap(), listOf("last")))
            router.send(InvocationMessage(8, 42, emptyMap(), listOf("next call")))
            router.receive() shouldBe Yield(8, emptyMap(), listOf("got [next call]"))
            seen.toList() shouldBe listOf(listOf("first"), listOf("next call"))
            progressive.toList() shouldBe listOf(true, false)
            bye(s, router)
        }
    }

    test(
        "callee: past invocationChunkBuffer the chunk stream fails with ChunkBufferOverflowException after the " +
            "buffered chunks",
    ) {
        withTimeout(10.seconds) {
            val (s, router) = joined(
                SessionConfig("realm1") {
                    responseTimeout(2.seconds)
                    invocationChunkBuffer(2)
                },
            )
            val gate = CompletableDeferred<Unit>()
            val seen = CopyOnWriteArrayList<Any?>()
            registered(s, router, 43) {
                s.registerStreaming("com.slow") { _, chunks ->
                    gate.await() // not reading yet: the chunks pile up
                    try {
                        chunks.collect { seen.add(it.args[0]) }
                    } catch (e: ChunkBufferOverflowException) {
                        seen.add(e.capacity)
                        throw e
                    }
                    InvokeResult.of("unreachable")
                }
            }
            registered(s, router, 44) { s.register("com.ping") { InvokeResult.of("pong") } }
            router.send(InvocationMessage(9, 43, mapOf("progress" to true), listOf(1)))
            for (i in 2..5) router.send(InvocationMessage(9, 43, mapOf("progress" to true), listOf(i)))
            // Messages are read in order: once ping is answered, every chunk above has been taken or refused.
            router.send(InvocationMessage(10, 44, emptyMap()))
            router.receive() shouldBe Yield(10, emptyMap(), listOf("pong"))
            gate.complete(Unit)
            val error = router.receive().shouldBeInstanceOf<ErrorMessage>()
            error.request shouldBe 9L
            error.error shouldBe ChunkBufferOverflowException.ERROR
            (error.args[0] as String) shouldContain "more than 2 chunks"
            seen.toList() shouldBe listOf(1L, 2L, 2)
            // The rest of that call's chunks are dropped, not invoked.
            router.send(InvocationMessage(9, 43, emptyMap(), listOf(6)))
            router.send(InvocationMessage(11, 44, emptyMap()))
            router.receive() shouldBe Yield(11, emptyMap(), listOf("pong"))
            bye(s, router)
        }
    }

    test(
        "callee: INTERRUPT mid-stream cancels the streaming handler (wamp.error.canceled); the session's end fails " +
            "its stream",
    ) {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val failures = Channel<Throwable>(Channel.UNLIMITED)
            registered(s, router, 45) {
                s.registerStreaming("com.stream") { _, chunks ->
                    try {
                        chunks.toList()
                    } catch (e: Throwable) {
                        failures.trySend(e)
                        throw e
                    }
                    InvokeResult()
                }
            }
            router.send(InvocationMessage(12, 45, mapOf("progress" to true), listOf(1)))
            router.send(Interrupt(12, mapOf("mode" to "killnowait")))
            router.receive() shouldBe ErrorMessage(MessageCodes.INVOCATION, 12, emptyMap(), "wamp.error.canceled")
            failures.receive().shouldBeInstanceOf<CancellationException>()

            router.send(InvocationMessage(13, 45, mapOf("progress" to true), listOf(1)))
            router.send(Goodbye(emptyMap(), "wamp.close.system_shutdown"))
            failures.receive().shouldBeInstanceOf<WampSessionClosedException>()
            s.awaitClosed().message shouldContain "system_shutdown"
        }
    }

    test("callee, Java face: the chunks as a Flow.Publisher, read with CallChunk.consume") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val registration = s.registerStreamingAsync("com.join", { inv, publisher ->
                val parts = StringBuilder()
                CallChunk.consume(publisher) {
                    parts.append(it.args[0])
                }.thenApply { InvokeResult.of(parts.toString(), inv.isProgressive) }
            })
            router.send(Registered(router.receive().shouldBeInstanceOf<Register>().request, 46))
            registration.await() shouldBe 46L
            router.send(InvocationMessage(14, 46, mapOf("progress" to true), listOf("a")))
            router.send(InvocationMessage(14, 46, mapOf("progress" to true), listOf("b")))
            router.send(InvocationMessage(14, 46, emptyMap(), listOf("c")))
            router.receive() shouldBe Yield(14, emptyMap(), listOf("abc", true))
            bye(s, router)
        }
    }

    test("adapters: one-by-one demand, a second subscriber and a non-positive request are refused") {
        withTimeout(10.seconds) {
            // Publisher to flow: asks for one item at a time.
            val requests = CopyOnWriteArrayList<Long>()
            val source = java.util.concurrent.Flow.Publisher<CallChunk> { sub ->
                var next = 1
                sub.onSubscribe(object : java.util.concurrent.Flow.Subscription {
                    override fun request(n: Long) {
                        requests.add(n)
                        if (next <= 3) sub.onNext(CallChunk.of(next++)) else sub.onComplete()
                    }
                    override fun cancel() {}
                })
            }
            source.asOneByOneFlow().toList().map { it.args[0] } shouldBe listOf(1, 2, 3)
            requests.toSet() shouldBe setOf(1L)

            // Channel to publisher: one subscriber, positive demand only.
            coroutineScope {
                val chunks = Channel<CallChunk>(4).apply {
                    trySend(CallChunk.of(1))
                    close()
                }
                val publisher = ChunkPublisher(chunks, this)
                val errors = Channel<Throwable>(Channel.UNLIMITED)
                val subscriber = object : java.util.concurrent.Flow.Subscriber<CallChunk> {
                    override fun onSubscribe(s: java.util.concurrent.Flow.Subscription) {
                        s.request(0)
                    }
                    override fun onNext(item: CallChunk) {}
                    override fun onError(t: Throwable) {
                        errors.trySend(t)
                    }
                    override fun onComplete() {}
                }
                publisher.subscribe(subscriber)
                errors.receive().shouldBeInstanceOf<IllegalArgumentException>()
                publisher.subscribe(subscriber)
                errors.receive().shouldBeInstanceOf<IllegalStateException>()
            }
        }
    }
})
