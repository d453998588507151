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

    val source: String? = gitDescription()

    fun provenance(): String =
        "Measured ${started.format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'"))} with `$commandLine`  \n" +
            (if (source != null) "Source: $source  \n" else "") +
            "Machine: $machine"

    /** The commit the working directory is at, and whether it has uncommitted changes; null outside a git tree. */
    private fun gitDescription(): String? = runCatching {
        fun git(vararg args: String): String? {
            val p = ProcessBuilder(listOf("git") + args).redirectErrorStream(true).start()
            val out = p.inputStream.bufferedReader().readText().trim()
            return if (p.waitFor() == 0) out else null
        }
        val head = git("rev-parse", "--short", "HEAD") ?: return@runCatching null
        val dirty = git("status", "--porcelain", "--untracked-files=no")?.isNotEmpty() == true
        "git $head" + if (dirty) " with uncommitted changes" else ""
    }.getOrNull()

    private fun machineFacts(): String {
        val rt = Runtime.getRuntime()
        val cpu = runCatching {
            Files.readAllLines(Path.of("/proc/cpuinfo"))
                .firstOrNull { it.startsWith("model name") }
                ?.substringAfter(':')
                ?.trim()
        }.getOrNull()
        val gcs = ManagementFactory.getGarbageCollectorMXBeans().joinToString(" + ") { it.name }
        val jvmArgs = ManagementFactory.getRuntimeMXBean().inputArguments
            .filterNot { it.startsWith("-Dsun.") || it.startsWith("-javaagent") }
        return buildString {
            append(rt.availableProcessors()).append(" cores")
            if (cpu != null) append(" (").append(cpu).append(')')
            append(", max heap ").append(rt.maxMemory() / (1 shl 20)).append(" MiB (").append(gcs).append(')')
            append(", ").append(System.getProperty("java.vm.name"))
            append(' ').append(System.getProperty("java.runtime.version"))
            if (jvmArgs.isNotEmpty()) append(" [").append(jvmArgs.joinToString(" ")).append(']')
            append(", ").append(System.getProperty("os.name")).append(' ').append(System.getProperty("os.version"))
            append(' ').append(System.getProperty("os.arch"))
        }
    }
}

/**
 * A Markdown report made of named sections between `<!-- e2e:NAME:begin -->` and `<!-- e2e:NAME:end -->`. A run
 * replaces the sections it produced and keeps everything else (hand-written text, other scenarios' sections), so
 * each capability can add its own scenarios and sections to the same file. A section met for the first time goes
 * just before the line [ANCHOR] when the file has one, else at the end.
 */
internal object ReportFile {
    private const val NEW_FILE_HEADER = "# Tether performance\n\nSections between `e2e` markers are rewritten by " +
        "`dev.tether.benchmarks.EndToEnd`.\n"

    const val ANCHOR: String = "<!-- e2e:new-sections-go-above-this-line -->"

    /** Where [marker] stands alone on a line (so that prose quoting a marker is never mistaken for one), or -1. */
    private fun lineIndex(text: String, marker: String, from: Int): Int {
        var at = text.indexOf(marker, from)
        while (at >= 0) {
            val lineStart = at == 0 || text[at - 1] == '\n'
            val after = at + marker.length
            val lineEnd = after == text.length || text[after] == '\n' || text[after] == '\r'
            if (lineStart && lineEnd) return at
            at = text.indexOf(marker, at + 1)
        }
        return -1
    }

    fun begin(name: String): String = "<!-- e2e:$name:begin -->"
    fun end(name: String): String = "<!-- e2e:$name:end -->"

    fun update(path: Path, sections: List<Pair<String, String>>) {
        var text = if (Files.exists(path)) Files.readString(path) else NEW_FILE_HEADER
        for ((name, body) in sections) {
            val block = begin(name) + "\n" + body.trim() + "\n" + end(name)
            val b = lineIndex(text, begin(name), 0)
            val e = if (b < 0) -1 else lineIndex(text, end(name), b)
            text = if (b >= 0 && e >= 0) {
                text.substring(0, b) + block + text.substring(e + end(name).length)
            } else {
                val anchor = lineIndex(text, ANCHOR, 0)
                if (anchor >= 0) {
                    text.substring(0, anchor) + block + "\n\n" + text.substring(anchor)
                } else {
                    text.trimEnd() + "\n\n" + block + "\n"
                }
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
        nanos < 10_000 -> String.format(Locale.US, "%.1f µs", nanos / 1e3)
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
    append("| in flight | $unit (median) | min – max | spread | p50 latency (median of rounds) | p99 latency (median; ")
    append("min – max) | CPU per round trip | measured |\n")
    append("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for (s in summaries) {
        append("| ").append(s.inFlight)
        append(" | **").append(Fmt.count(s.medianPerSecond)).append("**")
        append(" | ").append(Fmt.count(s.minPerSecond)).append(" – ").append(Fmt.count(s.maxPerSecond))
        append(" | ").append(Fmt.pct(s.spreadPercent))
        append(" | ").append(Fmt.micros(s.medianP50Nanos))
        append(" | ").append(Fmt.micros(s.medianP99Nanos))
        append(" (").append(Fmt.micros(s.minP99Nanos)).append(" – ").append(Fmt.micros(s.maxP99Nanos)).append(')')
        append(" | ").append(if (s.medianCpuNanosPerOp.isNaN()) "n/a" else Fmt.micros(s.medianCpuNanosPerOp))
        append(" | ").append(Fmt.count(s.totalRequests))
        append(" |\n")
    }
    append('\n')
    append("CPU per round trip: CPU time of the whole process during a round (every thread: client, server, GC, JIT) ")
    append("divided by its round trips, median of the rounds; on a machine this small the load is CPU-bound, so the ")
    append("rate is close to cores / CPU per round trip. At 1 in flight the figure mostly shows idle coroutine ")
    append("worker threads spinning between messages, not work.  \n")
    for (s in summaries) {
        append("Rounds at ").append(s.inFlight).append(" in flight (per second): ")
        append(s.rounds.joinToString(" · ") { Fmt.count(it.perSecond) })
        append(" (JIT ").append(s.rounds.sumOf { it.jitMillis }).append(" ms in all).  \nWarm-up: ")
        if (s.warmup.rates.isEmpty()) {
            append("none.  \n")
        } else {
            append(s.warmup.rates.size).append(" rounds in ")
            append(String.format(Locale.US, "%.1f s", s.warmup.spentNanos / 1e9))
            append(if (s.warmup.converged) " (JIT quiet)" else " (cap reached with the JIT still busy)")
            append(", rate/s (JIT ms): ")
            append(
                s.warmup.rates.indices.joinToString(" · ") {
                    "${Fmt.count(s.warmup.rates[it])} (${s.warmup.jitMillis[it]})"
                },
            )
            append(".  \n")
        }
    }
}
