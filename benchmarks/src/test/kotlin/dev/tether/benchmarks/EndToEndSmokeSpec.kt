package dev.tether.benchmarks

import dev.tether.testkit.FakeBroker
import dev.tether.testkit.mux.FakeMuxServer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.throwables.shouldThrowExactly
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.doubles.shouldBeGreaterThan
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.ints.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.net.InetAddress
import java.net.ServerSocket
import java.nio.file.Files

/**
 * Proves the end-to-end runner works: every scenario with a tiny count, report written to a temp file. Asserts
 * the report's structure only, never a timing.
 */
class EndToEndSmokeSpec : FunSpec({
    test("every scenario runs with tiny counts and lands in its own section of the report") {
        val dir = Files.createTempDirectory("tether-e2e-smoke")
        val out = dir.resolve("performance.md")
        // An existing file: hand-written text outside the markers must survive, new sections go above the anchor.
        // Prose that quotes the anchor or a marker inline must not be taken for one.
        Files.writeString(
            out,
            "# Perf\n\nhand-written intro quoting `${ReportFile.ANCHOR}` and `${ReportFile.begin("raw-echo")}`\n\n" +
                "${ReportFile.ANCHOR}\n\nhand-written tail\n",
        )
        val args = arrayOf(
            "--scenario", "raw,wsclient,wsclient-lean,envelope-floor,heap,goal", "--warmup", "100ms",
            "--duration", "5s", "--rounds", "2", "--requests", "200",
            "--in-flight", "64", "--pending", "1000", "--heap-rounds", "1", "--out", out.toString(),
        )
        val log = ByteArrayOutputStream()
        EndToEnd.run(args, "smoke-command " + args.joinToString(" "), PrintStream(log, true))

        val report = Files.readString(out)
        report shouldContain "hand-written intro"
        report shouldContain "hand-written tail"
        val anchorLine = report.indexOf("\n" + ReportFile.ANCHOR + "\n")
        (anchorLine > report.indexOf("\n" + ReportFile.end("wsclient-goal") + "\n")) shouldBe true
        report.indexOf("\n" + ReportFile.begin("raw-echo") + "\n") shouldBeGreaterThan
            report.indexOf("hand-written intro")
        report shouldContain "smoke-command --scenario raw,wsclient,wsclient-lean,envelope-floor,heap,goal"
        val sections = listOf(
            "raw-echo",
            "wsclient-echo",
            "wsclient-lean-echo",
            "envelope-floor",
            "wsclient-pending-heap",
            "wsclient-goal",
        )
        for (name in sections) {
            report shouldContain ReportFile.begin(name)
            report shouldContain ReportFile.end(name)
        }
        report shouldContain "### Raw WebSocket echo (baseline)"
        report shouldContain "### wsclient request/response through FakeBroker `echo`"
        report shouldContain "### Diagnostic: wsclient against a minimal envelope echo"
        report shouldContain "### Diagnostic: the envelope floor"
        report shouldContain "### Heap per pending wsclient request"
        report shouldContain "### Goal: wsclient at 64 in flight"
        report shouldContain Regex("""\*\*(PASS|MISS)\*\*: wsclient through FakeBroker reaches""")
        // The goal's paired cycles: one row per --rounds cycle, each with a rate for all five loads and four ratios.
        report shouldContain Regex("""\n\| 2 \|( [0-9,]+ \|){5}( [0-9.]+ % \|){4}\n""")
        report shouldContain Regex("""The envelope floor, with none of wsclient's machinery, reaches [0-9.]+ %""")

        // A second run of one scenario rewrites its own section in place and leaves the others alone.
        EndToEnd.run(
            arrayOf(
                "--scenario", "raw", "--warmup", "0s", "--duration", "5s", "--rounds", "1", "--requests", "50",
                "--in-flight", "1", "--out", out.toString(),
            ),
            "second-command",
            PrintStream(log, true),
        )
        val again = Files.readString(out)
        again.split("\n" + ReportFile.begin("raw-echo") + "\n").size shouldBe 2
        again shouldContain "second-command"
        again shouldContain ReportFile.begin("wsclient-pending-heap")
        again shouldContain "smoke-command --scenario raw,wsclient,wsclient-lean,envelope-floor,heap,goal"
    }

    test("the mux and tunnel scenarios run end to end with tiny settings and write their sections") {
        val dir = Files.createTempDirectory("tether-e2e-smoke-mux")
        val out = dir.resolve("performance.md")
        Files.writeString(out, "# Perf\n\n${ReportFile.ANCHOR}\n\nhand-written tail\n")
        val args = arrayOf(
            "--scenario", "mux,tunnel", "--warmup", "100ms", "--duration", "5s", "--rounds", "1", "--requests", "100",
            "--heap-rounds", "1", "--mux-bytes", "192KiB", "--mux-streams", "4", "--mux-idle", "300",
            "--mux-read", "8KiB",
            "--tunnel-body", "300KiB", "--tunnel-viewers", "1,4", "--tunnel-timeout", "30s", "--out", out.toString(),
        )
        val log = ByteArrayOutputStream()
        EndToEnd.run(args, "mux-smoke " + args.joinToString(" "), PrintStream(log, true))

        val report = Files.readString(out)
        report shouldContain "hand-written tail"
        for (name in listOf("mux-throughput", "mux-idle-heap", "mux-goal", "tunnel")) {
            report shouldContain ReportFile.begin(name)
            report shouldContain ReportFile.end(name)
            report.indexOf(ReportFile.end(name)) shouldBeLessThan report.indexOf(ReportFile.ANCHOR)
        }
        report shouldContain "### wsmux stream throughput beside the raw WebSocket"
        report shouldContain "ask for at most 8 KiB per `read` call"
        // Every window, both directions, each beside its raw baseline; the concurrent streams; the goals' verdicts.
        for (w in listOf("1 KiB", "4 KiB", "64 KiB", "auto (1 KiB, up to 1 MiB)")) {
            report shouldContain Regex("""\| ${Regex.escape(w)} \| upload \|""")
            report shouldContain Regex("""\| ${Regex.escape(w)} \| download \|""")
        }
        // The raw WebSocket under each goal window's credit rule, both message sizes and directions, its ceiling row,
        // and the credit-rule goal's verdict at 4 KiB and 64 KiB.
        for (dir in listOf("upload", "download")) {
            for (m in listOf("64 KiB", "16 KiB")) report shouldContain Regex("""\| 64 KiB \| $dir \| $m \| \*\*""")
            for (m in listOf("4 KiB", "1 KiB")) report shouldContain Regex("""\| 4 KiB \| $dir \| $m \| \*\*""")
            report shouldContain Regex(
                """\| $dir: raw WebSocket under the same 64 KiB credit window \(\d+ KiB """ +
                    """messages\) / raw \| [0-9.]+ %""",
            )
            for (w in listOf("4 KiB", "64 KiB")) {
                // Each pairing: the client on Dispatchers.Default, and on the connection's I/O thread.
                for (where in listOf("", ", client on the I/O thread")) {
                    report shouldContain Regex(
                        """\| one stream, $dir$where, $w window: mux / raw WebSocket under the same """ +
                            """credit rule .*\| [0-9.]+ % .*\*\*(PASS|MISS)\*\*""",
                    )
                }
                report shouldContain Regex("""\| $w \| $dir, client on the I/O thread \| $w \| [^|]+ \| \*\*""")
            }
            for (m in listOf("64 KiB", "16 KiB")) {
                report shouldContain Regex("""\| 64 KiB \| $dir, client on the I/O thread \| $m \| \*\*""")
            }
        }
        report shouldContain Regex("""\| 4 \| upload \| \*\*""")
        report shouldContain Regex("""\| 4 \| download \| \*\*""")
        report shouldContain "### Heap per idle wsmux stream"
        report shouldContain Regex("""\| round 1 \| 300 \|""")
        report shouldContain Regex("""64 KiB window: mux / raw .*\*\*(PASS|MISS)\*\*""")
        report shouldContain Regex("""heap per idle open stream .*\*\*(PASS|MISS)\*\*""")
        report shouldContain "### Tunnel: TunnelClient.forward through FakeTunnelProxy"
        report shouldContain Regex("""\| download \(viewer GETs the body\) \| \*\*""")
        report shouldContain Regex("""\| upload \(viewer POSTs the body\) \| \*\*""")
        report shouldContain Regex("""\n\| 1 \| \*\*""")
        report shouldContain Regex("""\n\| 4 \| \*\*""")
        report shouldContain "mux-smoke --scenario mux,tunnel"
    }

    test(
        "--broker-url measures register round trips through a broker named by URL; scenarios that need the " +
            "benchmark's own peers are skipped",
    ) {
        // A FakeBroker started here stands in for an external broker: the runner knows only its URL and token.
        FakeBroker.start().use { broker ->
            val out = Files.createTempDirectory("tether-e2e-broker").resolve("performance.md")
            Files.writeString(out, "# Perf\n\n${ReportFile.ANCHOR}\n")
            val args = arrayOf(
                "--scenario", "raw,wsclient,wsclient-lean,envelope-floor,goal,heap", "--warmup", "0s",
                "--duration", "5s", "--rounds", "1", "--requests", "100", "--in-flight", "1,4",
                "--broker-url", broker.url, "--broker-token", broker.token, "--out", out.toString(),
            )
            val log = ByteArrayOutputStream()
            EndToEnd.run(args, "broker-smoke", PrintStream(log, true))

            val report = Files.readString(out)
            report shouldContain ReportFile.begin(BrokerRegister.SECTION)
            report shouldContain "### wsclient request/response: `register` → `register.ack` through an external broker"
            report shouldContain "The broker at `${broker.url}` (bearer token from `--broker-token`)"
            report shouldNotContain broker.token
            report shouldContain Regex("""\n\| 1 \| \*\*[0-9,]+\*\* \|.*\| 100 \|\n""")
            report shouldContain Regex("""\n\| 4 \| \*\*[0-9,]+\*\* \|.*\| 100 \|\n""")
            val skipped = listOf(
                "raw-echo",
                "wsclient-echo",
                "wsclient-lean-echo",
                "envelope-floor",
                "wsclient-goal",
                "wsclient-pending-heap",
            )
            for (name in skipped) {
                report shouldNotContain ReportFile.begin(name)
            }
            val text = log.toString()
            for (key in listOf("raw", "wsclient-lean", "envelope-floor", "goal", "heap")) {
                text shouldContain "EndToEnd: skipped $key: "
            }
            text shouldContain "has no echo kind"
            // Every request was a registration, acked (the runner checks each reply's kind).
            broker.received().count { it.kind == "register" } shouldBe 200
            broker.received().all { it.kind == "register" } shouldBe true
        }
    }

    test(
        "--mux-url measures stream echo through a wsmux echo server named by URL; the loopback-only figures are " +
            "skipped",
    ) {
        FakeMuxServer.start().use { server ->
            val out = Files.createTempDirectory("tether-e2e-mux-url").resolve("performance.md")
            val args = arrayOf(
                "--scenario", "mux", "--warmup", "0s", "--duration", "5s", "--rounds", "1", "--mux-bytes", "256KiB",
                "--mux-streams", "4", "--mux-windows", "64kib,4kib", "--mux-url", server.url, "--out", out.toString(),
            )
            val log = ByteArrayOutputStream()
            EndToEnd.run(args, "mux-url-smoke", PrintStream(log, true))

            val report = Files.readString(out)
            report shouldContain ReportFile.begin(MuxEchoScenario.SECTION)
            report shouldContain "### wsmux stream echo through an external server"
            report shouldContain "the wsmux echo server at `${server.url}`"
            report shouldContain Regex("""\| 64 KiB \| 1 \| 64 KiB \| \*\*[0-9.,]+\*\* \|""")
            report shouldContain Regex("""\| 4 KiB \| 1 \| 4 KiB \| \*\*[0-9.,]+\*\* \|""")
            report shouldContain Regex("""\| 64 KiB \| 4 \| 64 KiB \| \*\*[0-9.,]+\*\* \|""")
            report shouldContain "Not measured against an external server: the raw WebSocket baselines"
            for (name in listOf("mux-throughput", "mux-idle-heap", "mux-goal")) {
                report shouldNotContain ReportFile.begin(name)
            }
            log.toString() shouldContain "mux: skipped the heap per idle stream"
            // One stream per single-window round, four in the concurrent one; every echo arrived whole.
            server.acceptedStreamIds().size shouldBe 6
            server.streamErrors() shouldBe 0
            server.overrunsSeen() shouldBe 0
        }
    }

    test("a scenario that fails is reported and the others still run and land in the report") {
        val closedPort = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }
        val out = Files.createTempDirectory("tether-e2e-failure").resolve("performance.md")
        val args = arrayOf(
            "--scenario", "raw,mux", "--warmup", "0s", "--duration", "5s", "--rounds", "1", "--requests", "50",
            "--in-flight", "1", "--mux-url", "ws://127.0.0.1:$closedPort/", "--out", out.toString(),
        )
        val log = ByteArrayOutputStream()
        val failure = shouldThrow<ScenarioFailures> { EndToEnd.run(args, "failure-smoke", PrintStream(log, true)) }
        failure.scenarios shouldBe listOf("mux")
        val report = Files.readString(out)
        report shouldContain ReportFile.begin("raw-echo")
        report shouldNotContain ReportFile.begin(MuxEchoScenario.SECTION)
        log.toString() shouldContain "EndToEnd: mux FAILED, going on with the rest"
        log.toString() shouldContain "EndToEnd: wrote raw-echo to"
    }

    test(
        "the transport scenario measures Tether's transports and the Go client against one Go server, or says why not",
    ) {
        val out = Files.createTempDirectory("tether-e2e-transport").resolve("performance.md")
        Files.writeString(out, "# Perf\n\n${ReportFile.ANCHOR}\n")
        val args = arrayOf(
            "--scenario", "transport", "--warmup", "0s", "--duration", "100ms", "--rounds", "2",
            "--transport-loads", "pingpong-64b,upload-4kib,download-64kib-16kib", "--out", out.toString(),
        )
        val log = ByteArrayOutputStream()
        EndToEnd.run(args, "transport-smoke", PrintStream(log, true))
        val text = log.toString()
        val report = Files.readString(out)
        // No refpeer server or client outlives the run.
        ProcessHandle.current().descendants()
            .filter { it.info().command().orElse("").endsWith("/refpeer") }
            .count() shouldBe 0L
        when {
            GoRefPeer.findGo("go") == null -> {
                text shouldContain "EndToEnd: skipped transport: go not installed: install golang-go and " +
                    "golang-github-gorilla-websocket-dev"
                report shouldNotContain ReportFile.begin(TransportScenario.SECTION)
            }

            !GoRefPeer.gorillaInstalled() -> {
                text shouldContain "EndToEnd: skipped transport: github.com/gorilla/websocket not found"
                text shouldContain "golang-github-gorilla-websocket-dev"
                report shouldNotContain ReportFile.begin(TransportScenario.SECTION)
            }

            else -> {
                text shouldContain "transport: refpeer server at ws://127.0.0.1:"
                text shouldContain "transport pingpong-64b, round 2:"
                report shouldContain ReportFile.begin(TransportScenario.SECTION)
                report shouldContain ReportFile.end(TransportScenario.SECTION)
                report.indexOf(ReportFile.end(TransportScenario.SECTION)) shouldBeLessThan
                    report.indexOf(ReportFile.ANCHOR)
                report shouldContain "### Transport against the Go reference peer"
                report shouldContain "transport-smoke"
                for (c in TransportScenario.Load.PING_64.clients) {
                    // rate, range, ratio (1 for Go), paired range, p50, p99, context switches and CPU per round trip
                    report shouldContain Regex(
                        """\| ping-pong 64 B, 1 in flight \| ${Regex.escape(c.label)} \| """ +
                            """\*\*[0-9,]+\*\* \| [0-9,]+ – [0-9,]+ \| """ +
                            """(1|\*\*[0-9.]+×\*\*) \| [^|]+ \| [0-9.,]+ [µm]s \| [0-9.,]+ [µm]s \| """ +
                            """[0-9]+\.[0-9]{2} """ +
                            """\| [0-9.,]+ [µm]s \|\n""",
                    )
                }
                val windowed = listOf(Triple("upload", "4 KiB", "4 KiB"), Triple("download", "64 KiB", "16 KiB"))
                for ((dir, window, message) in windowed) {
                    for (c in TransportScenario.Load.UP_4K.clients) {
                        report shouldContain Regex(
                            """\| $dir \| $window \| $message \| ${Regex.escape(c.label)} """ +
                                """\| \*\*[0-9.,]+\*\* \| [0-9.,]+ – [0-9.,]+ \| """ +
                                """(1|\*\*[0-9.]+×\*\*) \| [^|]+ \| [0-9]+\.[0-9]{2} \| [0-9.,]+ [µm]s \|\n""",
                        )
                    }
                }
                report shouldContain Regex(
                    """\| ping-pong 64 B, 1 in flight \| [0-9.]+× \([0-9,]+ / [0-9,]+/s\) """ +
                        """\| ≥ 0\.8× \(stretch 1\.0×\) \| \*\*(PASS|MISS)\*\*""",
                )
                report shouldContain Regex(
                    """\| upload, 4 KiB window, 4 KiB messages \| [0-9.]+× \([0-9.,]+ / """ +
                        """[0-9.,]+ MB/s\) \| ≥ 1\.0× \| \*\*(PASS|MISS)\*\*""",
                )
                report shouldContain Regex(
                    """\| download, 64 KiB window, 16 KiB messages \| [0-9.]+× """ +
                        """.*\*\*(PASS|MISS)\*\*""",
                )
                report shouldContain "| ping-pong 1 KiB, 1 in flight | not measured in this run |"
                // Two interleaved rounds, the second in reverse order.
                report shouldContain Regex(
                    """pingpong-64b: 1: go [0-9,]+, netty-inline .* · 2: """ +
                        """ktor-default-caller [0-9,]+, .*, go [0-9,]+\.""",
                )
            }
        }
    }

    test("--go naming no go skips the transport scenario with the reason; the other scenarios still run") {
        val out = Files.createTempDirectory("tether-e2e-nogo").resolve("performance.md")
        val args = arrayOf(
            "--scenario", "raw,transport", "--go", "/nonexistent/go", "--warmup", "0s", "--duration", "5s",
            "--rounds", "1", "--requests", "50", "--in-flight", "1", "--out", out.toString(),
        )
        val log = ByteArrayOutputStream()
        EndToEnd.run(args, "nogo-smoke", PrintStream(log, true))
        val text = log.toString()
        text shouldContain "EndToEnd: skipped transport: go not installed: install golang-go and " +
            "golang-github-gorilla-websocket-dev (no executable /nonexistent/go)"
        text shouldContain "EndToEnd: wrote raw-echo to"
        text shouldContain "; skipped transport"
        val report = Files.readString(out)
        report shouldContain ReportFile.begin("raw-echo")
        report shouldNotContain ReportFile.begin(TransportScenario.SECTION)
    }

    test("the TCP window probe moves bytes under a credit window and streaming") {
        // A credit that never came back would end the windowed run with an exception after 10 s.
        TcpWindowProbe.run(65_536, 16_384, 0.05, 0.2) shouldBeGreaterThan 0.0
        TcpWindowProbe.run(0, 16_384, 0.05, 0.2) shouldBeGreaterThan 0.0
    }

    test("options: bad input is a usage error") {
        shouldThrowExactly<UsageException> { EndToEndOptions.parse(arrayOf("--scenario", "nope")) }
        shouldThrowExactly<UsageException> { EndToEndOptions.parse(arrayOf("--duration", "ten")) }
        shouldThrowExactly<UsageException> { EndToEndOptions.parse(arrayOf("--tunnel-body", "lots")) }
        EndToEndOptions.parse(arrayOf("--scenario", "all")).scenarios shouldContain Scenario.MUX
        EndToEndOptions.parse(arrayOf("--scenario", "all")).scenarios shouldContain Scenario.TUNNEL
        EndToEndOptions.parse(
            arrayOf(
                "--tunnel-body",
                "256MiB",
                "--mux-bytes",
                "64KiB",
                "--tunnel-proxy",
                "https://proxy.example",
                "--tunnel-secret",
                "s",
            ),
        ).let {
            it.tunnelBody shouldBe 256L * 1024 * 1024
            it.muxBytes shouldBe 64L * 1024
            it.muxRead shouldBe 16 * 1024
            it.tunnelProxy shouldBe "https://proxy.example"
            it.tunnelSecret shouldBe "s"
        }
        EndToEndOptions.parse(arrayOf("--mux-read", "0")).muxRead shouldBe 0
        EndToEndOptions.parse(arrayOf("--mux-read", "32KiB")).muxRead shouldBe 32 * 1024
        shouldThrowExactly<UsageException> { EndToEndOptions.parse(arrayOf("--mux-read", "-1")) }
        EndToEndOptions.parse(
            arrayOf(
                "--broker-url",
                "wss://broker.example/connect",
                "--broker-token",
                "t",
                "--mux-url",
                "ws://127.0.0.1:9/",
            ),
        ).let {
            it.brokerUrl shouldBe "wss://broker.example/connect"
            it.brokerToken shouldBe "t"
            it.muxUrl shouldBe "ws://127.0.0.1:9/"
            it.skipReason(Scenario.GOAL)!! shouldContain "no echo kind"
            it.skipReason(Scenario.WSCLIENT) shouldBe null
            it.skipReason(Scenario.MUX) shouldBe null
        }
        EndToEndOptions.parse(emptyArray()).let { o -> Scenario.entries.forEach { o.skipReason(it) shouldBe null } }
        for (bad in listOf(
            arrayOf("--broker-url", "http://broker.example/connect"),
            arrayOf("--broker-url", "not a url"),
            arrayOf("--broker-token", "t"),
            arrayOf("--mux-url", "tcp://127.0.0.1:9"),
            arrayOf("--mux-url", ""),
        )) {
            shouldThrow<UsageException> { EndToEndOptions.parse(bad) }
        }
        EndToEndOptions.parse(
            arrayOf("--go", "/opt/go/bin/go", "--transport-loads", "download-4kib,pingpong-64b"),
        ).let {
            it.goCommand shouldBe "/opt/go/bin/go"
            it.transportLoads shouldBe listOf(TransportScenario.Load.PING_64, TransportScenario.Load.DOWN_4K)
        }
        EndToEndOptions.parse(emptyArray()).transportLoads shouldBe TransportScenario.Load.entries
        EndToEndOptions.parse(arrayOf("--scenario", "all")).scenarios shouldContain Scenario.TRANSPORT
        for (bad in listOf(
            arrayOf("--go", ""),
            arrayOf("--transport-loads", "pingpong-2b"),
            arrayOf("--transport-loads", ","),
        )) {
            shouldThrow<UsageException> { EndToEndOptions.parse(bad) }
        }
        EndToEndOptions.parse(arrayOf("--scenario=raw,heap", "--in-flight", "1,8")).let {
            it.scenarios shouldBe listOf(Scenario.RAW, Scenario.HEAP)
            it.inFlight shouldBe listOf(1, 8)
        }
    }
})
