package dev.tether.benchmarks

import dev.tether.core.DialerConfig
import dev.tether.core.MessageListener
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WebSocketTransport
import dev.tether.core.WsMessage
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import java.io.PrintStream
import java.nio.file.Paths
import java.util.Locale
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * The transport scenario (issue 14): Tether's WebSocket transports and the Go gorilla client against one Go
 * reference server ([GoRefPeer], `benchmarks/go/refpeer`), in one run, interleaved round by round. Ping-pong at one
 * message in flight, and credit-windowed upload and download under the rule refpeer implements (the receiver
 * answers each binary message with a 4-byte little-endian credit of its size; the sender keeps at most the window
 * unacknowledged). Skipped, with the reason, where `go` or gorilla/websocket is not installed.
 */
internal object TransportScenario {
    const val SECTION: String = "transport"

    /** Goals of the transport issue: ping-pong at least this share of the Go client (stretch [PINGPONG_STRETCH]). */
    const val PINGPONG_GOAL: Double = 0.8
    const val PINGPONG_STRETCH: Double = 1.0

    /** Goal of the transport issue: credit-windowed upload and download at least this share of the Go client. */
    const val WINDOW_GOAL: Double = 1.0

    enum class Kind(val goMode: String, val path: String, val label: String) {
        PINGPONG("pingpong", "/echo", "ping-pong"),
        UPLOAD("upload", "/window-sink", "upload"),
        DOWNLOAD("download", "/window-source", "download"),
    }

    enum class Client(val label: String, val ktor: Boolean) {
        GO("Go gorilla client", false),
        NETTY_INLINE("netty, protocol work inline on the event loop", false),
        NETTY_LOOP_CALLER("netty, caller coroutine on `connection.dispatcher`", false),
        NETTY_DEFAULT_CALLER("netty, caller on `Dispatchers.Default`", false),
        KTOR_DEFAULT_CALLER("ktor (CIO), caller on `Dispatchers.Default`", true),
        KTOR_LISTENER("ktor (CIO), protocol work in the listener", true),
    }

    enum class Load(val key: String, val kind: Kind, val size: Int, val window: Int) {
        PING_64("pingpong-64b", Kind.PINGPONG, 64, 0),
        PING_1K("pingpong-1kib", Kind.PINGPONG, 1024, 0),
        UP_4K("upload-4kib", Kind.UPLOAD, 4096, 4096),
        UP_4K_1K("upload-4kib-1kib", Kind.UPLOAD, 1024, 4096),
        UP_64K("upload-64kib", Kind.UPLOAD, 65536, 65536),
        UP_64K_16K("upload-64kib-16kib", Kind.UPLOAD, 16384, 65536),
        DOWN_4K("download-4kib", Kind.DOWNLOAD, 4096, 4096),
        DOWN_4K_1K("download-4kib-1kib", Kind.DOWNLOAD, 1024, 4096),
        DOWN_64K("download-64kib", Kind.DOWNLOAD, 65536, 65536),
        DOWN_64K_16K("download-64kib-16kib", Kind.DOWNLOAD, 16384, 65536),
        ;

        val clients: List<Client>
            get() = if (kind == Kind.PINGPONG) {
                listOf(
                    Client.GO,
                    Client.NETTY_INLINE,
                    Client.NETTY_LOOP_CALLER,
                    Client.NETTY_DEFAULT_CALLER,
                    Client.KTOR_DEFAULT_CALLER,
                )
            } else {
                listOf(Client.GO, Client.NETTY_INLINE, Client.KTOR_LISTENER)
            }

        val title: String
            get() = if (kind == Kind.PINGPONG) {
                "ping-pong ${size(size)}, 1 in flight"
            } else {
                "${kind.label}, ${size(window)} window, ${size(size)} messages"
            }

        companion object {
            fun byKey(key: String): Load? = entries.firstOrNull { it.key == key }
        }
    }

    /** One client's figures for one round (or warm-up step). Counters are -1 where unknown. */
    data class Round(
        val ops: Long,
        val bytes: Long,
        val nanos: Long,
        val p50Nanos: Double,
        val p99Nanos: Double,
        val switches: Long,
        val cpuNanos: Long,
        val jitMillis: Long,
    ) {
        val perSecond: Double get() = if (nanos <= 0) 0.0 else ops * 1e9 / nanos
        val mbPerSecond: Double get() = if (nanos <= 0) 0.0 else bytes * 1e3 / nanos
        val switchesPerOp: Double get() = if (switches < 0 || ops == 0L) Double.NaN else switches.toDouble() / ops
        val cpuNanosPerOp: Double get() = if (cpuNanos < 0 || ops == 0L) Double.NaN else cpuNanos.toDouble() / ops
    }

    class ClientResult(
        val client: Client,
        val warmup: List<Round>,
        val warmConverged: Boolean,
        val rounds: List<Round>,
    ) {
        /** The figure the load is judged by: round trips/s for ping-pong, MB/s for the windowed loads. */
        fun value(kind: Kind, r: Round): Double = if (kind == Kind.PINGPONG) r.perSecond else r.mbPerSecond
        fun median(kind: Kind): Double = median(rounds.map { value(kind, it) })
        fun min(kind: Kind): Double = rounds.minOf { value(kind, it) }
        fun max(kind: Kind): Double = rounds.maxOf { value(kind, it) }
        val medianP50: Double get() = medianOrNaN(rounds.map { it.p50Nanos })
        val medianP99: Double get() = medianOrNaN(rounds.map { it.p99Nanos })
        val medianSwitchesPerOp: Double get() = medianOrNaN(rounds.map { it.switchesPerOp })
        val medianCpuPerOp: Double get() = medianOrNaN(rounds.map { it.cpuNanosPerOp })
    }

    class LoadResult(val load: Load, val results: Map<Client, ClientResult>, val orders: List<List<Client>>) {
        val go: ClientResult get() = results.getValue(Client.GO)

        /** Median of [client] over the median of the Go client. */
        fun ratio(client: Client): Double {
            val g = go.median(load.kind)
            return if (g == 0.0) Double.NaN else results.getValue(client).median(load.kind) / g
        }

        /** Smallest and largest per-round ratio of [client] to the Go client of the same round. */
        fun pairedRange(client: Client): Pair<Double, Double> {
            val ratios = results.getValue(client).rounds.indices.map { i ->
                val g = go.value(load.kind, go.rounds[i])
                val own = results.getValue(client)
                if (g == 0.0) Double.NaN else own.value(load.kind, own.rounds[i]) / g
            }
            return ratios.min() to ratios.max()
        }
    }

    class Results(val serverUrl: String, val goBinary: String, val loads: List<LoadResult>)

    // ---------------------------------------------------------------------------------------------------------

    fun run(o: EndToEndOptions, log: PrintStream): Results {
        val peer = GoRefPeer.build(o.goCommand, log)
        peer.startServer().use { server ->
            log.println("  transport: refpeer server at ${server.url}")
            Tether(server.url).use { tether ->
                val loads = o.transportLoads.map { load -> runLoad(load, o, log, peer, server, tether) }
                return Results(server.url, peer.binary.toString(), loads)
            }
        }
    }

    private fun runLoad(
        load: Load,
        o: EndToEndOptions,
        log: PrintStream,
        peer: GoRefPeer,
        server: GoRefPeer.Server,
        tether: Tether,
    ): LoadResult {
        val samples = LongArray(o.maxRequests.coerceAtMost(Int.MAX_VALUE.toLong() - 8).toInt())
        fun once(client: Client, d: Duration): Round {
            if (client == Client.GO) {
                check(server.isAlive) { "the refpeer server has ended: ${server.output()}" }
                return goRound(peer, server, load, d)
            }
            return tetherRound(tether, client, load, d, samples)
        }
        val warm = HashMap<Client, Pair<List<Round>, Boolean>>()
        if (o.warmup > Duration.ZERO) {
            val step = minOf(EndToEnd.WARMUP_STEP, o.warmup)
            for (client in load.clients) {
                val rounds = ArrayList<Round>()
                var spent = Duration.ZERO
                var steady = false
                if (client == Client.GO) {
                    rounds += once(client, step) // no JIT; one step for the server's and the kernel's caches
                    steady = true
                } else {
                    while (spent < o.warmup && !steady) {
                        rounds += once(client, step)
                        spent += step
                        steady = Warmup.steady(rounds.map { it.jitMillis }, step.inWholeMilliseconds)
                    }
                }
                warm[client] = rounds to steady
                log.println(
                    "  transport ${load.key}, ${client.label}: warm-up ${rounds.size} x $step, " +
                        (if (steady) "JIT quiet" else "cap reached") + ": " +
                        rounds.joinToString(" ") { "${figure(load, it)}/${it.jitMillis}ms" },
                )
            }
        }
        val orders = ArrayList<List<Client>>()
        val measured = load.clients.associateWith { ArrayList<Round>() }
        for (i in 1..o.rounds) {
            // Alternate the order (ABC, CBA, …) so that no client always follows the same one.
            val order = if (i % 2 == 1) load.clients else load.clients.reversed()
            orders += order
            val line = StringBuilder("  transport ${load.key}, round $i:")
            for (client in order) {
                val r = once(client, o.duration)
                measured.getValue(client) += r
                line.append(" ${short(client)} ${figure(load, r)}")
                if (!r.p50Nanos.isNaN()) line.append(" p50 ${Fmt.micros(r.p50Nanos)}")
                if (!r.switchesPerOp.isNaN()) line.append(String.format(Locale.US, " %.2f cs/op", r.switchesPerOp))
                line.append(';')
            }
            log.println(line)
        }
        val results = load.clients.associateWith { c ->
            val (w, steady) = warm[c] ?: (emptyList<Round>() to false)
            ClientResult(c, w, steady, measured.getValue(c))
        }
        return LoadResult(load, results, orders)
    }

    private fun short(c: Client): String = when (c) {
        Client.GO -> "go"
        Client.NETTY_INLINE -> "netty-inline"
        Client.NETTY_LOOP_CALLER -> "netty-loop-caller"
        Client.NETTY_DEFAULT_CALLER -> "netty-default-caller"
        Client.KTOR_DEFAULT_CALLER -> "ktor-default-caller"
        Client.KTOR_LISTENER -> "ktor-listener"
    }

    private fun figure(load: Load, r: Round): String = if (load.kind == Kind.PINGPONG) {
        "${Fmt.count(r.perSecond)}/s"
    } else {
        String.format(Locale.US, "%.1f MB/s", r.mbPerSecond)
    }

    // ---- Go rounds ------------------------------------------------------------------------------------------

    private fun goRound(peer: GoRefPeer, server: GoRefPeer.Server, load: Load, d: Duration): Round {
        val r = peer.client(server.url, load.kind.goMode, load.size, if (load.window > 0) load.window else 65536, d)
        val ping = load.kind == Kind.PINGPONG && r.ops > 0
        return Round(
            ops = r.ops,
            bytes = r.bytes,
            nanos = (r.seconds * 1e9).toLong(),
            p50Nanos = if (ping) r.p50Micros * 1e3 else Double.NaN,
            p99Nanos = if (ping) r.p99Micros * 1e3 else Double.NaN,
            switches = r.voluntarySwitches + r.involuntarySwitches,
            cpuNanos = (r.cpuMicros * 1e3).toLong(),
            jitMillis = -1,
        )
    }

    // ---- Tether rounds --------------------------------------------------------------------------------------

    /** One dialer per transport and path, shared by the rounds (each round dials its own connection). */
    private class Tether(private val baseUrl: String) : AutoCloseable {
        private val dialers = HashMap<Pair<Boolean, String>, WebSocketDialer>()

        fun dialer(ktor: Boolean, path: String): WebSocketDialer = dialers.getOrPut(ktor to path) {
            WebSocketDialer(
                DialerConfig(baseUrl + path) {
                    transport(if (ktor) WebSocketTransport.ktor() else WebSocketTransport.netty())
                    pingInterval(Duration.ZERO) // the Go client does not ping either
                    maxMessageBytes(2L shl 20)
                },
            )
        }

        override fun close() = dialers.values.forEach { it.close() }
    }

    private fun tetherRound(tether: Tether, client: Client, load: Load, d: Duration, samples: LongArray): Round {
        val listener: InlineLoad? = when (client) {
            Client.NETTY_INLINE, Client.KTOR_LISTENER -> when (load.kind) {
                Kind.PINGPONG -> InlinePingPong(load.size, samples)
                Kind.UPLOAD -> WindowedUpload(load.size, load.window)
                Kind.DOWNLOAD -> WindowedDownload(load.size, load.window)
            }

            else -> null
        }
        val dialer = tether.dialer(client.ktor, load.kind.path)
        val durationNanos = d.inWholeNanoseconds
        return runBlocking(Dispatchers.Default) {
            val connection = withTimeoutOrNull(EndToEnd.OPEN_BOUND) { dialer.dial(listener) }
                ?: throw IllegalStateException("transport ${load.key}: no connection within ${EndToEnd.OPEN_BOUND}")
            try {
                val before = Usage.now()
                val outcome = withTimeoutOrNull(d + ROUND_GRACE) {
                    if (listener != null) {
                        listener.run(connection, durationNanos)
                        Triple(listener.ops, listener.bytes, listener.endNanos - listener.startNanos)
                    } else {
                        val on = if (client == Client.NETTY_LOOP_CALLER) connection.dispatcher else Dispatchers.Default
                        withContext(on) { callerPingPong(connection, load.size, durationNanos, samples) }
                    }
                } ?: throw IllegalStateException(
                    "transport ${load.key}, ${client.label}: a round of $d did not end within $ROUND_GRACE more",
                )
                val after = Usage.now()
                val (ops, bytes, nanos) = outcome
                val (p50, p99) =
                    if (load.kind == Kind.PINGPONG) percentiles(samples, ops.toInt()) else Double.NaN to Double.NaN
                Round(
                    ops = ops,
                    bytes = bytes,
                    nanos = nanos,
                    p50Nanos = p50,
                    p99Nanos = p99,
                    switches = after.switchesSince(before),
                    cpuNanos = after.cpuSince(before),
                    jitMillis = after.jitSince(before),
                )
            } finally {
                withTimeoutOrNull(CLOSE_BOUND) { connection.close() }
            }
        }
    }

    /** The caller's loop: send one message, wait for its echo on [WebSocketConnection.incoming], again. */
    private suspend fun callerPingPong(
        connection: WebSocketConnection,
        size: Int,
        durationNanos: Long,
        samples: LongArray,
    ): Triple<Long, Long, Long> {
        val message = ByteArray(size)
        val start = System.nanoTime()
        val deadline = start + durationNanos
        var n = 0
        while (n < samples.size) {
            val t0 = System.nanoTime()
            if (t0 >= deadline) break
            connection.send(message)
            connection.incoming.receive()
            samples[n++] = System.nanoTime() - t0
        }
        return Triple(n.toLong(), n.toLong() * size, System.nanoTime() - start)
    }

    internal fun percentiles(samples: LongArray, n: Int): Pair<Double, Double> {
        if (n == 0) return Double.NaN to Double.NaN
        val sorted = samples.copyOf(n).also { it.sort() }
        fun at(p: Double) = sorted[(kotlin.math.ceil(p * n).toInt()).coerceIn(1, n) - 1].toDouble() // nearest rank
        return at(0.50) to at(0.99)
    }

    /**
     * A load driven by a [MessageListener]: it runs where the transport delivers (inline on Netty's event loop; in
     * Ktor's read coroutine), and so does [begin] (through [WebSocketConnection.executor]). Sends use `trySend`; a
     * full queue falls back to a suspending send in a coroutine on the connection's dispatcher (counted).
     */
    internal abstract class InlineLoad : MessageListener {
        lateinit var connection: WebSocketConnection
        val done = CompletableDeferred<Unit>()
        var ops = 0L
        var bytes = 0L
        var startNanos = 0L
        var endNanos = 0L
        var deadline = 0L
        var queueFull = 0L
        private var scope: CoroutineScope? = null

        abstract fun begin(durationNanos: Long)

        /**
         * Runs this load on [connection]'s event loop for [durationNanos] and waits until it is done; fails if the
         * connection ends first. Figures are then in [ops], [bytes], [startNanos] and [endNanos].
         */
        suspend fun run(connection: WebSocketConnection, durationNanos: Long): Unit = coroutineScope {
            this@InlineLoad.connection = connection
            val watch = launch {
                val cause = connection.awaitClosed()
                fail(IllegalStateException("the connection ended during the round: $cause", cause))
            }
            try {
                connection.executor.execute { begin(durationNanos) }
                done.await()
            } finally {
                watch.cancel()
                stop()
            }
        }

        fun finish(now: Long) {
            endNanos = now
            done.complete(Unit)
        }

        fun fail(e: Throwable) {
            done.completeExceptionally(e)
        }

        fun stop() {
            scope?.cancel()
        }

        protected fun send(bytes: ByteArray) {
            try {
                if (connection.trySend(bytes)) return
            } catch (e: Exception) {
                fail(e)
                return
            }
            queueFull++
            val s = scope ?: CoroutineScope(SupervisorJob() + connection.dispatcher).also { scope = it }
            s.launch {
                try {
                    connection.send(bytes)
                } catch (e: Exception) {
                    fail(e)
                }
            }
        }

        protected fun sendText(text: String) {
            try {
                if (!connection.trySend(text)) fail(IllegalStateException("the outgoing queue is full at the start"))
            } catch (e: Exception) {
                fail(e)
            }
        }
    }

    /** Ping-pong with the protocol work inline: each echo records its latency and sends the next message. */
    internal class InlinePingPong(size: Int, private val samples: LongArray) : InlineLoad() {
        private val message = ByteArray(size)
        private var sentAt = 0L

        override fun begin(durationNanos: Long) {
            startNanos = System.nanoTime()
            deadline = startNanos + durationNanos
            sentAt = startNanos
            send(message)
        }

        override fun onMessage(message: WsMessage) {
            val now = System.nanoTime()
            if (done.isCompleted) return
            samples[ops.toInt()] = now - sentAt
            ops++
            bytes += this.message.size
            if (now < deadline && ops < samples.size) {
                sentAt = System.nanoTime()
                send(this.message)
            } else {
                finish(now)
            }
        }
    }

    /**
     * Upload under the credit window: send while the window has room; each 4-byte credit from `/window-sink` frees
     * room and sends the next messages, from the listener. After the deadline nothing new is sent and the clock
     * stops when everything sent has been credited (as refpeer's client counts). The lock is uncontended on Netty
     * (one thread); Ktor's read coroutine and [begin] may run on different threads.
     */
    private class WindowedUpload(private val size: Int, window: Int) : InlineLoad() {
        private val message = ByteArray(size) { (it % 251).toByte() }
        private var room = window.toLong()
        private var sent = 0L
        private var stopped = false

        override fun begin(durationNanos: Long) {
            synchronized(this) {
                startNanos = System.nanoTime()
                deadline = startNanos + durationNanos
                pump()
            }
        }

        private fun pump() {
            while (!stopped && room >= size) {
                if (System.nanoTime() >= deadline) {
                    stopped = true
                    break
                }
                room -= size
                sent += size
                ops++
                send(message)
            }
            if (!stopped && System.nanoTime() >= deadline) stopped = true
            if (stopped && bytes >= sent) finish(System.nanoTime())
        }

        override fun onMessage(message: WsMessage) {
            synchronized(this) {
                if (done.isCompleted) return
                val b = (message as? WsMessage.Binary)?.bytes ?: return
                if (b.size < 4) return
                val credit = credit(b)
                room += credit
                bytes += credit
                pump()
            }
        }
    }

    /**
     * Download under the credit window: asks `/window-source` for an endless stream of messages, counts each and
     * answers it with its credit from the listener; the first message read after the deadline stops the clock.
     */
    private class WindowedDownload(private val size: Int, private val window: Int) : InlineLoad() {
        override fun begin(durationNanos: Long) {
            synchronized(this) {
                startNanos = System.nanoTime()
                deadline = startNanos + durationNanos
                sendText("-1 $size $window")
            }
        }

        override fun onMessage(message: WsMessage) {
            synchronized(this) {
                if (done.isCompleted) return
                val b = (message as? WsMessage.Binary)?.bytes ?: return
                bytes += b.size
                ops++
                val now = System.nanoTime()
                if (now >= deadline) finish(now) else send(creditOf(b.size))
            }
        }
    }

    private fun credit(b: ByteArray): Long = (b[0].toLong() and 0xff) or
        ((b[1].toLong() and 0xff) shl 8) or
        ((b[2].toLong() and 0xff) shl 16) or
        ((b[3].toLong() and 0xff) shl 24)

    private fun creditOf(n: Int): ByteArray =
        byteArrayOf(n.toByte(), (n shr 8).toByte(), (n shr 16).toByte(), (n shr 24).toByte())

    /** The JVM's context switches (every thread), CPU time and JIT time at one moment. */
    internal class Usage(val switches: Long, val cpu: Long, val jit: Long) {
        /** Context switches since [before]; -1 where either reading was not possible (off Linux). */
        fun switchesSince(before: Usage): Long =
            if (before.switches < 0 || switches < 0) -1 else switches - before.switches

        /** Process CPU nanoseconds since [before]; -1 where the JVM does not tell. */
        fun cpuSince(before: Usage): Long = if (before.cpu < 0) -1 else cpu - before.cpu

        /** JIT compilation milliseconds since [before]. */
        fun jitSince(before: Usage): Long = jit - before.jit

        companion object {
            fun now() = Usage(jvmContextSwitches(), processCpuNanos(), jitMillis())
        }
    }

    private val ROUND_GRACE = 60.seconds
    private val CLOSE_BOUND = 5.seconds

    // ---- report ---------------------------------------------------------------------------------------------

    private fun size(n: Int): String = when {
        n >= 1024 && n % 1024 == 0 -> "${n / 1024} KiB"
        else -> "$n B"
    }

    private fun ratio(r: Double): String = if (r.isNaN()) "–" else String.format(Locale.US, "%.2f×", r)
    private fun mbs(v: Double): String = String.format(Locale.US, "%,.1f", v)
    private fun perOp(v: Double): String = if (v.isNaN()) "n/a" else String.format(Locale.US, "%.2f", v)
    private fun micros(v: Double): String = if (v.isNaN()) "n/a" else Fmt.micros(v)

    fun render(ctx: RunContext, r: Results): String = buildString {
        val o = ctx.options
        append("### Transport against the Go reference peer\n\n")
        append(ctx.provenance()).append("\n\n")
        append("One Go server, `refpeer server` (`benchmarks/go/refpeer`: gorilla/websocket from the Debian packages, ")
        append("built by the runner into `${Paths.get(r.goBinary).fileName}` under `benchmarks/target/`), started ")
        append("once on 127.0.0.1 with an ephemeral port; every client below meets that same server: `/echo` sends ")
        append("each message back, `/window-sink` answers each binary message with a 4-byte little-endian credit of ")
        append("its size, `/window-source` streams binary messages keeping at most the window uncredited. The Go ")
        append("client is `refpeer client`, a subprocess per round (one goroutine writes and reads; on upload a ")
        append("reader goroutine passes the credits to the writer). Tether's clients run in this JVM on ")
        append("`WebSocketDialer` (client pings off, as in Go) over the shared Netty event loops ")
        append("(${Runtime.getRuntime().availableProcessors()} threads) or Ktor CIO:\n\n")
        append("- **netty inline**: a `MessageListener`, which runs on the connection's event loop, does the protocol ")
        append("work: on each echo it records the latency and `trySend`s the next message; on upload each credit ")
        append("frees window room and the next chunks are sent from there; on download each message is answered with ")
        append("its credit from there. No thread hand-off per message.\n")
        append("- **netty, caller on `connection.dispatcher`**: a coroutine loop `send(message); incoming.receive()` ")
        append("running on the connection's event loop (same thread, but each echo passes the inbound channel and a ")
        append("dispatched continuation).\n")
        append("- **netty, caller on `Dispatchers.Default`**: the same loop on `Dispatchers.Default`: every send ")
        append("hands the frame to the event loop, every echo hands the continuation back (the hand-off cost).\n")
        append("- **ktor (CIO), caller on `Dispatchers.Default`**: the same loop on `WebSocketTransport.ktor()`.\n")
        append("- **ktor (CIO), protocol work in the listener**: the windowed loads' listener code on ")
        append("`WebSocketTransport.ktor()` (its listener runs in Ktor's read coroutine).\n\n")
        append("Per load: ")
        if (o.warmup == Duration.ZERO) {
            append("no warm-up")
        } else {
            append("warm-up first (each Tether client in ${minOf(EndToEnd.WARMUP_STEP, o.warmup)} rounds until the ")
            append("JIT goes quiet, at most ${o.warmup}; the Go client one round)")
        }
        append(", then ${o.rounds} interleaved rounds: in each round every client runs once for ${o.duration}, in the ")
        append("order of the table, reversed every other round; every round on a fresh connection, dialled outside ")
        append("the measured time. Figures are medians of the rounds; **/ Go** is the client's median over the Go ")
        append("client's median, **paired** the smallest and largest ratio to the Go client of the same round. ")
        append("Ping-pong keeps one message in flight; latency is per round trip (send to echo), exact percentiles of ")
        append("the round, median of the rounds. Upload counts the bytes credited and stops the clock when everything ")
        append("sent is credited; download counts the bytes read until the first message after the deadline (both as ")
        append("refpeer's client does). MB = 10^6 bytes. Context switches: for Tether the voluntary plus involuntary ")
        append("switches of every thread of the JVM (`/proc/self/task/*/status`, before and after the round: I/O ")
        append("loop, coroutine workers, JIT, GC), for Go the client process's (`getrusage`, every thread, over its ")
        append("measured loop), divided by round trips or messages; CPU likewise (JVM process CPU time; Go user + ")
        append("system). The Go server's own share counts for neither side.\n\n")

        val pings = r.loads.filter { it.load.kind == Kind.PINGPONG }
        if (pings.isNotEmpty()) {
            append("| load | client | round trips/s (median) | min – max | / Go | paired / Go | p50 latency | p99 ")
            append("latency | context switches per round trip | CPU per round trip |\n")
            append("|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
            for (l in pings) {
                for (c in l.load.clients) {
                    val cr = l.results.getValue(c)
                    val k = l.load.kind
                    append("| ${l.load.title} | ${c.label} | **${Fmt.count(cr.median(k))}** | ${Fmt.count(cr.min(k))} ")
                    append("– ${Fmt.count(cr.max(k))} | ")
                    if (c == Client.GO) {
                        append("1 | – | ")
                    } else {
                        val (lo, hi) = l.pairedRange(c)
                        append("**${ratio(l.ratio(c))}** | ${ratio(lo)} – ${ratio(hi)} | ")
                    }
                    append("${micros(cr.medianP50)} | ${micros(cr.medianP99)} | ${perOp(cr.medianSwitchesPerOp)} | ")
                    append("${micros(cr.medianCpuPerOp)} |\n")
                }
            }
            append('\n')
        }
        val windowed = r.loads.filter { it.load.kind != Kind.PINGPONG }
        if (windowed.isNotEmpty()) {
            append("| direction | window | message | client | MB/s (median) | min – max | / Go | paired / Go | ")
            append("context switches per message | CPU per message |\n")
            append("|:---|---:|---:|:---|---:|---:|---:|---:|---:|---:|\n")
            for (l in windowed) {
                for (c in l.load.clients) {
                    val cr = l.results.getValue(c)
                    val k = l.load.kind
                    append("| ${k.label} | ${size(l.load.window)} | ${size(l.load.size)} | ${c.label} | ")
                    append("**${mbs(cr.median(k))}** | ${mbs(cr.min(k))} – ${mbs(cr.max(k))} | ")
                    if (c == Client.GO) {
                        append("1 | – | ")
                    } else {
                        val (lo, hi) = l.pairedRange(c)
                        append("**${ratio(l.ratio(c))}** | ${ratio(lo)} – ${ratio(hi)} | ")
                    }
                    append("${perOp(cr.medianSwitchesPerOp)} | ${micros(cr.medianCpuPerOp)} |\n")
                }
            }
            append('\n')
        }

        append("**Goals** (transport issue; netty inline, the configuration the goals are about, against the Go ")
        append("client):\n\n")
        append("| goal | netty inline / Go | target | verdict |\n")
        append("|:---|---:|:---|:---|\n")
        val byLoad = r.loads.associateBy { it.load }
        for (load in Load.entries) {
            val l = byLoad[load]
            val target = if (load.kind == Kind.PINGPONG) {
                "≥ ${ratioPlain(PINGPONG_GOAL)}× (stretch ${ratioPlain(PINGPONG_STRETCH)}×)"
            } else {
                "≥ ${ratioPlain(WINDOW_GOAL)}×"
            }
            if (l == null) {
                append("| ${load.title} | not measured in this run | $target | – |\n")
                continue
            }
            val q = l.ratio(Client.NETTY_INLINE)
            val unit = if (load.kind == Kind.PINGPONG) "/s" else " MB/s"
            val fig = { c: Client ->
                val median = l.results.getValue(c).median(load.kind)
                if (load.kind == Kind.PINGPONG) Fmt.count(median) else mbs(median)
            }
            val verdict = when {
                q.isNaN() -> "–"
                load.kind == Kind.PINGPONG && q >= PINGPONG_STRETCH -> "**PASS** (stretch met)"
                load.kind == Kind.PINGPONG && q >= PINGPONG_GOAL -> "**PASS** (stretch not met)"
                load.kind != Kind.PINGPONG && q >= WINDOW_GOAL -> "**PASS**"
                else -> "**MISS**"
            }
            append("| ${load.title} | ${ratio(q)} (${fig(Client.NETTY_INLINE)} / ${fig(Client.GO)}$unit) | $target | ")
            append("$verdict |\n")
        }
        append('\n')
        append("Verdicts compare medians of interleaved rounds of this one run on this machine; no test asserts a ")
        append("wall-clock figure. The other Tether rows are not goal configurations: they show what a thread ")
        append("hand-off per message, or the Ktor transport, costs against the same server.\n\n")
        append("Rounds, in run order (round trips/s or MB/s):  \n")
        for (l in r.loads) {
            append("${l.load.key}: ")
            append(
                l.orders.indices.joinToString(" · ") { i ->
                    "${i + 1}: " +
                        l.orders[i].joinToString(", ") { c ->
                            "${short(c)} ${roundFigure(l.load, l.results.getValue(c).rounds[i])}"
                        }
                },
            )
            append(".  \n")
        }
        val warmed = r.loads.flatMap { l ->
            l.results.values.filter { it.client != Client.GO && it.warmup.isNotEmpty() }.map { l to it }
        }
        if (warmed.isNotEmpty()) {
            append("Warm-up (rounds, JIT quiet or cap): ")
            append(
                warmed.joinToString("; ") { (l, cr) ->
                    "${l.load.key} ${short(cr.client)} ${cr.warmup.size}${if (cr.warmConverged) "" else " (cap)"}"
                },
            )
            append(".\n")
        }
    }

    private fun ratioPlain(v: Double): String = String.format(Locale.US, "%.1f", v)

    private fun roundFigure(load: Load, r: Round): String =
        if (load.kind == Kind.PINGPONG) Fmt.count(r.perSecond) else String.format(Locale.US, "%.1f", r.mbPerSecond)

    private fun medianOrNaN(values: List<Double>): Double =
        values.filterNot { it.isNaN() }.let { if (it.isEmpty()) Double.NaN else median(it) }
}
