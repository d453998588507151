package dev.tether.benchmarks

import dev.tether.testkit.relay.FakeRelayServer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.ints.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files

/**
 * The relay scenario runs end to end with tiny settings, against the embedded fake and against a relay named by
 * URL and secret, and writes its section. Asserts the report's structure and the drop accounting, never a timing.
 */
class RelayScenarioSpec : FunSpec({
    fun tiny(vararg more: String) = arrayOf(
        "--scenario", "relay", "--warmup", "100ms", "--duration", "5s", "--rounds", "1", "--requests", "200",
        "--in-flight", "1,4", "--relay-small", "100", *more,
    )

    test("the relay scenario writes its section: throughput and drops per mode, ping-pong beside the raw echo") {
        val out = Files.createTempDirectory("tether-e2e-relay").resolve("performance.md")
        Files.writeString(out, "# Perf\n\n${ReportFile.ANCHOR}\n\nhand-written tail\n")
        val args = tiny("--out", out.toString())
        EndToEnd.run(args, "relay-smoke " + args.joinToString(" "), PrintStream(ByteArrayOutputStream(), true))

        val report = Files.readString(out)
        report shouldContain "hand-written tail"
        report shouldContain ReportFile.begin("relay")
        report.indexOf(ReportFile.end("relay")) shouldBeLessThan report.indexOf(ReportFile.ANCHOR)
        report shouldContain "relay-smoke --scenario relay"
        report shouldContain "### Relay: two peers through FakeRelayServer"
        // 8 KiB and the small size, each in both relay modes and raw; backpressure loses nothing.
        for (size in listOf("8,192 B", "100 B")) {
            report shouldContain Regex(
                """\| $size \| relay, backpressure mode \| \*\*[0-9.,]+\*\* \| [0-9,]+ \| .* \| 0 of 200 \(0\.00 """ +
                    """%\) \|""",
            )
            report shouldContain Regex(
                """\| $size \| relay, datagram mode \(queue 100, drops when full\) \| \*\*[0-9.,]+\*\* \| .* \| """ +
                    """[0-9,]+ of 200 \(""",
            )
            report shouldContain Regex("""\| $size \| raw WebSocket \(baseline\) \| \*\*""")
        }
        for (n in listOf(1, 4)) {
            report shouldContain Regex("""\| $n \| relay \| \*\*[0-9,]+\*\* \|.*\| 0 of 200 \(0\.00 %\) \| 200 \|""")
            report shouldContain Regex("""\| $n \| raw WebSocket echo \| \*\*[0-9,]+\*\* \|.*\| 200 \|""")
        }
    }

    test("--relay-url and --relay-secret measure another relay; bad relay options are usage errors") {
        FakeRelayServer.start().use { relay ->
            val out = Files.createTempDirectory("tether-e2e-relay-url").resolve("performance.md")
            val args =
                tiny(
                    "--in-flight",
                    "1",
                    "--relay-url",
                    relay.url,
                    "--relay-secret",
                    relay.secret,
                    "--out",
                    out.toString(),
                )
            EndToEnd.run(args, "relay-url-smoke", PrintStream(ByteArrayOutputStream(), true))
            val report = Files.readString(out)
            report shouldContain "### Relay: two peers through an external relay"
            report shouldContain "The relay at `${relay.url}`"
            (relay.acceptedLogins() > 0) shouldBe true
        }
        val dir = Files.createTempDirectory("tether-e2e-relay-bad")
        for (bad in listOf(
            arrayOf("--relay-url", "rel://127.0.0.1:1"),
            arrayOf("--relay-url", "http://127.0.0.1:1", "--relay-secret", "s"),
            arrayOf("--relay-payload", "9000"),
            arrayOf("--relay-small", "8"),
        )) {
            shouldThrow<UsageException> {
                EndToEnd.run(
                    tiny("--out", dir.resolve("x.md").toString(), *bad),
                    "bad",
                    PrintStream(ByteArrayOutputStream(), true),
                )
            }
        }
        EndToEndOptions.parse(arrayOf("--relay-payload", "4KiB", "--relay-small", "32")).let {
            it.relayPayload shouldBe 4096
            it.relaySmall shouldBe 32
        }
        EndToEndOptions.parse(arrayOf("--scenario", "all")).scenarios.contains(Scenario.RELAY) shouldBe true
    }
})
