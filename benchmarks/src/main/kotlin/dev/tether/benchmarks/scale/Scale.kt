package dev.tether.benchmarks.scale

import dev.tether.benchmarks.EndToEndOptions
import dev.tether.benchmarks.ReportFile
import dev.tether.benchmarks.RunContext
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import java.io.PrintStream
import java.nio.file.Path
import kotlin.system.exitProcess
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Load at scale (issue 16): 1,000 wsclient connections, 10,000 wsmux streams on one session and 100 sessions of 100
 * streams, 1,000 WAMP sessions with 10,000 subscriptions, 1,000 relay peers, each against the testkit fakes running
 * in a child JVM ([ScaleServers]); writes the section `scale` of the report (see [ScaleOptions.USAGE]).
 *
 * ```
 * java -cp benchmarks.jar dev.tether.benchmarks.scale.Scale [--quick] [--out FILE]
 * ```
 */
public object Scale {
    /** Runs from the command line; exits 0, 1 when anything failed (the report says what), 2 on a usage error. */
    @JvmStatic
    public fun main(args: Array<String>) {
        val code = try {
            val options = ScaleOptions.parse(args)
            if (options.help) {
                println(ScaleOptions.USAGE)
                0
            } else {
                val outcome = run(options, commandLine(args), System.out)
                if (outcome.failures == 0L) 0 else 1
            }
        } catch (e: ScaleUsageException) {
            System.err.println("Scale: ${e.message}\n")
            System.err.println(ScaleOptions.USAGE)
            2
        } catch (e: Exception) {
            e.printStackTrace()
            1
        }
        exitProcess(code) // the clients' and coroutines' worker threads would keep the JVM alive for a while
    }

    /** What a run wrote and how many failures it counted (a load that did not run counts as one). */
    internal data class Outcome(val report: Path, val failures: Long, val results: List<LoadResult>)

    /** Runs the loads [options] select and updates the report; the report names [commandLine]. */
    internal fun run(options: ScaleOptions, commandLine: String, log: PrintStream): Outcome {
        require(!options.help) { "--help is for the command line" }
        val provenance = RunContext(commandLine, EndToEndOptions()).provenance()
        log.println("Scale: ${options.loads.joinToString()} with counts / ${options.divisor} -> ${options.out}")
        val results = ArrayList<LoadResult>()
        val broken = ArrayList<ScaleReport.Broken>()
        val warmUp = options.divisor < WARM_UP_DIVISOR
        val serverCommand = ServerProcess.start(SERVER_JVM_OPTIONS).use { servers ->
            log.println("  servers in pid ${servers.pid}: ${servers.command}")
            val ctx = LoadContext(options, servers, log)
            runBlocking(Dispatchers.Default) {
                if (warmUp) {
                    log.println("  warm-up: every load with counts / $WARM_UP_DIVISOR, not reported")
                    val plan = LoadPlan(WARM_UP_DIVISOR, 500.milliseconds, 1.seconds)
                    for (key in options.loads) {
                        for (load in loadsOf(key)) {
                            try {
                                val r = load.second(ctx, plan)
                                if (r.failures.total > 0) log.println("  warm-up ${r.key}: ${r.failures.summary()}")
                            } catch (e: Exception) {
                                log.println("  warm-up ${load.first} failed: $e")
                            }
                        }
                    }
                }
                val plan = LoadPlan(options.divisor, options.warm, options.hold)
                for (key in options.loads) {
                    for ((name, load) in loadsOf(key)) {
                        log.println("  $name:")
                        try {
                            results += load(ctx, plan)
                        } catch (e: Exception) {
                            // One load's breakage must not cost the others their figures; the report says what broke.
                            log.println("  $name FAILED: $e")
                            e.printStackTrace(log)
                            broken += ScaleReport.Broken(name, e)
                        }
                    }
                }
            }
            servers.command
        }
        val section = ScaleReport.render(provenance, options, serverCommand, warmUp, results, broken)
        ReportFile.update(options.out, listOf(ScaleReport.SECTION to section))
        val failures = results.sumOf { it.failures.total } + broken.size
        log.println("Scale: wrote section ${ScaleReport.SECTION} of ${options.out.toAbsolutePath()}, $failures failed")
        return Outcome(options.out, failures, results)
    }

    private fun loadsOf(key: String): List<Pair<String, suspend (LoadContext, LoadPlan) -> LoadResult>> = when (key) {
        WsclientScale.KEY -> listOf(WsclientScale.KEY to WsclientScale::run)
        "mux" -> listOf(MuxScale.KEY_ONE to MuxScale::runOneSession, MuxScale.KEY_MANY to MuxScale::runManySessions)
        WampScale.KEY -> listOf(WampScale.KEY to WampScale::run)
        RelayScale.KEY -> listOf(RelayScale.KEY to RelayScale::run)
        else -> throw ScaleUsageException("unknown load $key")
    }

    /** This JVM's command line when the OS tells it, with the java binary shortened to `java`. */
    private fun commandLine(args: Array<String>): String {
        val line = ProcessHandle.current().info().commandLine().orElse(null)
            ?: return "java -cp benchmarks.jar ${Scale::class.java.name} ${args.joinToString(" ")}".trim()
        val exe = line.substringBefore(' ')
        return if (exe.endsWith("/java")) "java" + line.substring(exe.length) else line
    }

    /** Counts of the unreported warm-up run: 20 connections, 200 streams, 20 WAMP sessions, 20 relay peers. */
    private const val WARM_UP_DIVISOR = 50

    /** The servers' JVM: heap enough for every load at once (the fakes keep per-connection state). */
    private val SERVER_JVM_OPTIONS = listOf("-Xmx2g")
}
