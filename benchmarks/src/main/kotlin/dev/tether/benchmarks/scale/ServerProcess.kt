package dev.tether.benchmarks.scale

import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException

/**
 * [ScaleServers] in a child JVM: the same `java` binary and class path as this one, its URLs read from its
 * standard output. Closing ends its standard input (the child's signal to stop), waits a little, then kills it.
 */
internal class ServerProcess private constructor(
    private val process: Process,
    val brokerUrl: String,
    val brokerToken: String,
    val muxUrl: String,
    val wampUrl: String,
    val relayUrl: String,
    val relaySecret: String,
    /** The child's command line, for the report. */
    val command: String,
) : AutoCloseable {
    val pid: Long get() = process.pid()

    override fun close() {
        runCatching { process.outputStream.close() }
        if (!process.waitFor(STOP_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(STOP_SECONDS, TimeUnit.SECONDS)
        }
    }

    companion object {
        private const val STOP_SECONDS = 10L
        private const val START_SECONDS = 60L

        /** Starts the child with [jvmOptions]; fails with the child's output if it does not come up in time. */
        fun start(jvmOptions: List<String>): ServerProcess {
            val java = ProcessHandle.current().info().command().orElse(null)
                ?: File(System.getProperty("java.home"), "bin/java").path
            val command = listOf(java) + jvmOptions +
                listOf("-cp", System.getProperty("java.class.path"), ScaleServers::class.java.name)
            val process = ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start()
            val out = BufferedReader(InputStreamReader(process.inputStream))
            val lines = CompletableFuture.supplyAsync {
                val seen = LinkedHashMap<String, List<String>>()
                while (true) {
                    val line = out.readLine() ?: break
                    if (line == ScaleServers.READY) return@supplyAsync seen
                    val parts = line.trim().split(' ')
                    seen[parts[0]] = parts.drop(1)
                }
                throw IllegalStateException("the server JVM ended before it was ready (exit ${process.waitFor()})")
            }
            val urls = try {
                lines.get(START_SECONDS, TimeUnit.SECONDS)
            } catch (e: TimeoutException) {
                process.destroyForcibly()
                throw IllegalStateException("the server JVM was not ready within $START_SECONDS s", e)
            } catch (e: java.util.concurrent.ExecutionException) {
                process.destroyForcibly()
                throw IllegalStateException("the server JVM failed to start: ${e.cause?.message}", e.cause)
            }
            // Drain anything it prints later, so that it never blocks on a full pipe.
            Thread({ runCatching { out.forEachLine { } } }, "scale-servers-stdout").apply { isDaemon = true }.start()
            fun field(name: String, i: Int): String = urls[name]?.getOrNull(i)
                ?: throw IllegalStateException("the server JVM did not announce $name")
            val shown = listOf("java") + jvmOptions + listOf("-cp", "…", ScaleServers::class.java.name)
            return ServerProcess(
                process,
                field("broker", 0),
                field("broker", 1),
                field("mux", 0),
                field("wamp", 0),
                field("relay", 0),
                field("relay", 1),
                shown.joinToString(" "),
            )
        }
    }
}
