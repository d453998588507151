package dev.tether.cli

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import dev.tether.testkit.wamp.FakeWampRouterTls
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.auth.CryptosignKey
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.serializer.Serialization
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import java.nio.file.Files
import kotlin.time.Duration.Companion.seconds

/**
 * WAMP against the embedded router: register, call, progressive results, publish/subscribe over every transport
 * (WebSocket, RawSocket TCP, Unix socket, TLS, in-process) and serializer, and each authentication method.
 */
class WampDemo : DemoSection {
    override val title: String = "WAMP: RPC and PubSub vs. the embedded router"

    override suspend fun run(out: DemoOutput) {
        val dir = Files.createTempDirectory("tether-demo-wamp")
        val socket = dir.resolve("router.sock")
        val carolKey = CryptosignKey.generate()
        val options = FakeWampRouterConfig.builder()
            .realm("realm1")
            .realm("private", anonymous = false)
            .ticketUser("alice", "alice-ticket")
            .craUser("bob", "bob-secret")
            .saltedCraUser("dave", "dave-secret", "dave-salt")
            .cryptosignUser("carol", carolKey.publicKeyHex)
            .unixSocket(socket.toString())
            .tls()
            .build()
        try {
            FakeWampRouter.start(options).use { router -> demo(router, out, carolKey) }
        } finally {
            Files.deleteIfExists(socket)
            Files.deleteIfExists(dir)
        }
    }

    private suspend fun demo(router: FakeWampRouter, out: DemoOutput, carolKey: CryptosignKey) {
        out.step(
            "router: ${router.wsUrl} (WebSocket), ${router.tcpUrl} (RawSocket), ${router.unixUrl} " +
                "(Unix), ${router.wssUrl} and ${router.tcpsUrl} (TLS)",
        )
        val callee = WampSession.connect(router.wsUrl, SessionConfig("realm1") { serialization(Serialization.JSON) })
        callee.use {
            callee.register("demo.add") { inv ->
                InvokeResult(listOf(WampValues.asLong(inv.args[0])!! + WampValues.asLong(inv.args[1])!!))
            }
            callee.register("demo.countdown") { inv ->
                if (inv.receiveProgress) {
                    for (i in WampValues.asLong(
                        inv.args[0],
                    )!! downTo 1) {
                        inv.sendProgress(listOf(i))
                    }
                }
                InvokeResult.of("liftoff")
            }
            out.ok(
                "callee joined realm1 over WebSocket/JSON (session ${callee.id}) and registered demo.add and " +
                    "demo.countdown",
            )
            val trusting: SessionConfig.Builder.() -> Unit = { trustManager(FakeWampRouterTls.trustManager) }
            val callers = listOf(
                Triple(router.wsUrl, Serialization.MSGPACK, "ws"),
                Triple(router.wsUrl, Serialization.CBOR, "ws"),
                Triple(router.tcpUrl, Serialization.MSGPACK, "tcp"),
                Triple(router.tcpUrl, Serialization.JSON, "tcp"),
                Triple(router.unixUrl!!, Serialization.CBOR, "unix"),
                Triple(router.wssUrl!!, Serialization.JSON, "wss"),
                Triple(router.tcpsUrl!!, Serialization.MSGPACK, "tcps"),
            )
            for ((url, serialization, name) in callers) {
                WampSession.connect(
                    url,
                    SessionConfig("realm1") {
                        serialization(serialization)
                        trusting()
                    },
                ).use { caller ->
                    val result = caller.call("demo.add", listOf(2, 40))
                    out.ok("call demo.add(2, 40) over $name/${serialization.name.lowercase()} -> ${result.args[0]}")
                }
            }
            router.connectLocal(SessionConfig("realm1")).use { local ->
                out.ok(
                    "call demo.add(2, 40) in-process (connectLocal, no socket) -> ${local.call(
                        "demo.add",
                        listOf(2, 40),
                    ).args[0]}",
                )
                val progress = mutableListOf<Any?>()
                val final = local.callProgress("demo.countdown", listOf(3)) { progress += it.args[0] }
                out.ok("progressive call demo.countdown(3): progress $progress, then \"${final.args[0]}\"")
            }

            val got = CompletableDeferred<String>()
            callee.subscribe("demo.news") { e -> got.complete(e.args[0].toString()) }
            WampSession.connect(
                router.tcpUrl,
                SessionConfig("realm1") {
                    serialization(Serialization.CBOR)
                },
            ).use { publisher ->
                publisher.publish("demo.news", listOf("hello subscribers"), options = mapOf("acknowledge" to true))
            }
            out.ok(
                "publish over RawSocket/CBOR, event received over WebSocket/JSON: \"${withTimeout(10.seconds) {
                    got.await()
                }}\"",
            )
        }

        WampSession.connect(router.wsUrl, SessionConfig("realm1")).use {
            out.ok("anonymous: joined realm1 as ${it.authRole} (authmethod ${it.realmDetails["authmethod"]})")
        }
        WampSession.connect(
            router.wsUrl,
            SessionConfig("private") {
                authId("alice")
                authHandler("ticket", AuthHandler.ticket("alice-ticket"))
            },
        ).use {
            out.ok("ticket auth: alice joined realm private (authmethod ${it.realmDetails["authmethod"]})")
        }
        WampSession.connect(
            router.tcpUrl,
            SessionConfig("private") {
                authId("bob")
                authHandler("wampcra", AuthHandler.wampCra("bob-secret"))
            },
        ).use {
            out.ok("wampcra auth: bob joined realm private")
        }
        WampSession.connect(
            router.unixUrl!!,
            SessionConfig("private") {
                authId("dave")
                authHandler("wampcra", AuthHandler.wampCra("dave-secret"))
            },
        ).use {
            out.ok("wampcra salted auth (PBKDF2): dave joined realm private")
        }
        WampSession.connect(
            router.tcpsUrl!!,
            SessionConfig("private") {
                authId("carol")
                authHandler("cryptosign", AuthHandler.cryptosign(carolKey))
                trustManager(FakeWampRouterTls.trustManager)
            },
        ).use {
            out.ok(
                "cryptosign auth (ed25519): carol joined realm private (authmethod ${it.realmDetails["authmethod"]})",
            )
        }
        try {
            WampSession.connect(
                router.wsUrl,
                SessionConfig("private") {
                    authId("alice")
                    authHandler("ticket", AuthHandler.ticket("wrong"))
                },
            ).close()
            out.event("a wrong ticket was accepted (unexpected)")
        } catch (e: AbortException) {
            out.ok("a wrong ticket is refused: ABORT ${e.reason}")
        }
    }
}
