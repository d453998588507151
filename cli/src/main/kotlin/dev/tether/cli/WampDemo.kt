package dev.tether.cli

import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import dev.tether.testkit.wamp.FakeWampRouterTls
import dev.tether.wamp.CallOptions
import dev.tether.wamp.CancelMode
import dev.tether.wamp.Event
import dev.tether.wamp.InvokePolicy
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.ReconnectPolicy
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampClient
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.auth.CryptosignKey
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.serializer.Serialization
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.nio.file.Files
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * WAMP against the embedded router: register, call, progressive results, publish/subscribe over every transport
 * (WebSocket, RawSocket TCP, Unix socket, TLS, in-process) and serializer, a cancelled call, pattern subscriptions, a
 * shared registration, a router drop that a WampClient survives, each authentication method, and the callee
 * session's stats.
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
            cancelledCall(router, callee, out)
            patternSubscriptions(router, callee, out)
        }
        sharedRegistration(router, out)
        routerDrop(router, out)

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
        val stats = callee.stats()
        out.stats(
            "WAMP session ${callee.id} (the callee and subscriber)",
            listOf("events queued" to stats.eventsQueued, "events dropped" to stats.eventsDropped),
        )
    }

    /** A call the caller gives up on: CANCEL (killnowait) goes out and the router INTERRUPTs the callee's handler. */
    private suspend fun cancelledCall(router: FakeWampRouter, callee: WampSession, out: DemoOutput) = coroutineScope {
        val started = CompletableDeferred<Unit>()
        val interrupted = CompletableDeferred<Unit>()
        callee.register("demo.slow") {
            started.complete(Unit)
            try {
                awaitCancellation()
            } finally {
                interrupted.complete(Unit)
            }
        }
        WampSession.connect(router.tcpUrl, SessionConfig("realm1")).use { caller ->
            val call = async { caller.call("demo.slow", options = CallOptions { cancelMode(CancelMode.KILL_NO_WAIT) }) }
            withTimeout(10.seconds) { started.await() }
            call.cancelAndJoin() // returns once the router has answered the CANCEL
            withTimeout(10.seconds) { interrupted.await() }
            out.ok(
                "cancelled call demo.slow (cancel mode ${CancelMode.KILL_NO_WAIT.wire}): the callee's handler got " +
                    "the INTERRUPT and was cancelled",
            )
        }
    }

    /** Prefix and wildcard subscriptions: each event carries the concrete topic it was published to. */
    private suspend fun patternSubscriptions(router: FakeWampRouter, subscriber: WampSession, out: DemoOutput) {
        val events = Channel<Event>(Channel.UNLIMITED)
        subscriber.subscribe("demo.sensors.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { events.send(it) }
        subscriber.subscribe("demo..alarm", SubscribeOptions { match(MatchPolicy.WILDCARD) }) { events.send(it) }
        WampSession.connect(router.wsUrl, SessionConfig("realm1") { serialization(Serialization.MSGPACK) }).use { p ->
            p.publish("demo.sensors.kitchen.temperature", listOf(21.5), options = PublishOptions { acknowledge() })
            p.publish("demo.garage.alarm", listOf("door open"), options = PublishOptions { acknowledge() })
        }
        for (pattern in listOf("demo.sensors. (prefix)", "demo..alarm (wildcard)")) {
            val e = withTimeout(10.seconds) { events.receive() }
            out.ok("pattern subscription $pattern got an event on ${e.topic}: ${e.args[0]}")
        }
    }

    /** Two callees share one procedure; the router hands the calls out in turn. */
    private suspend fun sharedRegistration(router: FakeWampRouter, out: DemoOutput) {
        val workers = listOf(router.wsUrl, router.tcpUrl).map { WampSession.connect(it, SessionConfig("realm1")) }
        try {
            workers.forEachIndexed { i, worker ->
                worker.register("demo.work", RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) }) {
                    InvokeResult.of("worker-${i + 1}")
                }
            }
            WampSession.connect(router.wsUrl, SessionConfig("realm1")).use { caller ->
                val answeredBy = List(4) { caller.call("demo.work").args[0] }
                out.ok(
                    "shared registration demo.work (roundrobin over 2 callees): answered by " +
                        answeredBy.joinToString(", "),
                )
            }
        } finally {
            workers.forEach { it.closeAndJoin() }
        }
    }

    /**
     * A WampClient whose session the router drops: it waits its backoff, rejoins, registers demo.echo again, and
     * a call reaches it.
     */
    private suspend fun routerDrop(router: FakeWampRouter, out: DemoOutput) = coroutineScope {
        val policy = ReconnectPolicy { backoff(ExponentialBackoff(minDelay = 100.milliseconds, maxDelay = 1.seconds)) }
        val client = WampClient(router.tcpUrl, SessionConfig("realm1"), policy)
        client.connect()
        try {
            client.register("demo.echo") { inv -> InvokeResult(inv.args) }
            val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
            val recorder = launch(start = CoroutineStart.UNDISPATCHED) { client.events.collect { events.send(it) } }
            val dropped = client.session!!.id
            router.faults.drop(dropped)
            val seen = ArrayList<String>()
            withTimeout(10.seconds) {
                do {
                    val e = events.receive()
                    seen += describe(e)
                } while (e !is ConnectionEvent.Connected)
            }
            recorder.cancel()
            out.ok("the router dropped WampClient session $dropped; state events: ${seen.joinToString(" → ")}")
            WampSession.connect(router.wsUrl, SessionConfig("realm1")).use { caller ->
                val answer = caller.call("demo.echo", listOf("still here")).args[0]
                out.ok(
                    "the client rejoined as session ${client.session?.id} and registered demo.echo again: " +
                        "call -> \"$answer\"",
                )
            }
        } finally {
            client.closeAndJoin()
        }
    }

    private fun describe(e: ConnectionEvent): String = when (e) {
        is ConnectionEvent.Disconnected -> "Disconnected (${e.cause::class.simpleName}, retry in ${e.retryInMillis} ms)"
        is ConnectionEvent.Connecting -> "Connecting(${e.attempt})"
        is ConnectionEvent.Connected -> "Connected"
        else -> e.toString()
    }
}
