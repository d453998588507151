package dev.tether.conformance.wsclient

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.DialTimeoutException
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.MessageTooLargeException
import dev.tether.core.TokenProvider
import dev.tether.testkit.FakeBroker
import dev.tether.wsclient.ClientClosedException
import dev.tether.wsclient.ConnectionLostException
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.InitialConnectException
import dev.tether.wsclient.NotConnectedException
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.net.ServerSocket
import java.time.Duration
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** The reconnecting client against the fake broker: every rule of specs/nexus-wsclient.md and every fixed DEFECT. */
class WsClientBehaviourSpec : FunSpec({

    test("send waits for the first connection, then goes out") {
        FakeBroker.start().use { broker ->
            fastClient(broker).use { client ->
                coroutineScope {
                    val sent = async { client.send(Envelope.create("hello", """{"a":1}""")) }
                    delay(50)
                    sent.isCompleted shouldBe false
                    client.start()
                    withTimeout(10.seconds) { sent.await() }
                    withTimeout(10.seconds) { while (broker.received().none { it.kind == "hello" }) delay(5) }
                }
            }
        }
    }

    test("send gives up with NotConnectedException when no connection comes within its bound") {
        FakeBroker.start().use { broker ->
            fastClient(broker).use { client ->
                shouldThrow<NotConnectedException> { client.send(Envelope.create("x"), 100.milliseconds) }
            }
        }
    }

    test("uncorrelated frames and server-initiated turns reach the handler; the reply goes back by send") {
        FakeBroker.start().use { broker ->
            val client = AtomicReference<WsClient>()
            val handler = EnvelopeHandler { env ->
                if (env.kind == "turn") {
                    client.get().sendAsync(Envelope.response("turn.result", env.id!!, """{"text":"done"}"""))
                }
            }
            fastClient(broker, handler).use { c ->
                client.set(c)
                c.start()
                c.request(Envelope.request("register", registration("keel"))).kind shouldBe "register.ack"
                val reply = broker.turn("keel", """{"text":"hi"}""", timeout = 10.seconds)
                reply.kind shouldBe "turn.result"
                reply.payload shouldBe """{"text":"done"}"""
                broker.received().single { it.kind == "turn.result" }.inReplyTo shouldBe reply.inReplyTo
            }
        }
    }

    test("a blocked handler stalls neither replies nor keepalive, and still sees frames in order") {
        FakeBroker.start {
            pingInterval(Duration.ofMillis(50))
            pongTimeout(Duration.ofSeconds(1))
        }.use { broker ->
            val release = CountDownLatch(1)
            val seen = java.util.concurrent.CopyOnWriteArrayList<String>()
            val handler = EnvelopeHandler { env ->
                release.await(20, TimeUnit.SECONDS)
                seen.add(env.payload!!)
            }
            fastClient(broker, handler).use { client ->
                client.start()
                client.awaitConnectedTo(broker)
                repeat(5) { broker.broadcast(Envelope.create("note", "$it")) }
                // The handler is stuck on the first note; requests still complete and the broker's pings
                // (every 50 ms, 1 s deadline) are still answered, 20 of them after the stall began.
                val answeredBefore = broker.answeredPings()
                repeat(20) { client.request(Envelope.request("echo", "$it")).payload shouldBe "$it" }
                withTimeout(10.seconds) { broker.awaitAnsweredPings(answeredBefore + 20) }
                client.stats().drops shouldBe 0
                release.countDown()
                withTimeout(10.seconds) { while (seen.size < 5) delay(5) }
                seen shouldContainExactly listOf("0", "1", "2", "3", "4")
            }
        }
    }

    test("malformed JSON, a missing kind and binary frames are counted and dropped; the connection stays") {
        FakeBroker.start().use { broker ->
            val inbox = Inbox()
            fastClient(broker, inbox).use { client ->
                client.start()
                client.awaitConnectedTo(broker)
                broker.broadcastRaw("not json")
                broker.broadcastRaw("""{"id":"x","payload":{}}""")
                broker.broadcastRaw("""{"kind":"","payload":{}}""")
                broker.broadcastBinary(byteArrayOf(1, 2, 3))
                broker.broadcastRaw("""{"kind":"future.thing","extra":1}""")
                inbox.next().kind shouldBe "future.thing"
                client.stats().malformedFrames shouldBe 3
                client.stats().binaryFrames shouldBe 1
                client.request(Envelope.request("echo", "1")).payload shouldBe "1"
                client.stats().drops shouldBe 0
            }
        }
    }

    test(
        "an oversize message closes the connection with a typed cause, fails nothing silently, and the client " +
            "reconnects",
    ) {
        FakeBroker.start().use { broker ->
            fastClient(broker) { maxMessageBytes(1024) }.use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    events.await<ConnectionEvent.Connected>()
                    client.awaitConnectedTo(broker)
                    val waiting = async { runCatching { client.request(Envelope.request("nobody.home"), 30.seconds) } }
                    withTimeout(10.seconds) { while (broker.received().none { it.kind == "nobody.home" }) delay(5) }
                    broker.broadcastRaw("""{"kind":"big","payload":"${"x".repeat(2000)}"}""")
                    events.await<ConnectionEvent.Disconnected>().cause.shouldBeInstanceOf<MessageTooLargeException>()
                    waiting.await().exceptionOrNull().shouldBeInstanceOf<ConnectionLostException>()
                    events.await<ConnectionEvent.Connected>()
                    client.stats().oversizeMessages shouldBe 1
                    coroutineContext.cancelChildrenQuietly()
                }
            }
        }
    }

    test("the client's keepalive detects a peer that stops answering pings, then reconnects") {
        FakeBroker.start().use { broker ->
            fastClient(broker) {
                pingInterval(100.milliseconds)
                pongTimeout(200.milliseconds)
            }.use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    events.await<ConnectionEvent.Connected>()
                    broker.faults.stopKeepalive(true)
                    val drop = events.await<ConnectionEvent.Disconnected>()
                    drop.cause.shouldBeInstanceOf<KeepAliveExpiredException>()
                    broker.faults.stopKeepalive(false)
                    events.await<ConnectionEvent.Connected>()
                    coroutineContext.cancelChildrenQuietly()
                }
            }
        }
    }

    test("FailFirstConnect: connect fails with InitialConnectException when the first dial fails; the client ends") {
        val port = ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
        val config = WsClientConfig("ws://127.0.0.1:$port/connect", Inbox()) { failFirstConnect(true) }
        WsClient(config).use { client ->
            val e = shouldThrow<InitialConnectException> { withTimeout(10.seconds) { client.connect() } }
            e.message!!.startsWith("initial connect failed") shouldBe true
            client.state.value shouldBe ConnectionState.CLOSED
            // The client ended for good, with that reason; every later call fails with it at once.
            client.awaitClosed() shouldBe e
            shouldThrow<InitialConnectException> { client.start() }
            shouldThrow<InitialConnectException> { client.request(Envelope.request("echo")) }
        }
    }

    test("awaitClosed waits for the end and returns ClientClosedException after close, for every waiter") {
        FakeBroker.start().use { broker ->
            val client = fastClient(broker)
            client.connect() shouldBe client
            coroutineScope {
                val waiters = List(2) { async(start = CoroutineStart.UNDISPATCHED) { client.awaitClosed() } }
                waiters.any { it.isCompleted } shouldBe false // suspended in awaitClosed while the client runs
                client.closeAndJoin()
                waiters.map { it.await() }.forEach { it.shouldBeInstanceOf<ClientClosedException>() }
            }
            client.closedFuture().getNow(null).shouldBeInstanceOf<ClientClosedException>()
        }
    }

    test("FailFirstConnect: a drop after the first connection does not end the client; it reconnects") {
        FakeBroker.start().use { broker ->
            fastClient(broker) { failFirstConnect(true) }.use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    val ended = async { client.awaitClosed() }
                    client.connect()
                    broker.dropWhenConnected()
                    events.await<ConnectionEvent.Disconnected>()
                    events.await<ConnectionEvent.Connected>()
                    ended.isCompleted shouldBe false
                    coroutineContext.cancelChildrenQuietly()
                }
            }
        }
    }

    test(
        "token rotation: a 401 is reported as AuthenticationFailed, backed off, and the provider's new token is used",
    ) {
        FakeBroker.start { tokens("old") }.use { broker ->
            val current = AtomicReference("old")
            fastClient(broker) { tokenProvider(TokenProvider { current.get() }) }.use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    events.await<ConnectionEvent.Connected>()
                    broker.rotateCredentials("new")
                    broker.dropWhenConnected()
                    val failed = events.await<ConnectionEvent.AuthenticationFailed>()
                    failed.status shouldBe 401
                    (failed.retryInMillis > 0) shouldBe true
                    current.set("new")
                    events.await<ConnectionEvent.Connected>()
                    broker.authorizationHeaders().last() shouldBe "Bearer new"
                    coroutineContext.cancelChildrenQuietly()
                }
            }
        }
    }

    test("a failing token provider falls back to the last accepted token, not the static one") {
        FakeBroker.start { tokens("fresh") }.use { broker ->
            val calls = java.util.concurrent.atomic.AtomicInteger()
            val provider = TokenProvider {
                if (calls.incrementAndGet() == 1) "fresh" else error("identity service down")
            }
            fastClient(broker) {
                authToken("stale-static")
                tokenProvider(provider)
            }.use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    events.await<ConnectionEvent.Connected>()
                    broker.dropWhenConnected()
                    events.await<ConnectionEvent.Disconnected>()
                    events.await<ConnectionEvent.Connected>()
                    broker.authorizationHeaders() shouldContainExactly listOf("Bearer fresh", "Bearer fresh")
                    coroutineContext.cancelChildrenQuietly()
                }
            }
        }
    }

    test("refused upgrades (503) are retried with backoff until one is accepted") {
        FakeBroker.start().use { broker ->
            broker.faults.refuseNext(2, 503)
            fastClient(broker).use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    repeat(2) {
                        val failed = events.await<ConnectionEvent.DialFailed>()
                        (failed.cause as HandshakeRejectedException).status shouldBe 503
                    }
                    events.await<ConnectionEvent.Connected>()
                    coroutineContext.cancelChildrenQuietly()
                }
            }
        }
    }

    test("a black-holed upgrade ends in DialTimeoutException within the dial timeout") {
        FakeBroker.start().use { broker ->
            broker.faults.blackHole(true)
            fastClient(broker) { dialTimeout(Duration.ofMillis(300)) }.use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    events.await<ConnectionEvent.DialFailed>().cause.shouldBeInstanceOf<DialTimeoutException>()
                    broker.faults.blackHole(false)
                    events.await<ConnectionEvent.Connected>()
                    coroutineContext.cancelChildrenQuietly()
                }
            }
        }
    }

    test("no event is lost to a slow consumer across 20 drops") {
        FakeBroker.start().use { broker ->
            fastClient(broker).use { client ->
                val release = CountDownLatch(1)
                val seen = java.util.concurrent.CopyOnWriteArrayList<ConnectionEvent>()
                client.onEvent { e ->
                    release.await(20, TimeUnit.SECONDS)
                    seen.add(e)
                }.use {
                    coroutineScope {
                        val events = recordEvents(client)
                        client.start()
                        repeat(20) { i ->
                            events.await<ConnectionEvent.Connected>()
                            broker.dropWhenConnected(i + 1L)
                        }
                        events.await<ConnectionEvent.Connected>()
                        release.countDown()
                        withTimeout(10.seconds) { while (seen.count { it is ConnectionEvent.Connected } < 21) delay(5) }
                        seen.count { it is ConnectionEvent.Disconnected } shouldBe 20
                        seen.first().shouldBeInstanceOf<ConnectionEvent.Connecting>()
                        coroutineContext.cancelChildrenQuietly()
                    }
                }
            }
        }
    }

    test("close fails pending requests with ClientClosedException, ends the event stream and is idempotent") {
        FakeBroker.start().use { broker ->
            val client = fastClient(broker)
            client.start()
            client.awaitConnectedWithin()
            coroutineScope {
                val all = async { client.events.toList() }
                val pending = async { runCatching { client.request(Envelope.request("nobody.home")) } }
                withTimeout(10.seconds) { while (client.stats().pendingRequests == 0) delay(5) }
                client.close()
                client.close()
                pending.await().exceptionOrNull().shouldBeInstanceOf<ClientClosedException>()
                withTimeout(10.seconds) { all.await() }.last().shouldBeInstanceOf<ConnectionEvent.Closed>()
                client.state.value shouldBe ConnectionState.CLOSED
                shouldThrow<ClientClosedException> { client.request(Envelope.request("echo")) }
            }
            withTimeout(10.seconds) { while (broker.connectionCount.value != 0) delay(5) }
        }
    }

    test("closeAndJoin returns only after the shutdown, for every concurrent caller") {
        FakeBroker.start().use { broker ->
            val client = fastClient(broker)
            client.start()
            client.awaitConnectedWithin()
            coroutineScope {
                val pending = async { runCatching { client.request(Envelope.request("nobody.home")) } }
                withTimeout(10.seconds) { while (client.stats().pendingRequests == 0) delay(5) }
                val closers = List(3) {
                    async {
                        client.closeAndJoin()
                        client.state.value
                    }
                }
                withTimeout(10.seconds) { closers.awaitAll() } shouldBe List(3) { ConnectionState.CLOSED }
                pending.await().exceptionOrNull().shouldBeInstanceOf<ClientClosedException>()
                client.isConnected shouldBe false
            }
        }
    }

    test("a server that accepts and then drops at once is redialled with growing delays, not in a hot loop") {
        FakeBroker.start().use { broker ->
            fastClient(broker).use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    val delays = List(5) { i ->
                        events.await<ConnectionEvent.Connected>()
                        broker.dropWhenConnected(i + 1L)
                        events.await<ConnectionEvent.Disconnected>().retryInMillis
                    }
                    // reconnectDelays(10 ms, 200 ms) with 20 % jitter: 10, 20, 40, 80, 160 ms, each ±20 %.
                    delays.zipWithNext().forEach { (a, b) -> (b > a) shouldBe true }
                    (delays.first() in 8L..12L) shouldBe true
                    coroutineContext.cancelChildrenQuietly()
                }
            }
        }
    }
})
