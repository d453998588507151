package dev.tether.testkit.wamp

import dev.tether.wamp.CallChunk
import dev.tether.wamp.CallOptions
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.PayloadPassthru
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.Roles
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampException
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOf
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** A streaming handler's reader that counts the chunks it got until its invocation ends or is interrupted. */
private class ChunkCounter {
    /** Completed once the first chunk arrived. */
    val firstSeen = CompletableDeferred<Unit>()

    /** Completed with the count when the router interrupted the invocation. */
    val interrupted = CompletableDeferred<Int>()

    suspend fun read(chunks: Flow<CallChunk>) {
        var n = 0
        try {
            chunks.collect {
                n++
                firstSeen.complete(Unit)
            }
        } catch (e: CancellationException) {
            interrupted.complete(n)
            throw e
        }
    }
}

/**
 * Payload passthru mode end to end through the testkit router: the `ppt_*` options of CALL (each chunk of a
 * progressive one), YIELD, ERROR and PUBLISH reach the other side unchanged in INVOCATION, RESULT, ERROR and EVENT
 * details, an opaque binary payload arrives byte for byte on every transport and serializer, and peers that did not
 * announce the feature are refused (caller or publisher: ABORT protocol_violation) or spared (callee: the caller gets
 * feature_not_supported; a subscriber is skipped).
 */
class PayloadPassthruSpec : FunSpec({
    val cbor = PayloadPassthru("x_acme", serializer = "cbor", cipher = "none", keyId = "k1")
    val opaque = byteArrayOf(0, 1, 2, 0x7F, -1, -128, 42)

    fun config(ser: Serialization = Serialization.JSON, block: SessionConfig.Builder.() -> Unit = {}) =
        SessionConfig("realm1") {
            responseTimeout(5.seconds)
            serialization(ser)
            block()
        }

    /** The client's roles without payload_passthru_mode: a peer that does not support the feature. */
    fun withoutPassthru(): Map<String, Any?> = Roles.CLIENT.mapValues { (_, role) ->
        val features = ((role as Map<*, *>)["features"] as Map<*, *>).filterKeys { it != "payload_passthru_mode" }
        mapOf("features" to features)
    }

    for (transport in listOf("ws", "tcp")) {
        for (ser in Serialization.entries) {
            test("$transport/$ser: call, yield and publish carry ppt options and a binary payload unchanged") {
                FakeWampRouter.start().use { router ->
                    withTimeout(20.seconds) {
                        val callee = WampSession.connect(router.url(transport), config(ser))
                        val caller = WampSession.connect(router.url(transport), config(ser))
                        val seen = CompletableDeferred<Pair<PayloadPassthru?, ByteArray?>>()
                        callee.register("com.ppt.echo") { inv ->
                            seen.complete(inv.payloadPassthru to inv.passthruPayload)
                            InvokeResult.passthru(cbor, inv.passthruPayload!!.reversedArray())
                        }
                        val options = CallOptions { payloadPassthru(cbor) }
                        val result = caller.call("com.ppt.echo", listOf(opaque), options = options)
                        val (invocationPpt, invocationBytes) = seen.await()
                        invocationPpt shouldBe cbor
                        invocationBytes!!.toList() shouldBe opaque.toList()
                        result.payloadPassthru shouldBe cbor
                        result.passthruPayload!!.toList() shouldBe opaque.reversedArray().toList()
                        result.details["ppt_keyid"] shouldBe "k1"

                        val event = CompletableDeferred<Event>()
                        callee.subscribe("com.ppt.topic") { event.complete(it) }
                        caller.publish(
                            "com.ppt.topic",
                            listOf(opaque),
                            options = PublishOptions {
                                acknowledge()
                                payloadPassthru(cbor)
                            },
                        )
                        val e = event.await()
                        e.payloadPassthru shouldBe cbor
                        e.passthruPayload!!.toList() shouldBe opaque.toList()
                        caller.leave()
                        callee.leave()
                    }
                }
            }
        }
    }

    test("progressive results carry their own ppt options and binary payloads to the caller, in order") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val callee = WampSession.connect(router.tcpUrl, config(Serialization.MSGPACK))
                val caller = WampSession.connect(router.wsUrl, config(Serialization.JSON))
                callee.register("com.ppt.chunks") { inv ->
                    for (i in 0 until 3) inv.sendProgress(InvokeResult.passthru(cbor, byteArrayOf(i.toByte(), -1)))
                    InvokeResult.passthru(cbor, byteArrayOf(9))
                }
                val chunks = mutableListOf<Pair<PayloadPassthru?, List<Byte>?>>()
                val final = caller.callProgress("com.ppt.chunks") {
                    chunks += it.payloadPassthru to it.passthruPayload?.toList()
                }
                chunks shouldBe List(3) { cbor to listOf(it.toByte(), (-1).toByte()) }
                final.payloadPassthru shouldBe cbor
                final.passthruPayload!!.toList() shouldBe listOf<Byte>(9)
                caller.leave()
                callee.leave()
            }
        }
    }

    test("every chunk of a progressive call carries its own ppt options, else the call's, to its INVOCATION") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val callee = WampSession.connect(router.tcpUrl, config(Serialization.MSGPACK))
                val caller = WampSession.connect(router.wsUrl, config(Serialization.JSON))
                val received = Channel<List<CallChunk>>(Channel.UNLIMITED)
                callee.registerStreaming("com.ppt.upload") { inv, chunks ->
                    val all = chunks.toList()
                    inv.payloadPassthru shouldBe all.first().payloadPassthru // the first chunk is the invocation's
                    received.send(all)
                    InvokeResult.of(all.size.toLong())
                }
                val mqtt = PayloadPassthru("mqtt")
                val other = PayloadPassthru("x_other", serializer = "flatbuffers", keyId = "k2")
                val chunks = flowOf(
                    CallChunk(listOf(opaque)), // none of its own: the call's (cbor)
                    CallChunk.passthru(mqtt, listOf(1L, "a"), mapOf("k" to true)),
                    CallChunk(listOf(byteArrayOf(5))), // the call's again
                    CallChunk.passthru(other, byteArrayOf(7, -7)), // the last
                )
                val result = caller.callStreaming("com.ppt.upload", chunks, CallOptions { payloadPassthru(cbor) })
                result.args shouldBe listOf(4L)
                val seen = received.receive()
                seen.map { it.payloadPassthru } shouldBe listOf(cbor, mqtt, cbor, other)
                seen[0].passthruPayload!!.toList() shouldBe opaque.toList()
                seen[1].passthruPayload shouldBe null // native: the ordinary args and kwargs
                seen[1].args shouldBe listOf(1L, "a")
                seen[1].kwargs shouldBe mapOf("k" to true)
                seen[2].passthruPayload!!.toList() shouldBe listOf<Byte>(5)
                seen[3].passthruPayload!!.toList() shouldBe listOf<Byte>(7, -7)

                // Without passthru options on the call, a chunk without its own carries none: the router does not
                // repeat the first chunk's.
                caller.callStreaming(
                    "com.ppt.upload",
                    flowOf(CallChunk.passthru(cbor, opaque), CallChunk.of("plain")),
                ).args shouldBe listOf(2L)
                received.receive().map { it.payloadPassthru } shouldBe listOf(cbor, null)
                caller.leave()
                callee.leave()
            }
        }
    }

    test("a progressive call's chunk whose non-native payload is not one ByteArray fails the call before it is sent") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val callee = WampSession.connect(router.tcpUrl, config())
                val counter = ChunkCounter()
                callee.registerStreaming("com.ppt.strict") { _, chunks ->
                    counter.read(chunks)
                    InvokeResult()
                }
                shouldThrow<IllegalArgumentException> { CallChunk.passthru(cbor, listOf("text")) }
                shouldThrow<IllegalArgumentException> { CallChunk.passthru(PayloadPassthru("mqtt"), opaque) }
                val caller = WampSession.connect(router.wsUrl, config())
                // A chunk goes out when the next one arrives: the first with "text", "text" with the third.
                val chunks = flow {
                    emit(CallChunk(listOf(opaque)))
                    emit(CallChunk.of("text")) // the call's cbor options want one ByteArray
                    counter.firstSeen.await()
                    emit(CallChunk(listOf(opaque)))
                }
                shouldThrow<IllegalArgumentException> {
                    caller.callStreaming("com.ppt.strict", chunks, CallOptions { payloadPassthru(cbor) })
                }.message shouldContain "one ByteArray"
                // The call was cancelled after the first chunk: "text" never went out.
                counter.interrupted.await() shouldBe 1
                caller.isOpen shouldBe true
                caller.leave()
                callee.leave()
            }
        }
    }

    test("a chunk with ppt options to a streaming callee without payload_passthru_mode: feature_not_supported") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val callee = WampSession.connect(router.tcpUrl, config { helloDetail("roles", withoutPassthru()) })
                val counter = ChunkCounter()
                callee.registerStreaming("com.ppt.old.stream") { _, chunks ->
                    counter.read(chunks)
                    InvokeResult.of("finished")
                }
                val caller = WampSession.connect(router.wsUrl, config())
                val error = shouldThrow<RpcException> {
                    caller.callStreaming(
                        "com.ppt.old.stream",
                        flow {
                            emit(CallChunk.of("plain"))
                            emit(CallChunk.passthru(cbor, opaque)) // sends the plain first chunk
                            counter.firstSeen.await()
                            emit(CallChunk.of("never")) // sends the passthru chunk, which the router refuses
                            awaitCancellation() // the call is answered meanwhile: nothing more goes out
                        },
                    )
                }
                error.error shouldBe "wamp.error.feature_not_supported"
                // The router interrupted the callee: the passthru chunk never reached it.
                counter.interrupted.await() shouldBe 1
                caller.callStreaming("com.ppt.old.stream", flowOf(CallChunk.of("plain"))).args shouldBe
                    listOf("finished")
                caller.leave()
                callee.leave()
            }
        }
    }

    test("a native passthru payload keeps its args and kwargs; an error carries ppt details back to the caller") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val native = PayloadPassthru("mqtt")
                val callee = WampSession.connect(router.tcpUrl, config())
                val caller = WampSession.connect(router.wsUrl, config(Serialization.MSGPACK))
                callee.register("com.ppt.native") { inv ->
                    inv.passthruPayload shouldBe null
                    InvokeResult.passthru(native, inv.args + "back", inv.kwargs)
                }
                callee.register("com.ppt.fails") {
                    throw RpcException("com.ppt.refused", listOf(opaque), details = cbor.toMap())
                }
                val options = CallOptions { payloadPassthru(native) }
                val r = caller.call("com.ppt.native", listOf(1L, "a"), mapOf("k" to true), options)
                r.args shouldBe listOf(1L, "a", "back")
                r.kwargs shouldBe mapOf("k" to true)
                r.payloadPassthru shouldBe native
                val e = shouldThrow<RpcException> {
                    caller.call("com.ppt.fails", listOf(opaque), options = CallOptions { payloadPassthru(cbor) })
                }
                e.error shouldBe "com.ppt.refused"
                PayloadPassthru.fromDetails(e.details) shouldBe cbor
                PayloadPassthru.payloadOf(e.args, e.details)!!.toList() shouldBe opaque.toList()
                caller.leave()
                callee.leave()
            }
        }
    }

    test("a non-native payload that is not one ByteArray is refused before anything is sent") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val s = WampSession.connect(router.tcpUrl, config())
                shouldThrow<IllegalArgumentException> {
                    s.call("com.any", listOf("text"), options = CallOptions { payloadPassthru(cbor) })
                }.message shouldContain "one ByteArray"
                shouldThrow<IllegalArgumentException> {
                    s.publish("com.any", listOf(opaque), mapOf("k" to 1), PublishOptions { payloadPassthru(cbor) })
                }
                s.isOpen shouldBe true
                s.leave()
            }
        }
    }

    test("a callee that did not announce payload_passthru_mode: the caller gets feature_not_supported") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val callee = WampSession.connect(router.tcpUrl, config { helloDetail("roles", withoutPassthru()) })
                val invoked = CompletableDeferred<Unit>()
                callee.register("com.ppt.old") {
                    invoked.complete(Unit)
                    InvokeResult.of("plain")
                }
                val caller = WampSession.connect(router.tcpUrl, config())
                shouldThrow<RpcException> {
                    caller.call("com.ppt.old", listOf(opaque), options = CallOptions { payloadPassthru(cbor) })
                }.error shouldBe "wamp.error.feature_not_supported"
                invoked.isCompleted shouldBe false
                caller.call("com.ppt.old").args shouldBe listOf("plain") // an ordinary call still works
                caller.leave()
                callee.leave()
            }
        }
    }

    test("a subscriber that did not announce payload_passthru_mode does not get passthru events") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val old = WampSession.connect(router.tcpUrl, config { helloDetail("roles", withoutPassthru()) })
                val current = WampSession.connect(router.tcpUrl, config())
                val oldEvents = mutableListOf<Event>()
                val oldGotPlain = CompletableDeferred<Unit>()
                old.subscribe("com.ppt.mixed") {
                    oldEvents += it
                    if (it.args == listOf("plain")) oldGotPlain.complete(Unit)
                }
                val currentGotPpt = CompletableDeferred<Event>()
                current.subscribe("com.ppt.mixed") { if (it.payloadPassthru != null) currentGotPpt.complete(it) }
                val publisher = WampSession.connect(router.wsUrl, config())
                val ack = PublishOptions { acknowledge() }
                val passthru = PublishOptions {
                    acknowledge()
                    payloadPassthru(cbor)
                }
                publisher.publish("com.ppt.mixed", listOf(opaque), options = passthru)
                publisher.publish("com.ppt.mixed", listOf("plain"), options = ack)
                currentGotPpt.await().passthruPayload!!.toList() shouldBe opaque.toList()
                oldGotPlain.await() // events of one subscription arrive in order: the passthru one was never sent
                oldEvents.map { it.args } shouldBe listOf(listOf("plain"))
                publisher.leave()
                current.leave()
                old.leave()
            }
        }
    }

    test("a caller or publisher that sends ppt options without announcing them is ABORTed (protocol_violation)") {
        FakeWampRouter.start().use { router ->
            withTimeout(20.seconds) {
                val caller = WampSession.connect(router.tcpUrl, config { helloDetail("roles", withoutPassthru()) })
                shouldThrow<WampException> {
                    caller.call("com.any", listOf(opaque), options = CallOptions { payloadPassthru(cbor) })
                }
                caller.awaitClosed().message shouldContain "wamp.error.protocol_violation"

                val publisher = WampSession.connect(router.wsUrl, config { helloDetail("roles", withoutPassthru()) })
                shouldThrow<WampException> {
                    publisher.publish(
                        "com.any",
                        listOf(opaque),
                        options = PublishOptions {
                            acknowledge()
                            payloadPassthru(cbor)
                        },
                    )
                }
                publisher.awaitClosed().message shouldContain "wamp.error.protocol_violation"
            }
        }
    }

    test("the router's WELCOME announces payload_passthru_mode for dealer and broker, and event_history") {
        FakeWampRouter.start().use { router ->
            val s = WampSession.connect(router.tcpUrl, config())
            val roles = s.realmDetails["roles"] as Map<*, *>
            fun features(role: String) = (roles[role] as Map<*, *>)["features"] as Map<*, *>
            features("dealer")["payload_passthru_mode"] shouldBe true
            features("broker")["payload_passthru_mode"] shouldBe true
            features("broker")["event_history"] shouldBe true
            s.leave()
        }
    }
})
