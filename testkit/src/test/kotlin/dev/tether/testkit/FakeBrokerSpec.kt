package dev.tether.testkit

import dev.tether.core.DialTimeoutException
import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.wsclient.Envelope
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.collections.shouldNotContain
import io.kotest.matchers.longs.shouldBeGreaterThanOrEqual
import io.kotest.matchers.nulls.shouldBeNull
import io.kotest.matchers.nulls.shouldNotBeNull
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import io.ktor.client.HttpClient
import io.ktor.client.engine.cio.CIO
import io.ktor.client.plugins.websocket.ClientWebSocketSession
import io.ktor.client.plugins.websocket.WebSockets
import io.ktor.client.plugins.websocket.cio.webSocketRawSession
import io.ktor.client.request.header
import io.ktor.http.HttpHeaders
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.close
import io.ktor.websocket.readReason
import io.ktor.websocket.readText
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.ClosedReceiveChannelException
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.io.BufferedInputStream
import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.net.InetSocketAddress
import java.net.Socket
import java.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource

/**
 * The fake broker against specs/nexus-wsclient.md ("Server (/connect) behaviour" and "Observed on the running
 * broker"), driven by raw HTTP over a socket (for the upgrade answers) and a raw Ktor WebSocket session (no automatic
 * pongs, so pings and close frames are visible).
 */
class FakeBrokerSpec : FunSpec({
    val http = HttpClient(CIO) { install(WebSockets) }
    afterSpec { http.close() }

    /** Opens a raw WebSocket to [broker]; [bearer] goes out as the Authorization header unless null. */
    suspend fun open(
        broker: FakeBroker,
        bearer: String? = broker.token,
        query: String? = null,
    ): ClientWebSocketSession = withTimeout(10.seconds) {
        http.webSocketRawSession(host = "127.0.0.1", port = broker.port, path = FakeBroker.PATH) {
            if (bearer != null) header(HttpHeaders.Authorization, "Bearer $bearer")
            if (query != null) url.parameters.append("token", query)
        }
    }

    context("upgrade answers") {
        test("a missing or wrong token gets 401 with body \"unauthorized\\n\"") {
            FakeBroker.start().use { broker ->
                val missing = upgrade(broker.port)
                missing.status shouldBe 401
                missing.body shouldBe "unauthorized\n"
                val wrong = upgrade(broker.port, headers = mapOf("Authorization" to "Bearer nope"))
                wrong.status shouldBe 401
                wrong.body shouldBe "unauthorized\n"
                broker.refusedUpgrades() shouldBe 2
                broker.acceptedUpgrades() shouldBe 0
            }
        }

        test("a good bearer token is accepted and recorded") {
            FakeBroker.start().use { broker ->
                upgrade(broker.port, headers = mapOf("Authorization" to "Bearer ${broker.token}")).status shouldBe 101
                broker.authorizationHeaders() shouldContainExactly listOf("Bearer test-token")
            }
        }

        test("?token= is accepted when there is no header") {
            FakeBroker.start().use { broker ->
                upgrade(broker.port, target = "/connect?token=${broker.token}").status shouldBe 101
            }
        }

        test("a wrong bearer plus a good query token is 401: the query counts only when the header yields none") {
            FakeBroker.start().use { broker ->
                val reply = upgrade(
                    broker.port,
                    "/connect?token=${broker.token}",
                    mapOf("Authorization" to "Bearer nope"),
                )
                reply.status shouldBe 401
                reply.body shouldBe "unauthorized\n"
            }
        }

        test("the Bearer prefix is case-sensitive") {
            FakeBroker.start().use { broker ->
                upgrade(broker.port, headers = mapOf("Authorization" to "bearer ${broker.token}")).status shouldBe 401
                upgrade(broker.port, headers = mapOf("Authorization" to "BEARER ${broker.token}")).status shouldBe 401
            }
        }

        test("a plain GET without upgrade gets 426; another method gets 405") {
            FakeBroker.start().use { broker ->
                upgrade(broker.port, upgradeHeaders = false).status shouldBe 426
                upgrade(
                    broker.port,
                    upgradeHeaders = false,
                    headers = mapOf("Authorization" to "Bearer ${broker.token}"),
                )
                    .status shouldBe 426
                upgrade(broker.port, method = "POST", headers = mapOf("Authorization" to "Bearer ${broker.token}"))
                    .status shouldBe 405
            }
        }

        test("an Origin that does not match the host gets 403; a matching one is accepted") {
            FakeBroker.start().use { broker ->
                val auth = "Authorization" to "Bearer ${broker.token}"
                upgrade(broker.port, headers = mapOf(auth, "Origin" to "http://evil.example")).status shouldBe 403
                upgrade(
                    broker.port,
                    headers = mapOf(auth, "Origin" to "http://127.0.0.1:${broker.port}"),
                ).status shouldBe 101
            }
        }

        test(
            "past the per-IP cap: 503 \"too many connections\\n\", 401 for a bad token, accepted again after a " +
                "close",
        ) {
            FakeBroker.start { maxConnections(10, 2) }.use { broker ->
                val first = open(broker)
                open(broker)
                withTimeout(10.seconds) { broker.awaitConnections(2) }
                val over = upgrade(broker.port, headers = mapOf("Authorization" to "Bearer ${broker.token}"))
                over.status shouldBe 503
                over.body shouldBe "too many connections\n"
                // Auth comes before the caps.
                upgrade(broker.port, headers = mapOf("Authorization" to "Bearer nope")).status shouldBe 401
                first.close(CloseReason(CloseReason.Codes.NORMAL, "client shutdown"))
                withTimeout(10.seconds) { broker.connectionCount.first { it < 2 } }
                upgrade(broker.port, headers = mapOf("Authorization" to "Bearer ${broker.token}")).status shouldBe 101
            }
        }

        test("past the total cap: 503") {
            FakeBroker.start { maxConnections(1, 32) }.use { broker ->
                open(broker)
                withTimeout(10.seconds) { broker.awaitConnections(1) }
                val over = upgrade(broker.port, headers = mapOf("Authorization" to "Bearer ${broker.token}"))
                over.status shouldBe 503
                over.body shouldBe "too many connections\n"
            }
        }
    }

    context("frames") {
        test("echo is answered echo.result with the same payload, in_reply_to and no id") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                val request = Envelope.request("echo", """{"n":1}""")
                ws.sendEnvelope(request)
                val text = ws.nextText()
                val reply = Envelope.decode(text)
                reply.kind shouldBe "echo.result"
                reply.inReplyTo shouldBe request.id
                reply.id.shouldBeNull()
                reply.payload shouldBe """{"n":1}"""
                text shouldContain "\"ts\":"
            }
        }

        test("register is acked with the exact payload; re-registering on the same session acks again") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                val request = Envelope.request("register", registration("keel"))
                ws.sendEnvelope(request)
                val ack = ws.nextEnvelope()
                ack.kind shouldBe "register.ack"
                ack.inReplyTo shouldBe request.id
                ack.id.shouldBeNull()
                ack.payload shouldBe """{"heartbeat_interval_s":10,"stale_after_s":30}"""
                broker.registeredNames() shouldBe setOf("keel")
                ws.sendEnvelope(Envelope.request("register", registration("keel")))
                ws.nextEnvelope().kind shouldBe "register.ack"
            }
        }

        test("register validation errors are register.error with {\"error\":…}") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                suspend fun errorFor(payload: String?): String {
                    val request = Envelope.request("register", payload)
                    ws.sendEnvelope(request)
                    val reply = ws.nextEnvelope()
                    reply.kind shouldBe "register.error"
                    reply.inReplyTo shouldBe request.id
                    return reply.payload!!
                }
                errorFor("""{"session_id":"s","provider":"p","context_mode":"global"}""") shouldBe
                    """{"error":"name required"}"""
                errorFor("""{"name":"a","provider":"p","context_mode":"global"}""") shouldBe
                    """{"error":"session_id required"}"""
                errorFor("""{"name":"a","session_id":"s","context_mode":"global"}""") shouldBe
                    """{"error":"provider required"}"""
                errorFor("""{"name":"a","session_id":"s","provider":"p"}""") shouldBe
                    """{"error":"context_mode required"}"""
                errorFor("""{"name":"a","session_id":"s","provider":"p","context_mode":"bogus"}""") shouldContain
                    "context_mode"
                val thread = """"name":"a","session_id":"s","provider":"p","context_mode":"thread""""
                errorFor("""{$thread,"port":65536}""") shouldContain "port"
                errorFor("""{$thread,"port":-1}""") shouldContain "port"
                errorFor(null) shouldContain "error"
                broker.registeredNames() shouldBe emptySet()
                for (mode in listOf("global", "thread", "stateless")) {
                    val payload =
                        """{"name":"n-$mode","session_id":"s","provider":"p","context_mode":"$mode","port":65535}"""
                    ws.sendEnvelope(Envelope.request("register", payload))
                    ws.nextEnvelope().kind shouldBe "register.ack"
                }
            }
        }

        test("the same name from another session is register.error; a closing socket deregisters") {
            FakeBroker.start().use { broker ->
                val first = open(broker)
                first.sendEnvelope(Envelope.request("register", registration("keel", session = "one")))
                first.nextEnvelope().kind shouldBe "register.ack"
                val second = open(broker)
                second.sendEnvelope(Envelope.request("register", registration("keel", session = "two")))
                val refused = second.nextEnvelope()
                refused.kind shouldBe "register.error"
                refused.payload!! shouldContain "error"
                first.close(CloseReason(CloseReason.Codes.NORMAL, "client shutdown"))
                withTimeout(10.seconds) { while ("keel" in broker.registeredNames()) delay(5) }
                second.sendEnvelope(Envelope.request("register", registration("keel", session = "two")))
                second.nextEnvelope().kind shouldBe "register.ack"
            }
        }

        test("deregister is answered with kind deregister, in_reply_to and no payload") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                ws.sendEnvelope(Envelope.request("register", registration("keel")))
                ws.nextEnvelope().kind shouldBe "register.ack"
                val request = Envelope.request("deregister")
                ws.sendEnvelope(request)
                val reply = ws.nextEnvelope()
                reply.kind shouldBe "deregister"
                reply.inReplyTo shouldBe request.id
                reply.payload.shouldBeNull()
                broker.registeredNames() shouldBe emptySet()
            }
        }

        test("unknown kinds and unmatched in_reply_to are dropped silently; replies keep request order") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                ws.sendEnvelope(Envelope.request("mystery.kind", """{"a":1}"""))
                ws.sendEnvelope(Envelope.response("echo.result", "01J0000000000000000000NONE"))
                val echo = Envelope.request("echo", "1")
                ws.sendEnvelope(echo)
                val reply = ws.nextEnvelope()
                reply.kind shouldBe "echo.result"
                reply.inReplyTo shouldBe echo.id
                broker.received().map { it.kind } shouldContainExactly listOf("mystery.kind", "echo.result", "echo")
            }
        }

        test("a server-initiated turn carries an id and target_aspect and completes with the client's turn.result") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                ws.sendEnvelope(Envelope.request("register", registration("keel")))
                ws.nextEnvelope().kind shouldBe "register.ack"
                coroutineScope {
                    val reply = async { broker.turn("keel", """{"text":"hi"}""", timeout = 10.seconds) }
                    val turn = ws.nextEnvelope()
                    turn.kind shouldBe "turn"
                    turn.id.shouldNotBeNull()
                    turn.targetAspect shouldBe "keel"
                    turn.payload shouldBe """{"text":"hi"}"""
                    ws.sendEnvelope(Envelope.response("turn.result", turn.id!!, """{"text":"done"}"""))
                    val result = withTimeout(10.seconds) { reply.await() }
                    result.kind shouldBe "turn.result"
                    result.payload shouldBe """{"text":"done"}"""
                }
            }
        }

        test(
            "16 undecodable frames in a row close with 1008; a decodable frame (even of an unknown kind) resets " +
                "the count",
        ) {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                val bad = listOf("not json", """{"id":"x"}""", """{"kind":""}""", "[]", """{"kind":7}""")
                repeat(15) { ws.send(Frame.Text(bad[it % bad.size])) }
                ws.sendEnvelope(Envelope.create("future.kind"))
                repeat(15) { ws.send(Frame.Text(bad[it % bad.size])) }
                val echo = Envelope.request("echo", "2")
                ws.sendEnvelope(echo)
                ws.nextEnvelope().inReplyTo shouldBe echo.id
                repeat(16) { ws.send(Frame.Text(bad[it % bad.size])) }
                val reason = ws.awaitCloseFrame()
                reason.shouldNotBeNull()
                reason.code shouldBe CloseReason.Codes.VIOLATED_POLICY.code
                reason.message shouldBe "too many bad frames"
            }
        }

        test("a message over maxMessageBytes closes with 1009; one at the limit is answered") {
            FakeBroker.start { maxMessageBytes(400) }.use { broker ->
                val ws = open(broker)
                val atLimit = Envelope.request("echo", """{"pad":"${"x".repeat(100)}"}""")
                (atLimit.encode().length <= 400) shouldBe true
                ws.sendEnvelope(atLimit)
                ws.nextEnvelope().inReplyTo shouldBe atLimit.id
                ws.send(Frame.Text("x".repeat(401)))
                val reason = ws.awaitCloseFrame()
                reason.shouldNotBeNull()
                reason.code shouldBe CloseReason.Codes.TOO_BIG.code // one frame: Ktor's frame limit; fragments: ours
            }
        }

        test("a binary frame closes with 1003 \"text frames only\" at once") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                ws.send(Frame.Binary(true, byteArrayOf(1, 2, 3)))
                val reason = ws.awaitCloseFrame()
                reason.shouldNotBeNull()
                reason.code shouldBe CloseReason.Codes.CANNOT_ACCEPT.code
                reason.message shouldBe "text frames only"
            }
        }
    }

    context("server pings") {
        test("carry a decimal counter \"1\", \"2\", \"3\" while they are answered") {
            FakeBroker.start {
                pingInterval(Duration.ofMillis(50))
                pongTimeout(Duration.ofSeconds(5))
            }.use { broker ->
                val ws = open(broker)
                val seen = ArrayList<String>()
                withTimeout(10.seconds) {
                    while (seen.size < 3) {
                        val frame = ws.incoming.receive()
                        if (frame is Frame.Ping) {
                            seen += frame.data.decodeToString()
                            ws.send(Frame.Pong(frame.data))
                        }
                    }
                }
                seen shouldContainExactly listOf("1", "2", "3")
                withTimeout(10.seconds) { broker.awaitAnsweredPings(3) }
                broker.answeredPings() shouldBe 3
            }
        }

        test("an unanswered ping closes the connection with 1001 \"ping failed\"") {
            FakeBroker.start {
                pingInterval(Duration.ofMillis(50))
                pongTimeout(Duration.ofMillis(200))
            }.use { broker ->
                val ws = open(broker)
                withTimeout(10.seconds) { broker.awaitConnections(1) }
                val reason = ws.awaitCloseFrame()
                reason.shouldNotBeNull()
                reason.code shouldBe CloseReason.Codes.GOING_AWAY.code
                reason.message shouldBe "ping failed"
                withTimeout(10.seconds) { broker.connectionCount.first { it == 0 } }
            }
        }

        test("the broker answers client pings until told to stop") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                ws.send(Frame.Ping("a".encodeToByteArray()))
                val pong = ws.nextNonText()
                pong.shouldBeInstanceOf<Frame.Pong>()
                pong.data.decodeToString() shouldBe "a"
                broker.faults.stopKeepalive(true)
                ws.send(Frame.Ping("b".encodeToByteArray()))
                val echo = Envelope.request("echo", "3")
                ws.sendEnvelope(echo)
                // Frames are handled in order: a pong for "b" would arrive before the echo reply.
                val next = withTimeout(10.seconds) { ws.incoming.receive() }
                next.shouldBeInstanceOf<Frame.Text>()
                Envelope.decode(next.readText()).inReplyTo shouldBe echo.id
            }
        }
    }

    context("faults") {
        test("refuseNext answers the next N upgrades with the status, then accepts again") {
            FakeBroker.start().use { broker ->
                broker.faults.refuseNext(2, 503)
                val auth = mapOf("Authorization" to "Bearer ${broker.token}")
                upgrade(broker.port, headers = auth).status shouldBe 503
                upgrade(broker.port, headers = auth).status shouldBe 503
                upgrade(broker.port, headers = auth).status shouldBe 101
                broker.refusedUpgrades() shouldBe 2
            }
        }

        test("blackHole makes dials time out; turning it off lets them through") {
            FakeBroker.start().use { broker ->
                broker.faults.blackHole(true)
                val config = DialerConfig(broker.url) {
                    token(broker.token)
                    dialTimeout(300.milliseconds)
                }
                WebSocketDialer(config).use { dialer ->
                    shouldThrow<DialTimeoutException> { dialer.dial() }
                    broker.faults.blackHole(false)
                    val connection = dialer.dial()
                    connection.isOpen shouldBe true
                    connection.close(1000, "client shutdown")
                }
            }
        }

        test("latency delays every inbound frame") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                broker.faults.latency(Duration.ofMillis(300))
                val started = TimeSource.Monotonic.markNow()
                ws.sendEnvelope(Envelope.request("echo", "4"))
                ws.nextEnvelope().kind shouldBe "echo.result"
                started.elapsedNow().inWholeMilliseconds shouldBeGreaterThanOrEqual 300L
            }
        }

        test("dropAfterFrames drops the connection that receives the N-th frame, without a close frame") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                broker.faults.dropAfterFrames(3)
                val first = Envelope.request("echo", "1")
                val second = Envelope.request("echo", "2")
                ws.sendEnvelope(first)
                ws.sendEnvelope(second)
                ws.sendEnvelope(Envelope.request("echo", "3"))
                ws.nextEnvelope().inReplyTo shouldBe first.id
                ws.nextEnvelope().inReplyTo shouldBe second.id
                ws.awaitCloseFrame().shouldBeNull()
                broker.received().map { it.payload } shouldContainExactly listOf("1", "2")
            }
        }

        test("dropAll drops every live connection and says how many") {
            FakeBroker.start().use { broker ->
                val a = open(broker)
                val b = open(broker)
                withTimeout(10.seconds) { broker.awaitConnections(2) }
                broker.faults.dropAll() shouldBe 2
                broker.faults.dropAll() shouldBe 0 // the dropped connections may still be listed: not counted twice
                a.awaitCloseFrame().shouldBeNull()
                b.awaitCloseFrame().shouldBeNull()
                withTimeout(10.seconds) { broker.connectionCount.first { it == 0 } }
            }
        }

        test("rotateCredentials keeps live connections and refuses the old token on the next upgrade") {
            FakeBroker.start().use { broker ->
                val ws = open(broker)
                broker.rotateCredentials("fresh")
                broker.token shouldBe "fresh"
                upgrade(broker.port, headers = mapOf("Authorization" to "Bearer test-token")).status shouldBe 401
                upgrade(broker.port, headers = mapOf("Authorization" to "Bearer fresh")).status shouldBe 101
                val echo = Envelope.request("echo", "5")
                ws.sendEnvelope(echo)
                ws.nextEnvelope().inReplyTo shouldBe echo.id
                broker.authorizationHeaders() shouldContain "Bearer fresh"
                broker.authorizationHeaders() shouldNotContain "Bearer nope"
            }
        }
    }
})

/** What the broker answered to one HTTP request. */
private class HttpReply(val status: Int, val headers: Map<String, String>, val body: String)

/**
 * Sends one HTTP/1.1 request to the broker over a plain socket and reads the answer: status, headers and (for a
 * non-101 answer) the Content-Length body. With [upgradeHeaders] the request is a WebSocket upgrade.
 */
private suspend fun upgrade(
    port: Int,
    target: String = FakeBroker.PATH,
    headers: Map<String, String> = emptyMap(),
    method: String = "GET",
    upgradeHeaders: Boolean = true,
): HttpReply = withContext(Dispatchers.IO) {
    Socket().use { socket ->
        socket.soTimeout = 10_000
        socket.connect(InetSocketAddress("127.0.0.1", port), 10_000)
        val request = buildString {
            append("$method $target HTTP/1.1\r\n")
            append("Host: 127.0.0.1:$port\r\n")
            if (upgradeHeaders) {
                append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
                append("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
            }
            if (method != "GET") append("Content-Length: 0\r\n")
            for ((k, v) in headers) append("$k: $v\r\n")
            append("\r\n")
        }
        socket.getOutputStream().apply {
            write(request.encodeToByteArray())
            flush()
        }
        val input = BufferedInputStream(socket.getInputStream())
        val statusLine = input.readLine()
        val status = statusLine.split(' ')[1].toInt()
        val responseHeaders = LinkedHashMap<String, String>()
        while (true) {
            val line = input.readLine()
            if (line.isEmpty()) break
            responseHeaders[line.substringBefore(':').trim().lowercase()] = line.substringAfter(':').trim()
        }
        val length = responseHeaders["content-length"]?.toInt() ?: 0
        val body = if (status == 101) "" else input.readNBytes(length).decodeToString()
        HttpReply(status, responseHeaders, body)
    }
}

private fun InputStream.readLine(): String {
    val out = ByteArrayOutputStream()
    while (true) {
        val b = read()
        check(b >= 0) { "connection closed in the middle of the HTTP answer" }
        if (b == '\n'.code) break
        if (b != '\r'.code) out.write(b)
    }
    return out.toByteArray().decodeToString()
}

private fun registration(name: String, session: String = "s-$name"): String =
    """{"name":"$name","session_id":"$session","provider":"test","context_mode":"stateless"}"""

private suspend fun ClientWebSocketSession.sendEnvelope(envelope: Envelope) = send(Frame.Text(envelope.encode()))

/** The next text message (pings are skipped; they are not answered). */
private suspend fun ClientWebSocketSession.nextText(): String = withTimeout(10.seconds) {
    while (true) {
        val frame = incoming.receive()
        if (frame is Frame.Text) return@withTimeout frame.readText()
        check(frame is Frame.Ping) { "expected a text frame, got $frame" }
    }
    @Suppress("UNREACHABLE_CODE")
    error("unreachable")
}

private suspend fun ClientWebSocketSession.nextEnvelope(): Envelope = Envelope.decode(nextText())

private suspend fun ClientWebSocketSession.nextNonText(): Frame = withTimeout(10.seconds) {
    while (true) {
        val frame = incoming.receive()
        if (frame !is Frame.Text) return@withTimeout frame
    }
    @Suppress("UNREACHABLE_CODE")
    error("unreachable")
}

/**
 * Reads until the connection ends: the close frame's reason, or null when the connection ended without one.
 * Text frames and pings on the way are skipped.
 */
private suspend fun ClientWebSocketSession.awaitCloseFrame(): CloseReason? = withTimeout(10.seconds) {
    while (true) {
        val frame = try {
            incoming.receive()
        } catch (e: ClosedReceiveChannelException) {
            return@withTimeout null
        } catch (e: kotlinx.coroutines.CancellationException) {
            throw e // our own timeout, not the end of the connection
        } catch (e: java.io.IOException) {
            return@withTimeout null // the socket was cut
        }
        if (frame is Frame.Close) return@withTimeout frame.readReason()
    }
    @Suppress("UNREACHABLE_CODE")
    error("unreachable")
}
