package dev.tether.conformance.soak

import java.io.File
import kotlin.time.Duration
import kotlin.time.DurationUnit

/** The soak's table: one row per client, then the details a reader needs to act on a failure. */
internal object SoakReport {
    fun render(settings: SoakSettings, results: List<SoakResult>): String = buildString {
        appendLine(
            "Tether soak: ${settings.duration} per client, ${settings.workers} workers, seed ${settings.seed} " +
                "(repeat with -Dtether.soak.seed=${settings.seed})",
        )
        val header = listOf("client", "faults injected", "recoveries", "outcomes ok / typed error", "worst recovery")
        val rows = results.map { r ->
            listOf(
                r.client,
                FaultKind.entries.filter { it in r.faults }.joinToString(", ") { "${it.label} ${r.faults[it]}" }
                    .ifEmpty { "none" },
                r.recoveries.toString(),
                "${r.ok} / ${r.typedErrors}",
                (r.worstRecovery?.let(::millis) ?: "-") + " (bound ${millis(r.recoveryBound)})",
            )
        }
        val widths = header.indices.map { i -> (rows.map { it[i] } + header[i]).maxOf { it.length } }
        fun line(cells: List<String>) = cells.mapIndexed { i, c -> c.padEnd(widths[i]) }.joinToString(" | ").trimEnd()
        appendLine(line(header))
        appendLine(widths.joinToString("-+-") { "-".repeat(it) })
        rows.forEach { appendLine(line(it)) }
        for (r in results) {
            appendLine()
            appendLine("${r.client}: ${if (r.passed) "passed" else "FAILED"}; ${r.memory}")
            if (r.typedErrorsByName.isNotEmpty()) {
                val byName = r.typedErrorsByName.entries.joinToString(", ") { "${it.key} ${it.value}" }
                appendLine("  typed errors: $byName")
            }
            if (r.notes.isNotEmpty()) {
                appendLine("  counted: " + r.notes.entries.joinToString(", ") { "${it.key} ${it.value}" })
            }
            if (r.violationCount > 0) appendLine("  ${r.violationCount} violations:")
            r.violations.forEach { appendLine("    $it") }
            r.leaks.forEach { appendLine("  leak: $it") }
        }
    }

    /** Prints the table and writes it to `target/tether-soak-report.txt` (or `tether.soak.report.file`). */
    fun publish(settings: SoakSettings, results: List<SoakResult>) {
        if (results.isEmpty()) return
        val text = render(settings, results)
        println(text)
        val transport = System.getProperty("tether.transport")?.takeIf { it.isNotBlank() }
        val default = "target/tether-soak-report" + (transport?.let { "-$it" } ?: "") + ".txt"
        val file = File(System.getProperty("tether.soak.report.file") ?: default)
        file.absoluteFile.parentFile?.mkdirs()
        file.writeText(text)
    }

    private fun millis(d: Duration): String = "${d.toLong(DurationUnit.MILLISECONDS)} ms"
}
