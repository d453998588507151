package dev.tether.benchmarks

import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelConfig
import dev.tether.tunnel.TunnelTokens
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withTimeout
import java.io.PrintStream
import java.net.URI
import java.util.Locale
import java.util.concurrent.Executors
import kotlin.math.ceil
import kotlin.time.Duration.Companion.seconds

/**
 * The tunnel scenario (issue 4): a [TunnelClient] registered with a proxy (an embedded [FakeTunnelProxy] unless
 * `--tunnel-proxy` names another) forwards every viewer stream to a local [TunnelOrigin]; viewers are [HttpViewer]
 * connections to the tunnel's public URL. Figures: download and upload of one large body, and small GETs at
 * several numbers of concurrent viewers.
 */
internal object TunnelScenario {
    /** One op of a body transfer moves this much (the last op of a body may move less). */
    const val BODY_OP_BYTES: Int = 1 shl 20

    /** Warm-up rounds transfer bodies of at most this size (each runs to its end: see [BodyTarget]). */
    const val WARM_BODY_BYTES: Long = 16L shl 20

    class Body(val upload: Boolean, val bytes: Long, val summary: LoadSummary) {
        private val opBytes = minOf(bytes, BODY_OP_BYTES.toLong())

        /** Bytes a measured round moved: the whole body, unless the round hit `--tunnel-timeout` first. */
        fun moved(r: RoundResult): Long = minOf(r.completed * opBytes, bytes)

        /** MB/s of one measured round. */
        fun mbs(r: RoundResult): Double = moved(r) / 1e6 / (r.elapsedNanos / 1e9)

        /** Rounds that hit the time bound before the end of the body. */
        val cutShort: Int get() = summary.rounds.count { moved(it) < bytes }
        val medianMBs: Double get() = median(summary.rounds.map { mbs(it) })
        val direction: String
            get() = if (upload) "upload (viewer POSTs the body)" else "download (viewer GETs the body)"
    }

    class Results(val proxy: String, val embedded: Boolean, val bodies: List<Body>, val gets: List<LoadSummary>)

    fun run(o: EndToEndOptions, log: PrintStream): Results {
        val fake = if (o.tunnelProxy == null) FakeTunnelProxy.start() else null
        val viewerPool = Executors.newCachedThreadPool { r -> Thread(r, "bench-viewer").apply { isDaemon = true } }
        val viewers = viewerPool.asCoroutineDispatcher()
        val forwarding = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        try {
            TunnelOrigin().use { origin ->
                val proxyUrl = o.tunnelProxy ?: fake!!.url
                val secret = o.tunnelSecret ?: TunnelTokens.TEST_SECRET
                val config = TunnelConfig(o.tunnelId, proxyUrl) { tokenGenerator(TunnelTokens.generator(secret)) }
                val client = runBlocking { withTimeout(60.seconds) { TunnelClient(config).connect() } }
                try {
                    forwarding.launch { client.forward(origin.url) }
                    val base = URI(
                        client.url.ifEmpty {
                            fake?.clientUrl(o.tunnelId) ?: error("the proxy announced no public URL")
                        },
                    )
                    log.println(
                        "  tunnel ${o.tunnelId} registered at $proxyUrl, public URL $base, origin ${origin.url}",
                    )
                    val bodies = listOf(false, true).map { upload ->
                        val ops = ceil(o.tunnelBody.toDouble() / BODY_OP_BYTES).toLong()
                        val warmBytes = minOf(o.tunnelBody, WARM_BODY_BYTES)
                        val summary = EndToEnd.measure(
                            o,
                            log,
                            "tunnel ${if (upload) "upload" else "download"} of ${Fmt.count(o.tunnelBody)} B",
                            1,
                            duration = o.tunnelTimeout,
                            maxOps = ops,
                            warmMaxOps = ceil(warmBytes.toDouble() / BODY_OP_BYTES).toLong(),
                            warmOpen = { BodyTarget(base, upload, warmBytes, viewers).open() },
                        ) { BodyTarget(base, upload, o.tunnelBody, viewers).open() }
                        Body(upload, o.tunnelBody, summary)
                    }
                    val gets = o.tunnelViewers.sortedDescending().map { n ->
                        EndToEnd.measure(o, log, "tunnel small GET", n) { GetTarget(base, n, viewers).open() }
                    }.sortedBy { it.inFlight }
                    return Results(proxyUrl, fake != null, bodies, gets)
                } finally {
                    forwarding.cancel()
                    client.close()
                }
            }
        } finally {
            viewerPool.shutdownNow()
            fake?.close()
        }
    }

    /**
     * One viewer moving one body of [bytes] through the tunnel: each op reads (download) or writes (upload)
     * [BODY_OP_BYTES]. [finish] completes a warm-up body if the round's time ran out first (so no stream is left
     * half done: wsmux has no reset, and an abandoned stream stays blocked) and, for an upload, reads the origin's
     * answer and checks the byte count.
     */
    private class BodyTarget(
        private val base: URI,
        private val upload: Boolean,
        private val bytes: Long,
        private val io: kotlinx.coroutines.CoroutineDispatcher,
    ) : LoadTarget {
        private lateinit var viewer: HttpViewer
        private val buffer = ByteArray(BODY_OP_BYTES) { (it % 251).toByte() }
        private var left = bytes

        suspend fun open(): BodyTarget = runInterruptible(io) {
            viewer = HttpViewer(base)
            if (upload) {
                viewer.sendHead("POST", "/upload", bytes)
            } else {
                viewer.sendHead("GET", "/download?bytes=$bytes")
                val head = viewer.readHead()
                check(head.status == 200 && head.contentLength == bytes) {
                    "download answered ${head.status}, length ${head.contentLength}"
                }
            }
            this
        }

        private fun step() {
            val n = minOf(left, buffer.size.toLong()).toInt()
            if (n == 0) return
            if (upload) viewer.write(buffer, 0, n) else viewer.readFully(buffer, n)
            left -= n
        }

        override suspend fun roundTrip(worker: Int, seq: Int) = runInterruptible(io) { step() }

        override suspend fun finish() = runInterruptible(io) {
            // A warm-up body is completed so that no stream is abandoned half done; a measured body that hit the
            // round's bound is abandoned (the round counts the bytes moved until then).
            if (left > WARM_BODY_BYTES) return@runInterruptible
            while (left > 0) step()
            if (upload) {
                viewer.flush()
                val head = viewer.readHead()
                val text = viewer.readText(head)
                check(head.status == 200 && text.trim() == bytes.toString()) { "upload answered ${head.status}: $text" }
            }
        }

        override fun close() = viewer.close()
    }

    /** [count] viewers, each with its own keep-alive connection, each op one `GET /small`. */
    private class GetTarget(
        private val base: URI,
        private val count: Int,
        private val io: kotlinx.coroutines.CoroutineDispatcher,
    ) : LoadTarget {
        private val viewers = ArrayList<HttpViewer>()
        private val scratch = Array(count) { ByteArray(8192) }

        suspend fun open(): GetTarget = runInterruptible(io) {
            repeat(count) { viewers += HttpViewer(base) }
            this
        }

        override suspend fun roundTrip(worker: Int, seq: Int) = runInterruptible(io) {
            val v = viewers[worker]
            v.sendHead("GET", "/small")
            val head = v.readHead()
            val n = v.skipBody(head, scratch[worker])
            check(head.status == 200 && n == TunnelOrigin.SMALL_BYTES.toLong()) {
                "GET answered ${head.status} with $n bytes"
            }
        }

        override fun close() = viewers.forEach { it.close() }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Report

    private fun mbs(v: Double): String = String.format(Locale.US, "%,.1f", v)

    fun render(ctx: RunContext, r: Results): String = buildString {
        val o = ctx.options
        val proxyName = if (r.embedded) "FakeTunnelProxy" else "an external proxy"
        append("### Tunnel: TunnelClient.forward through $proxyName\n\n")
        append(ctx.provenance()).append("\n\n")
        if (r.embedded) {
            append("An embedded `FakeTunnelProxy` (Ktor CIO, default options: wsmux windows of 4 KiB on the proxy) ")
        } else {
            append("The proxy at `${r.proxy}` ")
        }
        append("and one `TunnelClient` (default `TunnelClient.defaultMuxConfig()`: 4 KiB stream buffers) registered ")
        append("as `${o.tunnelId}` with a token from `TunnelTokens.generator(secret)`, which runs `forward` to a ")
        append("local Ktor CIO origin (`TunnelOrigin`: `GET /small` answers ${TunnelOrigin.SMALL_BYTES} bytes, `GET ")
        append("/download?bytes=N` streams N, `POST /upload` counts the body). So every viewer request crosses: ")
        append("viewer → proxy (HTTP) → one wsmux stream over the tunnel's WebSocket → a fresh TCP connection from ")
        append("the tunnel client to the origin, and back. Viewers are the benchmark's minimal blocking HTTP/1.1 ")
        append("clients (`HttpViewer`), one keep-alive connection each to the tunnel's public URL, on their own ")
        append("threads; everything on 127.0.0.1 unless an external proxy was named. The client and origin live for ")
        append("the whole scenario; every round opens fresh viewer connections.\n\n")
        append("**One body of ${MuxScenario.size(o.tunnelBody)}** (${Fmt.count(o.tunnelBody)} B; `--tunnel-body`), ")
        append("moved in reads or writes of up to ${BODY_OP_BYTES shr 20} MiB; a round is one whole body, bounded by ")
        append("${o.tunnelTimeout} (`--tunnel-timeout`); the upload's clock stops when the origin's answer (its byte ")
        append("count, checked) has arrived. Warm-up: ")
        if (o.warmup.inWholeMilliseconds == 0L) {
            append("none")
        } else {
            append("bodies of at most ${MuxScenario.size(minOf(o.tunnelBody, WARM_BODY_BYTES))} in rounds of ")
            append("${minOf(EndToEnd.WARMUP_STEP, o.warmup)} (a body is finished even when its round's time is up), ")
            append("until the JIT is quiet or for at most ${o.warmup}")
        }
        append("; ")
        append("then ${o.rounds} measured rounds. MB = 10^6 bytes.\n\n")
        append("| direction | MB/s (median) | min – max | spread | seconds per body (median) | CPU per MB |\n")
        append("|:---|---:|---:|---:|---:|---:|\n")
        for (b in r.bodies) {
            val rates = b.summary.rounds.map { b.mbs(it) }
            val med = median(rates)
            val secs = median(b.summary.rounds.map { it.elapsedNanos / 1e9 })
            val cpu = median(
                b.summary.rounds.map {
                    if (it.cpuNanos < 0 || b.moved(it) == 0L) Double.NaN else it.cpuNanos / 1e6 / (b.moved(it) / 1e6)
                },
            )
            append("| ${b.direction} | **${mbs(med)}** | ${mbs(rates.min())} – ${mbs(rates.max())} | ")
            append("${Fmt.pct(if (med == 0.0) 0.0 else (rates.max() - rates.min()) * 100 / med)} | ")
            val cpuCell = if (cpu.isNaN()) "n/a" else String.format(Locale.US, "%.2f ms", cpu)
            append("${String.format(Locale.US, "%.2f s", secs)} | $cpuCell |\n")
        }
        append('\n')
        for (b in r.bodies) {
            append("Rounds, ${if (b.upload) "upload" else "download"} (MB/s): ")
            append("${b.summary.rounds.joinToString(" · ") { mbs(b.mbs(it)) }}; ")
            append("warm-up ${b.summary.warmup.rates.size} rounds")
            append(if (b.summary.warmup.converged) " (JIT quiet)" else "")
            if (b.cutShort > 0) {
                append("; ${b.cutShort} round(s) hit the bound before the end of the body and count ")
                append("the bytes moved until then")
            }
            append(".  \n")
        }
        append("\n")
        append("**Small GETs** (`GET /small`, ${TunnelOrigin.SMALL_BYTES}-byte answer, checked): N viewers each send ")
        append("requests back to back on their own keep-alive connection; each request is its own wsmux stream and ")
        append("origin connection. Per configuration: ")
        append(
            EndToEnd.describeRounds(o)
                .replace("round trips", "requests")
                .replace("in-flight settings", "viewer counts"),
        )
        append(". ")
        append("Latency is per request (head written to body read), System.nanoTime, exact percentiles of all ")
        append("samples. The \"in flight\" column is the number of concurrent viewers.\n\n")
        append(loadTable("requests/s", r.gets))
    }
}
