package dev.tether.benchmarks

import dev.tether.relay.AuthToken
import dev.tether.relay.ConnClosedException
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayClientConfig
import dev.tether.relay.RelayConn
import dev.tether.relay.RelayConnStats
import dev.tether.relay.RelayProtocol
import dev.tether.relay.TokenStore
import dev.tether.testkit.relay.FakeRelayServer
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.io.PrintStream
import java.util.Locale
import java.util.UUID
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.Duration.Companion.minutes

/**
 * The relay scenario (issue 6): two peers, each a [RelayClient] with its own relay session, talk through one relay
 * (an embedded [FakeRelayServer] unless `--relay-url` names another). Figures: one-way throughput with
 * `--relay-payload` messages (8 KiB), the small-message rate (`--relay-small`, 64 B), both in backpressure and in
 * datagram mode with the drops counted, and ping-pong round trips at the `--in-flight` settings; each beside the
 * raw WebSocket ([RawBulkClient], [RawEchoClient] against [LoopbackServer]) with messages of the same size.
 */
internal object RelayScenario {
    /** How the receiving peer's connection treats a full queue. */
    enum class Mode(val label: String, val backpressure: Boolean?) {
        BACKPRESSURE("relay, backpressure mode", true),
        DATAGRAM("relay, datagram mode (queue ${RelayProtocol.CONN_QUEUE_SIZE}, drops when full)", false),
        RAW("raw WebSocket (baseline)", null),
    }

    /**
     * Drops at the receiving connection in the measured rounds of one configuration, one entry per round in the
     * order of [LoadSummary.rounds] (each measured round's target adds its own when it closes).
     */
    class Tally {
        private val perRound = ArrayList<Long>()
        val sent = AtomicLong()
        val dropped = AtomicLong()

        @Synchronized
        fun add(sent: Long, s: RelayConnStats) {
            this.sent.addAndGet(sent)
            dropped.addAndGet(s.dropped)
            perRound += s.dropped
        }

        @Synchronized
        fun droppedIn(round: Int): Long = perRound.getOrElse(round) { 0L }
    }

    class Flow(val mode: Mode, val messageBytes: Int, val summary: LoadSummary, val tally: Tally?) {
        /** Messages per second that reached peer B's reader in measured round [i] (sent less dropped). */
        fun deliveredPerSecond(i: Int): Double {
            val r = summary.rounds[i]
            val delivered = r.completed - (tally?.droppedIn(i) ?: 0L)
            return if (r.elapsedNanos == 0L) 0.0 else delivered * 1e9 / r.elapsedNanos
        }

        /** Median over the measured rounds of the bytes per second delivered, in MB/s. */
        val medianDeliveredMBs: Double
            get() = median(summary.rounds.indices.map { deliveredPerSecond(it) }) * messageBytes / 1e6
    }

    class Results(
        val relay: String,
        val embedded: Boolean,
        val flows: List<Flow>,
        val pingPong: List<LoadSummary>,
        val pingPongTallies: Map<Int, Tally>,
        val rawEcho: List<LoadSummary>,
    ) {
        fun rawFor(f: Flow): Flow? = flows.firstOrNull { it.mode == Mode.RAW && it.messageBytes == f.messageBytes }
    }

    /** Where the peers log in: a URL and a secret to sign their tokens with. */
    private class Relay(val url: String, private val secret: String) {
        fun client(key: String, options: RelayClientConfig): RelayClient =
            RelayClient(url, TokenStore(AuthToken.generate(secret)), key, options)
    }

    /** Usage errors of the relay options, found before any scenario runs. */
    fun validate(o: EndToEndOptions) {
        if ((o.relayUrl == null) != (o.relaySecret == null)) {
            throw UsageException("--relay-url and --relay-secret go together")
        }
        if (o.relayPayload > RelayProtocol.MAX_PAYLOAD_SIZE || o.relaySmall > RelayProtocol.MAX_PAYLOAD_SIZE) {
            throw UsageException("relay payloads are at most ${RelayProtocol.MAX_PAYLOAD_SIZE} bytes")
        }
        if (o.relaySmall < MIN_ECHO_BYTES) throw UsageException("--relay-small must be at least $MIN_ECHO_BYTES bytes")
        o.relayUrl?.let { url ->
            try {
                RelayClient.toWebSocketUrl(url)
            } catch (e: IllegalArgumentException) {
                throw UsageException("--relay-url: ${e.message}")
            }
        }
    }

    fun run(o: EndToEndOptions, log: PrintStream): Results {
        validate(o)
        val fake = if (o.relayUrl == null) FakeRelayServer.start() else null
        try {
            val relay = Relay(o.relayUrl ?: fake!!.url, o.relaySecret ?: fake!!.secret)
            log.println("  relay at ${relay.url}${if (fake != null) " (embedded FakeRelayServer)" else ""}")
            val flows = ArrayList<Flow>()
            val pingPong = ArrayList<LoadSummary>()
            val tallies = HashMap<Int, Tally>()
            val rawEcho = ArrayList<LoadSummary>()
            LoopbackServer().use { server ->
                for (size in listOf(o.relayPayload, o.relaySmall).distinct()) {
                    for (mode in Mode.entries) {
                        val label = "relay one-way $size B, ${mode.name.lowercase()}"
                        if (mode == Mode.RAW) {
                            flows += Flow(
                                mode,
                                size,
                                EndToEnd.measure(o, log, label, 1) {
                                    RawBulkClient(server, true, size, o.maxRequests * size).open()
                                },
                                null,
                            )
                        } else {
                            val tally = Tally()
                            val options = RelayClientConfig { backpressure(mode.backpressure == true) }
                            val summary = EndToEnd.measure(
                                o,
                                log,
                                label,
                                1,
                                warmOpen = { OneWay(relay, size, options, null).open() },
                            ) {
                                OneWay(relay, size, options, tally).open()
                            }
                            flows += Flow(mode, size, summary, tally)
                            val dropped = "${tally.dropped.get()} of ${tally.sent.get()}"
                            log.println("  $label: $dropped messages dropped in the measured rounds")
                        }
                    }
                }
                for (n in o.inFlight.sortedDescending()) {
                    val tally = Tally()
                    val label = "relay ping-pong ${o.relaySmall} B"
                    pingPong += EndToEnd.measure(
                        o,
                        log,
                        label,
                        n,
                        warmOpen = { PingPong(relay, n, o.relaySmall, null).open() },
                    ) {
                        PingPong(relay, n, o.relaySmall, tally).open()
                    }
                    tallies[n] = tally
                    rawEcho += EndToEnd.measure(o, log, "raw echo ${o.relaySmall} B", n) {
                        RawEchoClient(server.url("/echo"), n, o.relaySmall).also { it.open() }
                    }
                }
            }
            return Results(
                relay.url,
                fake != null,
                flows,
                pingPong.sortedBy { it.inFlight },
                tallies,
                rawEcho.sortedBy { it.inFlight },
            )
        } finally {
            fake?.close()
        }
    }

    /** Smallest ping-pong message: room for `slot:seq:` (the raw echo client's framing, used on both paths). */
    const val MIN_ECHO_BYTES: Int = 16

    /** Two fresh peers with a connection each way; [receiverOptions] apply to the second. */
    private class Peers(val a: RelayClient, val b: RelayClient, val ab: RelayConn, val ba: RelayConn)

    private suspend fun pair(relay: Relay, receiverOptions: RelayClientConfig): Peers {
        val run = UUID.randomUUID().toString().substring(0, 8)
        val aKey = "tether-bench-a-$run"
        val bKey = "tether-bench-b-$run"
        val a = relay.client(aKey, RelayClientConfig.DEFAULT)
        val b = relay.client(bKey, receiverOptions)
        try {
            return withTimeout(1.minutes) {
                a.connect()
                b.connect()
                coroutineScope {
                    val ba = async { b.openConn(aKey) }
                    val ab = a.openConn(bKey)
                    Peers(a, b, ab, ba.await())
                }
            }
        } catch (e: Throwable) {
            a.close()
            b.close()
            throw e
        }
    }

    private fun Peers.close() {
        ab.close()
        ba.close()
        a.close()
        b.close()
    }

    /**
     * Peer A writes one message of [bytes] per op to peer B, whose reader checks and counts them; [finish] waits
     * until B has read or dropped every message sent. One worker.
     */
    private class OneWay(
        private val relay: Relay,
        private val bytes: Int,
        private val receiverOptions: RelayClientConfig,
        private val tally: Tally?,
    ) : LoadTarget {
        private lateinit var peers: Peers
        private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        private val message = ByteArray(bytes) { (it % 251).toByte() }
        private val read = AtomicLong()

        @Volatile private var failure: Throwable? = null
        private var sent = 0L

        suspend fun open(): OneWay {
            peers = pair(relay, receiverOptions)
            scope.launch {
                try {
                    while (true) {
                        val m = peers.ba.read()
                        check(m.size == bytes) { "expected $bytes bytes, got ${m.size}" }
                        read.incrementAndGet()
                    }
                } catch (_: ConnClosedException) {
                    // end of the round
                } catch (e: Throwable) {
                    failure = e
                }
            }
            return this
        }

        override suspend fun roundTrip(worker: Int, seq: Int) {
            peers.ab.write(message)
            sent++
        }

        override suspend fun finish() {
            withTimeout(1.minutes) {
                while (read.get() + peers.ba.stats().dropped < sent) {
                    failure?.let { throw it }
                    delay(1)
                }
            }
        }

        override fun close() {
            if (!::peers.isInitialized) return
            tally?.add(sent, peers.ba.stats())
            peers.close()
            scope.cancel()
        }
    }

    /**
     * Ping-pong: [inFlight] workers on peer A each keep one `slot:seq:` message of [bytes] outstanding; peer B's
     * reader writes every message straight back; A's reader hands each echo to its slot, which checks the sequence.
     */
    private class PingPong(
        private val relay: Relay,
        private val inFlight: Int,
        private val bytes: Int,
        private val tally: Tally?,
    ) : LoadTarget {
        private lateinit var peers: Peers
        private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        private val replies = Array(inFlight) { Channel<Int>(1) }
        private val sent = AtomicLong()

        suspend fun open(): PingPong {
            peers = pair(relay, RelayClientConfig.DEFAULT)
            scope.launch {
                try {
                    while (true) peers.ba.write(peers.ba.read())
                } catch (_: ConnClosedException) {
                    // end of the round
                }
            }
            scope.launch {
                try {
                    while (true) {
                        val tag = slotSeq(peers.ab.read())
                        replies[(tag ushr 32).toInt()].send(tag.toInt())
                    }
                } catch (e: Throwable) {
                    for (r in replies) r.close(e)
                }
            }
            return this
        }

        override suspend fun roundTrip(worker: Int, seq: Int) {
            val message = ByteArray(bytes) { X }
            var at = 0
            for (c in "$worker:$seq:") message[at++] = c.code.toByte()
            peers.ab.write(message)
            sent.incrementAndGet()
            val echoed = replies[worker].receive()
            check(echoed == seq) { "slot $worker expected echo of $seq, got $echoed" }
        }

        override fun close() {
            if (!::peers.isInitialized) return
            tally?.add(sent.get(), peers.ba.stats())
            peers.close()
            scope.cancel()
        }

        private companion object {
            const val X = 'x'.code.toByte()
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Report

    private fun mbs(v: Double): String = String.format(Locale.US, "%,.1f", v)

    private fun dropped(t: Tally?): String {
        if (t == null) return "–"
        val sent = t.sent.get()
        val d = t.dropped.get()
        if (sent == 0L) return "0"
        return "${Fmt.count(d)} of ${Fmt.count(sent)} (${String.format(Locale.US, "%.2f %%", d * 100.0 / sent)})"
    }

    fun render(ctx: RunContext, r: Results): String = buildString {
        val o = ctx.options
        append("### Relay: two peers through ${if (r.embedded) "FakeRelayServer" else "an external relay"}\n\n")
        append(ctx.provenance()).append("\n\n")
        append(
            if (r.embedded) {
                "An embedded `FakeRelayServer` (Ktor CIO on 127.0.0.1, default options) "
            } else {
                "The relay at `${r.relay}` "
            },
        )
        append("and two peers, each a `RelayClient` (tether-core `WebSocketDialer`, Netty) with its own relay ")
        append("session, ")
        append("logged in with tokens from `AuthToken.generate(secret)`, with a `RelayConn` to each other. Every ")
        append("message ")
        append("crosses two WebSocket hops: peer A → relay (Transport message: ")
        append("${RelayProtocol.HEADER_SIZE + RelayProtocol.PEER_ID_SIZE} ")
        append("bytes of header and peer id before the payload) → peer B, the relay rewriting the peer id. The raw ")
        append("baseline ")
        append("is one hop: a raw `WebSocketDialer` connection (the same transport, no protocol) to the benchmark's ")
        append("Netty loopback server, ")
        append("binary messages of the same size to `/sink` (one-way) or text messages echoed by `/echo` (ping-pong). ")
        append("Every round on fresh peers (two new relay sessions and connections), opened outside the measured ")
        append("time. ")
        append("Per configuration: ")
        append("${EndToEnd.describeRounds(o).replace(Regex("\\. The in-flight settings run .*$"), "")}. MB = 10^6 ")
        append("bytes.\n\n")
        append("**One-way**: one worker on peer A writes messages back to back; peer B's reader checks each size; the ")
        append("round's clock stops when B has read (or dropped) every message sent. In backpressure mode ")
        append("(`RelayClientConfig.backpressure(true)` on B) a full connection queue stops B reading its relay ")
        append("socket, so ")
        append("the relay and then A slow down; in datagram mode (the default, as upstream) B drops what does not fit ")
        append("its queue of ${RelayProtocol.CONN_QUEUE_SIZE} and counts it (`RelayConn.stats().dropped`). Drops are ")
        append("summed over the measured rounds. MB/s counts what reached B's reader (sent less dropped), messages/s ")
        append("what ")
        append("A sent.\n\n")
        append("| payload | path | MB/s delivered (median) | messages/s sent (median) | min – max sent | spread | ")
        append("relay / raw (delivered) | dropped at B | CPU per message sent |\n")
        append("|---:|:---|---:|---:|---:|---:|---:|---:|---:|\n")
        for (f in r.flows) {
            val s = f.summary
            val raw = r.rawFor(f)
            val ratio = if (f.mode == Mode.RAW || raw == null || raw.medianDeliveredMBs == 0.0) {
                "–"
            } else {
                Fmt.pct(f.medianDeliveredMBs * 100 / raw.medianDeliveredMBs)
            }
            append("| ${Fmt.count(f.messageBytes.toLong())} B | ${f.mode.label} | **${mbs(f.medianDeliveredMBs)}** | ")
            append("${Fmt.count(s.medianPerSecond)} | ")
            append("${Fmt.count(s.minPerSecond)} – ${Fmt.count(s.maxPerSecond)} | ${Fmt.pct(s.spreadPercent)} | ")
            append("$ratio | ${dropped(f.tally)} | ")
            append("${if (s.medianCpuNanosPerOp.isNaN()) "n/a" else Fmt.micros(s.medianCpuNanosPerOp)} |\n")
        }
        append('\n')
        for (f in r.flows) {
            append("Rounds, ${Fmt.count(f.messageBytes.toLong())} B, ${f.mode.name.lowercase()} (messages/s): ")
            append(f.summary.rounds.joinToString(" · ") { Fmt.count(it.perSecond) })
            append("; warm-up ${f.summary.warmup.rates.size} ")
            append("rounds${if (f.summary.warmup.converged) " (JIT quiet)" else ""}.  \n")
        }
        append("\n**Ping-pong** with ${o.relaySmall}-byte messages: N workers on peer A each keep one `slot:seq:` ")
        append("message ")
        append("outstanding; peer B's reader writes every message straight back (datagram mode, default queue); A's ")
        append("reader ")
        append("routes each echo to its slot, which checks the sequence number. The raw baseline is the raw echo ")
        append("client ")
        append("at the same size and N. Latency is per round trip (write to matched echo), System.nanoTime, exact ")
        append("percentiles of all samples.\n\n")
        append("| in flight | path | round trips/s (median) | min – max | p50 latency (median of rounds) | p99 ")
        append("latency (median; min – max) | relay / raw | dropped at B | measured |\n")
        append("|---:|:---|---:|---:|---:|---:|---:|---:|---:|\n")
        for (p in r.pingPong) {
            val raw = r.rawEcho.firstOrNull { it.inFlight == p.inFlight }
            for ((path, s) in listOfNotNull("relay" to p, raw?.let { "raw WebSocket echo" to it })) {
                val ratio = if (s === p && raw != null && raw.medianPerSecond > 0) {
                    Fmt.pct(p.medianPerSecond * 100 / raw.medianPerSecond)
                } else {
                    "–"
                }
                append("| ${s.inFlight} | $path | **${Fmt.count(s.medianPerSecond)}** | ${Fmt.count(s.minPerSecond)} ")
                append("– ${Fmt.count(s.maxPerSecond)} | ")
                append("${Fmt.micros(s.medianP50Nanos)} | ${Fmt.micros(s.medianP99Nanos)} ")
                append("(${Fmt.micros(s.minP99Nanos)} – ${Fmt.micros(s.maxP99Nanos)}) | ")
                append("$ratio | ${if (s === p) dropped(r.pingPongTallies[p.inFlight]) else "–"} | ")
                append("${Fmt.count(s.totalRequests)} |\n")
            }
        }
        append('\n')
        for (s in r.pingPong) {
            val rounds = s.rounds.joinToString(" · ") { Fmt.count(it.perSecond) }
            append("Rounds, relay ping-pong at ${s.inFlight} in flight (per second): $rounds.  \n")
        }
        for (s in r.rawEcho) {
            val rounds = s.rounds.joinToString(" · ") { Fmt.count(it.perSecond) }
            append("Rounds, raw echo at ${s.inFlight} in flight (per second): $rounds.  \n")
        }
    }
}
