package dev.tether.docs

import dev.tether.core.ConnectionEvent
import dev.tether.core.DialTimeoutException
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.KeepAliveExpiredException
import dev.tether.testkit.FakeBroker
import dev.tether.testkit.kotest.FakeBrokerListener
import dev.tether.wsclient.ConnectionLostException
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.RequestTimeoutException
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.extensions.install
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.time.Duration
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** The fault controls of the fake broker, each shown against a client; quoted in docs/testkit.md. */
class FaultInjectionSpec : FunSpec({
    // docs:start kotest-per-test
    val broker by install(FakeBrokerListener.perTest()) // a fresh broker for every test below, stopped after it
    // docs:end kotest-per-test

    /** Starts [client] with an event recorder subscribed first; runs [block]; stops the recorder. */
    suspend fun withEvents(client: WsClient, block: suspend CoroutineScope.(Channel<ConnectionEvent>) -> Unit) =
        coroutineScope {
            val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
            val recorder = launch(start = CoroutineStart.UNDISPATCHED) { client.events.collect { events.send(it) } }
            client.start()
            block(events)
            recorder.cancel()
        }

    suspend fun Channel<ConnectionEvent>.next(predicate: (ConnectionEvent) -> Boolean) =
        withTimeout(10.seconds) { receiveUntil(predicate) }

    test("dropAll: a pending request fails with ConnectionLostException and the client dials again") {
        fastClient(broker).use { client ->
            client.start()
            withTimeout(10.seconds) {
                client.awaitConnected()
                broker.awaitUpgrades(1)
            }
            coroutineScope {
                // docs:start fault-drop-all
                val pending = async { runCatching { client.request(Envelope.request("nobody.home")) } }
                withTimeout(10.seconds) { while (broker.received().isEmpty()) delay(5) } // it reached the broker
                broker.faults.dropAll() shouldBe 1 // every live connection, without a close frame
                val lost = pending.await().exceptionOrNull().shouldBeInstanceOf<ConnectionLostException>()
                lost.requestSent shouldBe true
                withTimeout(10.seconds) { broker.awaitUpgrades(2) } // the client dialled again
                // docs:end fault-drop-all
            }
        }
    }

    test("dropAfterFrames: the frame that exhausts the budget is never handled") {
        fastClient(broker).use { client ->
            client.start()
            // docs:start fault-drop-after-frames
            broker.faults.dropAfterFrames(2) // the connection that receives the 2nd frame from now is dropped
            client.request(Envelope.request("echo", "1")).payload shouldBe "1"
            shouldThrow<ConnectionLostException> { client.request(Envelope.request("echo", "2")) }
            broker.received().map { it.payload } shouldBe listOf("1") // frame 2 was dropped with the connection
            // docs:end fault-drop-after-frames
        }
    }

    test("stopKeepalive: the client's keepalive expires and it reconnects once pongs return") {
        val client = WsClient(
            WsClientConfig(broker.url, EnvelopeHandler { }) {
                authToken(broker.token)
                pingInterval(100.milliseconds)
                pongTimeout(200.milliseconds)
            },
        )
        client.use {
            withEvents(client) { events ->
                events.next { it is ConnectionEvent.Connected }
                // docs:start fault-pings
                broker.faults.stopKeepalive(true) // the client's pings go unanswered
                val drop = events.next { it is ConnectionEvent.Disconnected } as ConnectionEvent.Disconnected
                drop.cause.shouldBeInstanceOf<KeepAliveExpiredException>()
                broker.faults.stopKeepalive(false)
                events.next { it is ConnectionEvent.Connected }
                // docs:end fault-pings
            }
        }
    }

    test("refuseNext: refused dials are backed off and retried") {
        fastClient(broker).use { client ->
            // docs:start fault-refuse
            broker.faults.refuseNext(2, 503) // the next two upgrades get HTTP 503
            withEvents(client) { events ->
                repeat(2) {
                    val failed = events.next { it is ConnectionEvent.DialFailed } as ConnectionEvent.DialFailed
                    failed.cause.shouldBeInstanceOf<HandshakeRejectedException>().status shouldBe 503
                }
                events.next { it is ConnectionEvent.Connected }
            }
            broker.refusedUpgrades() shouldBe 2
            // docs:end fault-refuse
        }
    }

    test("latency: a reply slower than the request timeout becomes a late reply for the handler") {
        val late = LinkedBlockingQueue<Envelope>()
        fastClient(broker, EnvelopeHandler { late.add(it) }).use { client ->
            client.start()
            client.request(Envelope.request("echo", "0")) // connected before the latency starts
            // docs:start fault-latency
            broker.faults.latency(Duration.ofMillis(300)) // every inbound frame and upgrade waits 300 ms
            val request = Envelope.request("echo", """{"slow":true}""")
            shouldThrow<RequestTimeoutException> { client.request(request, timeout = 100.milliseconds) }
            val reply = late.poll(10, TimeUnit.SECONDS)!! // the reply still comes, to the handler
            reply.inReplyTo shouldBe request.id
            client.stats().lateReplies shouldBe 1
            broker.faults.latency(Duration.ZERO)
            // docs:end fault-latency
        }
    }

    test("blackHole: upgrades are never answered, so dials time out") {
        val client = WsClient(
            WsClientConfig(broker.url, EnvelopeHandler { }) {
                authToken(broker.token)
                dialTimeout(Duration.ofMillis(300))
                reconnectDelays(Duration.ofMillis(10), Duration.ofMillis(100))
            },
        )
        client.use {
            // docs:start fault-black-hole
            broker.faults.blackHole(true) // TCP connects, the upgrade never gets an answer
            withEvents(client) { events ->
                val failed = events.next { it is ConnectionEvent.DialFailed } as ConnectionEvent.DialFailed
                failed.cause.shouldBeInstanceOf<DialTimeoutException>()
                broker.faults.blackHole(false)
                events.next { it is ConnectionEvent.Connected }
            }
            // docs:end fault-black-hole
        }
    }

    test("rotateCredentials: connections stay up, the next dial with the old token gets 401") {
        fastClient(broker).use { client ->
            withEvents(client) { events ->
                events.next { it is ConnectionEvent.Connected }
                withTimeout(10.seconds) { broker.awaitUpgrades(1) }
                // docs:start fault-rotate-tokens
                broker.rotateCredentials("rotated") // only "rotated" is accepted from now on
                client.request(Envelope.request("echo", "1")).payload shouldBe "1" // the open connection stays
                broker.faults.dropAll()
                val refused = events.next { it is ConnectionEvent.AuthenticationFailed }
                refused as ConnectionEvent.AuthenticationFailed
                refused.status shouldBe 401
                broker.authorizationHeaders().last() shouldBe "Bearer test-token"
                // docs:end fault-rotate-tokens
            }
        }
    }

    test("reset clears every fault") {
        broker.faults.blackHole(true)
        broker.faults.refuseNext(5, 503)
        broker.faults.reset()
        fastClient(broker).use { client ->
            client.start()
            client.request(Envelope.request("echo", "[]")).payload shouldBe "[]"
        }
    }

    test("server pushes reach the handler; bad frames are counted, not delivered") {
        val seen = LinkedBlockingQueue<Envelope>()
        fastClient(broker, EnvelopeHandler { seen.add(it) }).use { client ->
            client.start()
            withTimeout(10.seconds) {
                client.awaitConnected()
                broker.awaitUpgrades(1)
            }
            // docs:start server-push
            broker.broadcastRaw("""{"kind":""}""") // not an envelope: no kind
            broker.broadcastBinary(byteArrayOf(1, 2, 3)) // the protocol is text only
            broker.broadcast(Envelope.create("note", """{"text":"hello"}""")) // to every live connection
            seen.poll(10, TimeUnit.SECONDS)!!.kind shouldBe "note" // frames are handled in order: the bad ones first
            client.stats().malformedFrames shouldBe 1
            client.stats().binaryFrames shouldBe 1
            // docs:end server-push
        }
    }

    test("options: fast server pings are answered by the client without any code") {
        // docs:start broker-options
        FakeBroker.start {
            tokens("alpha", "beta") // accepted tokens; broker.token is the first
            pingInterval(Duration.ofMillis(50)) // server pings (default 30 s)
            pongTimeout(Duration.ofMillis(200)) // close with 1001 "ping failed" without a pong (default 10 s)
            maxConnections(8, 2) // total and per IP; over the cap: HTTP 503
        }.use { broker ->
            fastClient(broker).use { client ->
                client.start()
                client.request(Envelope.request("echo", "1")).payload shouldBe "1"
                delay(500) // ten server pings, each answered by the client's WebSocket layer
                client.stats().drops shouldBe 0
                broker.authorizationHeaders() shouldContain "Bearer alpha"
            }
        }
        // docs:end broker-options
    }
})
