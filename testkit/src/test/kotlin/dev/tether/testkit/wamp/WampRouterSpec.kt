@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.testkit.wamp

import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.auth.CryptosignKey
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.ktor.network.selector.SelectorManager
import io.ktor.network.sockets.InetSocketAddress
import io.ktor.network.sockets.aSocket
import io.ktor.network.sockets.openReadChannel
import io.ktor.network.sockets.openWriteChannel
import io.ktor.utils.io.readAvailable
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.withTimeout
import java.nio.file.Files
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** Router behaviour: authentication, credential rotation, faults, RawSocket handshake answers, Unix sockets. */
class WampRouterSpec : FunSpec({
    val key = CryptosignKey.generate()
    val options = FakeWampRouterConfig {
        realm("realm1")
        realm("closed", anonymous = false)
        ticketUser("tick", "t1")
        craUser("cra", "crasecret")
        saltedCraUser("salty", "saltsecret", "salt123", iterations = 100)
        cryptosignUser("cs", key.publicKeyHex)
    }

    fun config(realm: String = "closed", block: SessionConfig.Builder.() -> Unit) = SessionConfig(realm) {
        responseTimeout(2.seconds)
        block()
    }

    test("each auth method succeeds with the right credential and fails with a wrong one") {
        FakeWampRouter.start(options).use { router ->
            withTimeout(20.seconds) {
                val good = listOf(
                    config {
                        authId("tick")
                        authHandler("ticket", AuthHandler.ticket("t1"))
                    } to "ticket",
                    config {
                        authId("cra")
                        authHandler("wampcra", AuthHandler.wampCra("crasecret"))
                    } to "wampcra",
                    config {
                        authId("salty")
                        authHandler("wampcra", AuthHandler.wampCra("saltsecret"))
                    } to "wampcra",
                    config {
                        authId("cs")
                        authHandler("cryptosign", AuthHandler.cryptosign(key))
                    } to "cryptosign",
                )
                for ((c, method) in good) {
                    val s = WampSession.connect(router.tcpUrl, c)
                    s.realmDetails["authmethod"] shouldBe method
                    s.authRole shouldBe "user"
                    s.leave()
                }
                val bad = listOf(
                    config {
                        authId("tick")
                        authHandler("ticket", AuthHandler.ticket("t2"))
                    },
                    config {
                        authId("cra")
                        authHandler("wampcra", AuthHandler.wampCra("nope"))
                    },
                    config {
                        authId("salty")
                        authHandler("wampcra", AuthHandler.wampCra("crasecret"))
                    },
                    config {
                        authId("cs")
                        authHandler("cryptosign", AuthHandler.cryptosign(CryptosignKey.generate()))
                    },
                    config { },
                )
                for (c in bad) {
                    val e = shouldThrow<AbortException> { WampSession.connect(router.wsUrl, c) }
                    e.reason shouldBe "wamp.error.authentication_failed"
                }
                shouldThrow<AbortException> {
                    WampSession.connect(
                        router.wsUrl,
                        config("nowhere") { },
                    )
                }.reason shouldBe "wamp.error.no_such_realm"
            }
        }
    }

    test("rotating a credential keeps existing sessions and refuses new logins with the old one") {
        FakeWampRouter.start(options).use { router ->
            withTimeout(20.seconds) {
                val old = config {
                    authId("tick")
                    authHandler("ticket", AuthHandler.ticket("t1"))
                }
                val s = WampSession.connect(router.tcpUrl, old)
                router.rotateCredentials(RouterUser.Ticket("tick", "t9"))
                shouldThrow<AbortException> { WampSession.connect(router.tcpUrl, old) }
                WampSession.connect(
                    router.tcpUrl,
                    config {
                        authId("tick")
                        authHandler("ticket", AuthHandler.ticket("t9"))
                    },
                ).leave()
                s.call("wamp.session.count").args shouldBe listOf(1L)
                s.leave()
            }
        }
    }

    test("the drop fault counts joined sessions, not logins the router has just refused") {
        FakeWampRouter.start(options).use { router ->
            withTimeout(20.seconds) {
                val s = WampSession.connect(router.tcpUrl, config("realm1") { })
                repeat(20) {
                    // The client has its ABORT; the router may not have closed that socket yet.
                    shouldThrow<AbortException> {
                        WampSession.connect(
                            router.tcpUrl,
                            config {
                                authId("tick")
                                authHandler("ticket", AuthHandler.ticket("wrong"))
                            },
                        )
                    }
                    router.faults.dropAll() shouldBe (if (it == 0) 1 else 0)
                }
                s.awaitClosed().message shouldContain "connection"
            }
        }
    }

    test("drop fault ends every session; mute fault makes requests time out") {
        FakeWampRouter.start(options).use { router ->
            withTimeout(20.seconds) {
                val a = WampSession.connect(router.tcpUrl, config("realm1") { })
                val b = WampSession.connect(router.wsUrl, config("realm1") { })
                router.faults.dropAll() shouldBe 2
                router.faults.dropAll() shouldBe 0 // the dropped sessions may still be listed: not counted twice
                a.awaitClosed().message shouldContain "connection"
                b.awaitClosed()
                val c = WampSession.connect(router.tcpUrl, config("realm1") { responseTimeout(200.milliseconds) })
                router.faults.mute(true)
                shouldThrow<ResponseTimeoutException> { c.subscribe("t") { } }
                router.faults.mute(false)
                c.subscribe("t") { }
                c.leave()
            }
        }
    }

    test("delay fault: replies slower than the response timeout fail the request, and arrive late harmlessly") {
        FakeWampRouter.start(options).use { router ->
            withTimeout(20.seconds) {
                val s = WampSession.connect(router.wsUrl, config("realm1") { responseTimeout(150.milliseconds) })
                router.faults.latency(java.time.Duration.ofSeconds(1))
                shouldThrow<ResponseTimeoutException> { s.register("slow") { InvokeResult() } }
                router.faults.latency(java.time.Duration.ZERO)
                // Calls have no response timeout: this one queues behind the late REGISTERED, which is dropped.
                s.call("wamp.session.count").args shouldBe listOf(1L)
                s.registrationId("slow") shouldBe null
                s.isOpen shouldBe true
                s.leave()
            }
        }
    }

    test("stopped PONGs let a RawSocket client's keepalive detect the dead peer") {
        FakeWampRouter.start(options).use { router ->
            withTimeout(20.seconds) {
                router.faults.stopKeepalive(true)
                val s = WampSession.connect(
                    router.tcpUrl,
                    config("realm1") {
                        pingInterval(100.milliseconds)
                        pongTimeout(200.milliseconds)
                    },
                )
                s.awaitClosed().message shouldContain "connection"
            }
        }
    }

    test("progressive YIELDs reach only a caller that asked for them; the final YIELD always does") {
        FakeWampRouter.start().use { router ->
            withTimeout(10.seconds) {
                // A raw callee that sends progress whether or not it was asked: the router must filter.
                val callee = dev.tether.wamp.transport.RawSocketConnector.connect(
                    router.tcpUrl,
                    dev.tether.wamp.transport.RawSocketConnector.Target.Tcp(
                        "127.0.0.1",
                        router.rawSocketPort,
                        false,
                    ),
                    Serialization.JSON.serializer(),
                    0,
                    5.seconds,
                )
                // Both features, or the router (as nexus) forwards no receive_progress at all.
                val features = mapOf("progressive_call_results" to true, "call_canceling" to true)
                callee.send(Hello("realm1", mapOf("roles" to mapOf("callee" to mapOf("features" to features)))))
                (callee.receive() is Welcome) shouldBe true
                callee.send(Register(1, emptyMap(), "com.chatty"))
                val registered = callee.receive() as Registered
                val caller = WampSession.connect(router.wsUrl, config("realm1") {})
                kotlinx.coroutines.coroutineScope {
                    for (wantsProgress in listOf(false, true)) {
                        val chunks = java.util.concurrent.CopyOnWriteArrayList<Any?>()
                        val result = async {
                            if (wantsProgress) {
                                caller.callProgress("com.chatty") { chunks.add(it.args[0]) }
                            } else {
                                caller.call("com.chatty")
                            }
                        }
                        val inv = callee.receive() as InvocationMessage
                        inv.registration shouldBe registered.registration
                        (inv.details["receive_progress"] == true) shouldBe wantsProgress
                        callee.send(Yield(inv.request, mapOf("progress" to true), listOf("chunk")))
                        callee.send(Yield(inv.request, emptyMap(), listOf("final")))
                        result.await().args shouldBe listOf("final")
                        chunks.toList() shouldBe if (wantsProgress) listOf("chunk") else emptyList()
                    }
                }
                caller.leave()
                callee.close()
            }
        }
    }

    test("router shutdown: the client's GOODBYE answers the router's and is not answered again") {
        val router = FakeWampRouter.start()
        try {
            withTimeout(10.seconds) {
                val client = dev.tether.wamp.transport.RawSocketConnector.connect(
                    router.tcpUrl,
                    dev.tether.wamp.transport.RawSocketConnector.Target.Tcp("127.0.0.1", router.rawSocketPort, false),
                    Serialization.JSON.serializer(),
                    0,
                    5.seconds,
                )
                client.send(Hello("realm1", mapOf("roles" to mapOf("caller" to mapOf<String, Any?>()))))
                (client.receive() is Welcome) shouldBe true
                val closing = async(Dispatchers.IO) { router.close() }
                (client.receive() as Goodbye).reason shouldBe "wamp.close.system_shutdown"
                client.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                // Next comes the end of the connection, not a second GOODBYE.
                (runCatching { client.receive() }.getOrNull() is Goodbye) shouldBe false
                closing.await()
                client.close()
            }
        } finally {
            router.close()
        }
    }

    test("meta API: sessions, registrations and subscriptions can be listed, looked up, matched and killed") {
        FakeWampRouter.start(options).use { router ->
            withTimeout(10.seconds) {
                val admin = WampSession.connect(router.tcpUrl, config("realm1") {})
                val callee = WampSession.connect(router.wsUrl, config("realm1") { authId("worker") })
                val other = WampSession.connect(router.wsUrl, config("realm1") { authId("worker") })
                val exact = callee.register("com.meta.echo") { InvokeResult() }
                val prefix = callee.register("com.meta.p.", mapOf("match" to "prefix")) { InvokeResult() }
                val sub = other.subscribe("com.meta.topic") { }
                val wild = other.subscribe("com.meta..", mapOf("match" to "wildcard")) { }

                suspend fun meta(proc: String, vararg args: Any?) = admin.call(proc, args.toList()).args.firstOrNull()
                meta("wamp.registration.list") shouldBe
                    mapOf("exact" to listOf(exact), "prefix" to listOf(prefix), "wildcard" to emptyList<Long>())
                meta("wamp.registration.lookup", "com.meta.echo") shouldBe exact
                meta("wamp.registration.lookup", "com.meta.p.", mapOf("match" to "prefix")) shouldBe prefix
                meta("wamp.registration.lookup", "com.meta.nothing") shouldBe null
                meta("wamp.registration.match", "com.meta.p.deep.call") shouldBe prefix
                meta(
                    "wamp.registration.get",
                    exact,
                ) shouldBe mapOf("id" to exact, "uri" to "com.meta.echo", "match" to "exact", "invoke" to "single")
                meta("wamp.registration.list_callees", exact) shouldBe listOf(callee.id)
                meta("wamp.registration.count_callees", exact) shouldBe 1L
                shouldThrow<dev.tether.wamp.error.RpcException> {
                    meta(
                        "wamp.registration.get",
                        999_999L,
                    )
                }.error shouldBe "wamp.error.no_such_registration"

                meta("wamp.subscription.lookup", "com.meta.topic") shouldBe sub
                meta("wamp.subscription.match", "com.meta.topic") shouldBe listOf(sub)
                meta("wamp.subscription.match", "com.meta.a.b") shouldBe listOf(wild)
                meta(
                    "wamp.subscription.get",
                    wild,
                ) shouldBe mapOf("id" to wild, "uri" to "com.meta..", "match" to "wildcard")
                meta("wamp.subscription.list_subscribers", sub) shouldBe listOf(other.id)
                meta("wamp.subscription.count_subscribers", sub) shouldBe 1L
                meta("wamp.subscription.count_suscribers", sub) shouldBe 1L

                meta("wamp.session.kill_by_authid", "worker").let { killed ->
                    (killed as List<*>).toSet() shouldBe setOf(callee.id, other.id)
                }
                callee.awaitClosed().message shouldContain "wamp.close.killed"
                other.awaitClosed().message shouldContain "wamp.close.killed"
                admin.leave()
            }
        }
    }

    test("RawSocket handshake answers: unsupported serializer, reserved bits, and the router's own limit") {
        FakeWampRouter.start(FakeWampRouterConfig { rawSocketRecvLimit(1000) }).use { router ->
            withTimeout(10.seconds) {
                suspend fun probe(bytes: String): String {
                    SelectorManager(Dispatchers.IO).use { sel ->
                        aSocket(sel).tcp().connect(InetSocketAddress("127.0.0.1", router.rawSocketPort)).use { sock ->
                            val out = sock.openWriteChannel(autoFlush = true)
                            out.writeFully(bytes.chunked(2).map { it.toInt(16).toByte() }.toByteArray())
                            val input = sock.openReadChannel()
                            val buf = ByteArray(8)
                            val n = input.readAvailable(buf)
                            return if (n <= 0) "" else buf.copyOf(n).joinToString("") { "%02x".format(it) }
                        }
                    }
                }
                probe("7ff50000") shouldBe "7f100000"
                probe("7ff10001") shouldBe "7f300000"
                probe("7ff10000") shouldBe "7f110000"
                probe("7ff00000") shouldBe ""
                probe("7ef10000") shouldBe ""
            }
        }
    }

    test("Unix domain socket transport with every serializer, and connectLocal") {
        val dir = Files.createTempDirectory("wamp")
        val path = dir.resolve("router.sock").toString()
        FakeWampRouter.start(FakeWampRouterConfig { unixSocket(path) }).use { router ->
            withTimeout(20.seconds) {
                for (ser in Serialization.entries) {
                    val callee = WampSession.connect(router.unixUrl!!, config("realm1") { serialization(ser) })
                    callee.register("echo.$ser") { InvokeResult(it.args) }
                    val local = router.connectLocal(config("realm1") { })
                    local.call("echo.$ser", listOf(byteArrayOf(1, 2), "é")).args.let {
                        (it[0] as ByteArray).toList() shouldBe listOf<Byte>(1, 2)
                        it[1] shouldBe "é"
                    }
                    local.leave()
                    callee.leave()
                }
                shouldThrow<WampErrorException> {
                    router.connectLocal(config("realm1") { }).call("nope")
                }.error shouldBe "wamp.error.no_such_procedure"
            }
        }
        Files.deleteIfExists(dir)
    }
})
