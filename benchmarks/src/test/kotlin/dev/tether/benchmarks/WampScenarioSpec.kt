package dev.tether.benchmarks

import dev.tether.testkit.wamp.WampRouter
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.ints.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files

/**
 * The WAMP scenario runs end to end with tiny settings, against the embedded router and against a router named by
 * URL, and writes its section. Asserts the report's structure, never a timing.
 */
class WampScenarioSpec : FunSpec({
    fun tiny(vararg more: String) = arrayOf(
        "--scenario", "wamp", "--warmup", "0s", "--duration", "200ms", "--rounds", "1", "--requests", "100",
        "--in-flight", "1,4", *more,
    )

    test("the wamp scenario writes calls and events for WebSocket JSON, WebSocket MessagePack and RawSocket MessagePack") {
        val out = Files.createTempDirectory("tether-e2e-wamp").resolve("performance.md")
        Files.writeString(out, "# Perf\n\n${ReportFile.ANCHOR}\n\nhand-written tail\n")
        val args = tiny("--out", out.toString())
        EndToEnd.run(args, "wamp-smoke " + args.joinToString(" "), PrintStream(ByteArrayOutputStream(), true))

        val report = Files.readString(out)
        report shouldContain "hand-written tail"
        report shouldContain ReportFile.begin("wamp")
        report.indexOf(ReportFile.end("wamp")) shouldBeLessThan report.indexOf(ReportFile.ANCHOR)
        report shouldContain "wamp-smoke --scenario wamp"
        report shouldContain "### WAMP: calls and events through the testkit WampRouter"
        report shouldContain "| transport, serializer | calls/s at 1 | p50 at 1 | p99 at 1 | calls/s at 4 | p50 at 4 | p99 at 4 | events/s to one subscriber |"
        for (label in listOf("WebSocket, JSON", "WebSocket, MessagePack", "RawSocket, MessagePack")) {
            report shouldContain Regex("""\| $label \| \*\*[0-9,]+\*\* \| [^|]+ \| [^|]+ \| \*\*[0-9,]+\*\* \| [^|]+ \| [^|]+ \| \*\*[0-9,]+\*\* \|""")
            report shouldContain "#### $label: calls"
            report shouldContain "#### $label: events to one subscriber"
        }
    }

    test("--wamp-url measures another router with the serializations its scheme allows; a bad URL is a usage error") {
        WampRouter.start().use { router ->
            val out = Files.createTempDirectory("tether-e2e-wamp-url").resolve("performance.md")
            val args = tiny("--in-flight", "2", "--wamp-url", router.tcpUrl, "--wamp-realm", "realm1", "--out", out.toString())
            EndToEnd.run(args, "wamp-url-smoke", PrintStream(ByteArrayOutputStream(), true))
            val report = Files.readString(out)
            report shouldContain "### WAMP: calls and events through an external router"
            report shouldContain "the router at `${router.tcpUrl}`"
            report shouldContain "| RawSocket, MessagePack | **"
            report shouldNotContain "| WebSocket, JSON |"
        }
        shouldThrow<UsageException> {
            EndToEnd.run(tiny("--wamp-url", "ftp://127.0.0.1:1", "--out", Files.createTempFile("wamp", ".md").toString()))
        }.message shouldContain "--wamp-url"
        EndToEndOptions.parse(arrayOf("--wamp-url", "ws://h:1/", "--wamp-realm", "r")).let {
            it.wampUrl shouldBe "ws://h:1/"
            it.wampRealm shouldBe "r"
        }
    }
})
