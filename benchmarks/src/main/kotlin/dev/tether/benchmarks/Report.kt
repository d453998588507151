package dev.tether.benchmarks

import java.lang.management.ManagementFactory
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.time.ZoneOffset
import java.time.ZonedDateTime
import java.time.format.DateTimeFormatter
import java.util.Locale

/** Where and how a run happened: printed at the top of every section it writes. */
internal class RunContext(val commandLine: String, val options: EndToEndOptions) {
    val started: ZonedDateTime = ZonedDateTime.now(ZoneOffset.UTC)
    val machine: String = machineFacts()

    fun provenance(): String =
        "Measured ${started.format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'"))} with `$commandLine`  \n" +
            "Machine: $machine"

    private fun machineFacts(): String {
        val rt = Runtime.getRuntime()
        val cpu = runCatching {
            Files.readAllLines(Path.of("/proc/cpuinfo")).firstOrNull { it.startsWith("model name") }?.substringAfter(':')?.trim()
        }.getOrNull()
        val gcs = ManagementFactory.getGarbageCollectorMXBeans().joinToString(" + ") { it.name }
        val jvmArgs = ManagementFactory.getRuntimeMXBean().inputArguments.filterNot { it.startsWith("-Dsun.") || it.startsWith("-javaagent") }
        return buildString {
            append(rt.availableProcessors()).append(" cores")
            if (cpu != null) append(" (").append(cpu).append(')')
            append(", max heap ").append(rt.maxMemory() / (1 shl 20)).append(" MiB (").append(gcs).append(')')
            append(", ").append(System.getProperty("java.vm.name")).append(' ').append(System.getProperty("java.runtime.version"))
            if (jvmArgs.isNotEmpty()) append(" [").append(jvmArgs.joinToString(" ")).append(']')
            append(", ").append(System.getProperty("os.name")).append(' ').append(System.getProperty("os.version"))
            append(' ').append(System.getProperty("os.arch"))
        }
    }
}

/**
 * A Markdown report made of named sections between `<!-- e2e:NAME:begin -->` and `<!-- e2e:NAME:end -->`. A run
 * replaces the sections it produced and keeps everything else (hand-written text, other scenarios' sections), so
 * each capability can add its own scenarios and sections to the same file.
 */
internal object ReportFile {
    private const val NEW_FILE_HEADER = "# Tether performance\n\nSections between `e2e` markers are rewritten by `dev.tether.benchmarks.EndToEnd`.\n"

    fun begin(name: String): String = "<!-- e2e:$name:begin -->"
    fun end(name: String): String = "<!-- e2e:$name:end -->"

    fun update(path: Path, sections: List<Pair<String, String>>) {
        var text = if (Files.exists(path)) Files.readString(path) else NEW_FILE_HEADER
        for ((name, body) in sections) {
            val block = begin(name) + "\n" + body.trim() + "\n" + end(name)
            val b = text.indexOf(begin(name))
            val e = if (b < 0) -1 else text.indexOf(end(name), b)
            text = if (b >= 0 && e >= 0) {
                text.substring(0, b) + block + text.substring(e + end(name).length)
            } else {
                text.trimEnd() + "\n\n" + block + "\n"
            }
        }
        path.toAbsolutePath().parent?.let { Files.createDirectories(it) }
        val tmp = Files.createTempFile(path.toAbsolutePath().parent, ".performance", ".md.tmp")
        Files.writeString(tmp, text)
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE)
    }
}

/** Number formatting shared by the renderers (always US digits, whatever the machine's locale). */
internal object Fmt {
    fun count(v: Double): String = String.format(Locale.US, "%,.0f", v)
    fun count(v: Long): String = String.format(Locale.US, "%,d", v)
    fun pct(v: Double): String = String.format(Locale.US, "%.1f %%", v)
    fun micros(nanos: Double): String = when {
        nanos >= 10_000_000 -> String.format(Locale.US, "%,.0f ms", nanos / 1e6)
        nanos >= 1_000_000 -> String.format(Locale.US, "%.2f ms", nanos / 1e6)
        else -> String.format(Locale.US, "%,.0f µs", nanos / 1e3)
    }
    fun micros(nanos: Long): String = micros(nanos.toDouble())
    fun seconds(d: kotlin.time.Duration): String = d.toString()
    fun bytes(v: Double): String = String.format(Locale.US, "%,.0f B", v)
    fun mib(v: Long): String = String.format(Locale.US, "%,.1f MiB", v / 1048576.0)
}

/** Renders a throughput/latency table for one load scenario. */
internal fun loadTable(unit: String, summaries: List<LoadSummary>): String = buildString {
    append("| in flight | $unit (median) | min – max | spread | p50 latency (median of rounds) | p99 latency (median; min – max) | measured |\n")
    append("|---:|---:|---:|---:|---:|---:|---:|\n")
    for (s in summaries) {
        append("| ").append(s.inFlight)
        append(" | **").append(Fmt.count(s.medianPerSecond)).append("**")
        append(" | ").append(Fmt.count(s.minPerSecond)).append(" – ").append(Fmt.count(s.maxPerSecond))
        append(" | ").append(Fmt.pct(s.spreadPercent))
        append(" | ").append(Fmt.micros(s.medianP50Nanos))
        append(" | ").append(Fmt.micros(s.medianP99Nanos)).append(" (").append(Fmt.micros(s.minP99Nanos)).append(" – ").append(Fmt.micros(s.maxP99Nanos)).append(')')
        append(" | ").append(Fmt.count(s.totalRequests))
        append(" |\n")
    }
    append('\n')
    for (s in summaries) {
        append("Rounds at ").append(s.inFlight).append(" in flight (per second): ")
        append(s.rounds.joinToString(" · ") { Fmt.count(it.perSecond) })
        append(".  \nWarm-up: ")
        if (s.warmup.rates.isEmpty()) {
            append("none.  \n")
        } else {
            append(s.warmup.rates.size).append(" rounds in ").append(String.format(Locale.US, "%.1f s", s.warmup.spentNanos / 1e9))
            append(if (s.warmup.converged) " (steady)" else " (cap reached before the rate was steady)").append(": ")
            append(s.warmup.rates.joinToString(" · ") { Fmt.count(it) }).append(".  \n")
        }
    }
}
