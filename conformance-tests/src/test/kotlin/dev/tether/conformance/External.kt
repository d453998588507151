package dev.tether.conformance

import io.kotest.core.test.Enabled
import io.kotest.core.test.TestCase

/**
 * What the suites share about external mode: which `tether.conformance.*` properties point them at real servers,
 * and the `enabledOrReasonIf` conditions that skip a case *with a reason* (Kotest's plain `enabled = false` gives
 * none, so the report could only say "skipped").
 */
object External {
    /**
     * The properties that select an external server (`tether.conformance.<suite>.url` or `.proxy`), name to
     * value, sorted; empty when every suite runs against the testkit fakes.
     */
    val targets: Map<String, String>
        get() = System.getProperties().stringPropertyNames()
            .filter { it.startsWith("tether.conformance.") && (it.endsWith(".url") || it.endsWith(".proxy")) }
            .mapNotNull { name -> System.getProperty(name)?.takeIf { it.isNotBlank() }?.let { name to it } }
            .toMap().toSortedMap()

    /**
     * A case that runs only against the testkit fake: enabled when [isFake], otherwise skipped with the reason
     * "needs [what]" (the fault control or fake-only setting it uses).
     */
    fun needsFake(isFake: Boolean, what: String = "the fake's fault controls"): (TestCase) -> Enabled =
        skipIf { if (isFake) null else "needs $what; an external server has none" }

    /**
     * Enabled while [reason] (evaluated when the case is about to run) is null, skipped with it otherwise. The
     * reason is also kept for [ConformanceReport] ([KotestSkipReasons]).
     */
    fun skipIf(reason: () -> String?): (TestCase) -> Enabled = { testCase ->
        val why = reason()
        if (why == null) {
            Enabled.enabled
        } else {
            KotestSkipReasons.record(testCase, why)
            Enabled.disabled(why)
        }
    }
}
