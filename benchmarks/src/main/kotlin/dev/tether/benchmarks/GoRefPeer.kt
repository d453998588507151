package dev.tether.benchmarks

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import kotlin.time.Duration

/** A scenario that cannot run here (a tool is missing); the runner reports it as skipped with [reason]. */
internal class ScenarioSkipped(val reason: String) : Exception(reason)

/**
 * The Go reference peer (`benchmarks/go/refpeer`, gorilla/websocket from the Debian packages): built with the local
 * `go` in GOPATH mode (no module downloads) into `benchmarks/target/refpeer`, then run as a server for the whole
 * scenario and as one client subprocess per Go round. Every subprocess is killed when its use ends, and by a
 * shutdown hook if the JVM goes first.
 */
internal class GoRefPeer private constructor(val binary: Path) {
    /** One `refpeer client` run: the JSON line it printed. */
    data class ClientResult(
        val ops: Long,
        val bytes: Long,
        val seconds: Double,
        val p50Micros: Double,
        val p99Micros: Double,
        val voluntarySwitches: Long,
        val involuntarySwitches: Long,
        val cpuMicros: Double,
    )

    /** `refpeer server` on 127.0.0.1 with an ephemeral port. */
    inner class Server internal constructor(
        private val process: Process,
        val url: String,
        private val output: OutputTail,
    ) : AutoCloseable {
        val isAlive: Boolean get() = process.isAlive

        /** What the server printed after its first line, for failure messages. */
        fun output(): String = output.text()

        override fun close() = stop(process)
    }

    /**
     * Starts the server (with [extraArgs], e.g. `-relay-secret S`) and waits (at most [START_BOUND_SECONDS]) for its
     * "listening ws://HOST:PORT" line.
     */
    fun startServer(extraArgs: List<String> = emptyList()): Server {
        val process = start(listOf(binary.toString(), "server", "-addr", "127.0.0.1:0") + extraArgs)
        try {
            val tail = OutputTail(process)
            val first = try {
                tail.firstLine.get(START_BOUND_SECONDS, TimeUnit.SECONDS)
            } catch (e: TimeoutException) {
                throw IllegalStateException("refpeer server printed nothing within $START_BOUND_SECONDS s")
            }
            val url = first?.trim()?.takeIf { it.startsWith("listening ws://") }?.substringAfter("listening ")
                ?: throw IllegalStateException(
                    "refpeer server did not start: ${first ?: "no output"} ${tail.text()}".trim(),
                )
            return Server(process, url, tail)
        } catch (e: Throwable) {
            stop(process)
            throw e
        }
    }

    /**
     * Runs `refpeer client -url [url] -mode [mode] -size [size] -window [window] -duration [duration]` and returns its
     * result; bounded by the duration plus [CLIENT_GRACE_SECONDS], the subprocess killed on every way out.
     */
    fun client(url: String, mode: String, size: Int, window: Int, duration: Duration): ClientResult {
        val goDuration = "${duration.inWholeMilliseconds}ms"
        val process = start(
            listOf(
                binary.toString(), "client", "-url", url, "-mode", mode, "-size", "$size", "-window", "$window",
                "-duration", goDuration,
            ),
        )
        try {
            val tail = OutputTail(process)
            if (!process.waitFor(duration.inWholeMilliseconds + CLIENT_GRACE_SECONDS * 1000, TimeUnit.MILLISECONDS)) {
                throw IllegalStateException(
                    "refpeer client $mode did not end within $duration + $CLIENT_GRACE_SECONDS s",
                )
            }
            val out = tail.awaitAll(5)
            if (process.exitValue() != 0) {
                throw IllegalStateException("refpeer client $mode failed (exit ${process.exitValue()}): ${out.trim()}")
            }
            val json = out.lines().lastOrNull { it.trim().startsWith("{") }
                ?: throw IllegalStateException("refpeer client $mode printed no result: $out")
            fun num(key: String): Double = Regex("\"$key\":(-?[0-9.eE+-]+)").find(json)?.groupValues?.get(1)?.toDouble()
                ?: throw IllegalStateException("refpeer client result has no $key: $json")
            return ClientResult(
                ops = num("ops").toLong(),
                bytes = num("bytes").toLong(),
                seconds = num("seconds"),
                p50Micros = num("p50_us"),
                p99Micros = num("p99_us"),
                voluntarySwitches = num("nvcsw").toLong(),
                involuntarySwitches = num("nivcsw").toLong(),
                cpuMicros = num("cpu_us"),
            )
        } finally {
            stop(process)
        }
    }

    /** Collects a subprocess's output (stdout and stderr merged) on a daemon thread: its first line, and the rest. */
    internal class OutputTail(process: Process) {
        val firstLine = CompletableFuture<String?>()
        private val lines = ArrayDeque<String>()
        private val all = CompletableFuture<Unit>()

        init {
            Thread({
                try {
                    process.inputStream.bufferedReader().use { r ->
                        while (true) {
                            val line = r.readLine() ?: break
                            if (!firstLine.isDone) firstLine.complete(line) else keep(line)
                        }
                    }
                } catch (_: Exception) {
                    // the process was killed
                } finally {
                    firstLine.complete(null)
                    all.complete(Unit)
                }
            }, "refpeer-output").apply { isDaemon = true }.start()
        }

        private fun keep(line: String) = synchronized(lines) {
            lines.addLast(line)
            if (lines.size > KEPT_LINES) lines.removeFirst()
        }

        /** Everything after the first line that is still kept. */
        fun text(): String = synchronized(lines) { lines.joinToString("\n") }

        /** The whole output once the stream has ended (at most [seconds] after the process did). */
        fun awaitAll(seconds: Long): String {
            try {
                all.get(seconds, TimeUnit.SECONDS)
            } catch (_: TimeoutException) {
                // a grandchild holding the pipe open; what was read is enough
            }
            val first = if (firstLine.isDone) firstLine.getNow(null) else null
            return listOfNotNull(first, text().ifEmpty { null }).joinToString("\n")
        }
    }

    companion object {
        /** The packages the Go peer needs, for the skip reasons. */
        const val INSTALL: String = "install golang-go and golang-github-gorilla-websocket-dev"

        /** Where Debian's golang-*-dev packages put their sources (GOPATH layout). */
        private const val DEBIAN_GOPATH = "/usr/share/gocode"
        private const val BUILD_BOUND_SECONDS = 180L
        private const val START_BOUND_SECONDS = 20L
        private const val CLIENT_GRACE_SECONDS = 60L
        private const val KEPT_LINES = 40

        private val running = ConcurrentHashMap.newKeySet<Process>()

        init {
            Runtime.getRuntime().addShutdownHook(Thread({ running.forEach { it.destroyForcibly() } }, "refpeer-reaper"))
        }

        /** The `go` command [command] names: a path, or a name looked up on PATH; null when there is none. */
        fun findGo(command: String): Path? {
            if ('/' in command) return Paths.get(command).takeIf { Files.isRegularFile(it) && Files.isExecutable(it) }
            return (System.getenv("PATH") ?: "").split(File.pathSeparatorChar)
                .map { Paths.get(it.ifEmpty { "." }, command) }
                .firstOrNull { Files.isRegularFile(it) && Files.isExecutable(it) }
        }

        /** GOPATH for the build: the caller's own, then Debian's package tree. */
        private fun goPath(): String = listOfNotNull(System.getenv("GOPATH")?.takeIf { it.isNotBlank() }, DEBIAN_GOPATH)
            .joinToString(File.pathSeparator)

        /** Whether gorilla/websocket's sources are on [goPath]. */
        fun gorillaInstalled(): Boolean = goPath().split(File.pathSeparatorChar).any {
            Files.isRegularFile(Paths.get(it, "src", "github.com", "gorilla", "websocket", "conn.go"))
        }

        /**
         * The benchmarks module directory (the one holding `go/refpeer/main.go`): `benchmarks` when run from the
         * repository root, `.` when run from the module (as Maven's tests are); null when neither holds it.
         */
        fun moduleDir(): Path? = listOf(Paths.get("benchmarks"), Paths.get("."))
            .firstOrNull { Files.isRegularFile(it.resolve("go/refpeer/main.go")) }?.toAbsolutePath()?.normalize()

        /**
         * Builds refpeer with [goCommand] into `target/refpeer` of the benchmarks module. Throws [ScenarioSkipped]
         * when there is no `go`, no gorilla/websocket, or no refpeer source to build.
         */
        fun build(goCommand: String, log: java.io.PrintStream): GoRefPeer {
            val go = findGo(goCommand)
                ?: throw ScenarioSkipped(
                    "go not installed: $INSTALL (" +
                        (if ('/' in goCommand) "no executable $goCommand" else "no $goCommand on PATH") + ")",
                )
            if (!gorillaInstalled()) {
                throw ScenarioSkipped("github.com/gorilla/websocket not found on GOPATH ${goPath()}: $INSTALL")
            }
            val module = moduleDir()
                ?: throw ScenarioSkipped(
                    "the refpeer source (benchmarks/go/refpeer) is not here: run from the repository root",
                )
            val target = module.resolve("target")
            Files.createDirectories(target)
            val out = target.resolve("refpeer")
            val buildLog = target.resolve("refpeer-build.log")
            val pb = ProcessBuilder(go.toString(), "build", "-o", out.toString(), "./go/refpeer")
                .directory(module.toFile())
                .redirectErrorStream(true)
                .redirectOutput(buildLog.toFile())
            pb.environment().apply {
                put("GO111MODULE", "off")
                put("GOPATH", goPath())
                put("GOCACHE", target.resolve("go-cache").toString())
                put("GOFLAGS", "")
            }
            val started = System.nanoTime()
            val process = pb.start()
            running += process
            try {
                if (!process.waitFor(BUILD_BOUND_SECONDS, TimeUnit.SECONDS)) {
                    throw IllegalStateException("go build of refpeer did not end within $BUILD_BOUND_SECONDS s")
                }
                if (process.exitValue() != 0) {
                    val text = runCatching { Files.readString(buildLog) }.getOrDefault("").trim().lines().take(8)
                        .joinToString(" | ")
                    throw ScenarioSkipped(
                        "refpeer does not build with $go (exit ${process.exitValue()}: $text): $INSTALL",
                    )
                }
            } finally {
                stop(process)
            }
            log.println("  transport: built $out with $go in ${(System.nanoTime() - started) / 1_000_000} ms")
            return GoRefPeer(out)
        }

        private fun start(command: List<String>): Process {
            val p = ProcessBuilder(command).redirectErrorStream(true).start()
            running += p
            return p
        }

        /** Ends [process] (politely, then forcibly) and waits for it, bounded. */
        internal fun stop(process: Process) {
            try {
                if (process.isAlive) {
                    process.destroy()
                    if (!process.waitFor(5, TimeUnit.SECONDS)) {
                        process.destroyForcibly()
                        process.waitFor(5, TimeUnit.SECONDS)
                    }
                }
            } finally {
                running -= process
            }
        }
    }
}
