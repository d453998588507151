package dev.tether.cli

import dev.tether.testkit.wamp.WampRouter
import dev.tether.testkit.wamp.WampRouterOptions
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.Session
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.serializer.Serialization
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** WAMP against the embedded router: register, call, publish/subscribe, over each transport, with auth. */
class WampDemo : DemoSection {
    override val title: String = "WAMP: RPC and PubSub vs. the embedded router"

    override suspend fun run(out: DemoOutput) {
        val options = WampRouterOptions.builder()
            .realm("realm1")
            .realm("private", anonymous = false)
            .ticketUser("alice", "alice-ticket")
            .craUser("bob", "bob-secret")
            .build()
        WampRouter.start(options).use { router ->
            out.step("router: ${router.wsUrl} (WebSocket) and ${router.tcpUrl} (RawSocket)")
            val callee = Session.connect(router.wsUrl, SessionConfig("realm1") { serialization(Serialization.JSON) })
            callee.use {
                callee.register("demo.add") { inv -> InvokeResult(listOf((inv.args[0] as Number).toLong() + (inv.args[1] as Number).toLong())) }
                out.ok("callee joined realm1 over WebSocket/JSON (session ${callee.id}) and registered demo.add")
                for ((url, serialization) in listOf(router.wsUrl to Serialization.MSGPACK, router.wsUrl to Serialization.CBOR, router.tcpUrl to Serialization.MSGPACK, router.tcpUrl to Serialization.JSON)) {
                    Session.connect(url, SessionConfig("realm1") { serialization(serialization) }).use { caller ->
                        val result = caller.call("demo.add", listOf(2, 40))
                        out.ok("call demo.add(2, 40) over ${url.substringBefore(':')}/${serialization.name.lowercase()} -> ${result.args[0]}")
                    }
                }
                val got = CompletableDeferred<String>()
                callee.subscribe("demo.news") { e -> got.complete(e.args[0].toString()) }
                Session.connect(router.tcpUrl, SessionConfig("realm1") { serialization(Serialization.CBOR) }).use { publisher ->
                    publisher.publish("demo.news", listOf("hello subscribers"), options = mapOf("acknowledge" to true))
                }
                out.ok("publish over RawSocket/CBOR, event received over WebSocket/JSON: \"${withTimeout(10.seconds) { got.await() }}\"")
            }
            Session.connect(router.wsUrl, SessionConfig("private") { authId("alice"); authHandler("ticket", AuthHandler.ticket("alice-ticket")) }).use {
                out.ok("ticket auth: alice joined realm private (authmethod ${it.realmDetails["authmethod"]})")
            }
            Session.connect(router.wsUrl, SessionConfig("private") { authId("bob"); authHandler("wampcra", AuthHandler.wampCra("bob-secret")) }).use {
                out.ok("wampcra auth: bob joined realm private")
            }
        }
    }
}
