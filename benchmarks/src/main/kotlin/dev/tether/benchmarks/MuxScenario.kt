package dev.tether.benchmarks

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxProtocol
import dev.tether.mux.MuxSession
import dev.tether.mux.Stream
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.io.PrintStream
import java.util.Locale
import java.util.concurrent.atomic.AtomicLong
import kotlin.coroutines.CoroutineContext
import kotlin.coroutines.EmptyCoroutineContext
import kotlin.math.ceil
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/**
 * The wsmux scenario (issue 3): one-way throughput of one stream at several receive windows, each beside the raw
 * WebSocket moving the same bytes in messages of the same size; many concurrent streams on one session; heap per
 * idle open stream. Client: tether-core `WebSocketDialer` + `MuxSession.client`; peer: [MuxPeer].
 */
internal object MuxScenario {
    /** Goal: one stream at a 64 KiB window moves at least this share of the raw WebSocket's bytes per second. */
    const val GOAL_RATIO: Double = 0.80
    const val GOAL_WINDOW: Int = 64 * 1024

    /**
     * Transport goal (issue 14): one stream moves at least this share of what the raw WebSocket moves under the same
     * credit rule (the same window, credit returned per message read), at each of [CREDIT_GOAL_WINDOWS].
     */
    const val GOAL_CREDIT_RATIO: Double = 0.90

    /** The windows the credit-rule goal is stated for. */
    val CREDIT_GOAL_WINDOWS: List<Window> get() = listOf(Window.W4K, Window.W64K)

    /**
     * Message sizes of the raw transfers under a window's credit rule: one message per window, as wsmux sends a
     * window-sized write, and quarter-window messages, which let credit come back before the window is spent.
     */
    private fun windowedChunks(w: Window): List<Int> = listOf(w.capacity, w.capacity / 4)

    /** Goal: an idle open stream costs less heap than this. */
    const val GOAL_IDLE_BYTES: Double = 2048.0

    /** A receive-window setting; both ends of the session use it. [messageBytes] is each application write/read. */
    enum class Window(val label: String, val capacity: Int, val autoTuneMax: Int, val messageBytes: Int) {
        W64K("64 KiB", 64 * 1024, 0, 64 * 1024),
        W4K("4 KiB", 4 * 1024, 0, 4 * 1024),
        W1K("1 KiB", 1024, 0, 1024),
        AUTO("auto (1 KiB, up to 1 MiB)", 1024, 1 shl 20, 64 * 1024),
        ;

        /** Name on the command line (`--mux-windows`). */
        val key: String get() = if (this == AUTO) "auto" else label.replace(" ", "").lowercase()

        fun config(): MuxConfig = MuxConfig {
            streamBufferSize(capacity)
            peerCapacity(capacity)
            autoTuneMaxWindow(autoTuneMax)
        }

        /**
         * Bytes the sender may have unacknowledged: the window, both ways, since both ends know what the other holds
         * (`peerCapacity`), and the opener grants what it holds beyond that right after the accept (see the report's
         * note).
         */
        fun inFlight(): String = if (autoTuneMax > 0) "grows from 1 KiB" else kib(capacity)
    }

    /** Figures of one transfer configuration; [summary] counts messages of [messageBytes]. */
    class Transfer(
        val window: Window?,
        val upload: Boolean,
        val streams: Int,
        val messageBytes: Int,
        val summary: LoadSummary,
        /** Largest WebSocket message of a windowed raw transfer (its [window] is then the credit window). */
        val chunkBytes: Int = messageBytes,
        /** A mux transfer whose client reads or writes on the session's I/O thread instead of `Dispatchers.Default`. */
        val onIoThread: Boolean = false,
    ) {
        private fun mb(perSecond: Double) = perSecond * messageBytes / 1e6
        val medianMBs: Double get() = mb(summary.medianPerSecond)
        val minMBs: Double get() = mb(summary.minPerSecond)
        val maxMBs: Double get() = mb(summary.maxPerSecond)

        /** Process CPU per MB moved, ms. */
        val cpuMillisPerMB: Double get() = summary.medianCpuNanosPerOp / messageBytes
        val direction: String get() = if (upload) "upload" else "download"

        /** [direction], naming the client's thread for an [onIoThread] transfer. */
        val directionLabel: String get() = direction + where(onIoThread)
    }

    /** What a label adds for a transfer whose client runs on the I/O thread. */
    private fun where(onIoThread: Boolean): String = if (onIoThread) ", client on the I/O thread" else ""

    class Results(
        val single: List<Transfer>,
        /** Single-stream transfers at [CREDIT_GOAL_WINDOWS] with the client on the session's I/O thread. */
        val onIoThread: List<Transfer>,
        val raw: List<Transfer>,
        /**
         * Raw WebSocket transfers under the same credit window as a mux configuration ([RawBulkClient.windowBytes]).
         */
        val windowed: List<Transfer>,
        val concurrent: List<Transfer>,
        val heap: EndToEnd.HeapRound?,
        val heapWarmup: EndToEnd.HeapRound?,
        val heapRounds: List<EndToEnd.HeapRound>,
        val topClasses: List<Triple<String, Double, Double>>?,
    ) {
        fun rawFor(t: Transfer): Transfer? =
            raw.firstOrNull { it.upload == t.upload && it.messageBytes == t.messageBytes }

        /** The single-stream mux transfer with [t]'s window, direction and client thread. */
        fun muxFor(t: Transfer): Transfer? = (if (t.onIoThread) onIoThread else single)
            .firstOrNull { it.window == t.window && it.upload == t.upload }

        /**
         * The faster raw transfer under [t]'s credit window, same direction, client on the same thread: what the
         * credit rule alone allows.
         */
        fun ceilingFor(t: Transfer): Transfer? = windowed
            .filter { it.window == t.window && it.upload == t.upload && it.onIoThread == t.onIoThread }
            .maxByOrNull { it.medianMBs }
    }

    fun run(o: EndToEndOptions, log: PrintStream): Results {
        val single = ArrayList<Transfer>()
        val onIoThread = ArrayList<Transfer>()
        val raw = ArrayList<Transfer>()
        val windowed = ArrayList<Transfer>()
        LoopbackServer().use { server ->
            for (w in Window.entries.filter { it.key in o.muxWindows }) {
                MuxPeer(w.config(), o.muxRead).use { peer ->
                    for (upload in listOf(true, false)) {
                        val dir = if (upload) "upload" else "download"
                        if (raw.none { it.upload == upload && it.messageBytes == w.messageBytes }) {
                            val ops = opsFor(o, w.messageBytes)
                            val label = "raw ws $dir ${kib(w.messageBytes)} messages"
                            val summary = EndToEnd.measure(o, log, label, 1, maxOps = ops) {
                                RawBulkClient(server, upload, w.messageBytes, ops * w.messageBytes).open()
                            }
                            raw += Transfer(null, upload, 1, w.messageBytes, summary)
                        }
                        if (w in CREDIT_GOAL_WINDOWS) {
                            val ops = opsFor(o, w.messageBytes)
                            for (io in listOf(false, true)) {
                                for (chunk in windowedChunks(w)) {
                                    val label = "raw ws $dir, credit window ${w.label}, ${kib(chunk)} messages" +
                                        where(io)
                                    val summary = EndToEnd.measure(o, log, label, 1, maxOps = ops) {
                                        RawBulkClient(
                                            server,
                                            upload,
                                            w.messageBytes,
                                            ops * w.messageBytes,
                                            windowBytes = w.capacity,
                                            chunkBytes = chunk,
                                            onIoThread = io,
                                        ).open()
                                    }
                                    windowed += Transfer(w, upload, 1, w.messageBytes, summary, chunk, onIoThread = io)
                                }
                            }
                        }
                        single += transfer(o, log, peer, w, upload, 1)
                        if (w in CREDIT_GOAL_WINDOWS) {
                            onIoThread += transfer(
                                o,
                                log,
                                peer,
                                w,
                                upload,
                                1,
                                onIoThread = true,
                            )
                        }
                    }
                }
            }
        }
        val concurrent = ArrayList<Transfer>()
        MuxPeer(Window.W64K.config(), o.muxRead).use { peer ->
            for (upload in listOf(true, false)) concurrent += transfer(o, log, peer, Window.W64K, upload, o.muxStreams)
        }
        val (warm, rounds, top) = idleHeap(o, log)
        val heap = rounds.takeIf { it.isNotEmpty() }?.let { median(it) }
        return Results(single, onIoThread, raw, windowed, concurrent, heap, warm, rounds, top)
    }

    private fun median(rounds: List<EndToEnd.HeapRound>): EndToEnd.HeapRound =
        rounds.sortedBy { it.perRequest }[rounds.size / 2]

    private fun opsFor(o: EndToEndOptions, messageBytes: Int): Long = (o.muxBytes / messageBytes).coerceAtLeast(1)

    private fun transfer(
        o: EndToEndOptions,
        log: PrintStream,
        peer: MuxPeer,
        w: Window,
        upload: Boolean,
        streams: Int,
        onIoThread: Boolean = false,
    ): Transfer {
        val ops = opsFor(o, w.messageBytes)
        val perStream = ceil(ops.toDouble() / streams).toLong() * w.messageBytes
        val direction = if (upload) "upload" else "download"
        val label = "mux $direction window ${w.label}, $streams stream${if (streams == 1) "" else "s"}" +
            where(onIoThread)
        return Transfer(
            w,
            upload,
            streams,
            w.messageBytes,
            EndToEnd.measure(o, log, label, streams, maxOps = ops) {
                MuxTarget(peer, w.config(), upload, streams, w.messageBytes, perStream, o.muxRead, onIoThread).open()
            },
            onIoThread = onIoThread,
        )
    }

    /**
     * One session with [streams] streams; worker i moves one message per op on stream i, on `Dispatchers.Default` or,
     * with [onIoThread], on the session's I/O thread (`MuxSession.dispatcher`).
     */
    private class MuxTarget(
        private val peer: MuxPeer,
        private val config: MuxConfig,
        private val upload: Boolean,
        private val count: Int,
        private val messageBytes: Int,
        private val perStreamBytes: Long,
        private val readBytes: Int,
        private val onIoThread: Boolean,
    ) : LoadTarget {
        private val dialer = WebSocketDialer(DialerConfig(peer.url("/mux")) { maxMessageBytes(2L shl 20) })
        private lateinit var session: MuxSession
        private lateinit var streams: List<Stream>
        private val message = ByteArray(messageBytes) { (it % 251).toByte() }
        private val buffers = if (upload) emptyArray() else Array(count) { ByteArray(messageBytes) }
        private val sent = AtomicLong()
        private var start = 0L

        override val workers: CoroutineContext get() = if (onIoThread) session.dispatcher else EmptyCoroutineContext

        suspend fun open(): MuxTarget {
            session = MuxSession.client(dialer.dial(), config)
            start = peer.receivedBytes()
            streams = coroutineScope {
                (0 until count).map {
                    async {
                        session.open().also { s -> s.write(MuxPeer.command(upload, messageBytes, perStreamBytes)) }
                    }
                }.awaitAll()
            }
            return this
        }

        override suspend fun roundTrip(worker: Int, seq: Int) {
            val stream = streams[worker]
            if (upload) {
                stream.write(message)
                sent.addAndGet(messageBytes.toLong())
            } else {
                val into = buffers[worker]
                var got = 0
                while (got < messageBytes) {
                    val n = stream.read(into, got, MuxPeer.readLength(readBytes, messageBytes - got))
                    check(n >= 0) { "stream ${stream.id} ended early" }
                    got += n
                }
            }
        }

        override suspend fun finish() {
            if (upload) withTimeout(1.minutes) { while (peer.receivedBytes() - start < sent.get()) delay(1) }
        }

        override fun close() {
            if (::session.isInitialized) session.close()
            dialer.close()
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Heap per idle stream

    private fun idleHeap(
        o: EndToEndOptions,
        log: PrintStream,
    ): Triple<EndToEnd.HeapRound, List<EndToEnd.HeapRound>, List<Triple<String, Double, Double>>?> {
        val config = MuxConfig.DEFAULT
        var top: List<Triple<String, Double, Double>>? = null
        MuxPeer(config).use { peer ->
            fun round(n: Int, histogram: Boolean): EndToEnd.HeapRound {
                val dialer = WebSocketDialer(DialerConfig(peer.url("/mux-ack")))
                try {
                    return runBlocking(Dispatchers.Default) {
                        val session = MuxSession.client(dialer.dial(), config)
                        try {
                            // A histogram kept alive shows up in the next one: the growth from one to a second taken
                            // right after it is that cost, subtracted below.
                            val histBefore = if (histogram) ClassHistogram.take() else null
                            val histOwn = histBefore?.let { ownCost(it) }
                            val before = EndToEnd.usedHeapAfterGc()
                            val streams = arrayOfNulls<Stream>(n)
                            withTimeout(2.minutes) { openAll(session, streams) }
                            val with = EndToEnd.usedHeapAfterGc()
                            val histWith = if (histogram) ClassHistogram.take() else null
                            if (histBefore != null && histOwn != null && histWith != null) {
                                top = growthWithout(histBefore, histOwn, histWith, n)
                            }
                            check(streams.all { it != null } && session.streamCount >= n) {
                                "expected $n open streams, session has ${session.streamCount}"
                            }
                            EndToEnd.HeapRound(n, before, with)
                        } finally {
                            session.close()
                        }
                    }
                } finally {
                    dialer.close()
                }
            }
            val warm = round(minOf(o.muxIdle, 1_000), histogram = false)
            log.println("  mux idle heap warm-up: ${Fmt.bytes(warm.perRequest)}/stream with ${warm.pending} open")
            val rounds = (1..o.heapRounds).map { i ->
                round(o.muxIdle, histogram = i == o.heapRounds).also {
                    log.println("  mux idle heap round $i: ${Fmt.bytes(it.perRequest)}/stream with ${it.pending} open")
                }
            }
            return Triple(warm, rounds, top)
        }
    }

    /** Opens a stream for every slot of [into], [OPEN_BATCH] at a time (the coroutines are gone when it returns). */
    private suspend fun openAll(session: MuxSession, into: Array<Stream?>) {
        var from = 0
        while (from < into.size) {
            val to = minOf(into.size, from + OPEN_BATCH)
            coroutineScope { for (i in from until to) launch { into[i] = session.open() } }
            from = to
        }
    }

    private const val OPEN_BATCH = 500

    private val zero = ClassHistogram.Entry(0, 0)

    /**
     * What keeping [before] alive costs: the classes that grew from it to a histogram taken right after it (only
     * those few are kept, so this result costs next to nothing itself).
     */
    private fun ownCost(before: Map<String, ClassHistogram.Entry>): Map<String, ClassHistogram.Entry> {
        val again = ClassHistogram.take() ?: return emptyMap()
        return again.mapNotNull { (name, a) ->
            val b = before[name] ?: zero
            if (a.instances == b.instances && a.bytes == b.bytes) {
                null
            } else {
                name to ClassHistogram.Entry(a.instances - b.instances, a.bytes - b.bytes)
            }
        }.toMap()
    }

    /** Per-stream growth from [before] to [with], less [own] (the cost of keeping [before] alive). */
    private fun growthWithout(
        before: Map<String, ClassHistogram.Entry>,
        own: Map<String, ClassHistogram.Entry>,
        with: Map<String, ClassHistogram.Entry>,
        per: Int,
    ): List<Triple<String, Double, Double>> = with.map { (name, w) ->
        val b = before[name] ?: zero
        val o = own[name] ?: zero
        val instances = (w.instances - b.instances - o.instances).toDouble() / per
        Triple(name, instances, (w.bytes - b.bytes - o.bytes).toDouble() / per)
    }.filter { it.third >= 0.5 }.sortedByDescending { it.third }.take(12)

    // ---------------------------------------------------------------------------------------------------------
    // Report

    /** A byte count in the largest binary unit that divides it. */
    fun size(bytes: Long): String = when {
        bytes % (1L shl 30) == 0L -> "${bytes shr 30} GiB"
        bytes % (1L shl 20) == 0L -> "${bytes shr 20} MiB"
        bytes % 1024 == 0L -> "${bytes shr 10} KiB"
        else -> "${Fmt.count(bytes)} B"
    }

    private fun kib(bytes: Int): String = if (bytes % 1024 == 0) "${bytes / 1024} KiB" else "$bytes B"
    private fun mbs(v: Double): String = String.format(Locale.US, "%,.1f", v)
    private fun ms(v: Double): String = if (v.isNaN()) "n/a" else String.format(Locale.US, "%.2f ms", v)

    private fun rounds(t: Transfer): String =
        t.summary.rounds.joinToString(" · ") { mbs(it.perSecond * t.messageBytes / 1e6) }
    private fun warmup(t: Transfer): String = t.summary.warmup.let { w ->
        val jit = if (w.converged) ", JIT quiet" else ", cap reached with the JIT still busy"
        if (w.rates.isEmpty()) "no warm-up" else "warm-up ${w.rates.size} rounds$jit"
    }

    fun renderThroughput(ctx: RunContext, r: Results): String = buildString {
        append("### wsmux stream throughput beside the raw WebSocket\n\n")
        append(ctx.provenance()).append("\n\n")
        append("Client: tether-core `WebSocketDialer` (Netty) and `MuxSession.client` with the window below; peer: ")
        append("the benchmark's `MuxPeer`, a Netty server running `MuxSession.server` with the same `MuxConfig`, ")
        append("whose streams count what they read (upload) or write a requested number of bytes (download); all on ")
        append("127.0.0.1. One op is one application `write` (upload) or a `read` loop that fills one message ")
        append("(download) of the message size; an upload round stops its clock only when the peer has read every ")
        append("byte sent; its stream's opening command is padded to one message, so that later writes fill the ")
        append("window exactly. The client's reads and writes, wsmux's and the raw baselines', run in a coroutine on ")
        append(
            "`Dispatchers.Default`; in the rows \"client on the I/O thread\" (at the credit goal's windows) they run ",
        )
        append("on the connection's I/O thread instead (`MuxSession.dispatcher`, `WebSocketConnection.dispatcher`), ")
        append("where the benchmark's servers and the peer's streams do their work. ")
        val read = ctx.options.muxRead
        val readSize = if (read > 0) "at most ${size(read.toLong())}" else "the rest of the message"
        append("Readers (the peer on upload, the client on download) ask for $readSize ")
        append("per `read` call (`--mux-read`), and reads return their credit in one ACK per half window read (a ")
        append("quarter for windows of four full DATs or more; at once when the sender has none left). DATs carry ")
        append("at most ${kib(MuxProtocol.MAX_DATA_PAYLOAD)} ")
        append("(`MuxProtocol.MAX_DATA_PAYLOAD`). The raw baseline moves the same bytes as binary messages of the ")
        append("same size over one raw `WebSocketDialer` connection (the same Netty transport, no protocol) to the ")
        append("benchmark's Netty `/sink` (counts bytes; the clock stops when it has them all) or from `/source`. The ")
        append("auto window starts at 1 KiB and doubles, by extra ACK credit, whenever the sender filled it, up to 1 ")
        append("MiB (`MuxConfig.autoTuneMaxWindow`). MB = 10^6 bytes. Per ")
        val rounds = EndToEnd.describeRounds(ctx.options).replace(Regex(", each capped at [0-9,]+ round trips"), "")
            .replace(Regex("\\. The in-flight settings run .*$"), "")
        append("configuration: $rounds; each round also stops at ${size(ctx.options.muxBytes)} (`--mux-bytes`).\n\n")
        append("| window | direction | message | unacknowledged at most | mux MB/s (median) | min – max | spread | ")
        append("raw WebSocket MB/s (median) | min – max | mux / raw | CPU per MB: mux · raw |\n")
        append("|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for (t in r.single + r.onIoThread) {
            val w = t.window!!
            val raw = r.rawFor(t)
            append("| ${w.label} | ${t.directionLabel} | ${kib(t.messageBytes)} | ${w.inFlight()} | ${rateCells(t)} | ")
            if (raw == null) {
                append("n/a | | | ${ms(t.cpuMillisPerMB)} |\n")
            } else {
                append("${mbs(raw.medianMBs)} | ${mbs(raw.minMBs)} – ${mbs(raw.maxMBs)} | ")
                append("${Fmt.pct(ratio(t, raw) * 100)} | ${ms(t.cpuMillisPerMB)} · ${ms(raw.cpuMillisPerMB)} |\n")
            }
        }
        append('\n')
        append("Unacknowledged at most: what the sender may have in flight. Uploads get the peer's full window from ")
        append("its first ACK. A download's sender is the accepting side, whose first window is its own capacity but ")
        append("at most what it assumes the opener holds (`MuxConfig.peerCapacity`, set to the window on both ends ")
        append("here; 1024 by default, the rule that keeps Go openers from being overrun); the opener, which never ")
        append("announces its capacity on the wire, grants anything beyond that as one extra ACK right after the ")
        append("accept, so a download has the whole window too. With a fixed window the sender stops when it has sent ")
        append("the window and waits for the reader's ACK: one round trip per window. The auto window grows by extra ")
        append("credit whenever the sender filled it. CPU per MB: CPU time of the whole process (client, peer, GC, ")
        append("JIT) per MB moved, median of the rounds.\n\n")
        if (r.windowed.isNotEmpty()) {
            append("**The same credit window without wsmux.** The raw WebSocket again, to the benchmark's ")
            append("`/window-sink` or from `/window-source`, under wsmux's flow-control rule: the sender keeps at ")
            append("most the window unacknowledged, and the receiver answers each binary message it has read with a ")
            append("4-byte credit of its size. Nothing else of wsmux runs (no frame header, session, stream or ACK ")
            append("routing), so it shows what the credit rule alone allows over this stack; ops and rounds as ")
            append("above.\n\n")
            append("| window | direction | messages | raw under the window, MB/s (median) | min – max | spread | ")
            append("share of raw streaming | mux / this (client on the same thread) | CPU per MB |\n")
            append("|:---|:---|---:|---:|---:|---:|---:|---:|---:|\n")
            for (c in r.windowed) {
                val raw = r.rawFor(c)
                val mux = r.muxFor(c)
                append("| ${c.window!!.label} | ${c.directionLabel} | ${kib(c.chunkBytes)} | ${rateCells(c)} | ")
                append("${raw?.let { Fmt.pct(ratio(c, it) * 100) } ?: "n/a"} | ")
                append("${mux?.let { Fmt.pct(ratio(it, c) * 100) } ?: "n/a"} | ${ms(c.cpuMillisPerMB)} |\n")
            }
            append('\n')
        }
        if (r.concurrent.isNotEmpty()) {
            append("**Concurrent streams** on one session (window 64 KiB, 64 KiB messages; every stream has its own ")
            append("worker coroutine; the cap of ${size(ctx.options.muxBytes)} per round is shared):\n\n")
            append("| streams | direction | aggregate MB/s (median) | min – max | spread | CPU per MB | one stream, ")
            append("same window (median) |\n")
            append("|---:|:---|---:|---:|---:|---:|---:|\n")
            for (t in r.concurrent) {
                val one = r.muxFor(t)
                append("| ${t.streams} | ${t.direction} | ${rateCells(t)} | ${ms(t.cpuMillisPerMB)} | ")
                append("${one?.let { mbs(it.medianMBs) } ?: "n/a"} |\n")
            }
            append('\n')
        }
        append("Rounds (MB/s):  \n")
        for (t in r.raw) append("raw ${t.direction}, ${kib(t.messageBytes)} messages: ${rounds(t)} (${warmup(t)}).  \n")
        for (t in r.windowed) {
            append("raw ${t.direction} under a ${t.window!!.label} credit window, ")
            append("${kib(t.chunkBytes)} messages${where(t.onIoThread)}: ")
            append("${rounds(t)} (${warmup(t)}).  \n")
        }
        for (t in r.single + r.onIoThread + r.concurrent) {
            val streams = "${t.streams} stream${if (t.streams == 1) "" else "s"}"
            append("mux ${t.directionLabel}, window ${t.window!!.label}, $streams: ${rounds(t)} (${warmup(t)}).  \n")
        }
    }

    /** Median, range and spread cells of a table row. */
    private fun rateCells(t: Transfer): String = "**${mbs(t.medianMBs)}** | ${mbs(t.minMBs)} – ${mbs(t.maxMBs)} | " +
        "${Fmt.pct(t.summary.spreadPercent)}"

    private fun ratio(a: Transfer, b: Transfer): Double = if (b.medianMBs == 0.0) 0.0 else a.medianMBs / b.medianMBs

    fun renderHeap(ctx: RunContext, r: Results): String = buildString {
        append("### Heap per idle wsmux stream\n\n")
        append(ctx.provenance()).append("\n\n")
        val h = r.heap
        if (h == null || r.heapWarmup == null) {
            append("Not measured.\n")
            return@buildString
        }
        append("One client session (`WebSocketDialer` + `MuxSession.client`, default `MuxConfig`: 1 KiB windows) to ")
        append("the benchmark's `/mux-ack` endpoint, which answers each SYN with an ACK and keeps no state, so only ")
        append("the client's heap grows. Each round, on a fresh session, reads used heap (MemoryMXBean, after 4 × ")
        append("System.gc()), opens ${Fmt.count(h.pending.toLong())} streams (each accepted by the peer's ACK) and ")
        append("keeps them open and idle, reads used heap again and divides the growth by the stream count; the ")
        append("figure includes the session's map entry and the 4-byte slot of the array that holds the streams. One ")
        append("warm-up round of ")
        val plural = if (r.heapRounds.size == 1) "" else "s"
        append("${Fmt.count(r.heapWarmup.pending.toLong())} streams, ")
        append("then ${r.heapRounds.size} measured round$plural.\n\n")
        append("| | open streams | used heap before | used heap with streams open | bytes per idle stream |\n")
        append("|---|---:|---:|---:|---:|\n")
        val all = listOf("warm-up" to r.heapWarmup) + r.heapRounds.mapIndexed { i, x -> "round ${i + 1}" to x }
        for ((name, x) in all) {
            append("| $name | ${Fmt.count(x.pending.toLong())} | ${Fmt.mib(x.before)} | ")
            append("${Fmt.mib(x.with)} | ${Fmt.bytes(x.perRequest)} |\n")
        }
        val per = r.heapRounds.map { it.perRequest }
        append("\n")
        append("**Median: ${Fmt.bytes(h.perRequest)} per idle stream** (rounds ${Fmt.bytes(per.min())} – ")
        append("${Fmt.bytes(per.max())}).\n")
        r.topClasses?.let { top ->
            append("\n")
            append("Where the bytes go (live-object class histograms, `GC.class_histogram`, before and with the ")
            append("streams open in the last round; growth per stream, largest first):\n\n")
            append("| class | instances per stream | bytes per stream |\n")
            append("|:---|---:|---:|\n")
            for ((name, instances, bytes) in top) {
                append("| `").append(name).append("` | ").append(String.format(Locale.US, "%.2f", instances))
                append(" | ").append(Fmt.bytes(bytes)).append(" |\n")
            }
        }
    }

    fun renderGoal(ctx: RunContext, r: Results): String = buildString {
        append("### Goal: wsmux at a 64 KiB window reaches at least ${(GOAL_RATIO * 100).toInt()} % of raw WebSocket ")
        append("throughput, and ${(GOAL_CREDIT_RATIO * 100).toInt()} % of it under the same credit rule at 4 KiB and ")
        append("64 KiB windows; an idle stream costs under 2 KiB\n\n")
        append(ctx.provenance()).append("\n\n")
        append("| goal | measured | target | verdict |\n|:---|---:|---:|:---|\n")
        for (t in r.single.filter { it.window == Window.W64K }) {
            val raw = r.rawFor(t) ?: continue
            val ratio = ratio(t, raw)
            append("| one stream, ${t.direction}, 64 KiB window: mux / raw | ${Fmt.pct(ratio * 100)} ")
            append("(${mbs(t.medianMBs)} / ${mbs(raw.medianMBs)} MB/s) | ≥ ${(GOAL_RATIO * 100).toInt()} % | ")
            append("${if (ratio >= GOAL_RATIO) "**PASS**" else "**MISS**"} |\n")
            r.ceilingFor(t)?.let { c ->
                append("| ${t.direction}: raw WebSocket under the same 64 KiB credit window (${kib(c.chunkBytes)} ")
                append("messages) / raw | ${Fmt.pct(ratio(c, raw) * 100)} (${mbs(c.medianMBs)} / ")
                append("${mbs(raw.medianMBs)} MB/s) | | what the credit rule alone allows on this stack |\n")
            }
        }
        for (w in CREDIT_GOAL_WINDOWS) {
            for (t in (r.single + r.onIoThread).filter { it.window == w }) {
                val c = r.ceilingFor(t) ?: continue
                val ratio = ratio(t, c)
                append("| one stream, ${t.directionLabel}, ${w.label} window: ")
                append("mux / raw WebSocket under the same credit rule ")
                append("(faster of ${kib(w.capacity)} and ${kib(w.capacity / 4)} messages) | ${Fmt.pct(ratio * 100)} ")
                append("(${mbs(t.medianMBs)} / ${mbs(c.medianMBs)} MB/s) | ≥ ${(GOAL_CREDIT_RATIO * 100).toInt()} % | ")
                append("${if (ratio >= GOAL_CREDIT_RATIO) "**PASS**" else "**MISS**"} |\n")
            }
        }
        for (t in r.single.filter { it.window == Window.AUTO }) {
            val raw = r.rawFor(t) ?: continue
            append("| one stream, ${t.direction}, auto window: mux / raw (64 KiB messages) | ")
            append("${Fmt.pct(ratio(t, raw) * 100)} | | for reference |\n")
        }
        r.heap?.let { h ->
            append("| heap per idle open stream (median of rounds) | ${Fmt.bytes(h.perRequest)} | ")
            val verdict = if (h.perRequest < GOAL_IDLE_BYTES) "**PASS**" else "**MISS**"
            append("< ${Fmt.bytes(GOAL_IDLE_BYTES)} | $verdict |\n")
        }
        append("\n")
        append("Ratios of the medians of the measured rounds in the throughput section; all configurations ran in the ")
        append("same JVM, one after the other. The verdicts are the report's statement only: no test asserts ")
        append("wall-clock figures.")
        val ceilings = r.single.filter { it.window == Window.W64K }.mapNotNull { t ->
            r.rawFor(t)?.let { raw -> r.ceilingFor(t)?.let { ratio(it, raw) } }
        }
        if (ceilings.isNotEmpty() && ceilings.any { it < GOAL_RATIO }) {
            append(" The ceiling rows show the raw WebSocket itself, held to the same credit window with no wsmux ")
            append("work at all, below the ${(GOAL_RATIO * 100).toInt()} % target in this run: the sender waits for ")
            append("credit once per window, and a credit's round trip through this stack costs more time than moving ")
            append("the window's bytes.")
        }
        append('\n')
    }
}
