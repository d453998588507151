package dev.tether.conformance

import io.kotest.core.listeners.IgnoredTestListener
import io.kotest.core.test.TestCase
import org.junit.platform.engine.TestExecutionResult
import org.junit.platform.engine.support.descriptor.ClassSource
import org.junit.platform.engine.support.descriptor.MethodSource
import org.junit.platform.launcher.TestExecutionListener
import org.junit.platform.launcher.TestIdentifier
import org.junit.platform.launcher.TestPlan
import java.io.FileDescriptor
import java.io.FileOutputStream
import java.io.PrintStream
import java.net.URI
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.ConcurrentHashMap

/**
 * The end-of-run report of an external conformance run: one line per case, passed, failed (with the first line of
 * the error) or skipped (with the reason), grouped by suite, then the totals.
 *
 * It is a JUnit Platform listener (registered in `META-INF/services`), so it sees the Kotest specs and the Java
 * (Jupiter) tests of every suite alike, in one place. It prints only when a `tether.conformance.*.url` or `.proxy`
 * property is set ([External.targets]); `-Dtether.conformance.report=true` prints it for a run against the fakes
 * too, `=false` never. The lines go to the JVM's own standard error, which Surefire shows on the console even
 * though it redirects the tests' output to files (where Surefire's own failure output may interleave with it), and
 * whole to `target/tether-conformance-report.txt` (or `-Dtether.conformance.report.file=PATH`).
 *
 * Kotest hands JUnit the reason of a skipped case only when the environment has `KOTEST_SHOW_IGNORE_REASONS=true`;
 * [KotestSkipReasons] (registered in the project config) records them so the report has them either way.
 */
class ConformanceReport(
    private val out: () -> PrintStream = { PrintStream(FileOutputStream(FileDescriptor.err), true) },
    private val enabled: () -> Boolean = ::isWanted,
    private val file: () -> Path? = ::reportFile,
) : TestExecutionListener {
    /** How a case ended. */
    enum class Outcome { PASSED, FAILED, SKIPPED }

    /** One case: its suite, its name (class > container > test), how it ended and why (failures and skips). */
    data class Case(val suite: String, val name: String, val outcome: Outcome, val detail: String?) {
        /** The report line. */
        fun line(): String = "  %-8s %-8s %s%s".format(suite, outcome, name, detail?.let { ": $it" } ?: "")
    }

    /** A recorded case; [kotestKey] finds the reason of a Kotest case that JUnit was given none for. */
    private class Entry(val case: Case, val kotestKey: String?)

    private val entries = java.util.Collections.synchronizedList(ArrayList<Entry>())

    @Volatile private var plan: TestPlan? = null

    override fun testPlanExecutionStarted(testPlan: TestPlan) {
        plan = testPlan
        entries.clear()
    }

    override fun executionSkipped(testIdentifier: TestIdentifier, reason: String) {
        // A skipped container (a whole disabled class) is one line: its tests are never reported one by one.
        record(testIdentifier, Outcome.SKIPPED, reason.ifBlank { null })
    }

    override fun executionFinished(testIdentifier: TestIdentifier, testExecutionResult: TestExecutionResult) {
        val error = testExecutionResult.throwable.orElse(null)
        when (testExecutionResult.status) {
            TestExecutionResult.Status.SUCCESSFUL -> if (testIdentifier.isTest) {
                record(
                    testIdentifier,
                    Outcome.PASSED,
                    null,
                )
            }

            // A failed container is a spec that could not start (its subject did not open, say): its cases never ran.
            TestExecutionResult.Status.FAILED -> record(testIdentifier, Outcome.FAILED, describe(error))

            TestExecutionResult.Status.ABORTED -> record(testIdentifier, Outcome.SKIPPED, "aborted: ${describe(error)}")
        }
    }

    override fun testPlanExecutionFinished(testPlan: TestPlan) {
        if (!enabled()) return
        val text = render().joinToString(System.lineSeparator(), postfix = System.lineSeparator())
        val stream = out()
        stream.print(text) // one write: Surefire reads the fork's standard error concurrently with its own output
        stream.flush()
        file()?.let { path ->
            runCatching { Files.writeString(path, text) }
                .onSuccess { stream.println("(also written to ${path.toAbsolutePath()})") }
                .onFailure { stream.println("(could not write the report to $path: ${it.message})") }
        }
    }

    /** The report's lines: a heading naming the external targets, the cases grouped by suite, the totals. */
    fun render(): List<String> {
        val all = cases()
        val targets = External.targets.entries.joinToString(", ") { (k, v) -> "$k=${withoutUserInfo(v)}" }
        val counts = Outcome.entries.associateWith { o -> all.count { it.outcome == o } }
        return buildList {
            add("")
            add("Tether conformance report (${targets.ifEmpty { "testkit fakes only" }}), one line per case:")
            val order = all.map { it.suite }.distinct()
            for (suite in order) all.filter { it.suite == suite }.forEach { add(it.line()) }
            add(
                "Tether conformance totals: ${counts[Outcome.PASSED]} passed, ${counts[Outcome.FAILED]} failed, " +
                    "${counts[Outcome.SKIPPED]} skipped",
            )
        }
    }

    /** The cases recorded so far, in the order they ended. */
    fun cases(): List<Case> = synchronized(entries) { entries.toList() }.map { e ->
        if (e.kotestKey == null) {
            e.case
        } else {
            e.case.copy(
                detail = KotestSkipReasons.reasons[e.kotestKey] ?: "no reason given",
            )
        }
    }

    private fun record(id: TestIdentifier, outcome: Outcome, detail: String?) {
        val path = ancestry(id)
        // The engine's own root (no class above it) is not a case.
        val classIndex = path.indexOfFirst { it.source.orElse(null) is ClassSource }
        if (classIndex < 0 && path.none { it.source.orElse(null) is MethodSource }) return
        val className = path.firstNotNullOfOrNull { node ->
            when (val s = node.source.orElse(null)) {
                is ClassSource -> s.className
                is MethodSource -> s.className
                else -> null
            }
        } ?: return
        val below = if (classIndex >= 0) path.drop(classIndex + 1) else path.takeLast(1)
        val name = (listOf(className.substringAfterLast('.')) + below.map { it.displayName }).joinToString(" > ")
        val kotestKey = if (outcome == Outcome.SKIPPED && detail == null) {
            KotestSkipReasons.key(
                className,
                below.map {
                    it.displayName
                },
            )
        } else {
            null
        }
        entries.add(Entry(Case(suiteOf(className), name, outcome, detail), kotestKey))
    }

    /** [id] and its ancestors, outermost first. */
    private fun ancestry(id: TestIdentifier): List<TestIdentifier> {
        val p = plan ?: return listOf(id)
        return generateSequence(id) { node -> p.getParent(node).orElse(null) }.toList().asReversed()
    }

    companion object {
        private val SUITES = listOf("wsclient", "mux", "tunnel", "wamp", "relay", "backoff")

        /**
         * True when the report should print: an external target is set, unless `tether.conformance.report` says
         * otherwise.
         */
        fun isWanted(): Boolean = when (System.getProperty("tether.conformance.report")?.trim()?.lowercase()) {
            "true" -> true
            "false" -> false
            else -> External.targets.isNotEmpty()
        }

        /**
         * `dev.tether.conformance.wamp.X` is the wamp suite; a class directly in the package belongs to the suite its
         * name starts with (`WsClientJavaTest`: wsclient), or to "other".
         */
        fun suiteOf(className: String): String {
            val rest = className.removePrefix("dev.tether.conformance.")
            if (rest != className && rest.contains('.')) return rest.substringBefore('.')
            val simple = className.substringAfterLast('.').lowercase()
            return SUITES.firstOrNull { simple.startsWith(it) } ?: "other"
        }

        /**
         * Where the report is also written: `-Dtether.conformance.report.file`, else `target/` of the working directory
         * (the module, under Surefire) when it exists.
         */
        fun reportFile(): Path? {
            System.getProperty("tether.conformance.report.file")?.takeIf { it.isNotBlank() }?.let { return Path.of(it) }
            val target = Path.of("target")
            return if (Files.isDirectory(target)) target.resolve("tether-conformance-report.txt") else null
        }

        /**
         * The exception's type and the first line of its message (the `expected:<..> but was:<..>` line of a
         * multi-line assertion message), shortened.
         */
        fun describe(error: Throwable?): String {
            if (error == null) return "no error given"
            val lines = error.message?.lines()?.map { it.trim() }?.filter { it.isNotEmpty() }.orEmpty()
            val first = lines.firstOrNull { it.startsWith("expected:") } ?: lines.firstOrNull()
            val text = if (first == null) error::class.java.simpleName else "${error::class.java.simpleName}: $first"
            return if (text.length > 300) text.take(297) + "..." else text
        }

        /** A target URL without user info (a password in a URL is not for the console). */
        fun withoutUserInfo(value: String): String = runCatching {
            val uri = URI(value)
            if (uri.rawUserInfo == null) {
                value
            } else {
                URI(
                    uri.scheme,
                    null,
                    uri.host,
                    uri.port,
                    uri.path,
                    uri.query,
                    uri.fragment,
                ).toString()
            }
        }.getOrDefault(value)
    }
}

/**
 * Records why Kotest skipped a case (`enabledOrReasonIf`, `Enabled.disabled(reason)`), for [ConformanceReport]:
 * Kotest's JUnit adapter drops the reason unless the environment variable `KOTEST_SHOW_IGNORE_REASONS` is `true`.
 * Registered in `io.kotest.provided.ProjectConfig`; [External.skipIf] records its reasons itself.
 */
object KotestSkipReasons : IgnoredTestListener {
    /** Reason by [key]. */
    internal val reasons = ConcurrentHashMap<String, String>()

    override suspend fun ignoredTest(testCase: TestCase, reason: String?) {
        if (!reason.isNullOrBlank()) record(testCase, reason)
    }

    /**
     * Keeps [reason] for [testCase]. [External.skipIf] calls it too: when every case of a spec is disabled, Kotest
     * reports them without calling [ignoredTest].
     */
    internal fun record(testCase: TestCase, reason: String) {
        val names = generateSequence(testCase) { it.parent }.map { it.name.name }.toList().asReversed()
        reasons[key(testCase.spec::class.java.name, names)] = reason
    }

    /** The spec class and the names from the root test down. */
    internal fun key(className: String, names: List<String>): String =
        (listOf(className) + names).joinToString("\u0000")
}
