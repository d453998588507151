package dev.tether.benchmarks

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import dev.tether.relay.AuthToken
import dev.tether.relay.ConnClosedException
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayHandshakeException
import dev.tether.relay.TokenStore
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.serializer.Serialization
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.ints.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream
import java.io.OutputStream
import java.io.PrintStream
import java.nio.file.Files
import java.util.UUID
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * The protocols scenario runs end to end with tiny settings (or says why not), and the Go reference peer's protocol
 * servers are correct on the wire as Tether's own clients see them: the broker's replies, wsmux credit accounting
 * both ways under windows far smaller than the bytes moved, the relay's token check, peer-state notifications and
 * forwarding, the WAMP router's built-in procedure, routed calls and errors. Where `go` or gorilla/websocket is not
 * installed the peer tests say so and pass. Never asserts a timing.
 */
class ProtocolsScenarioSpec : FunSpec({
    val secret = "spec-" + UUID.randomUUID()
    var server: GoRefPeer.Server? = null
    var skipped: String? = null

    afterSpec { server?.close() }

    /**
     * The base URL of this spec's refpeer server, started on first use (after the scenario tests, which build the
     * binary themselves: never rebuilt while it runs), or null, with the reason printed, where it cannot be built.
     */
    fun base(): String? {
        if (server == null && skipped == null) {
            try {
                server = GoRefPeer.build("go", PrintStream(OutputStream.nullOutputStream()))
                    .startServer(listOf("-relay-secret", secret))
            } catch (e: ScenarioSkipped) {
                skipped = e.reason
            }
        }
        return server?.url ?: null.also { println("refpeer protocol servers not tested: $skipped") }
    }

    val bound = 30.seconds

    test("the protocols scenario measures every protocol beside the raw transport on one Go server, or says why not") {
        val out = Files.createTempDirectory("tether-e2e-protocols").resolve("performance.md")
        Files.writeString(out, "# Perf\n\n${ReportFile.ANCHOR}\n")
        val args = arrayOf(
            "--scenario", "protocols", "--warmup", "0s", "--duration", "100ms", "--rounds", "2",
            "--out", out.toString(),
        )
        val log = ByteArrayOutputStream()
        EndToEnd.run(args, "protocols-smoke", PrintStream(log, true))
        val text = log.toString()
        val report = Files.readString(out)
        // No refpeer server or client of the run outlives it.
        ProcessHandle.current().descendants()
            .filter { it.info().command().orElse("").endsWith("/refpeer") }
            .count() shouldBe 0L
        when {
            GoRefPeer.findGo("go") == null -> {
                text shouldContain "EndToEnd: skipped protocols: go not installed: install golang-go and " +
                    "golang-github-gorilla-websocket-dev"
                report shouldNotContain ReportFile.begin(ProtocolsScenario.SECTION)
            }

            !GoRefPeer.gorillaInstalled() -> {
                text shouldContain "EndToEnd: skipped protocols: github.com/gorilla/websocket not found"
                report shouldNotContain ReportFile.begin(ProtocolsScenario.SECTION)
            }

            else -> {
                text shouldContain "protocols: refpeer server at ws://127.0.0.1:"
                report shouldContain ReportFile.begin(ProtocolsScenario.SECTION)
                report.indexOf(ReportFile.end(ProtocolsScenario.SECTION)) shouldBeLessThan
                    report.indexOf(ReportFile.ANCHOR)
                report shouldContain "### Protocols against the raw transport (Go reference peer)"
                report shouldContain "protocols-smoke"
                val row = """\*\*[0-9,]+\*\* \| [0-9,]+ – [0-9,]+ \| [0-9.,]+ [µm]s \| [0-9.,]+ [µm]s \| [0-9.,]+ """ +
                    """[µm]s \| [0-9]+\.[0-9]{2} \| [0-9.,]+ [µm]s \|\n"""
                for (p in ProtocolsScenario.Protocol.entries) {
                    val bytes = ProtocolsScenario.requestBytes(p)
                    report shouldContain Regex(
                        """\| ${p.key} \| raw[^|]*inline on the event loop \| $bytes B """ +
                            """\| $row""",
                    )
                    report shouldContain Regex("""\| ${p.key} \| raw[^|]*`Dispatchers.Default` \| $bytes B \| $row""")
                    report shouldContain Regex(
                        """\| ${p.key} \| ${p.key}, caller on `Dispatchers.Default` """ +
                            """\| $bytes B \| $row""",
                    )
                    report shouldContain Regex(
                        """\| ${p.key} \| protocol floor: raw, speaking ${p.key} to its """ +
                            """server, caller on `connection.dispatcher` \(diagnostic\) \| $bytes B \| $row""",
                    )
                    report shouldContain Regex(
                        """\| ${p.key} \| caller on `Dispatchers.Default` \| [+−][0-9.,]+ """ +
                            """[µm]s \| [+−][0-9.,]+ [µm]s \| [+−][0-9.,]+ [µm]s \|\n""",
                    )
                    // Each pairing has a verdict, or says why the client's own dispatcher was not measured.
                    report shouldContain Regex(
                        """\| ${p.key} \| caller on `Dispatchers.Default` \| .* \| """ +
                            """\*\*(PASS|MISS)\*\*[^|]* \|\n""",
                    )
                    report shouldContain Regex(
                        """\| ${p.key} \| caller on the I/O thread [^|]* \| (.* \| """ +
                            """\*\*(PASS|MISS)\*\*[^|]*|– \| – \| – \| – \| – \| – \| not measured: .*) \|\n""",
                    )
                }
                for (p in listOf("wsclient", "wsmux", "relay")) {
                    report shouldContain Regex(
                        """\| $p \| $p, caller on the client's `dispatcher` \| [0-9]+ B """ +
                            """\| $row""",
                    )
                }
                for (p in listOf("relay", "wamp-callee")) {
                    report shouldContain Regex(
                        """\| $p \| raw, 1 hop """ +
                            """\(`/echo`\), caller on `connection.dispatcher` \(reference\) \|""",
                    )
                }
                // Two interleaved rounds, the second in reverse order.
                report shouldContain Regex(
                    """wsclient: 1: raw-inline [0-9,]+, .*proto-default [0-9,]+ · 2: """ +
                        """proto-default [0-9,]+, .*raw-inline [0-9,]+\.""",
                )
            }
        }
    }

    test("--go naming no go skips the protocols scenario with the reason; the other scenarios still run") {
        val out = Files.createTempDirectory("tether-e2e-protocols-nogo").resolve("performance.md")
        val args = arrayOf(
            "--scenario", "raw,protocols", "--go", "/nonexistent/go", "--warmup", "0s", "--duration", "5s",
            "--rounds", "1", "--requests", "50", "--in-flight", "1", "--out", out.toString(),
        )
        val log = ByteArrayOutputStream()
        EndToEnd.run(args, "protocols-nogo-smoke", PrintStream(log, true))
        val text = log.toString()
        text shouldContain "EndToEnd: skipped protocols: go not installed: install golang-go and " +
            "golang-github-gorilla-websocket-dev (no executable /nonexistent/go)"
        text shouldContain "; skipped protocols"
        val report = Files.readString(out)
        report shouldContain ReportFile.begin("raw-echo")
        report shouldNotContain ReportFile.begin(ProtocolsScenario.SECTION)
    }

    test("options: --protocols picks protocols") {
        EndToEndOptions.parse(arrayOf("--protocols", "relay,wsclient")).protocols shouldBe
            listOf(ProtocolsScenario.Protocol.WSCLIENT, ProtocolsScenario.Protocol.RELAY)
        EndToEndOptions.parse(emptyArray()).protocols shouldBe ProtocolsScenario.Protocol.entries
        EndToEndOptions.parse(arrayOf("--scenario", "all")).scenarios.contains(Scenario.PROTOCOLS) shouldBe true
        for (bad in listOf(arrayOf("--protocols", "mqtt"), arrayOf("--protocols", ","))) {
            shouldThrow<UsageException> { EndToEndOptions.parse(bad) }
        }
        ProtocolsScenario.verdict(1.29, 1.1) shouldBe "**PASS**"
        ProtocolsScenario.verdict(1.31, 1.1) shouldBe "**MISS** (mean)"
        ProtocolsScenario.verdict(1.2, 1.5) shouldBe "**MISS** (p50)"
    }

    test("refpeer /broker answers each request envelope with <kind>.result, in_reply_to and the payload") {
        val url = base() ?: return@test
        val client = WsClient(WsClientConfig("$url/broker", EnvelopeHandler { }) { requestTimeout(10.seconds) })
        try {
            withTimeout(bound) {
                client.start()
                client.awaitConnected()
                val echo = client.request(Envelope.request("echo", """{"a":[1,"<b>"],"n":null}"""))
                echo.kind shouldBe "echo.result"
                echo.payload shouldBe """{"a":[1,"\u003cb\u003e"],"n":null}"""
                echo.id shouldBe null
                echo.ts.year shouldNotBe 1
                val other = Envelope.request("register", """{"name":"x"}""")
                val reply = client.request(other)
                reply.kind shouldBe "register.result"
                reply.inReplyTo shouldBe other.id
                client.request(Envelope.request("empty", null as String?)).payload shouldBe null
            }
        } finally {
            client.closeAndJoin()
        }
    }

    test(
        "refpeer /mux echoes streams with credit both ways: far more bytes than the windows, several streams, FIN " +
            "answered",
    ) {
        val url = base() ?: return@test
        for ((query, config) in listOf(
            "" to MuxConfig.DEFAULT, // 1024-byte buffers both ways, the acceptor starts at min(1024, 1024)
            // the acceptor's buffer is bigger than the opener's: it must still start at 1024
            "?buffer=4096" to MuxConfig.DEFAULT,
            "?buffer=4096&peer-capacity=65536" to MuxConfig {
                streamBufferSize(65536)
                peerCapacity(4096)
            },
        )) {
            val dialer = WebSocketDialer(DialerConfig("$url/mux$query") { pingInterval(Duration.ZERO) })
            try {
                withTimeout(bound) {
                    val session = MuxSession.client(dialer.dial(), config)
                    try {
                        coroutineScope {
                            (1..3).map { s ->
                                async(Dispatchers.Default) {
                                    val stream = session.open()
                                    val data = Random(s).nextBytes(200_000 + s)
                                    val writer = launch {
                                        var at = 0
                                        while (at < data.size) {
                                            val n = minOf(5000, data.size - at)
                                            stream.write(data, at, n)
                                            at += n
                                        }
                                        stream.close() // FIN: the echo answers with its own once it has sent everything
                                    }
                                    val back = ByteArray(data.size)
                                    var got = 0
                                    while (got < back.size) {
                                        val n = stream.read(back, got, minOf(3000, back.size - got))
                                        if (n < 0) break
                                        got += n
                                    }
                                    stream.read(ByteArray(1)) shouldBe -1 // the echo's FIN, after everything
                                    writer.join()
                                    got shouldBe data.size
                                    back.contentEquals(data) shouldBe true
                                }
                            }.awaitAll()
                        }
                    } finally {
                        session.close()
                    }
                }
            } finally {
                dialer.close()
            }
        }
    }

    test(
        "refpeer /relay checks tokens, tells a waiting peer when the other logs in and leaves, forwards Transport " +
            "both ways",
    ) {
        val url = base() ?: return@test
        val relay = "rel://" + url.removePrefix("ws://")
        val wrong = RelayClient(relay, TokenStore(AuthToken.generate("not-$secret")), "intruder")
        try {
            shouldThrow<RelayHandshakeException> { withTimeout(bound) { wrong.connect() } }
        } finally {
            withContext(Dispatchers.IO) { wrong.close() }
        }
        val a = RelayClient(relay, TokenStore(AuthToken.generate(secret)), "peer-a")
        val b = RelayClient(relay, TokenStore(AuthToken.generate(secret)), "peer-b")
        try {
            withTimeout(bound) {
                a.connect()
                a.serverInstanceUrl() shouldBe relay
                // A waits for B before B has logged in: the relay must announce B's login.
                val toB = async { a.openConn("peer-b") }
                b.connect()
                val toA = b.openConn("peer-a")
                val ab = toB.await()
                for (i in 0 until 50) {
                    val m = "ping $i".encodeToByteArray()
                    ab.write(m)
                    toA.read().decodeToString() shouldBe "ping $i"
                    toA.write("pong $i".encodeToByteArray())
                    ab.read().decodeToString() shouldBe "pong $i"
                }
                b.closeAndJoin() // B's session ends: A is told B went offline
                shouldThrow<ConnClosedException> { ab.read() }
            }
        } finally {
            withContext(Dispatchers.IO) {
                a.close()
                b.close()
            }
        }
    }

    test("refpeer /wamp: the built-in bench.echo, a call routed to a callee and back, the router's errors") {
        val url = base() ?: return@test
        val config = SessionConfig("realm1") {
            serialization(Serialization.JSON)
            responseTimeout(10.seconds)
            callTimeout(10.seconds)
        }
        withTimeout(bound) {
            val callee = WampSession.connect("$url/wamp", config)
            val caller = WampSession.connect("$url/wamp", config)
            try {
                (caller.realmDetails["roles"] as Map<*, *>).keys shouldBe setOf("dealer", "broker")
                val echo = caller.call("bench.echo", listOf(1, "two"), mapOf("k" to "v"))
                echo.args.map { WampValues.asLong(it) ?: it } shouldContainExactly listOf(1L, "two")
                echo.kwargs shouldBe mapOf("k" to "v")
                shouldThrow<RpcException> { caller.call("bench.nothing") }.error shouldBe "wamp.error.no_such_procedure"
                callee.register("bench.double") { inv -> InvokeResult(listOf(2 * WampValues.asLong(inv.args[0])!!)) }
                callee.register("bench.fail") { throw RpcException("app.error.nope", listOf("no")) }
                shouldThrow<WampErrorException> { caller.register("bench.double") { InvokeResult() } }.error shouldBe
                    "wamp.error.procedure_already_exists"
                WampValues.asLong(caller.call("bench.double", listOf(21)).args[0]) shouldBe 42L
                shouldThrow<RpcException> { caller.call("bench.fail") }.error shouldBe "app.error.nope"
                callee.unregister("bench.double")
                shouldThrow<RpcException> { caller.call("bench.double", listOf(1)) }.error shouldBe
                    "wamp.error.no_such_procedure"
            } finally {
                withContext(Dispatchers.IO) {
                    caller.close()
                    callee.close()
                }
            }
            // The callee has left: its registrations went with it.
            val again = WampSession.connect("$url/wamp", config)
            try {
                shouldThrow<RpcException> { again.call("bench.fail") }.error shouldBe "wamp.error.no_such_procedure"
            } finally {
                withContext(Dispatchers.IO) { again.close() }
            }
        }
    }
})
