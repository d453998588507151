package dev.tether.conformance

import dev.tether.conformance.ConformanceReport.Case
import dev.tether.conformance.ConformanceReport.Outcome
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactlyInAnyOrder
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Assumptions
import org.junit.jupiter.api.Disabled
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.condition.EnabledIf
import org.junit.jupiter.api.fail
import org.junit.platform.engine.discovery.DiscoverySelectors.selectClass
import org.junit.platform.launcher.core.LauncherConfig
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder
import org.junit.platform.launcher.core.LauncherFactory
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files

/**
 * The end-of-run report: a nested JUnit Platform run over a Jupiter and a Kotest fixture (one case of each ending)
 * goes through [ConformanceReport] exactly as the suites' run does.
 */
class ConformanceReportSpec : FunSpec({
    test("one line per case: passed, failed with the error, skipped with the reason, for Jupiter and Kotest alike") {
        val printed = ByteArrayOutputStream()
        val file = Files.createTempFile("conformance-report", ".txt")
        val report = ConformanceReport(out = { PrintStream(printed, true) }, enabled = { true }, file = { file })
        val launcher = LauncherFactory.create(
            LauncherConfig.builder().enableTestExecutionListenerAutoRegistration(false).build(),
        )
        val request = LauncherDiscoveryRequestBuilder.request()
            .selectors(
                selectClass(ReportJupiterFixture::class.java),
                selectClass(ReportKotestFixture::class.java),
                selectClass(ReportAllSkippedFixture::class.java),
            )
            .build()
        ReportFixtures.armed = true
        try {
            withContext(Dispatchers.IO) { launcher.execute(request, report) }
        } finally {
            ReportFixtures.armed = false
        }

        report.cases() shouldContainExactlyInAnyOrder listOf(
            Case("other", "ReportJupiterFixture > passes()", Outcome.PASSED, null),
            Case("other", "ReportJupiterFixture > fails()", Outcome.FAILED, "AssertionFailedError: boom"),
            Case("other", "ReportJupiterFixture > disabled()", Outcome.SKIPPED, "needs the fake's fault controls"),
            Case(
                "other",
                "ReportJupiterFixture > aborted()",
                Outcome.SKIPPED,
                "aborted: TestAbortedException: Assumption failed: the router lacks call_canceling",
            ),
            Case("other", "ReportKotestFixture > passes", Outcome.PASSED, null),
            Case("other", "ReportKotestFixture > fails", Outcome.FAILED, "AssertionError: expected 1 but was 2"),
            Case(
                "other",
                "ReportKotestFixture > a context > skipped with a reason",
                Outcome.SKIPPED,
                "needs the fake's fault controls (drop every connection); an external server has none",
            ),
            // Kotest reports a spec whose every case is disabled by another path: the reasons must survive it too.
            Case(
                "other",
                "ReportAllSkippedFixture > skipped",
                Outcome.SKIPPED,
                "needs a relay with a short health-check timeout; an external server has none",
            ),
        )
        val lines = printed.toString().lines().filter { it.isNotEmpty() }
        lines.first() shouldStartWith "Tether conformance report ("
        lines[lines.size - 2] shouldBe "Tether conformance totals: 2 passed, 2 failed, 4 skipped"
        lines.last() shouldBe "(also written to ${file.toAbsolutePath()})"
        lines.drop(1).dropLast(2) shouldContainExactlyInAnyOrder report.cases().map { it.line() }
        Files.readAllLines(file).filter { it.isNotEmpty() } shouldBe lines.dropLast(1)
        Files.delete(file)
        Case(
            "wamp",
            "WampConformanceSpec > x",
            Outcome.SKIPPED,
            "why",
        ).line() shouldBe "  wamp     SKIPPED  WampConformanceSpec > x: why"
    }

    test("a failure is its type and the message's first line, or its expected/actual line") {
        ConformanceReport.describe(IllegalStateException("first\nsecond")) shouldBe "IllegalStateException: first"
        ConformanceReport.describe(
            AssertionError("Contents did not match exactly\nMatch[0]: part\nexpected:<a> but was:<b>"),
        ) shouldBe
            "AssertionError: expected:<a> but was:<b>"
        ConformanceReport.describe(RuntimeException()) shouldBe "RuntimeException"
    }

    test("a class's suite is its package under dev.tether.conformance, or its name's prefix") {
        ConformanceReport.suiteOf("dev.tether.conformance.wamp.WampConformanceSpec") shouldBe "wamp"
        ConformanceReport.suiteOf("dev.tether.conformance.WsClientJavaTest") shouldBe "wsclient"
        ConformanceReport.suiteOf("dev.tether.conformance.tunnel.TunnelJavaTest") shouldBe "tunnel"
        ConformanceReport.suiteOf("dev.tether.conformance.ConformanceReportSpec") shouldBe "other"
    }

    test("external mode is any tether.conformance.*.url or .proxy property; user info stays off the console") {
        val name = "tether.conformance.reportspec.url"
        External.targets.containsKey(name) shouldBe false
        System.setProperty(name, "ws://user:pw@127.0.0.1:1/ws")
        try {
            External.targets[name] shouldBe "ws://user:pw@127.0.0.1:1/ws"
            ConformanceReport.isWanted() shouldBe (System.getProperty("tether.conformance.report") != "false")
        } finally {
            System.clearProperty(name)
        }
        ConformanceReport.withoutUserInfo("ws://user:pw@127.0.0.1:1/ws") shouldBe "ws://127.0.0.1:1/ws"
        ConformanceReport.withoutUserInfo("rel://127.0.0.1:80") shouldBe "rel://127.0.0.1:80"
    }
})

/** Arms the fixtures below: they are cases only inside [ConformanceReportSpec]'s nested run. */
object ReportFixtures {
    @Volatile
    var armed: Boolean = false

    /** For Jupiter's [EnabledIf]. */
    @JvmStatic
    fun isArmed(): Boolean = armed

    /** For Kotest's `enabledOrReasonIf`. */
    val onlyArmed = External.skipIf { if (armed) null else "a fixture of ConformanceReportSpec" }
}

/** Jupiter fixture (its name matches no Surefire include, and it is disabled unless armed). */
@EnabledIf("dev.tether.conformance.ReportFixtures#isArmed", disabledReason = "a fixture of ConformanceReportSpec")
class ReportJupiterFixture {
    @Test
    fun passes() = Unit

    @Test
    fun fails(): Unit = fail("boom\nsecond line")

    @Test
    @Disabled("needs the fake's fault controls")
    fun disabled() = Unit

    @Test
    fun aborted() = Assumptions.assumeTrue(false, "the router lacks call_canceling")
}

/** Kotest fixture (its name matches no Surefire include, and its cases are disabled unless armed). */
class ReportKotestFixture : FunSpec({
    test("passes").config(enabledOrReasonIf = ReportFixtures.onlyArmed) { }
    test("fails").config(enabledOrReasonIf = ReportFixtures.onlyArmed) {
        throw AssertionError("expected 1 but was 2\nmore")
    }
    context("a context") {
        test(
            "skipped with a reason",
        ).config(enabledOrReasonIf = External.needsFake(false, "the fake's fault controls (drop every connection)")) {
        }
    }
})

/** Kotest fixture whose every case is disabled. */
class ReportAllSkippedFixture : FunSpec({
    test("skipped").config(enabledOrReasonIf = External.needsFake(false, "a relay with a short health-check timeout")) {
    }
})
