package dev.tether.benchmarks.scale

import dev.tether.benchmarks.ReportFile
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.longs.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The load-at-scale runner with tiny loads (20 connections, 200 streams on one session and 2 sessions of 100, 20 WAMP
 * sessions with 200 subscriptions, 20 relay peers) against the servers in their child JVM: every load opens all it
 * was asked to, holds a rate with operations completing, closes without a failure, and lands in the report's
 * `scale` section without disturbing the rest of the file. Asserts structure and counts, never a timing.
 */
class ScaleSmokeSpec : FunSpec({
    test("tiny loads against the child JVM's servers produce the scale section with no failures") {
        val out = Files.createTempDirectory("tether-scale-smoke").resolve("performance.md")
        Files.writeString(out, "# Perf\n\nhand-written intro\n\n${ReportFile.ANCHOR}\n\nhand-written tail\n")
        val options =
            ScaleOptions(divisor = 50, out = out, warm = 200.milliseconds, hold = 1.seconds, settle = 2.seconds)
        val log = ByteArrayOutputStream()

        val outcome = Scale.run(options, "smoke-command --divide 50", PrintStream(log, true))

        withClue(log.toString()) { outcome.failures shouldBe 0L }
        outcome.results.map { it.key } shouldContainExactly
            listOf("wsclient", "mux-one-session", "mux-many-sessions", "wamp", "relay")
        val opened = mapOf(
            "wsclient" to listOf(20, 200), // connections, then pending requests (10 per connection)
            "mux-one-session" to listOf(1, 200),
            "mux-many-sessions" to listOf(2, 200),
            "wamp" to listOf(20, 200),
            "relay" to listOf(20, 20), // peers, then connections (one each way per pair)
        )
        for (r in outcome.results) {
            r.footprints.map { it.growth.count } shouldContainExactly opened.getValue(r.key)
            for (rate in r.rates) {
                withClue("${r.key}: ${rate.what}") {
                    rate.held.completed shouldBeGreaterThan 0L
                    rate.held.workersFailed shouldBe 0
                }
            }
            r.atPeak.threads shouldBeGreaterThan 0
        }
        val report = Files.readString(out)
        report shouldContain "hand-written intro"
        report shouldContain "hand-written tail"
        val begin = report.indexOf(ReportFile.begin("scale"))
        val end = report.indexOf(ReportFile.end("scale"))
        (begin in 0 until end) shouldBe true
        (end < report.indexOf(ReportFile.ANCHOR)) shouldBe true
        val section = report.substring(begin, end)
        section shouldContain "smoke-command --divide 50"
        section shouldContain "**No failures**"
        section shouldNotContain "did not run"
        for (title in outcome.results.map { it.title }) section shouldContain "#### $title"
    }
})
