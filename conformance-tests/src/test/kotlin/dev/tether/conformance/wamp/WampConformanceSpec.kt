@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.conformance.wamp

import dev.tether.conformance.External
import dev.tether.core.DialFailedException
import dev.tether.testkit.wamp.FakeWampRouterTls
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.Authenticate
import dev.tether.wamp.message.Challenge
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.rawsocket.Handshake
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import io.ktor.network.selector.SelectorManager
import io.ktor.network.sockets.InetSocketAddress
import io.ktor.network.sockets.aSocket
import io.ktor.network.sockets.openReadChannel
import io.ktor.network.sockets.openWriteChannel
import io.ktor.utils.io.readAvailable
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import java.net.URI
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * WAMP conformance, part 1, over a [RouterSubject]: every transport x serializer for RPC and PubSub, each auth
 * method, timeouts, RawSocket handshake errors and size limits, ABORT and GOODBYE, late replies. Against an
 * external router, serializers it refuses and features its WELCOME does not announce are skipped with the reason.
 */
class WampConformanceSpec : FunSpec({
    val subject = RouterSubject.open()
    afterSpec { subject.close() }
    val offered = { url: String, ser: Serialization -> External.skipIf { subject.refusal(url, ser) } }

    for ((transport, url) in subject.urls) {
        for (ser in Serialization.entries) {
            test(
                "$transport x $ser: register, call with args and kwargs, callee error, unregister",
            ).config(enabledOrReasonIf = offered(url, ser)) {
                withTimeout(20.seconds) {
                    val config = subject.config { serialization(ser) }
                    val callee = WampSession.connect(url, config)
                    val caller = WampSession.connect(url, config)
                    val proc = "conf.echo.${callee.id}"
                    callee.register(proc) { inv ->
                        if (inv.kwargs["fail"] == true) {
                            throw RpcException(
                                "conf.error.requested",
                                listOf("because"),
                                mapOf("n" to 1),
                            )
                        }
                        InvokeResult(inv.args, inv.kwargs)
                    }
                    callee.registrationId(proc)!! shouldBe callee.registrationId(proc)
                    val args =
                        listOf(
                            1L shl 53,
                            -129L,
                            0.5,
                            "é€\uD834\uDD1E",
                            true,
                            null,
                            listOf(1L, mapOf("k" to "v")),
                            byteArrayOf(0, 1, 2, -1),
                        )
                    val result = caller.call(proc, args, mapOf("x" to 1L))
                    WampValues.deepEquals(result.args, args) shouldBe true
                    result.kwargs shouldBe mapOf("x" to 1L)
                    val e = shouldThrow<RpcException> { caller.call(proc, kwargs = mapOf("fail" to true)) }
                    e.error shouldBe "conf.error.requested"
                    e.args shouldBe listOf("because")
                    e.kwargs shouldBe mapOf("n" to 1L)
                    callee.unregister(proc)
                    callee.registrationId(proc) shouldBe null
                    shouldThrow<RpcException> { caller.call(proc) }.error shouldBe "wamp.error.no_such_procedure"
                    caller.leave()
                    callee.leave()
                }
            }

            test(
                "$transport x $ser: subscribe, acknowledged publish, in-order events, unsubscribe",
            ).config(enabledOrReasonIf = offered(url, ser)) {
                withTimeout(20.seconds) {
                    val config = subject.config { serialization(ser) }
                    val subscriber = WampSession.connect(url, config)
                    val publisher = WampSession.connect(url, config)
                    val topic = "conf.topic.${subscriber.id}"
                    val events = Channel<Event>(Channel.UNLIMITED)
                    val subId = subscriber.subscribe(topic) { events.send(it) }
                    subscriber.subscriptionId(topic) shouldBe subId
                    for (i in 0 until 20) {
                        publisher.publish(
                            topic,
                            listOf(i.toLong()),
                            mapOf("b" to byteArrayOf(i.toByte())),
                        )
                    }
                    val ack = publisher.publish(topic, listOf(20L), options = mapOf("acknowledge" to true))
                    (ack!! > 0) shouldBe true
                    val got = List(21) { events.receive() }
                    got.map { it.args[0] } shouldBe (0L..20L).toList()
                    got.all { it.subscription == subId } shouldBe true
                    (got[3].kwargs["b"] as ByteArray).toList() shouldBe listOf<Byte>(3)
                    subscriber.unsubscribe(topic)
                    publisher.publish(topic, listOf(99L), options = mapOf("acknowledge" to true))
                    // A call round trip later, nothing more has arrived.
                    publisher.publish("conf.other", options = mapOf("acknowledge" to true))
                    events.tryReceive().getOrNull() shouldBe null
                    publisher.leave()
                    subscriber.leave()
                }
            }
        }
    }

    for ((transport, url) in subject.urls) {
        test("$transport: 64 concurrent calls on one session each get their own result") {
            withTimeout(20.seconds) {
                // JSON callee, MessagePack caller where the router offers both.
                val callee = WampSession.connect(
                    url,
                    subject.config {
                        serialization(subject.serializationFor(url, Serialization.JSON))
                    },
                )
                val caller = WampSession.connect(
                    url,
                    subject.config {
                        serialization(subject.serializationFor(url, Serialization.MSGPACK))
                    },
                )
                val proc = "conf.square.${callee.id}"
                callee.register(proc) { inv ->
                    val n = inv.args[0] as Long
                    kotlinx.coroutines.delay((64 - n) % 7) // finish out of order
                    InvokeResult(listOf(n * n))
                }
                val results = kotlinx.coroutines.coroutineScope {
                    (0L until 64L).map { n -> async { caller.call(proc, listOf(n)).args[0] } }.map { it.await() }
                }
                results shouldBe (0L until 64L).map { it * it }
                caller.leave()
                callee.leave()
            }
        }
    }

    for ((transport, url) in subject.urls) {
        test(
            "$transport: progressive call results arrive in order before the final result; none without " +
                "receive_progress",
        )
            .config(
                enabledOrReasonIf = External.skipIf {
                    subject.lacksFeature("dealer", "progressive_call_results")
                },
            ) {
                withTimeout(20.seconds) {
                    val callee = WampSession.connect(
                        url,
                        subject.config {
                            serialization(subject.serializationFor(url, Serialization.JSON))
                        },
                    )
                    val caller = WampSession.connect(
                        url,
                        subject.config {
                            serialization(subject.serializationFor(url, Serialization.MSGPACK))
                        },
                    )
                    val proc = "conf.progress.${callee.id}"
                    callee.register(proc) { inv ->
                        val n = inv.args[0] as Long
                        if (inv.receiveProgress) for (i in 1..n) inv.sendProgress(listOf(i))
                        InvokeResult(listOf("done", inv.receiveProgress))
                    }
                    val chunks = java.util.concurrent.CopyOnWriteArrayList<Any?>()
                    val result = caller.callProgress(proc, listOf(5L)) { chunks.add(it.args[0]) }
                    chunks.toList() shouldBe (1L..5L).toList()
                    result.args shouldBe listOf("done", true)
                    result.details["progress"] shouldBe null
                    // A plain call: the callee is told no progress is wanted, and the caller sees only the result.
                    caller.call(proc, listOf(5L)).args shouldBe listOf("done", false)
                    caller.leave()
                    callee.leave()
                }
            }
    }

    // The testkit router's own certificate: against an external router these are listed as skipped.
    val testCertificate = RouterSubject.needsFake("the testkit router's TLS certificate (FakeWampRouterTls)")
    for (transport in listOf("wss", "tcps")) {
        val url = subject.tlsUrls[transport].orEmpty()
        for (ser in listOf(Serialization.JSON, Serialization.MSGPACK)) {
            test(
                "$transport x $ser: TLS call round trip when the router's certificate is trusted",
            ).config(enabledOrReasonIf = testCertificate) {
                withTimeout(20.seconds) {
                    val config = subject.config {
                        serialization(ser)
                        trustManager(FakeWampRouterTls.trustManager)
                    }
                    val callee = WampSession.connect(url, config)
                    val caller = WampSession.connect(url, config)
                    val proc = "conf.tls.${callee.id}"
                    callee.register(proc) { inv -> InvokeResult(inv.args + "via $transport") }
                    caller.call(proc, listOf("x", byteArrayOf(7))).args.let {
                        WampValues.deepEquals(it, listOf("x", byteArrayOf(7), "via $transport")) shouldBe true
                    }
                    caller.leave()
                    callee.leave()
                }
            }
        }

        test(
            "$transport: verification is on by default: an untrusted certificate is refused with DialFailedException",
        ).config(enabledOrReasonIf = testCertificate) {
            withTimeout(20.seconds) {
                val refused = shouldThrow<DialFailedException> { WampSession.connect(url, subject.config()) }
                refused.message shouldContain url.substringBefore("://")
                // Trusting some other certificate authority is refused too.
                val otherCa = javax.net.ssl.TrustManagerFactory.getInstance(
                    javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm(),
                )
                    .apply {
                        init(null as java.security.KeyStore?)
                    }.trustManagers.filterIsInstance<javax.net.ssl.X509TrustManager>().first()
                shouldThrow<DialFailedException> { WampSession.connect(url, subject.config { trustManager(otherCa) }) }
            }
        }
    }

    for (case in subject.authCases) {
        test("auth ${case.name}: right credential joins, wrong one is ABORTed with authentication_failed").config(
            enabledOrReasonIf = External.skipIf {
                case.missing
            },
        ) {
            withTimeout(20.seconds) {
                val url = subject.firstUrl
                val challenges = CopyOnWriteArrayList<Map<String, Any?>>()
                val ok = WampSession.connect(
                    url,
                    subject.config(subject.authRealm) {
                        authId(case.authId)
                        authHandler(case.method, recording(case.good, challenges))
                    },
                )
                ok.authId shouldBe case.authId
                ok.realmDetails["authmethod"] shouldBe case.method
                ok.leave()
                if (case.salted) {
                    withClue(
                        "the router's CHALLENGE to ${case.authId} carries no salt: is it a salted WAMP-CRA user?",
                    ) {
                        challenges.single()["salt"] shouldNotBe null
                    }
                }
                val e = shouldThrow<AbortException> {
                    WampSession.connect(
                        url,
                        subject.config(subject.authRealm) {
                            authId(case.authId)
                            authHandler(case.method, case.bad)
                        },
                    )
                }
                e.reason shouldBe "wamp.error.authentication_failed"
            }
        }
    }

    test("ABORT: joining a realm that does not exist is an AbortException with the URI") {
        withTimeout(10.seconds) {
            // [a-z0-9_] only: fox-wamp exits on a realm name with other characters, ending an external run there.
            val e =
                shouldThrow<AbortException> {
                    WampSession.connect(subject.firstUrl, subject.config("conf_no_such_realm_${System.nanoTime()}"))
                }
            e.reason shouldBe "wamp.error.no_such_realm"
        }
    }

    test("GOODBYE from the client: leave() completes and the session is over") {
        withTimeout(10.seconds) {
            val s = WampSession.connect(subject.firstUrl, subject.config())
            s.leave()
            s.isOpen shouldBe false
            s.awaitClosed().message shouldContain "closed"
        }
    }

    test("late replies are ignored: a call that outlives the call timeout is canceled, the session keeps working")
        .config(enabledOrReasonIf = External.skipIf { subject.lacksFeature("dealer", "call_canceling") }) {
            withTimeout(20.seconds) {
                val url = subject.firstUrl
                val callee = WampSession.connect(url, subject.config())
                val interrupted = CompletableDeferred<Unit>()
                val proc = "conf.slow.${callee.id}"
                callee.register(proc) {
                    try {
                        awaitCancellation()
                    } finally {
                        interrupted.complete(Unit)
                    }
                }
                callee.register("$proc.fast") { InvokeResult(listOf("fast")) }
                val caller = WampSession.connect(url, subject.config { callTimeout(300.milliseconds) })
                shouldThrow<ResponseTimeoutException> { caller.call(proc) }
                interrupted.await() // the router passed our CANCEL on as INTERRUPT
                caller.call("$proc.fast").args shouldBe listOf("fast")
                caller.isOpen shouldBe true
                caller.leave()
                callee.leave()
            }
        }

    test(
        "ResponseTimeout: a router that stops answering fails SUBSCRIBE, REGISTER and acknowledged PUBLISH in time",
    ).config(enabledOrReasonIf = RouterSubject.needsFake("the testkit router's fault controls (mute the router)")) {
        withTimeout(20.seconds) {
            val router = subject.router!!
            val s = WampSession.connect(router.tcpUrl, subject.config { responseTimeout(200.milliseconds) })
            router.faults.mute(true)
            try {
                shouldThrow<ResponseTimeoutException> { s.subscribe("t") { } }
                shouldThrow<ResponseTimeoutException> { s.register("p") { InvokeResult() } }
                shouldThrow<ResponseTimeoutException> { s.publish("t", options = mapOf("acknowledge" to true)) }
            } finally {
                router.faults.mute(false)
            }
            // The late SUBSCRIBED/REGISTERED never came; new requests work.
            s.subscribe("t2") { }
            s.leave()
        }
    }

    test(
        "GOODBYE from the router: closing the router ends its sessions with system_shutdown",
    ).config(enabledOrReasonIf = RouterSubject.needsFake("to shut the router down (the testkit's)")) {
        withTimeout(20.seconds) {
            val own = RouterSubject.open()
            val s = WampSession.connect(own.urls.getValue("tcp"), own.config())
            own.close()
            s.awaitClosed().message shouldContain "system_shutdown"
        }
    }

    test(
        "RawSocket handshake errors surface as RawSocketHandshakeException with the router's code",
    ).config(
        enabledOrReasonIf = RouterSubject.needsFake("the testkit router's RawSocket port for raw handshake probes"),
    ) {
        withTimeout(10.seconds) {
            val uri = URI(subject.urls.getValue("tcp"))
            suspend fun probe(bytes: ByteArray): ByteArray = SelectorManager(Dispatchers.IO).use { sel ->
                aSocket(sel).tcp().connect(InetSocketAddress(uri.host, uri.port)).use { sock ->
                    val out = sock.openWriteChannel(autoFlush = true)
                    out.writeFully(bytes)
                    val buf = ByteArray(8)
                    val n = sock.openReadChannel().readAvailable(buf)
                    if (n <= 0) ByteArray(0) else buf.copyOf(n)
                }
            }
            val unsupported = probe(Handshake(15, 7).encode())
            shouldThrow<RawSocketHandshakeException> { Handshake.parseReply(unsupported) }.errorCode shouldBe 1
            val reserved = probe(byteArrayOf(0x7f, 0xf1.toByte(), 0, 1))
            shouldThrow<RawSocketHandshakeException> { Handshake.parseReply(reserved) }.errorCode shouldBe 3
            probe(byteArrayOf(0x7e, 0xf1.toByte(), 0, 0)).size shouldBe 0
            Handshake.parseReply(probe(Handshake(0, 2).encode())) shouldBe Handshake(15, 2)
        }
    }

    test(
        "size limits: the client refuses to send over the router's RawSocket limit; oversize replies are not delivered",
    ).config(
        enabledOrReasonIf = RouterSubject.needsFake(
            "a router started with a 1024-byte RawSocket limit (the testkit's)",
        ),
    ) {
        withTimeout(20.seconds) {
            val small = RouterSubject.open { rawSocketRecvLimit(1024) }
            try {
                val tcp = small.urls.getValue("tcp")
                val callee = WampSession.connect(tcp, small.config())
                callee.register("big") { InvokeResult(listOf("x".repeat(2000))) }
                callee.register("small") { InvokeResult(listOf("ok")) }
                val caller = WampSession.connect(
                    tcp,
                    small.config {
                        recvLimit(1024)
                        callTimeout(500.milliseconds)
                    },
                )
                val e = shouldThrow<MessageTooLongException> { caller.call("small", listOf("y".repeat(2000))) }
                e.limit shouldBe 1024
                shouldThrow<ResponseTimeoutException> { caller.call("big") }
                caller.call("small").args shouldBe listOf("ok")
                caller.leave()
                callee.leave()
            } finally {
                small.close()
            }
        }
    }

    val aliases = buildList {
        subject.urls["ws"]?.takeIf { it.startsWith("ws://") }?.let { add(it.replaceFirst("ws://", "http://")) }
        (
            subject.tlsUrls["wss"] ?: subject.urls["wss"]?.takeIf {
                it.startsWith("wss://")
            }
            )?.let { add(it.replaceFirst("wss://", "https://")) }
    }
    test("http:// and https:// URLs are aliases of ws:// and wss://")
        .config(
            enabledOrReasonIf = External.skipIf {
                if (aliases.isEmpty()) "needs a ws:// or wss:// router URL" else null
            },
        ) {
            withTimeout(20.seconds) {
                for (url in aliases) {
                    val config = subject.config { if (subject.isFake) trustManager(FakeWampRouterTls.trustManager) }
                    WampSession.connect(url, config).use { s ->
                        val proc = "conf.alias.${s.id}"
                        s.register(proc) { InvokeResult(listOf("via alias")) }
                        s.call(proc).args shouldBe listOf("via alias")
                        s.toString() shouldContain url.substringBefore("://")
                    }
                }
            }
        }

    test(
        "size limits over WebSocket: a message over either side's limit closes that connection; the other sessions " +
            "go on",
    ).config(
        enabledOrReasonIf = RouterSubject.needsFake(
            "a router started with a 1024-byte WebSocket message limit (the testkit's)",
        ),
    ) {
        withTimeout(20.seconds) {
            val small = RouterSubject.open { maxWebSocketMessage(1024) }
            try {
                val ws = small.urls.getValue("ws")
                val callee = WampSession.connect(small.urls.getValue("tcp"), small.config())
                callee.register("big") { InvokeResult(listOf("x".repeat(2000))) }
                callee.register("small") { InvokeResult(listOf("ok")) }
                // Inbound: a RESULT over the client's own limit ends the client's session (close 1009).
                val limited = WampSession.connect(ws, small.config { recvLimit(1024) })
                shouldThrow<WampSessionClosedException> { limited.call("big") }
                limited.awaitClosed().message shouldContain "connection lost"
                // Outbound: a CALL over the router's limit; the router closes that connection.
                val sender = WampSession.connect(ws, small.config())
                shouldThrow<WampSessionClosedException> { sender.call("small", listOf("y".repeat(2000))) }
                sender.awaitClosed().message shouldContain "connection lost"
                // Within the limits everything still works, on a fresh session and on the callee's.
                WampSession.connect(ws, small.config()).use { it.call("small").args shouldBe listOf("ok") }
                callee.leave()
            } finally {
                small.close()
            }
        }
    }
})

/** [handler], also keeping the extra of every CHALLENGE it answers in [into]. */
private fun recording(handler: AuthHandler, into: MutableList<Map<String, Any?>>): AuthHandler = object : AuthHandler {
    override fun authenticate(challenge: Challenge): Authenticate {
        into.add(challenge.extra)
        return handler.authenticate(challenge)
    }

    override fun helloAuthExtra(): Map<String, Any?> = handler.helloAuthExtra()
}
