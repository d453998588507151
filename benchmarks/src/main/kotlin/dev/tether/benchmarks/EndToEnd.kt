package dev.tether.benchmarks

import dev.tether.core.ConnectionEvent
import dev.tether.testkit.FakeBroker
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import java.io.PrintStream
import java.lang.management.ManagementFactory
import java.nio.file.Path
import kotlin.system.exitProcess
import kotlin.time.Duration
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/**
 * End-to-end load scenarios over loopback that write their figures into a Markdown report (see
 * [EndToEndOptions.USAGE]). Everything runs in this one JVM: servers on 127.0.0.1 with ephemeral ports, clients,
 * and the load generator on [Dispatchers.Default]; unless options name external servers (`--broker-url`,
 * `--mux-url`, `--tunnel-proxy`, `--relay-url`, `--wamp-url`), which the scenarios then measure instead of the fakes,
 * skipping what needs the benchmark's own peers ([EndToEndOptions.skipReason]).
 */
public object EndToEnd {
    /** Goal of the correlating-client issue: wsclient at 64 in flight reaches this share of raw echo round trips. */
    internal const val GOAL_RATIO: Double = 0.80
    internal const val GOAL_IN_FLIGHT: Int = 64

    @JvmStatic
    public fun main(args: Array<String>) {
        val code = try {
            val options = EndToEndOptions.parse(args)
            if (options.help) {
                println(EndToEndOptions.USAGE)
            } else {
                run(options, processCommandLine(args), System.out)
            }
            0
        } catch (e: UsageException) {
            System.err.println("EndToEnd: ${e.message}\n")
            System.err.println(EndToEndOptions.USAGE)
            2
        } catch (e: ScenarioFailures) {
            System.err.println("EndToEnd: ${e.message}") // each failure's stack trace went to the log as it happened
            1
        } catch (e: Exception) {
            e.printStackTrace()
            1
        }
        exitProcess(code) // Ktor's and the coroutines' worker threads would keep the JVM alive for a while
    }

    /**
     * Runs the scenarios [args] select and updates the report; returns its path. For tests and embedding: the
     * report names [commandLine] as the command that produced it. A scenario that fails does not stop the others:
     * the report gets every section that was measured, and then [ScenarioFailures] names the failures.
     */
    @JvmStatic
    @JvmOverloads
    public fun run(
        args: Array<String>,
        commandLine: String = "EndToEnd " + args.joinToString(" "),
        log: PrintStream = System.out,
    ): Path {
        val options = EndToEndOptions.parse(args)
        require(!options.help) { "--help is for the command line" }
        return run(options, commandLine, log)
    }

    /** Option errors that only show against the whole set of options; all found before any scenario runs. */
    private fun validate(options: EndToEndOptions) {
        if (Scenario.RELAY in options.scenarios) RelayScenario.validate(options)
        if (Scenario.WAMP in options.scenarios) WampScenario.validate(options)
    }

    internal fun run(options: EndToEndOptions, commandLine: String, log: PrintStream): Path {
        validate(options)
        val ctx = RunContext(commandLine, options)
        log.println("EndToEnd: ${options.scenarios.joinToString { it.key }} -> ${options.out}")
        log.println("  ${ctx.machine}")
        val sections = ArrayList<Pair<String, String>>()
        val skipped = ArrayList<String>()
        val failed = ArrayList<Pair<Scenario, Exception>>()
        for (scenario in options.scenarios) {
            val reason = options.skipReason(scenario)
            if (reason != null) {
                log.println("EndToEnd: skipped ${scenario.key}: $reason")
                skipped += scenario.key
                continue
            }
            try {
                sections += runScenario(scenario, ctx, options, log)
            } catch (e: ScenarioSkipped) {
                // A tool the scenario needs is not installed here: not a failure, and nothing to report.
                log.println("EndToEnd: skipped ${scenario.key}: ${e.reason}")
                skipped += scenario.key
            } catch (e: Exception) {
                // One scenario's failure (an unreachable or misbehaving server, a bound hit) must not cost the others.
                log.println("EndToEnd: ${scenario.key} FAILED, going on with the rest: $e")
                e.printStackTrace(log)
                failed += scenario to e
            }
        }
        if (sections.isNotEmpty()) ReportFile.update(options.out, sections)
        val written = sections.joinToString { it.first }.ifEmpty { "nothing" }
        log.println(
            "EndToEnd: wrote $written to ${options.out.toAbsolutePath()}" +
                (if (skipped.isEmpty()) "" else "; skipped ${skipped.joinToString()}") +
                (if (failed.isEmpty()) "" else "; FAILED ${failed.joinToString { it.first.key }}"),
        )
        if (failed.isNotEmpty()) throw ScenarioFailures(failed)
        return options.out
    }

    /** The report sections one scenario produces. */
    private fun runScenario(
        scenario: Scenario,
        ctx: RunContext,
        options: EndToEndOptions,
        log: PrintStream,
    ): List<Pair<String, String>> = when (scenario) {
        Scenario.RAW -> listOf("raw-echo" to renderRaw(ctx, rawEcho(options, log).sortedBy { it.inFlight }))

        Scenario.WSCLIENT -> if (options.brokerUrl != null) {
            listOf(BrokerRegister.SECTION to BrokerRegister.render(ctx, BrokerRegister.run(options, log)))
        } else {
            listOf("wsclient-echo" to renderWsclient(ctx, wsclientEcho(options, log).sortedBy { it.inFlight }))
        }

        Scenario.WSCLIENT_LEAN ->
            listOf("wsclient-lean-echo" to renderLean(ctx, wsclientLean(options, log).sortedBy { it.inFlight }))

        Scenario.ENVELOPE_FLOOR ->
            listOf("envelope-floor" to renderFloor(ctx, envelopeFloor(options, log).sortedBy { it.inFlight }))

        Scenario.GOAL -> listOf("wsclient-goal" to WsclientGoal.render(ctx, WsclientGoal.run(options, log)))

        Scenario.HEAP -> listOf("wsclient-pending-heap" to renderHeap(ctx, pendingHeap(options, log)))

        Scenario.MUX -> if (options.muxUrl != null) {
            listOf(MuxEchoScenario.SECTION to MuxEchoScenario.render(ctx, MuxEchoScenario.run(options, log)))
        } else {
            MuxScenario.run(options, log).let { r ->
                listOf(
                    "mux-throughput" to MuxScenario.renderThroughput(ctx, r),
                    "mux-idle-heap" to MuxScenario.renderHeap(ctx, r),
                    "mux-goal" to MuxScenario.renderGoal(ctx, r),
                )
            }
        }

        Scenario.TUNNEL -> listOf("tunnel" to TunnelScenario.render(ctx, TunnelScenario.run(options, log)))

        Scenario.RELAY -> listOf("relay" to RelayScenario.render(ctx, RelayScenario.run(options, log)))

        Scenario.WAMP -> listOf("wamp" to WampScenario.render(ctx, WampScenario.run(options, log)))

        Scenario.TRANSPORT ->
            listOf(TransportScenario.SECTION to TransportScenario.render(ctx, TransportScenario.run(options, log)))

        Scenario.PROTOCOLS ->
            listOf(ProtocolsScenario.SECTION to ProtocolsScenario.render(ctx, ProtocolsScenario.run(options, log)))
    }

    /** The JVM's own command line when the OS tells it (Linux does), with the java binary shortened to `java`. */
    private fun processCommandLine(args: Array<String>): String {
        val line = ProcessHandle.current().info().commandLine().orElse(null)
            ?: return (
                "java -cp ${System.getProperty("java.class.path")} ${EndToEnd::class.java.name} " +
                    args.joinToString(" ")
                ).trim()
        val exe = line.substringBefore(' ')
        return if (exe.endsWith("/java")) "java" + line.substring(exe.length) else line
    }

    // ---------------------------------------------------------------------------------------------------------
    // Scenario a: raw WebSocket echo

    /** Size of a typical wsclient echo request on the wire; the raw baseline sends messages of this size. */
    internal val requestBytes: Int by lazy { Envelope.request("echo", echoPayload(12_345, 12)).encode().length }

    internal fun echoPayload(seq: Int, worker: Int): String = "{\"seq\":$seq,\"worker\":$worker}"

    private fun rawEcho(o: EndToEndOptions, log: PrintStream): List<LoadSummary> = LoopbackServer().use { server ->
        o.inFlight.sortedDescending().map { n ->
            measure(o, log, "raw echo", n) { RawEchoClient(server.url("/echo"), n, requestBytes).also { it.open() } }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Scenario b: wsclient request/response through FakeBroker's echo kind

    /** A client (and, for FakeBroker, the broker) for one round. */
    internal class WsClientTarget(private val client: WsClient, private val peer: AutoCloseable?) : LoadTarget {
        override suspend fun roundTrip(worker: Int, seq: Int) {
            val payload = echoPayload(seq, worker)
            val reply = client.request(Envelope.request("echo", payload))
            check(reply.kind == "echo.result" && reply.payload == payload) { "unexpected reply $reply" }
        }

        override fun close() {
            client.close()
            peer?.close()
        }
    }

    internal suspend fun connectedClient(url: String, token: String?): WsClient {
        val client = WsClient(
            WsClientConfig(url, EnvelopeHandler { }) {
                authToken(token)
                requestTimeout(1.minutes)
            },
        )
        // The last dial failure, to say why when the client does not connect (a wrong token is a 401, retried).
        val lastFailure = java.util.concurrent.atomic.AtomicReference<ConnectionEvent?>()
        val listening = client.onEvent { e ->
            if (e is ConnectionEvent.DialFailed ||
                e is ConnectionEvent.AuthenticationFailed ||
                e is ConnectionEvent.Disconnected
            ) {
                lastFailure.set(e)
            }
        }
        try {
            client.start()
            withTimeoutOrNull(CONNECT_BOUND) { client.awaitConnected() } ?: run {
                client.close()
                val last = lastFailure.get()?.let { ", last: $it" } ?: ""
                throw IllegalStateException("no connection to $url within $CONNECT_BOUND$last")
            }
        } finally {
            listening.close()
        }
        return client
    }

    private val CONNECT_BOUND = 10.seconds

    // A fresh broker per round, like every other target: FakeBroker keeps a log of the frames it receives
    // (received()), and no round should inherit another's state.
    private fun wsclientEcho(o: EndToEndOptions, log: PrintStream): List<LoadSummary> =
        o.inFlight.sortedDescending().map { n ->
            measure(o, log, "wsclient echo", n) {
                val broker = FakeBroker.start()
                WsClientTarget(connectedClient(broker.url, broker.token), broker)
            }
        }

    // Diagnostic: the same client against /envelope-echo, which parses nothing and keeps nothing.
    private fun wsclientLean(o: EndToEndOptions, log: PrintStream): List<LoadSummary> = LoopbackServer().use { server ->
        o.inFlight.sortedDescending().map { n ->
            measure(o, log, "wsclient lean echo", n) {
                WsClientTarget(connectedClient(server.url("/envelope-echo"), null), null)
            }
        }
    }

    // Diagnostic: what any client of the protocol must do per request, without wsclient's machinery.
    private fun envelopeFloor(o: EndToEndOptions, log: PrintStream): List<LoadSummary> =
        LoopbackServer().use { server ->
            o.inFlight.sortedDescending().map { n ->
                measure(o, log, "envelope floor", n) {
                    EnvelopeEchoClient(server.url("/envelope-echo"), n).also { it.open() }
                }
            }
        }

    /**
     * Warm-up, then the measured rounds, for one in-flight setting; each (sub-)round on a fresh [LoadTarget], opened
     * and closed outside the measured time. The load runs on [Dispatchers.Default].
     */
    internal fun measure(
        o: EndToEndOptions,
        log: PrintStream,
        label: String,
        inFlight: Int,
        duration: Duration = o.duration,
        maxOps: Long = o.maxRequests,
        warmMaxOps: Long = maxOps,
        warmOpen: (suspend () -> LoadTarget)? = null,
        open: suspend () -> LoadTarget,
    ): LoadSummary {
        val recorder = LoadRecorder(inFlight, maxOps)
        val warmRecorder = if (warmMaxOps == maxOps) recorder else LoadRecorder(inFlight, warmMaxOps)
        fun round(d: Duration, warm: Boolean = false): RoundResult {
            val target = runBlocking(Dispatchers.Default) {
                bounded(OPEN_BOUND, "$label: opening a round's connection") {
                    if (warm && warmOpen != null) warmOpen() else open()
                }
            }
            try {
                val r = if (warm) warmRecorder else recorder
                // Every wait of a target is bounded on its own; this outer bound turns anything they miss (an op that
                // never returns) into this scenario's failure instead of a hung run.
                return runBlocking(Dispatchers.Default) {
                    bounded(d + ROUND_GRACE, "$label: a round of $d") {
                        withContext(target.workers) {
                            r.round(d, { target.finish() }) { w, seq -> target.roundTrip(w, seq) }
                        }
                    }
                }
            } finally {
                target.close() // outside runBlocking: WsClient.close blocks
            }
        }
        val step = minOf(WARMUP_STEP, o.warmup)
        val rates = ArrayList<Double>()
        val jit = ArrayList<Long>()
        var spent = 0L
        var done = 0L
        var steady = false
        val warmStart = System.nanoTime()
        while (step > Duration.ZERO && spent < o.warmup.inWholeNanoseconds && !steady) {
            val r = round(step, warm = true)
            rates += r.perSecond
            jit += r.jitMillis
            done += r.completed
            spent += step.inWholeNanoseconds
            steady = Warmup.steady(jit, step.inWholeMilliseconds)
        }
        val warm = Warmup(System.nanoTime() - warmStart, rates, jit, steady, done)
        val ending = if (steady) "JIT quiet" else "cap reached"
        log.println(
            "  $label, $inFlight in flight: warm-up ${rates.size} x $step, $ending: " +
                rates.indices.joinToString(" ") { "${Fmt.count(rates[it])}/${jit[it]}ms" },
        )
        val rounds = (1..o.rounds).map { i ->
            round(duration).also {
                val switches = String.format(java.util.Locale.US, "%.2f", it.contextSwitchesPerOp)
                log.println(
                    "  $label, $inFlight in flight: round $i ${Fmt.count(it.perSecond)}/s, p50 " +
                        "${Fmt.micros(it.p50Nanos)}, p99 ${Fmt.micros(it.p99Nanos)}, cpu " +
                        "${Fmt.micros(it.cpuNanosPerOp)}/op, context switches $switches/op, " +
                        "jit ${it.jitMillis} ms (${it.completed})",
                )
            }
        }
        return LoadSummary(inFlight, warm, rounds)
    }

    internal val WARMUP_STEP = 1.seconds

    /** Bound of opening one round's target (its connections, sessions, streams). */
    internal val OPEN_BOUND = 2.minutes

    /** How far past its duration a round may run (the targets' own settle waits are shorter) before it fails. */
    internal val ROUND_GRACE = 3.minutes

    /** [block] within [bound]; a timeout of [block]'s own (a target's settle wait) propagates as it is. */
    private suspend fun <T : Any> bounded(bound: Duration, what: String, block: suspend () -> T): T =
        withTimeoutOrNull(bound) { block() } ?: throw IllegalStateException("$what did not end within $bound")

    internal fun describeWarmup(o: EndToEndOptions): String = if (o.warmup == Duration.ZERO) {
        "no warm-up"
    } else {
        "warm-up in ${minOf(WARMUP_STEP, o.warmup)} rounds until the " +
            "JIT goes quiet (compilation under ${(Warmup.QUIET * 100).toInt()} % of each of the last " +
            "${Warmup.QUIET_ROUNDS} rounds, at least ${Warmup.MIN_ROUNDS} rounds) or for at most ${o.warmup}"
    }

    internal fun describeRounds(o: EndToEndOptions): String = describeWarmup(o) +
        ", then ${o.rounds} measured rounds of ${o.duration}, each capped at ${Fmt.count(o.maxRequests)} round " +
        "trips; every round on a fresh connection, opened outside the measured time. The in-flight settings run " +
        "from the highest down (the busiest load warms the JIT fastest)"

    internal fun section(title: String, ctx: RunContext, setup: String, body: String): String =
        "### $title\n\n${ctx.provenance()}\n\n$setup\n\n$body"

    private fun renderRaw(ctx: RunContext, s: List<LoadSummary>): String = section(
        "Raw WebSocket echo (baseline)",
        ctx,
        "The benchmark's Netty server (`/echo` writes each message's bytes back from its event loop) and a raw " +
            "`WebSocketDialer` connection (Tether's Netty transport, client pings off, no protocol; the read loop a " +
            "coroutine on the connection's I/O thread) over one connection on 127.0.0.1. $requestBytes-byte text " +
            "messages (the encoded size of a wsclient echo request). Closed loop: each of N coroutines keeps one " +
            "message outstanding and waits for its echo, matched by a `slot:seq` counter at the start of the " +
            "message. Per configuration: ${describeRounds(ctx.options)}. Latency is per round trip (send to matched " +
            "echo), System.nanoTime, exact percentiles of all samples.",
        loadTable("round trips/s", s),
    )

    private fun renderWsclient(ctx: RunContext, s: List<LoadSummary>): String = section(
        "wsclient request/response through FakeBroker `echo`",
        ctx,
        "`WsClient.request(Envelope.request(\"echo\", {\"seq\":…,\"worker\":…}))` against `FakeBroker` (Ktor CIO " +
            "server, default options) on 127.0.0.1, a fresh broker and client (one connection) for every round; the " +
            "broker decodes each request and answers `echo.result` with the same payload, and each reply is checked. " +
            "N coroutines call `request` back to back on the one client. Per configuration: " +
            "${describeRounds(ctx.options)}. Latency is per `request` call (building the envelope included), " +
            "System.nanoTime, exact percentiles of all samples.",
        loadTable("requests/s", s),
    )

    private fun renderLean(ctx: RunContext, s: List<LoadSummary>): String = section(
        "Diagnostic: wsclient against a minimal envelope echo",
        ctx,
        "As the FakeBroker scenario, but the peer is the benchmark's `/envelope-echo` endpoint (on the benchmark's " +
            "Netty server): it finds the id and payload by string search and writes the `echo.result` reply without " +
            "any JSON parsing or bookkeeping. The difference to the FakeBroker figures is the broker's share of the " +
            "two shared cores; the difference to the raw echo is the correlating client's own cost. Per " +
            "configuration: ${describeRounds(ctx.options)}.",
        loadTable("requests/s", s),
    )

    private fun renderFloor(ctx: RunContext, s: List<LoadSummary>): String = section(
        "Diagnostic: the envelope floor",
        ctx,
        "The raw echo client's socket doing only what any client of the nexus protocol must do per request " +
            "(`EnvelopeEchoClient`): build the request envelope (ULID id, time stamp) and encode it with wsclient's " +
            "codec, remember its id in a concurrent map, decode each reply and find its caller by `in_reply_to`. No " +
            "reconnects, timeouts, send pump or handler queue. The peer is the same minimal envelope echo as in the " +
            "lean wsclient diagnostic, so the difference to that one is wsclient's own machinery, and the difference " +
            "to the raw echo is the protocol's. Per configuration: ${describeRounds(ctx.options)}.",
        loadTable("requests/s", s),
    )

    // ---------------------------------------------------------------------------------------------------------
    // Scenario c: heap per pending request

    internal data class HeapRound(val pending: Int, val before: Long, val with: Long) {
        val perRequest: Double get() = (with - before).toDouble() / pending
    }

    internal data class HeapSummary(
        val warmup: HeapRound,
        val rounds: List<HeapRound>,
        val bareCoroutine: HeapRound,
        val settleMillis: List<Long>,
        /** Per pending request: class name, instances, bytes (from class histograms of the last round). */
        val topClasses: List<Triple<String, Double, Double>>?,
    )

    private val memory = ManagementFactory.getMemoryMXBean()

    internal fun usedHeapAfterGc(): Long {
        repeat(4) {
            System.gc()
            Thread.sleep(40)
        }
        return memory.heapMemoryUsage.used
    }

    private fun pendingHeap(o: EndToEndOptions, log: PrintStream): HeapSummary = LoopbackServer().use { server ->
        WsClient(
            WsClientConfig(server.url("/sink"), EnvelopeHandler { }) {
                requestTimeout(30.minutes) // nothing may time out while we look
            },
        ).use { client ->
            runBlocking(Dispatchers.Default) {
                client.start()
                withTimeout(10.seconds) { client.awaitConnected() }
                val settle = ArrayList<Long>()
                var topClasses: List<Triple<String, Double, Double>>? = null
                suspend fun round(n: Int, histogram: Boolean = false): HeapRound {
                    val histBefore = if (histogram) ClassHistogram.take() else null
                    val before = usedHeapAfterGc()
                    val callers = CoroutineScope(Dispatchers.Default + Job())
                    val sunkBefore = server.sunkFrames()
                    val t0 = System.nanoTime()
                    repeat(n) { i ->
                        callers.launch {
                            try {
                                client.request(Envelope.request("bench.unanswered", echoPayload(i, 0)))
                            } catch (_: Exception) {
                                // cancelled at the end of the round
                            }
                        }
                    }
                    // Every request pending on the client and every frame delivered: queues are empty, only state
                    // remains.
                    withTimeout(2.minutes) {
                        while (client.stats().pendingRequests < n || server.sunkFrames() - sunkBefore < n) delay(10)
                    }
                    settle += (System.nanoTime() - t0) / 1_000_000
                    val with = usedHeapAfterGc()
                    val histWith = if (histogram) ClassHistogram.take() else null
                    if (histBefore != null && histWith != null) {
                        topClasses = ClassHistogram.growth(histBefore, histWith, n, 14)
                    }
                    callers.coroutineContext[Job]!!.cancelAndJoin()
                    withTimeout(1.minutes) { while (client.stats().pendingRequests > 0) delay(10) }
                    return HeapRound(n, before, with)
                }
                val warm = round(minOf(o.pending, 10_000))
                log.println("  heap warm-up: ${Fmt.bytes(warm.perRequest)}/request with ${warm.pending} pending")
                val rounds = (1..o.heapRounds).map { i ->
                    round(o.pending, histogram = i == o.heapRounds).also {
                        log.println("  heap round $i: ${Fmt.bytes(it.perRequest)}/request with ${it.pending} pending")
                    }
                }
                // Reference: what a caller coroutine suspended forever costs on its own.
                val before = usedHeapAfterGc()
                val callers = CoroutineScope(Dispatchers.Default + Job())
                repeat(o.pending) { callers.launch(start = CoroutineStart.UNDISPATCHED) { awaitCancellation() } }
                val with = usedHeapAfterGc()
                callers.coroutineContext[Job]!!.cancelAndJoin()
                val bare = HeapRound(o.pending, before, with)
                log.println("  heap reference: ${Fmt.bytes(bare.perRequest)}/bare suspended coroutine")
                HeapSummary(warm, rounds, bare, settle, topClasses)
            }
        }
    }

    private fun renderHeap(ctx: RunContext, h: HeapSummary): String = buildString {
        val per = h.rounds.map { it.perRequest }
        val med = median(per)
        val n = h.rounds.first().pending
        append("### Heap per pending wsclient request\n\n")
        append(ctx.provenance()).append("\n\n")
        append("One `WsClient` connected to a sink endpoint on 127.0.0.1 (the benchmark's Netty `/sink`, which reads ")
        append("and discards every frame, so only the client holds state; FakeBroker is not used here because it ")
        append("keeps a record of the frames it receives). Each round launches ${Fmt.count(n.toLong())} coroutines, ")
        append("each calling `client.request(Envelope.request(\"bench.unanswered\", …))` with a 30 min request ")
        append("timeout, waits until the client reports all of them pending and the sink has received every frame, ")
        append("then reads used heap (MemoryMXBean, after 4 × System.gc()) and compares it with the reading taken ")
        append("just before; the callers are then cancelled. The figure is everything one waiting request costs: the ")
        append("caller's coroutine, the suspended `request` with its timeout, the pending-map entry, the id and the ")
        append("envelope. One warm-up round of ")
        val plural = if (h.rounds.size == 1) "" else "s"
        append("${Fmt.count(h.warmup.pending.toLong())} requests, then ${h.rounds.size} measured round$plural.\n\n")
        append("| | pending | used heap before | used heap with requests pending | bytes per pending request |\n")
        append("|---|---:|---:|---:|---:|\n")
        append("| warm-up | ${Fmt.count(h.warmup.pending.toLong())} | ${Fmt.mib(h.warmup.before)} | ")
        append("${Fmt.mib(h.warmup.with)} | ${Fmt.bytes(h.warmup.perRequest)} |\n")
        h.rounds.forEachIndexed { i, r ->
            append("| round ${i + 1} | ${Fmt.count(r.pending.toLong())} | ${Fmt.mib(r.before)} | ${Fmt.mib(r.with)} | ")
            append("${Fmt.bytes(r.perRequest)} |\n")
        }
        append("| reference: bare suspended coroutine | ${Fmt.count(h.bareCoroutine.pending.toLong())} | ")
        append("${Fmt.mib(h.bareCoroutine.before)} | ${Fmt.mib(h.bareCoroutine.with)} | ")
        append("${Fmt.bytes(h.bareCoroutine.perRequest)} |\n\n")
        append("**Median: ${Fmt.bytes(med)} per pending request** (rounds ${Fmt.bytes(per.min())} – ")
        append("${Fmt.bytes(per.max())}, spread ")
        append("${Fmt.pct(if (med == 0.0) 0.0 else (per.max() - per.min()) * 100 / med)}); ")
        append("${Fmt.bytes(med - h.bareCoroutine.perRequest)} of it beyond a bare suspended caller coroutine ")
        append("(`launch { awaitCancellation() }`, ${Fmt.bytes(h.bareCoroutine.perRequest)}). ")
        val settles = h.settleMillis.drop(1).joinToString(" · ") { "$it ms" }
        append("Time to get all requests written and pending: $settles.\n")
        h.topClasses?.let { top ->
            append("\n")
            append("Where the bytes go (live-object class histograms, `GC.class_histogram`, before and with the ")
            append("requests pending in the last round; growth per pending request, largest first):\n\n")
            append("| class | instances per request | bytes per request |\n")
            append("|:---|---:|---:|\n")
            for ((name, instances, bytes) in top) {
                append("| `").append(name).append("` | ").append(String.format(java.util.Locale.US, "%.2f", instances))
                append(" | ").append(Fmt.bytes(bytes)).append(" |\n")
            }
            val instancesSum = String.format(java.util.Locale.US, "%.2f", top.sumOf { it.second })
            append("| sum of the rows above | $instancesSum | ${Fmt.bytes(top.sumOf { it.third })} |\n")
        }
    }
}

/** Scenarios of one run that failed; the others ran and their sections are in the report. */
public class ScenarioFailures internal constructor(failures: List<Pair<Scenario, Exception>>) :
    Exception(
        "${failures.size} scenario(s) failed (the other sections were written): " +
            failures.joinToString("; ") { (s, e) -> "${s.key}: $e" },
        failures.first().second,
    ) {
    /** Keys of the failed scenarios, in run order. */
    public val scenarios: List<String> = failures.map { it.first.key }

    init {
        failures.drop(1).forEach { addSuppressed(it.second) }
    }
}
