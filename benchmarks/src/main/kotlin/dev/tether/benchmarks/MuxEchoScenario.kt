package dev.tether.benchmarks

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxSession
import dev.tether.mux.ReadTimeoutException
import dev.tether.mux.Stream
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import java.io.PrintStream
import java.time.Instant
import java.util.Locale
import kotlin.math.ceil
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration

/**
 * The mux scenario against an external wsmux echo server (`--mux-url`): a server session that accepts streams and
 * writes back what it reads (`tether serve mux`, a Go wsmux server that `io.Copy`s each stream to itself). The
 * server's code is not ours, so the figure is stream echo throughput: per stream, a writer coroutine writes
 * messages back to back and each op reads one message's echo back and checks its bytes. The single-stream windows
 * of `--mux-windows` and `--mux-streams` concurrent streams at 64 KiB, as in the loopback scenario; its raw
 * baselines, goal and idle-stream heap need the benchmark's own peers and are skipped (see [SKIPPED]).
 */
internal object MuxEchoScenario {
    const val SECTION: String = "mux-echo"

    /** What the loopback mux scenario measures and this one cannot, with the reason. */
    val SKIPPED: List<String> = listOf(
        "the raw WebSocket baselines, the credit-window ceiling and the goal: they need the benchmark's own `/sink`, " +
            "`/source` and `/window-*` peers on loopback",
        "the heap per idle stream: it needs the benchmark's stateless `/mux-ack` peer, so that only the client's " +
            "streams hold state",
    )

    /** How long a stream waits for its next echo beyond the round's own length before the round fails. */
    private val ECHO_SLACK = 30.seconds

    class Echo(val window: MuxScenario.Window, val streams: Int, val messageBytes: Int, val summary: LoadSummary) {
        private fun mb(perSecond: Double) = perSecond * messageBytes / 1e6
        val medianMBs: Double get() = mb(summary.medianPerSecond)
        val minMBs: Double get() = mb(summary.minPerSecond)
        val maxMBs: Double get() = mb(summary.maxPerSecond)
        val cpuMillisPerMB: Double get() = summary.medianCpuNanosPerOp / messageBytes
        fun roundMBs(r: RoundResult): Double = mb(r.perSecond)
    }

    class Results(val url: String, val single: List<Echo>, val concurrent: List<Echo>)

    fun config(w: MuxScenario.Window): MuxConfig = MuxConfig {
        streamBufferSize(w.capacity)
        autoTuneMaxWindow(w.autoTuneMax)
    }

    fun run(o: EndToEndOptions, log: PrintStream): Results {
        val url = requireNotNull(o.muxUrl)
        log.println("  mux echo server at $url")
        for (s in SKIPPED) log.println("  mux: skipped $s")
        val single = MuxScenario.Window.entries.filter { it.key in o.muxWindows }.map { w -> echo(o, log, url, w, 1) }
        val concurrent = listOf(echo(o, log, url, MuxScenario.Window.W64K, o.muxStreams))
        return Results(url, single, concurrent)
    }

    private fun echo(o: EndToEndOptions, log: PrintStream, url: String, w: MuxScenario.Window, streams: Int): Echo {
        val ops = (o.muxBytes / w.messageBytes).coerceAtLeast(1)
        val perStream = ceil(ops.toDouble() / streams).toLong() * w.messageBytes
        val label = "mux echo window ${w.label}, $streams stream${if (streams == 1) "" else "s"}"
        val bound = maxOf(o.duration, EndToEnd.WARMUP_STEP) + ECHO_SLACK
        return Echo(
            w,
            streams,
            w.messageBytes,
            EndToEnd.measure(o, log, label, streams, maxOps = ops) {
                EchoTarget(url, config(w), streams, w.messageBytes, perStream, o.muxRead, bound).open()
            },
        )
    }

    /**
     * One client session with [count] streams. Stream i has a writer coroutine that writes [perStreamBytes] in
     * messages of [messageBytes]; worker i reads one message's echo per op and compares it with what was written.
     * Reads fail after [bound] (the server does not echo, or stopped).
     */
    private class EchoTarget(
        private val url: String,
        private val config: MuxConfig,
        private val count: Int,
        private val messageBytes: Int,
        private val perStreamBytes: Long,
        private val readBytes: Int,
        private val bound: kotlin.time.Duration,
    ) : LoadTarget {
        private val dialer = WebSocketDialer(DialerConfig(url) { maxMessageBytes(2L shl 20) })
        private val writers = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        private lateinit var session: MuxSession
        private lateinit var streams: List<Stream>
        private val message = ByteArray(messageBytes) { (it % 251).toByte() }
        private val buffers = Array(count) { ByteArray(messageBytes) }

        @Volatile private var writeFailure: Throwable? = null

        suspend fun open(): EchoTarget {
            session = MuxSession.client(dialer.dial(), config)
            streams = coroutineScope { (0 until count).map { async { session.open() } }.awaitAll() }
            val deadline = Instant.now().plus(bound.toJavaDuration())
            for (stream in streams) {
                stream.setReadDeadline(deadline)
                writers.launch {
                    try {
                        var sent = 0L
                        while (sent < perStreamBytes) {
                            val n = minOf(messageBytes.toLong(), perStreamBytes - sent).toInt()
                            stream.write(message, 0, n)
                            sent += n
                        }
                    } catch (e: MuxException) {
                        if (!session.isClosedForBench()) writeFailure = e
                    }
                }
            }
            return this
        }

        private fun MuxSession.isClosedForBench(): Boolean = closedFuture().isDone

        override suspend fun roundTrip(worker: Int, seq: Int) {
            val stream = streams[worker]
            val into = buffers[worker]
            var got = 0
            try {
                while (got < messageBytes) {
                    val n = stream.read(into, got, MuxPeer.readLength(readBytes, messageBytes - got))
                    check(n >= 0) {
                        "stream ${stream.id}: the server ended it after $got bytes of an echo " +
                            "(is $url an echo server?)"
                    }
                    got += n
                }
            } catch (e: ReadTimeoutException) {
                throw IllegalStateException(
                    "stream ${stream.id}: no echo within $bound (is $url an echo server?)" +
                        (writeFailure?.let { "; writer failed: $it" } ?: ""),
                    e,
                )
            }
            check(into.contentEquals(message)) { "stream ${stream.id}: the echo differs from what was written" }
        }

        override fun close() {
            writers.cancel()
            if (::session.isInitialized) session.close()
            dialer.close()
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Report

    private fun mbs(v: Double): String = String.format(Locale.US, "%,.1f", v)
    private fun ms(v: Double): String = if (v.isNaN()) "n/a" else String.format(Locale.US, "%.2f ms", v)
    private fun kib(bytes: Int): String = if (bytes % 1024 == 0) "${bytes / 1024} KiB" else "$bytes B"

    fun render(ctx: RunContext, r: Results): String = buildString {
        val o = ctx.options
        append("### wsmux stream echo through an external server\n\n")
        append(ctx.provenance()).append("\n\n")
        append("Server: the wsmux echo server at `${r.url}` (`--mux-url`; a server session that writes back what each ")
        append("stream it accepts reads). Client: tether-core `WebSocketDialer` (Netty) and `MuxSession.client` with ")
        append("the window below as its receive capacity (what the server may send unacknowledged); what the client ")
        append("may send is the server's own window, announced in its ACKs. Per stream a writer coroutine writes ")
        append("messages back to back, and one op reads one message's echo (reads of at most ")
        append(if (o.muxRead > 0) MuxScenario.size(o.muxRead.toLong()) else "the rest of the message")
        append(", `--mux-read`) ")
        append("and checks its bytes; so every byte crosses the connection twice, and MB/s counts the bytes echoed ")
        append("back (MB = 10^6 bytes). A fresh session and streams for every round. Per configuration: ")
        append(
            EndToEnd.describeRounds(o)
                .replace(Regex(", each capped at [0-9,]+ round trips"), "")
                .replace(Regex("\\. The in-flight settings run .*$"), ""),
        )
        append("; each round also stops at ${MuxScenario.size(o.muxBytes)} (`--mux-bytes`). CPU per MB is this ")
        append("process's (client only, unless the server runs in the same JVM).\n\n")
        append("| client window | streams | message | echo MB/s (median) | min – max | spread | CPU per MB |\n")
        append("|:---|---:|---:|---:|---:|---:|---:|\n")
        for (e in r.single + r.concurrent) {
            append("| ${e.window.label} | ${e.streams} | ${kib(e.messageBytes)} | **${mbs(e.medianMBs)}** | ")
            append("${mbs(e.minMBs)} – ${mbs(e.maxMBs)} | ${Fmt.pct(e.summary.spreadPercent)} | ")
            append("${ms(e.cpuMillisPerMB)} |\n")
        }
        append('\n')
        append("Rounds (MB/s):  \n")
        for (e in r.single + r.concurrent) {
            append("window ${e.window.label}, ${e.streams} stream${if (e.streams == 1) "" else "s"}: ")
            append(e.summary.rounds.joinToString(" · ") { mbs(e.roundMBs(it)) })
            append(" (warm-up ${e.summary.warmup.rates.size} rounds")
            append("${if (e.summary.warmup.converged) ", JIT quiet" else ""}).  \n")
        }
        append("\nNot measured against an external server: ")
        append(SKIPPED.joinToString("; ")).append(".\n")
    }
}
