package dev.tether.benchmarks

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.ints.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files
import kotlin.time.Duration.Companion.seconds

/**
 * The WAMP scenario runs end to end with tiny settings, against the embedded router and against a router named by
 * URL, and writes its section. Asserts the report's structure, never a timing.
 */
class WampScenarioSpec : FunSpec({
    fun tiny(vararg more: String) = arrayOf(
        "--scenario", "wamp", "--warmup", "0s", "--duration", "200ms", "--rounds", "1", "--requests", "100",
        "--in-flight", "1,4", *more,
    )

    test("the wamp scenario writes calls and events for JSON, MessagePack and CBOR over WebSocket and RawSocket") {
        val out = Files.createTempDirectory("tether-e2e-wamp").resolve("performance.md")
        Files.writeString(out, "# Perf\n\n${ReportFile.ANCHOR}\n\nhand-written tail\n")
        val args = tiny("--out", out.toString())
        EndToEnd.run(args, "wamp-smoke " + args.joinToString(" "), PrintStream(ByteArrayOutputStream(), true))

        val report = Files.readString(out)
        report shouldContain "hand-written tail"
        report shouldContain ReportFile.begin("wamp")
        report.indexOf(ReportFile.end("wamp")) shouldBeLessThan report.indexOf(ReportFile.ANCHOR)
        report shouldContain "wamp-smoke --scenario wamp"
        report shouldContain "### WAMP: calls and events through the testkit FakeWampRouter"
        report shouldContain "| transport, serializer | calls/s at 1 | p50 at 1 | p99 at 1 | calls/s at 4 | p50 at 4 " +
            "| p99 at 4 | events/s delivered to one subscriber | events lost |"
        val transports = listOf("WebSocket", "RawSocket")
        for (label in transports.flatMap { t -> listOf("JSON", "MessagePack", "CBOR").map { "$t, $it" } }) {
            // The testkit router, as nexus, drops EVENTs once 64 wait for the subscriber: a burst may lose some.
            report shouldContain Regex(
                """\| $label \| \*\*[0-9,]+\*\* \| [^|]+ \| [^|]+ \| \*\*[0-9,]+\*\* \| """ +
                    """[^|]+ \| [^|]+ \| \*\*[0-9,]+\*\* \| [0-9,]+ of [0-9,]+ \([0-9.]+ %\) \|""",
            )
            report shouldContain "#### $label: calls"
            report shouldContain "#### $label: events to one subscriber"
        }
        report shouldContain Regex(
            """\n\| 1 \| [0-9,]+ \| [0-9,]+ \| [^|]+ \| [^|]+ \| [0-9,]+ \| \*\*[0-9,]+\*\* """ +
                """\| [0-9,]+ of [0-9,]+ \([0-9.]+ %\) \| (end marker|quiet) \|""",
        )
    }

    test("--wamp-url measures another router with the serializations its scheme allows; a bad URL is a usage error") {
        FakeWampRouter.start().use { router ->
            val out = Files.createTempDirectory("tether-e2e-wamp-url").resolve("performance.md")
            val args =
                tiny("--in-flight", "2", "--wamp-url", router.tcpUrl, "--wamp-realm", "realm1", "--out", out.toString())
            EndToEnd.run(args, "wamp-url-smoke", PrintStream(ByteArrayOutputStream(), true))
            val report = Files.readString(out)
            report shouldContain "### WAMP: calls and events through an external router"
            report shouldContain "the router at `${router.tcpUrl}`"
            report shouldContain "| RawSocket, MessagePack | **"
            report shouldContain "| RawSocket, CBOR | **"
            report shouldNotContain "| WebSocket, JSON |"
        }
        shouldThrow<UsageException> {
            EndToEnd.run(
                tiny("--wamp-url", "ftp://127.0.0.1:1", "--out", Files.createTempFile("wamp", ".md").toString()),
            )
        }.message shouldContain "--wamp-url"
        EndToEndOptions.parse(arrayOf("--wamp-url", "ws://h:1/", "--wamp-realm", "r", "--wamp-wait", "3s")).let {
            it.wampUrl shouldBe "ws://h:1/"
            it.wampRealm shouldBe "r"
            it.wampWait shouldBe 3.seconds
        }
        EndToEndOptions.parse(emptyArray()).wampWait shouldBe 10.seconds
        shouldThrow<UsageException> { EndToEndOptions.parse(arrayOf("--wamp-wait", "0s")) }
    }

    // A router that drops EVENTs to a subscriber that falls behind (the nexus router does) must not hang the run:
    // the round's wait is bounded, and what did not arrive is reported as lost.
    fun lossyRun(drop: (Long) -> Boolean, vararg more: String): Pair<String, Long> =
        // A router queue that never fills: the proxy's drops are the only ones these cases count.
        FakeWampRouter.start(FakeWampRouterConfig.builder().outboundQueueSize(1_000_000).build()).use { router ->
            LossyRawSocketProxy(router.tcpUrl.substringAfterLast(':').toInt(), drop).use { proxy ->
                val out = Files.createTempDirectory("tether-e2e-wamp-lossy").resolve("performance.md")
                val args = tiny(
                    "--in-flight", "1", "--duration", "5s", "--wamp-url", proxy.url, "--out", out.toString(),
                    *more,
                )
                EndToEnd.run(args, "wamp-lossy-smoke", PrintStream(ByteArrayOutputStream(), true))
                Files.readString(out) to proxy.droppedEvents()
            }
        }

    test("events a router drops are counted as lost; the marker after them ends the wait") {
        // Every other EVENT on each connection is dropped: of 100 events, those with odd index; the marker (index 100)
        // arrives.
        val (report, dropped) = lossyRun({ it % 2 == 1L })
        dropped shouldBe 50
        report shouldContain "### WAMP: calls and events through an external router"
        report shouldContain Regex(
            """\| RawSocket, MessagePack \| \*\*[0-9,]+\*\* \| [^|]+ \| [^|]+ \| """ +
                """\*\*[0-9,]+\*\* \| 50 of 100 \(50\.00 %\) \|""",
        )
        report shouldContain Regex(
            """\n\| 1 \| 100 \| [0-9,]+ \| [^|]+ \| [^|]+ \| 50 \| \*\*[0-9,]+\*\* \| 50 of """ +
                """100 \(50\.00 %\) \| end marker \|""",
        )
    }

    test("a subscriber the router stops serving ends its round after the quiet time, with the rest counted lost") {
        // From the 11th EVENT on nothing reaches the subscriber, the marker included: only the quiet rule ends the
        // wait.
        val started = System.nanoTime()
        val (report, _) = lossyRun({ it >= 10 }, "--wamp-wait", "2s")
        (System.nanoTime() - started < 30_000_000_000L) shouldBe true
        report shouldContain Regex(
            """\| RawSocket, MessagePack \| \*\*[0-9,]+\*\* \| [^|]+ \| [^|]+ \| """ +
                """\*\*[0-9,]+\*\* \| 90 of 100 \(90\.00 %\) \|""",
        )
        report shouldContain Regex(
            """\n\| 1 \| 100 \| [0-9,]+ \| [^|]+ \| [^|]+ \| 10 \| \*\*[0-9,]+\*\* \| 90 of """ +
                """100 \(90\.00 %\) \| quiet \|""",
        )
        report shouldContain "after 1s without an event"
    }
})
