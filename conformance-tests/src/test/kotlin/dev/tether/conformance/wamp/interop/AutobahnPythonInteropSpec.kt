package dev.tether.conformance.wamp.interop

import dev.tether.conformance.External
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.WampSession
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout

/**
 * autobahn-python 22.7.1 (Debian's python3-autobahn, asyncio) as caller, callee, publisher and subscriber against
 * the testkit router, with this client in the other role, over WebSocket and RawSocket with JSON, MessagePack and
 * CBOR; and call canceling both ways (autobahn-python is a callee that announces call_canceling).
 */
class AutobahnPythonInteropSpec : FunSpec({
    val router = lazy { FakeWampRouter.start() }
    val peers = mutableMapOf<String, WampPeer>()

    afterSpec {
        peers.values.forEach { it.close() }
        if (router.isInitialized()) router.value.close()
    }

    class Path(val transport: String, val serializer: String) {
        val label = "${if (transport == "ws") "websocket" else "rawsocket"} $serializer"
        val slug = "${transport}_$serializer"
        val serialization: Serialization = Serialization.entries.first { it.subprotocol == "wamp.2.$serializer" }
    }

    val paths = listOf("ws", "tcp").flatMap { t -> listOf("json", "msgpack", "cbor").map { Path(t, it) } }

    // One peer per path, started on first use and ended after the spec.
    fun peer(path: Path): WampPeer = peers.getOrPut(path.slug) {
        WampPeer.start(Autobahn.PYTHON, router.value.url(path.transport), path.serializer)
    }

    suspend fun client(path: Path): WampSession = joinClient(router.value.url(path.transport)) {
        serialization(path.serialization)
    }

    suspend fun roles(path: Path, check: suspend (AutobahnRoles, WampSession) -> Unit) {
        val peer = peer(path)
        client(path).using { client ->
            check(AutobahnRoles(peer, RouterTraits.TESTKIT, "com.interop.py.${path.slug}.${System.nanoTime()}"), client)
        }
    }

    for (path in paths) {
        val missing = External.skipIf { InteropPeers.autobahnPythonMissing(path.serializer) }
        test(
            "${path.label}: autobahn-python as callee: echo, progressive results, a typed error, unregister",
        ).config(enabledOrReasonIf = missing) {
            roles(path) { roles, client -> roles.peerAsCallee(client) }
        }
        test(
            "${path.label}: autobahn-python as caller: echo with caller disclosure, progressive results, a typed error",
        ).config(enabledOrReasonIf = missing) {
            roles(path) { roles, client -> roles.peerAsCaller(client) }
        }
        test(
            "${path.label}: autobahn-python as publisher: 20 events in order, the acknowledged one's id",
        ).config(enabledOrReasonIf = missing) {
            roles(path) { roles, client -> roles.peerAsPublisher(client) }
        }
        test(
            "${path.label}: autobahn-python as subscriber: 20 events in order, a prefix pattern, unsubscribe",
        ).config(enabledOrReasonIf = missing) {
            roles(path) { roles, client -> roles.peerAsSubscriber(client) }
        }
    }

    for (path in listOf(paths.first { it.slug == "ws_json" }, paths.first { it.slug == "tcp_msgpack" })) {
        test("${path.label}: a 1 MiB argument goes to an autobahn-python callee and back whole").config(
            enabledOrReasonIf = External.skipIf {
                InteropPeers.autobahnPythonMissing(path.serializer)
            },
        ) {
            val p = peer(path).peer
            val procedure = "com.interop.py.${path.slug}.big.${System.nanoTime()}"
            p.ok("register", "procedure" to procedure, "behaviour" to "echo")
            val big = buildString(1 shl 20) { repeat(1 shl 20) { append('a' + it % 26) } }
            client(path).using { client ->
                withTimeout(INTEROP_WAIT) {
                    client.call(procedure, listOf(big, "end"))
                }.args shouldBe listOf(big, "end")
            }
        }
    }

    val shared = paths.first { it.slug == "ws_json" }
    test(
        "${shared.label}: two autobahn-python callees share a registration (invoke roundrobin): calls alternate; a " +
            "plain registration is refused",
    ).config(
        enabledOrReasonIf = External.skipIf {
            InteropPeers.autobahnPythonMissing(shared.serializer)
        },
    ) {
        val procedure = "com.interop.py.shared.${System.nanoTime()}"
        val first = peer(shared)
        WampPeer.start(Autobahn.PYTHON, router.value.url(shared.transport), shared.serializer).use { second ->
            for (p in listOf(
                first,
                second,
            )) {
                p.peer.ok(
                    "register",
                    "procedure" to procedure,
                    "behaviour" to "echo",
                    "options" to mapOf("invoke" to "roundrobin"),
                )
            }
            val refused = second.peer.command("register", "procedure" to "$procedure", "behaviour" to "echo")
            JsonValues.string(refused, "error") shouldBe "wamp.error.procedure_already_exists"

            client(shared).using { client ->
                for (i in 0L until 6L) {
                    withTimeout(INTEROP_WAIT) {
                        client.call(procedure, listOf(i, "n"))
                    }.args shouldBe listOf(i, "n")
                }
            }
            val byFirst = first.peer.seen {
                JsonValues.string(it, "event") == "invocation" && JsonValues.string(it, "registered") == procedure
            }
                .map { JsonValues.list(it, "args")[0] }
            val bySecond = second.peer.seen {
                JsonValues.string(it, "event") == "invocation" && JsonValues.string(it, "registered") == procedure
            }
                .map { JsonValues.list(it, "args")[0] }
            // each call was answered before the next was made, so both peers have reported theirs
            (byFirst + bySecond).map { it as Long }.sorted() shouldBe (0L until 6L).toList()
            setOf(byFirst, bySecond) shouldBe setOf(listOf(0L, 2L, 4L), listOf(1L, 3L, 5L))
        }
    }

    val cancelPaths = listOf(paths.first { it.slug == "ws_json" }, paths.first { it.slug == "tcp_msgpack" })
    for (path in cancelPaths) {
        val missing = External.skipIf { InteropPeers.autobahnPythonMissing(path.serializer) }

        test(
            "${path.label}: this client cancels a call to an autobahn-python callee: the router interrupts it and " +
                "the call ends",
        ).config(enabledOrReasonIf = missing) {
            val peer = peer(path)
            val p = peer.peer
            val procedure = "com.interop.py.${path.slug}.wait.${System.nanoTime()}"
            p.ok("register", "procedure" to procedure, "behaviour" to "wait")
            client(path).using { client ->
                coroutineScope {
                    val call = async(start = CoroutineStart.UNDISPATCHED) { client.call(procedure, listOf("patience")) }
                    p.awaitNotifications("the invocation") {
                        JsonValues.string(
                            it,
                            "event",
                        ) == "invocation" && JsonValues.string(it, "registered") == procedure
                    }
                    call.cancel()
                    shouldThrow<CancellationException> { withTimeout(INTEROP_WAIT) { call.await() } }
                }
                // killnowait (the default mode): INTERRUPT reaches autobahn-python, which cancels its handler
                p.awaitNotifications("autobahn-python's handler to be interrupted") {
                    JsonValues.string(it, "event") == "interrupted" && JsonValues.string(it, "registered") == procedure
                }
                client.isOpen shouldBe true
            }
        }

        test(
            "${path.label}: autobahn-python cancels its call (CANCEL): this client's handler is interrupted, and " +
                "both sessions go on",
        ).config(enabledOrReasonIf = missing) {
            val peer = peer(path)
            val procedure = "com.interop.py.${path.slug}.stuck.${System.nanoTime()}"
            client(path).using { client ->
                val entered = CompletableDeferred<Unit>()
                val interrupted = CompletableDeferred<Unit>()
                client.register(procedure) { inv ->
                    if (inv.args.firstOrNull() == "quick") return@register InvokeResult(listOf("answered"))
                    entered.complete(Unit)
                    try {
                        CompletableDeferred<Unit>().await()
                    } catch (e: CancellationException) {
                        interrupted.complete(Unit)
                        throw e
                    }
                    InvokeResult()
                }
                val reply = peer.peer.command("call", "procedure" to procedure, "cancel_after_ms" to 300L)
                // autobahn-python fails its own future at once and sends CANCEL (no mode: the router's killnowait)
                JsonValues.string(reply, "error") shouldBe "peer.cancelled"
                withTimeout(INTEROP_WAIT) { entered.await() }
                withTimeout(INTEROP_WAIT) { interrupted.await() }
                // the router's ERROR wamp.error.canceled for the abandoned call did not upset either side
                JsonValues.list(
                    peer.peer.ok("call", "procedure" to procedure, "args" to listOf("quick")),
                    "args",
                ) shouldBe listOf("answered")
                client.isOpen shouldBe true
            }
        }

        test(
            "${path.label}: autobahn-python calls with the router-side timeout option: it gets wamp.error.timeout " +
                "and this client's handler is interrupted",
        ).config(enabledOrReasonIf = missing) {
            val peer = peer(path)
            val procedure = "com.interop.py.${path.slug}.slow.${System.nanoTime()}"
            client(path).using { client ->
                val interrupted = CompletableDeferred<Unit>()
                client.register(procedure) {
                    try {
                        CompletableDeferred<Unit>().await()
                    } catch (e: CancellationException) {
                        interrupted.complete(Unit)
                        throw e
                    }
                    InvokeResult()
                }
                // CallOptions.timeout goes out as the CALL option `timeout` as given: milliseconds on the wire
                val reply = peer.peer.command("call", "procedure" to procedure, "options" to mapOf("timeout" to 200L))
                JsonValues.string(reply, "error") shouldBe "wamp.error.timeout"
                withTimeout(INTEROP_WAIT) { interrupted.await() }
            }
        }
    }
})
