package dev.tether.docs

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.testkit.FakeBroker
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldMatch
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.net.InetAddress
import java.net.ServerSocket
import java.time.Duration
import java.time.Instant
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds

/** Runs every Kotlin example of docs/wsclient.md against the fake broker and checks what it reports. */
class WsClientExamplesSpec : FunSpec({

    val ts = "2026-05-20T10:11:12.123456789Z"

    test("envelope shapes are written exactly as upstream writes them") {
        val wire = EnvelopeExamples.shapes(Instant.parse(ts))
        wire[0] shouldBe """{"kind":"chat.send","ts":"$ts","payload":{"text":"hi"}}"""
        wire[1] shouldMatch
            Regex("""\{"kind":"register","id":"([0-9A-HJKMNP-TV-Z]{26})","ts":"$ts","payload":\{"name":"a"}}""")
        val id = Regex(""""id":"([^"]+)"""").find(wire[1])!!.groupValues[1]
        wire[2] shouldBe """{"kind":"register.ack","in_reply_to":"$id","ts":"$ts","payload":{"stale_after_s":30}}"""
        wire[3] shouldBe """{"kind":"turn","ts":"$ts","payload":{"text":"hi"},"target_aspect":"keel"}"""
        wire[4] shouldBe """{"kind":"shutdown","ts":"$ts"}"""
        Envelope.create("shutdown").withTs(Envelope.ZERO_TIME).encode() shouldBe
            """{"kind":"shutdown","ts":"0001-01-01T00:00:00Z"}"""
    }

    test("the wire lines shown in wsclient.md are what the envelope example writes") {
        val page = java.io.File("wsclient.md").readLines()
        val open = page.indexOfFirst { it.trim() == "```json" }
        val shown = page.subList(open + 1, page.size).takeWhile { it.trim() != "```" }
        val wire = EnvelopeExamples.shapes(Instant.parse(ts))
        val id = Regex(""""id":"([^"]+)"""").find(wire[1])!!.groupValues[1]
        shown shouldBe wire.map { it.replace(id, "01KS2DWBKV000G40R40M30E209") }
    }

    test("typed payloads round-trip and unknown payload keys are ignored") {
        val (written, ack) = EnvelopeExamples.typedPayload()
        written shouldBe """{"name":"a","session_id":"s-1","provider":"docs","context_mode":"global"}"""
        ack shouldBe RegisterAck(heartbeatIntervalS = 10, staleAfterS = 30)
    }

    test("decoding accepts unknown kinds and fields and rejects what is not an envelope") {
        EnvelopeExamples.decodeOrNull("""{"kind":"future.thing","extra":1}""")!!.ts shouldBe Envelope.ZERO_TIME
        EnvelopeExamples.decodeOrNull("not json") shouldBe null
        EnvelopeExamples.decodeOrNull("""{"id":"x"}""") shouldBe null
        EnvelopeExamples.decodeOrNull("""{"kind":"ping","ts":"2026-05-20 10:11:12"}""") shouldBe null
    }

    test("ULIDs are 26 characters and increase") {
        val (id, millis) = EnvelopeExamples.ids()
        id.length shouldBe 26
        (millis.toLong() <= System.currentTimeMillis()) shouldBe true
    }

    test("request outcomes: answered, refused, timed out, lost, closed") {
        FakeBroker.start().use { broker ->
            val client = fastClient(broker)
            client.start()
            RequestExamples.call(client, Envelope.request("echo", """{"n":1}"""))
                .shouldBeInstanceOf<RequestExamples.Outcome.Answered>().reply.payload shouldBe """{"n":1}"""
            RequestExamples.call(client, Envelope.request("register", """{"name":"x"}""")) shouldBe
                RequestExamples.Outcome.Refused("session_id required")
            val silent = Envelope.request("nobody.home") // the broker drops unknown kinds without a word
            RequestExamples.call(client, silent) shouldBe RequestExamples.Outcome.TimedOut(silent.id!!)
            client.stats().requestsTimedOut shouldBe 1
            coroutineScope {
                val lost = async { RequestExamples.call(client, Envelope.request("nobody.home")) }
                withTimeout(10.seconds) { while (client.stats().pendingRequests == 0) delay(5) }
                withTimeout(10.seconds) { while (broker.received().count { it.kind == "nobody.home" } < 2) delay(5) }
                broker.faults.dropAll()
                lost.await() shouldBe RequestExamples.Outcome.Lost(maybeHandled = true)
                withTimeout(10.seconds) { client.awaitConnected() }
                val closed = async { RequestExamples.call(client, Envelope.request("nobody.home")) }
                withTimeout(10.seconds) { while (broker.received().count { it.kind == "nobody.home" } < 3) delay(5) }
                client.close()
                closed.await() shouldBe RequestExamples.Outcome.Closed
            }
        }
    }

    test("send writes when connected and reports false when no connection comes in time") {
        FakeBroker.start().use { broker ->
            fastClient(broker).use { client ->
                RequestExamples.notify(client, "before start") shouldBe false
                client.start()
                RequestExamples.notify(client, "hello") shouldBe true
                withTimeout(10.seconds) { while (broker.received().none { it.kind == "chat.send" }) delay(5) }
                broker.received().single { it.kind == "chat.send" }.payload shouldBe """{"text":"hello"}"""
            }
        }
    }

    test("a duplicate pending id is refused") {
        FakeBroker.start().use { broker ->
            fastClient(broker).use { client ->
                client.start()
                val first = Envelope.request("nobody.home")
                coroutineScope {
                    val pending = async { runCatching { client.request(first, 5.seconds) } }
                    withTimeout(10.seconds) { while (client.stats().pendingRequests == 0) delay(5) }
                    RequestExamples.reuseId(client, first) shouldBe first.id
                    pending.cancel()
                }
            }
        }
    }

    test("the reconnect configuration reconnects after a drop, and FailFirstConnect explains a dead address") {
        FakeBroker.start().use { broker ->
            ConnectionExamples.reconnectingClient(broker.url, broker.token, EnvelopeHandler { }).use { client ->
                client.config.backoff.minDelay shouldBe kotlin.time.Duration.parse("200ms")
                coroutineScope {
                    val lines = Channel<String>(Channel.UNLIMITED)
                    val collector = launch(start = CoroutineStart.UNDISPATCHED) {
                        ConnectionExamples.eventLog(client).collect { lines.send(it) }
                    }
                    val running = async { ConnectionExamples.runOrExplain(client) }
                    ConnectionExamples.awaitUp(client)
                    withTimeout(10.seconds) { broker.awaitUpgrades(1) }
                    broker.faults.dropAll()
                    withTimeout(10.seconds) { while (broker.acceptedUpgrades() < 2) delay(5) }
                    ConnectionExamples.awaitUp(client)
                    running.isCompleted shouldBe false // a drop after the first connection never ends run()
                    val seen = List(5) { withTimeout(10.seconds) { lines.receive() } }
                    seen[0] shouldBe "dialling (attempt 1)"
                    seen[1] shouldBe "connected to ${broker.url}"
                    seen[2] shouldStartWith "dropped: "
                    seen[3] shouldBe "dialling (attempt 1)"
                    seen[4] shouldBe "connected to ${broker.url}"
                    collector.cancel()
                    running.cancel()
                }
            }
        }
        val deadPort = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }
        val deadUrl = "ws://127.0.0.1:$deadPort/connect"
        ConnectionExamples.reconnectingClient(deadUrl, "t", EnvelopeHandler { }).use { client ->
            val explained = withTimeout(15.seconds) { ConnectionExamples.runOrExplain(client) }
            explained shouldStartWith "cannot reach the broker: "
            client.state.value shouldBe ConnectionState.CLOSED
        }
    }

    test("every event has a description, including the terminal one") {
        ConnectionExamples.describe(ConnectionEvent.Closed(null)) shouldBe "closed"
        ConnectionExamples.describe(ConnectionEvent.AuthenticationFailed(401, 1000)) shouldBe
            "token refused (HTTP 401); next in 1000 ms"
    }

    test("keepalive: a peer that stops answering pings is dropped with KeepAliveExpiredException, then redialled") {
        FakeBroker.start().use { broker ->
            ConnectionExamples.keepaliveClient(broker.url, broker.token, EnvelopeHandler { }).use { client ->
                coroutineScope {
                    val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
                    val collector = launch(start = CoroutineStart.UNDISPATCHED) {
                        client.events.collect { events.send(it) }
                    }
                    client.start()
                    ConnectionExamples.awaitUp(client)
                    broker.faults.stopKeepalive(true)
                    val drop = withTimeout(10.seconds) { events.receiveUntil { it is ConnectionEvent.Disconnected } }
                    ConnectionExamples.isKeepaliveDrop(drop) shouldBe true
                    broker.faults.stopKeepalive(false)
                    withTimeout(10.seconds) { events.receiveUntil { it is ConnectionEvent.Connected } }
                    collector.cancel()
                }
            }
        }
    }

    test("stats count refused frames and late replies without dropping the connection") {
        FakeBroker.start().use { broker ->
            val handled = AtomicInteger()
            fastClient(broker, EnvelopeHandler { handled.incrementAndGet() }).use { client ->
                client.start()
                ConnectionExamples.awaitUp(client)
                withTimeout(10.seconds) { broker.awaitUpgrades(1) }
                broker.broadcastRaw("not json")
                broker.broadcastRaw("""{"payload":{}}""")
                broker.broadcastBinary(byteArrayOf(1, 2, 3))
                broker.broadcast(Envelope.response("echo.result", "01ARZ3NDEKTSV4RRFFQ69G5FAV"))
                withTimeout(10.seconds) { while (handled.get() < 1) delay(5) }
                ConnectionExamples.health(client) shouldBe
                    "drops=0 refusedFrames=3 oversize=0 late=1 timeouts=0 handlerErrors=0 pending=0"
            }
        }
    }

    test("token provider: after a rotation the 401 is reported and the provider's new token is used") {
        FakeBroker.start { tokens("t1") }.use { broker ->
            val issuer = TokenIssuer("t1")
            TokenExamples.client(broker.url, "bootstrap", issuer, EnvelopeHandler { }).use { client ->
                coroutineScope {
                    val alerts = Channel<Int>(Channel.UNLIMITED)
                    val watcher = launch(start = CoroutineStart.UNDISPATCHED) {
                        TokenExamples.watchCredentials(client, limit = 1) { alerts.trySend(it) }
                    }
                    client.start()
                    ConnectionExamples.awaitUp(client)
                    withTimeout(10.seconds) { broker.awaitUpgrades(1) }
                    broker.rotateCredentials("t2") // the server stops accepting t1
                    broker.faults.dropAll() // the next dial presents t1 and gets 401
                    withTimeout(10.seconds) { alerts.receive() } shouldBe 401
                    issuer.rotate("t2")
                    withTimeout(15.seconds) { while (broker.acceptedUpgrades() < 2) delay(5) }
                    broker.authorizationHeaders().first() shouldBe "Bearer t1"
                    broker.authorizationHeaders().last() shouldBe "Bearer t2"
                    client.close()
                    withTimeout(10.seconds) { watcher.join() } // the watcher ends with the Closed event
                }
            }
        }
    }

    test("token provider: when the identity service fails, the last accepted token is used, not the bootstrap one") {
        FakeBroker.start { tokens("t1") }.use { broker ->
            val issuer = TokenIssuer("t1")
            TokenExamples.client(broker.url, "bootstrap", issuer, EnvelopeHandler { }).use { client ->
                client.start()
                ConnectionExamples.awaitUp(client)
                withTimeout(10.seconds) { broker.awaitUpgrades(1) }
                issuer.available = false
                broker.faults.dropAll()
                withTimeout(15.seconds) { while (broker.acceptedUpgrades() < 2) delay(5) }
                broker.authorizationHeaders() shouldContainExactly listOf("Bearer t1", "Bearer t1")
            }
        }
    }

    test("the alert fires after the configured number of refusals in a row") {
        FakeBroker.start().use { broker ->
            val client = WsClient(
                WsClientConfig(broker.url, EnvelopeHandler { }) {
                    authToken("wrong")
                    reconnectDelays(Duration.ofMillis(10), Duration.ofMillis(50))
                },
            )
            client.use {
                coroutineScope {
                    val alerted = CompletableDeferred<Int>()
                    val watcher = launch(start = CoroutineStart.UNDISPATCHED) {
                        TokenExamples.watchCredentials(client, limit = 3) { alerted.complete(it) }
                    }
                    client.start()
                    withTimeout(15.seconds) { alerted.await() } shouldBe 401
                    (broker.refusedUpgrades() >= 3) shouldBe true
                    broker.acceptedUpgrades() shouldBe 0L
                    client.close()
                    withTimeout(10.seconds) { watcher.join() }
                }
            }
        }
    }
})

/** A client on [broker] with fast reconnects, not started. */
internal fun fastClient(broker: FakeBroker, handler: EnvelopeHandler = EnvelopeHandler { }): WsClient = WsClient(
    WsClientConfig(broker.url, handler) {
        authToken(broker.token)
        reconnectDelays(Duration.ofMillis(10), Duration.ofMillis(200))
    },
)

/** Receives until an element matches [predicate] and returns it. */
internal suspend fun <T> Channel<T>.receiveUntil(predicate: (T) -> Boolean): T {
    while (true) {
        val e = receive()
        if (predicate(e)) return e
    }
}
