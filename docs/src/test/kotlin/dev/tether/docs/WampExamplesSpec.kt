package dev.tether.docs

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.DialFailedException
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import dev.tether.testkit.wamp.FakeWampRouterTls
import dev.tether.wamp.CallChunk
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
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.serializer.Serialization
import dev.tether.wamp.transport.SocketDialer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.flowOf
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** The Kotlin examples of wamp.md, each run against the testkit's FakeWampRouter on 127.0.0.1. */
class WampExamplesSpec : FunSpec({

    test("quick start: register, call, subscribe and publish over RawSocket") {
        withTimeout(20.seconds) {
            // docs:start quickstart
            FakeWampRouter.start().use { router ->
                // realm1, anonymous, ephemeral ports
                val session = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))

                // RPC: the handler's return value becomes the caller's result.
                session.register("com.example.add") { inv ->
                    InvokeResult.of(WampValues.asLong(inv.args[0])!! + WampValues.asLong(inv.args[1])!!)
                }
                val sum = session.call("com.example.add", listOf(2, 3))
                sum.args shouldBe listOf(5L) // integers decode as Long

                // PubSub: events of one subscription arrive in order, off the socket's thread.
                val events = Channel<String>(Channel.UNLIMITED)
                session.subscribe("com.example.news") { event -> events.send(event.args[0] as String) }
                session.publish(
                    "com.example.news",
                    listOf("hello"),
                    options = PublishOptions {
                        acknowledge()
                        excludeMe(false)
                    }, // also deliver to this session
                )
                events.receive() shouldBe "hello"

                session.leave() // GOODBYE, then the connection closes
            }
            // docs:end quickstart
        }
    }

    test("progressive call results: callProgress on the caller, sendProgress in the handler") {
        withTimeout(20.seconds) {
            FakeWampRouter.start().use { router ->
                val session = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                // docs:start progress
                // Callee: send progress only when the caller asked for it, then return the final result.
                session.register("com.example.download") { inv ->
                    val parts = WampValues.asLong(inv.args[0])!!
                    if (inv.receiveProgress) {
                        for (part in 1..parts) inv.sendProgress(listOf("part $part of $parts"))
                    }
                    InvokeResult.of("complete")
                }

                // Caller: the callback runs for each progressive result, in order, before callProgress returns.
                val progress = mutableListOf<String>()
                val result = session.callProgress("com.example.download", listOf(3)) { p ->
                    progress += p.args[0] as String
                }
                progress shouldBe listOf("part 1 of 3", "part 2 of 3", "part 3 of 3")
                result.args shouldBe listOf("complete")

                // A plain call of the same procedure gets the final result only.
                session.call("com.example.download", listOf(3)).args shouldBe listOf("complete")
                // docs:end progress
                session.leave()
            }
        }
    }

    test("progressive call invocations: callStreaming on the caller, registerStreaming on the callee") {
        withTimeout(20.seconds) {
            FakeWampRouter.start().use { router ->
                val session = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                // docs:start streaming
                // Callee: the chunks arrive as a Flow, in order, the first included; it completes after the last.
                session.registerStreaming("com.example.import") { inv, chunks ->
                    var rows = 0L
                    chunks.collect { chunk ->
                        rows++ // e.g. store chunk.args[0]
                        if (inv.receiveProgress) inv.sendProgress(listOf(rows)) // answer while the caller streams
                    }
                    InvokeResult.of(rows)
                }

                // Caller: each element is one CALL with the same request id; the flow's end sends the last one.
                val lines = flowOf("id,name", "1,ada", "2,grace").map { CallChunk.of(it) }
                val acknowledged = mutableListOf<Long>()
                val result = session.callStreaming(
                    "com.example.import",
                    lines,
                    CallOptions {
                        timeout(30.seconds)
                    },
                ) { p ->
                    acknowledged += p.args[0] as Long // progressive results, in order
                }
                result.args shouldBe listOf(3L)
                acknowledged shouldBe listOf(1L, 2L, 3L)
                // docs:end streaming
                session.leave()
            }
        }
    }

    test("TLS: wss and tcps against the testkit router, trusting its test certificate") {
        withTimeout(20.seconds) {
            // docs:start tls
            FakeWampRouter.start(FakeWampRouterConfig { tls() }).use { router ->
                // Verification is always on: trust the router's self-signed test certificate explicitly.
                val config = SessionConfig("realm1") { trustManager(FakeWampRouterTls.trustManager) }
                for (url in listOf(router.wssUrl!!, router.tcpsUrl!!)) {
                    WampSession.connect(url, config).use { session ->
                        val me = session.call("wamp.session.get", listOf(session.id)).args[0] as Map<*, *>
                        me["session"] shouldBe session.id
                    }
                }
                // Without it the certificate is refused while connecting.
                shouldThrow<DialFailedException> { WampSession.connect(router.wssUrl!!, SessionConfig("realm1")) }
            }
            // docs:end tls
        }
    }

    test("configuration: ticket auth, CBOR over WebSocket, call timeout, keepalive") {
        withTimeout(20.seconds) {
            FakeWampRouter.start(
                FakeWampRouterConfig {
                    realm("app", anonymous = false)
                    ticketUser("svc", "s3cret", "backend")
                },
            ).use { router ->
                // docs:start config
                val config = SessionConfig("app") {
                    authId("svc")
                    authHandler("ticket", AuthHandler.ticket("s3cret"))
                    serialization(Serialization.CBOR) // wamp.2.cbor, binary frames
                    responseTimeout(2.seconds) // HELLO/auth, (un)register, (un)subscribe, acked publish
                    callTimeout(10.seconds) // default 60 s; null: no bound besides the caller's own
                    pingInterval(15.seconds) // the router never pings: detect a dead link
                    pongTimeout(5.seconds)
                }
                WampSession.connect(router.wsUrl, config).use { session ->
                    session.authId shouldBe "svc"
                    session.authRole shouldBe "backend" // granted by the router in WELCOME
                }
                // docs:end config
            }
        }
    }

    test("cryptosign: an Ed25519 key whose public half the router knows") {
        withTimeout(20.seconds) {
            // docs:start cryptosign
            val key = CryptosignKey.generate() // or fromSeedHex(...) for a stored 32-byte seed
            val options =
                FakeWampRouterConfig {
                    realm("app", anonymous = false)
                    cryptosignUser("device-7", key.publicKeyHex)
                }
            FakeWampRouter.start(options).use { router ->
                val config = SessionConfig("app") {
                    authId("device-7")
                    authHandler("cryptosign", AuthHandler.cryptosign(key)) // sends authextra.pubkey in HELLO
                }
                WampSession.connect(router.tcpUrl, config).use { session ->
                    session.realmDetails["authmethod"] shouldBe "cryptosign"
                }
            }
            // docs:end cryptosign
        }
    }

    test("binary values survive every serializer") {
        withTimeout(20.seconds) {
            FakeWampRouter.start().use { router ->
                for (serialization in Serialization.entries) {
                    // docs:start binary
                    val config = SessionConfig("realm1") { serialization(serialization) }
                    WampSession.connect(router.wsUrl, config).use { session ->
                        session.register("com.example.reverse") { inv ->
                            val bytes = WampValues.asBytes(inv.args[0])!! // ByteArray with every serializer
                            InvokeResult.of(bytes.reversedArray())
                        }
                        val result = session.call("com.example.reverse", listOf(byteArrayOf(1, 2, 3)))
                        WampValues.deepEquals(result.args, listOf(byteArrayOf(3, 2, 1))) shouldBe true
                    }
                    // docs:end binary
                }
            }
        }
    }

    test("errors: RpcException both ways, ABORT, response timeout, closed session") {
        withTimeout(20.seconds) {
            FakeWampRouter.start(
                FakeWampRouterConfig {
                    realm("realm1")
                    realm("locked", anonymous = false)
                    ticketUser("svc", "right")
                },
            ).use { router ->
                val session = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                // docs:start errors-rpc
                session.register("com.example.divide") { inv ->
                    val divisor = WampValues.asLong(inv.args[1])!!
                    if (divisor == 0L) {
                        throw RpcException(
                            "com.example.division_by_zero",
                            listOf("cannot divide by zero"),
                        )
                    }
                    InvokeResult.of(WampValues.asLong(inv.args[0])!! / divisor)
                }
                val failure = shouldThrow<RpcException> { session.call("com.example.divide", listOf(1, 0)) }
                failure.error shouldBe "com.example.division_by_zero"
                failure.args shouldBe listOf("cannot divide by zero")

                shouldThrow<RpcException> {
                    session.call("com.example.nobody")
                }.error shouldBe "wamp.error.no_such_procedure"
                // docs:end errors-rpc

                // docs:start errors-abort
                val refused = shouldThrow<AbortException> {
                    WampSession.connect(
                        router.tcpUrl,
                        SessionConfig("locked") {
                            authId("svc")
                            authHandler("ticket", AuthHandler.ticket("wrong"))
                        },
                    )
                }
                refused.reason shouldBe "wamp.error.authentication_failed"
                // docs:end errors-abort

                // docs:start errors-timeout
                val impatient = WampSession.connect(
                    router.tcpUrl,
                    SessionConfig("realm1") {
                        responseTimeout(200.milliseconds)
                    },
                )
                router.faults.mute(true) // the router reads requests and answers none
                shouldThrow<ResponseTimeoutException> { impatient.subscribe("com.example.news") { } }
                router.faults.mute(false)
                // docs:end errors-timeout

                // docs:start errors-closed
                router.faults.dropAll() // the connection drops without GOODBYE
                session.awaitClosed().message shouldContain "connection"
                session.isOpen shouldBe false
                shouldThrow<WampSessionClosedException> { session.call("com.example.divide", listOf(4, 2)) }
                // docs:end errors-closed
                impatient.close()
                session.close()
            }
        }
    }

    test("a slow event handler does not hold back calls, and events keep their order") {
        withTimeout(20.seconds) {
            FakeWampRouter.start().use { router ->
                WampSession.connect(router.tcpUrl, SessionConfig("realm1")).use { session ->
                    // docs:start ordering
                    val seen = Channel<Long>(Channel.UNLIMITED)
                    session.subscribe("com.example.ticks") { event ->
                        delay(20) // slow handler: its events queue up, in order
                        seen.send(WampValues.asLong(event.args[0])!!)
                    }
                    session.register("com.example.ping") { InvokeResult.of("pong") }
                    for (i in 1..5) {
                        session.publish(
                            "com.example.ticks",
                            listOf(i),
                            options = PublishOptions {
                                excludeMe(false)
                            },
                        )
                    }
                    session.call("com.example.ping").args shouldBe listOf("pong") // not stuck behind the handler
                    List(5) { seen.receive() } shouldBe listOf(1L, 2L, 3L, 4L, 5L)
                    // docs:end ordering
                }
            }
        }
    }

    test("cancelling a call interrupts the callee") {
        withTimeout(20.seconds) {
            FakeWampRouter.start().use { router ->
                WampSession.connect(router.tcpUrl, SessionConfig("realm1")).use { callee ->
                    WampSession.connect(router.tcpUrl, SessionConfig("realm1")).use { caller ->
                        // docs:start cancel
                        val started = CompletableDeferred<Unit>()
                        val interrupted = CompletableDeferred<Unit>()
                        callee.register("com.example.slow") {
                            started.complete(Unit)
                            try {
                                delay(60_000)
                                InvokeResult.of("done")
                            } finally {
                                interrupted.complete(Unit) // INTERRUPT cancelled the handler's coroutine
                            }
                        }
                        val call = async { caller.call("com.example.slow") }
                        started.await()
                        call.cancel() // sends CANCEL, mode killnowait
                        interrupted.await() // the callee answered wamp.error.canceled
                        // docs:end cancel
                    }
                }
            }
        }
    }

    test("typed call options: router-side timeout, disclosure, cancel mode") {
        withTimeout(20.seconds) {
            FakeWampRouter.start().use { router ->
                WampSession.connect(router.tcpUrl, SessionConfig("realm1")).use { callee ->
                    WampSession.connect(
                        router.tcpUrl,
                        SessionConfig("realm1") {
                            cancelMode(CancelMode.KILL)
                        },
                    ).use { caller ->
                        callee.register("com.example.whoami") { inv -> InvokeResult.of(inv.caller) }
                        // docs:start call-options
                        val options = CallOptions {
                            timeout(2.seconds) // the router cancels the call past 2 s: wamp.error.timeout
                            discloseMe() // the callee sees INVOCATION details caller, caller_authid, ...
                            cancelMode(CancelMode.SKIP) // if abandoned: answer me at once, leave the callee alone
                            option("x_custom", "as is") // anything else, by its key
                        }
                        val me = caller.call("com.example.whoami", options = options)
                        // docs:end call-options
                        me.args shouldBe listOf(caller.id)
                    }
                }
            }
        }
    }

    test("register options: a shared prefix registration that discloses its callers; a forwarded call timeout") {
        withTimeout(20.seconds) {
            FakeWampRouter.start().use { router ->
                val worker1 = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                val worker2 = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                val client = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                // docs:start register-options
                val pool = RegisterOptions {
                    match(MatchPolicy.PREFIX) // every procedure under com.example.jobs.
                    invoke(InvokePolicy.ROUNDROBIN) // shared: the workers take turns
                    discloseCaller() // every invocation names its caller
                }
                for (worker in listOf(worker1, worker2)) {
                    worker.register("com.example.jobs.", pool) { inv ->
                        // inv.procedure: the URI that was called; inv.caller: the caller's session id
                        InvokeResult.of(inv.procedure, inv.caller, worker.id)
                    }
                }
                client.call(
                    "com.example.jobs.resize",
                ).args shouldBe listOf("com.example.jobs.resize", client.id, worker1.id)
                client.call(
                    "com.example.jobs.crop",
                ).args shouldBe listOf("com.example.jobs.crop", client.id, worker2.id)
                // docs:end register-options

                // docs:start forward-timeout
                val forwarded = CompletableDeferred<java.time.Duration?>()
                worker1.register("com.example.render", RegisterOptions { forwardTimeout() }) { inv ->
                    forwarded.complete(inv.timeout) // the caller's timeout, forwarded by the router
                    delay(60_000) // cancelled when it passes
                    InvokeResult.of("too late")
                }
                val timedOut = shouldThrow<RpcException> {
                    client.call("com.example.render", options = CallOptions { timeout(200.milliseconds) })
                }
                timedOut.error shouldBe "wamp.error.timeout" // answered by the callee's session
                forwarded.await() shouldBe java.time.Duration.ofMillis(200)
                // docs:end forward-timeout
                listOf(worker1, worker2, client).forEach { it.close() }
            }
        }
    }

    test("subscribe options: a wildcard subscription and the concrete topic of each event") {
        withTimeout(20.seconds) {
            FakeWampRouter.start().use { router ->
                WampSession.connect(router.tcpUrl, SessionConfig("realm1")).use { monitor ->
                    WampSession.connect(router.wsUrl, SessionConfig("realm1")).use { sensor ->
                        // docs:start subscribe-options
                        val alarms = Channel<Event>(Channel.UNLIMITED)
                        // An empty component matches any one component: com.example.kitchen.alarm, not
                        // com.example.a.b.alarm
                        monitor.subscribe(
                            "com.example..alarm",
                            SubscribeOptions {
                                match(MatchPolicy.WILDCARD)
                            },
                        ) { event ->
                            alarms.send(event)
                        }
                        sensor.publish(
                            "com.example.kitchen.alarm",
                            listOf("smoke"),
                            options = PublishOptions {
                                acknowledge()
                            },
                        )
                        val alarm = alarms.receive()
                        alarm.topic shouldBe "com.example.kitchen.alarm" // the topic it was published to
                        alarm.args shouldBe listOf("smoke")
                        // docs:end subscribe-options
                    }
                }
            }
        }
    }

    test("publish options: acknowledged, white- and blacklisted, disclosed") {
        withTimeout(20.seconds) {
            val options = FakeWampRouterConfig {
                realm("realm1")
                ticketUser("day", "d1", "operator")
                ticketUser("night", "n1", "operator")
            }
            FakeWampRouter.start(options).use { router ->
                fun login(authId: String, ticket: String) = SessionConfig("realm1") {
                    authId(authId)
                    authHandler("ticket", AuthHandler.ticket(ticket))
                }
                val day = WampSession.connect(router.tcpUrl, login("day", "d1"))
                val night = WampSession.connect(router.wsUrl, login("night", "n1"))
                val guest = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                val console = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                val inboxes = listOf(day, night, guest, console).associateWith { Channel<Event>(Channel.UNLIMITED) }
                for ((s, inbox) in inboxes) s.subscribe("com.example.shift") { inbox.send(it) }
                val dayEvents = inboxes.getValue(day)
                // docs:start publish-options
                val shift = PublishOptions {
                    acknowledge() // wait for PUBLISHED: the publication id, or an error
                    eligibleAuthRole("operator") // only sessions with authrole operator ...
                    exclude(night.id) // ... except this one
                    discloseMe() // subscribers see who published
                }
                val publication = console.publish("com.example.shift", listOf("handover"), options = shift)

                val event = dayEvents.receive() // day is an operator; night and guest get nothing
                event.publication shouldBe publication
                event.publisher shouldBe console.id
                event.publisherAuthRole shouldBe "anonymous"
                // docs:end publish-options
                // Events of one subscription arrive in order: each first event is the one everybody got.
                console.publish(
                    "com.example.shift",
                    listOf("all"),
                    options = PublishOptions {
                        acknowledge()
                        excludeMe(false)
                    },
                )
                for (inbox in inboxes.values) inbox.receive().args shouldBe listOf("all")
                inboxes.keys.forEach { it.close() }
            }
        }
    }

    test("client certificate and custom dial: SSLContext for wss and tcps, SocketDialer for tcp and tcps") {
        withTimeout(20.seconds) {
            FakeWampRouter.start(FakeWampRouterConfig { tlsClientAuth() }).use { router ->
                val dialled = java.util.concurrent.atomic.AtomicInteger()
                // docs:start client-cert
                // An SSLContext with a key manager presents a client certificate (here the testkit's own).
                val tls: javax.net.ssl.SSLContext = FakeWampRouterTls.clientSslContext()
                // The dial hook opens the TCP connection for tcp:// and tcps:// (a proxy, a custom network).
                val viaProxy = SocketDialer { host, port, timeout ->
                    dialled.incrementAndGet()
                    java.net.Socket(java.net.Proxy.NO_PROXY) // e.g. Proxy(Proxy.Type.SOCKS, proxyAddress)
                        .apply { connect(java.net.InetSocketAddress(host, port), timeout.toMillis().toInt()) }
                }
                val config = SessionConfig("realm1") {
                    sslContext(tls)
                    socketDialer(viaProxy)
                    logger(org.slf4j.LoggerFactory.getLogger("com.example.wamp")) // this session's log lines
                }
                for (url in listOf(router.wssUrl!!, router.tcpsUrl!!)) {
                    WampSession.connect(url, config).use { session -> session.isOpen shouldBe true }
                }
                // docs:end client-cert
                dialled.get() shouldBe 1
            }
        }
    }

    test("testing: users, faults and credential rotation in the testkit router") {
        withTimeout(20.seconds) {
            // docs:start testing-router
            val options = FakeWampRouterConfig {
                realm("app", anonymous = false) // closed realm: authentication required
                ticketUser("svc", "ticket-1")
                craUser("ops", "cra-secret")
                rawSocketRecvLimit(64 * 1024) // announced in the RawSocket handshake
                maxWebSocketMessage(64 * 1024)
                helloTimeout(java.time.Duration.ofSeconds(2))
            }
            FakeWampRouter.start(options).use { router ->
                val login =
                    SessionConfig("app") {
                        authId("svc")
                        authHandler("ticket", AuthHandler.ticket("ticket-1"))
                    }
                val session = WampSession.connect(router.tcpUrl, login)

                // Credential rotation: the joined session stays, a new login with the old ticket fails.
                router.rotateCredentials(dev.tether.testkit.wamp.RouterUser.Ticket("svc", "ticket-2"))
                shouldThrow<AbortException> { WampSession.connect(router.tcpUrl, login) }
                session.isOpen shouldBe true

                // Faults: drop every connection at once, without GOODBYE.
                router.faults.dropAll() shouldBe 1
                session.awaitClosed().message shouldContain "connection lost"
            }
            // docs:end testing-router
        }
    }

    test("automatic reconnect: WampClient rejoins, re-registers and re-subscribes after a drop") {
        withTimeout(30.seconds) {
            FakeWampRouter.start().use { router ->
                // docs:start reconnect
                val policy = ReconnectPolicy {
                    backoff(ExponentialBackoff(minDelay = 200.milliseconds, maxDelay = 30.seconds))
                    maxAttempts(20) // then give up: Closed(ReconnectExhaustedException)
                }
                val client = WampClient(router.wsUrl, SessionConfig("realm1"), policy)
                client.connect() // returns once joined; the first attempt must succeed
                client.register("com.example.add") { inv ->
                    InvokeResult.of(WampValues.asLong(inv.args[0])!! + WampValues.asLong(inv.args[1])!!)
                }
                val news = Channel<Any?>(Channel.UNLIMITED)
                client.subscribe("com.example.news") { event -> news.send(event.args[0]) }

                val rejoined = CompletableDeferred<Unit>()
                client.onEvent { event ->
                    // or collect client.events / client.state
                    if (event is ConnectionEvent.Connected) rejoined.complete(Unit)
                }
                val first = client.session!!.id
                router.faults.dropAll() // the connection drops without GOODBYE
                rejoined.await() // joined, re-registered, re-subscribed

                client.session!!.id shouldNotBe first
                client.call("com.example.add", listOf(2, 3)).args shouldBe listOf(5L)
                client.publish(
                    "com.example.news",
                    listOf("back"),
                    options = PublishOptions {
                        acknowledge()
                        excludeMe(false)
                    },
                )
                news.receive() shouldBe "back"
                client.closeAndJoin() // GOODBYE; no more reconnecting
                client.state.value shouldBe ConnectionState.CLOSED
                // docs:end reconnect
            }
        }
    }

    test("a slow subscriber: a bounded queue per subscription, drops counted in the session's stats") {
        withTimeout(30.seconds) {
            FakeWampRouter.start().use { router ->
                val publisher = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                // docs:start slow-subscriber
                val session = WampSession.connect(router.tcpUrl, SessionConfig("realm1") { eventBuffer(100) })
                val busy = CompletableDeferred<Unit>()
                val gate = CompletableDeferred<Unit>()
                session.subscribe("com.example.flood") {
                    busy.complete(Unit)
                    gate.await()
                } // does not keep up
                val ack = PublishOptions { acknowledge() }
                publisher.publish("com.example.flood", listOf(0), options = ack)
                busy.await() // the handler is stuck in the first event
                repeat(1000) { i -> publisher.publish("com.example.flood", listOf(i + 1), options = ack) }
                val last = CompletableDeferred<Unit>()
                session.subscribe("com.example.last") { last.complete(Unit) }
                publisher.publish("com.example.last", options = ack)
                last.await() // events arrive in order: the flood has been read

                val stats = session.stats()
                stats.eventsDropped shouldBe 900 // 100 queued behind the handler, the rest dropped
                stats.eventsDroppedByTopic shouldBe mapOf("com.example.flood" to 900L)
                gate.complete(Unit)
                // docs:end slow-subscriber
                session.leave()
                publisher.leave()
            }
        }
    }
})
