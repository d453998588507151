package dev.tether.benchmarks

import dev.tether.testkit.FakeBroker
import kotlinx.coroutines.Dispatchers
import java.io.PrintStream
import kotlin.time.Duration

/**
 * The wsclient goal measured in paired cycles: every cycle runs one round of each contender back to back (the order
 * rotates from cycle to cycle), and the verdict is the median of the per-cycle ratios. On a shared two-core virtual
 * machine the rate of the same load drifts by a third between minutes; contenders measured minutes apart (the
 * sequential scenarios) compare the machine's moods as much as the code, paired rounds do not.
 */
internal object WsclientGoal {
    /** One load in the comparison; [open] gives a fresh, connected target per round. */
    class Contender(val key: String, val label: String, val open: suspend () -> LoadTarget)

    class Result(
        val labels: List<Pair<String, String>>,
        val warmups: Map<String, Warmup>,
        val cycles: List<Map<String, RoundResult>>,
    ) {
        /**
         * Per cycle: [key]'s rate over [baseline]'s rate in that cycle (by default the faster of the two raw echoes).
         */
        fun ratios(key: String, baseline: (Map<String, RoundResult>) -> Double = ::fasterRaw): List<Double> =
            cycles.map { c -> c.getValue(key).perSecond / baseline(c) }

        private fun fasterRaw(c: Map<String, RoundResult>): Double =
            maxOf(c.getValue(RAW).perSecond, c.getValue(RAW_DEFAULT).perSecond)

        fun medianRate(key: String): Double = median(cycles.map { it.getValue(key).perSecond })
        fun medianCpu(key: String): Double = median(cycles.map { it.getValue(key).cpuNanosPerOp })
    }

    const val RAW = "raw"
    const val RAW_DEFAULT = "raw-default"
    const val WSCLIENT = "wsclient"
    const val LEAN = "lean"
    const val FLOOR = "floor"

    fun run(o: EndToEndOptions, log: PrintStream): Result = LoopbackServer().use { server ->
        val n = EndToEnd.GOAL_IN_FLIGHT
        val bytes = EndToEnd.requestBytes
        val contenders = listOf(
            Contender(RAW, "raw echo, read loop on the connection's I/O thread") {
                RawEchoClient(server.url("/echo"), n, bytes).also { it.open() }
            },
            Contender(RAW_DEFAULT, "raw echo, read loop on Dispatchers.Default") {
                RawEchoClient(server.url("/echo"), n, bytes, Dispatchers.Default).also { it.open() }
            },
            Contender(WSCLIENT, "wsclient through FakeBroker") {
                val broker = FakeBroker.start()
                EndToEnd.WsClientTarget(EndToEnd.connectedClient(broker.url, broker.token), broker)
            },
            Contender(LEAN, "wsclient, minimal envelope echo") {
                EndToEnd.WsClientTarget(EndToEnd.connectedClient(server.url("/envelope-echo"), null), null)
            },
            Contender(FLOOR, "envelope floor: raw socket, envelope codec and id map only, minimal envelope echo") {
                EnvelopeEchoClient(server.url("/envelope-echo"), n).also { it.open() }
            },
        )
        val warmups = contenders.associate { c ->
            c.key to EndToEnd.measure(o.copy(rounds = 0), log, "goal ${c.key} warm-up", n, open = c.open).warmup
        }
        val once = o.copy(rounds = 1, warmup = Duration.ZERO)
        val cycles = (0 until o.rounds).map { i ->
            contenders.indices.map { contenders[(it + i) % contenders.size] }.associate { c ->
                c.key to EndToEnd.measure(once, log, "goal cycle ${i + 1} ${c.key}", n, open = c.open).rounds.single()
            }
        }
        Result(contenders.map { it.key to it.label }, warmups, cycles)
    }

    fun render(ctx: RunContext, r: Result): String = buildString {
        val goal = (EndToEnd.GOAL_RATIO * 100).toInt()
        append("### Goal: wsclient at ${EndToEnd.GOAL_IN_FLIGHT} in flight reaches at least $goal % of the raw echo ")
        append("round trips\n\n")
        append(ctx.provenance()).append("\n\n")
        append("Paired cycles: each cycle runs one ${ctx.options.duration} round of every load below, back to back on ")
        append("fresh connections (the order rotates by one each cycle), so the loads share the machine's state of ")
        append("that minute. Each load was first warmed up on its own (${EndToEnd.describeWarmup(ctx.options)}). The ")
        append("ratio compares wsclient with the **faster of the two raw baselines in the same cycle**: the plain ")
        append("one, whose read loop runs on the connection's I/O thread, and one whose read loop runs on ")
        append("`Dispatchers.Default`, so whichever suits this machine is credited to the baseline. ")
        append("${EndToEnd.GOAL_IN_FLIGHT} in flight, ${EndToEnd.requestBytes}-byte messages; the loads are those of ")
        append("the sections above, plus the **envelope floor** (`EnvelopeEchoClient`): the raw socket doing only ")
        append("what any client of this protocol must do per request (build and encode the envelope with wsclient's ")
        append("codec, map its id, decode the reply and find its caller), against the same minimal envelope echo as ")
        append("the lean wsclient. The floor marks how near the raw echo a correlating JSON client can come on this ")
        append("stack; lean wsclient over the floor is the cost of wsclient's own machinery.\n\n")
        append("| cycle |")
        for ((_, label) in r.labels) append(" ").append(label).append(" |")
        append(" wsclient / faster raw | minimal echo / faster raw | envelope floor / faster raw | minimal echo / ")
        append("envelope floor |\n")
        append("|---:|").append("---:|".repeat(r.labels.size + 4)).append("\n")
        val ws = r.ratios(WSCLIENT)
        val floor = r.ratios(FLOOR)
        val leanOverFloor = r.ratios(LEAN) { it.getValue(FLOOR).perSecond }
        val ratioColumns = listOf(ws, r.ratios(LEAN), floor, leanOverFloor)
        r.cycles.forEachIndexed { i, c ->
            append("| ").append(i + 1).append(" |")
            for ((key, _) in r.labels) append(" ").append(Fmt.count(c.getValue(key).perSecond)).append(" |")
            for (column in ratioColumns) append(" ").append(Fmt.pct(column[i] * 100)).append(" |")
            append("\n")
        }
        append("| **median** |")
        for ((key, _) in r.labels) append(" **").append(Fmt.count(r.medianRate(key))).append("** |")
        for (column in ratioColumns) append(" **").append(Fmt.pct(median(column) * 100)).append("** |")
        append("\n| CPU per round trip (median) |")
        for ((key, _) in r.labels) append(" ").append(Fmt.micros(r.medianCpu(key))).append(" |")
        append(" |".repeat(ratioColumns.size)).append("\n\n")
        val ratio = median(ws)
        val verdict = if (ratio >= EndToEnd.GOAL_RATIO) "PASS" else "MISS"
        append("**$verdict**: wsclient through FakeBroker reaches ${Fmt.pct(ratio * 100)} of the faster raw echo ")
        append("(median of ${ws.size} cycles; cycles from ${Fmt.pct(ws.min() * 100)} to ${Fmt.pct(ws.max() * 100)}). ")
        append("Against the plain raw baseline alone: ")
        append(Fmt.pct(median(r.ratios(WSCLIENT) { it.getValue(RAW).perSecond }) * 100)).append(". ")
        append("The envelope floor, with none of wsclient's machinery, reaches ").append(Fmt.pct(median(floor) * 100))
        append(" of the faster raw echo, and wsclient against the same peer reaches ")
        append(Fmt.pct(median(leanOverFloor) * 100))
        append(" of the floor. Rates are round trips (requests) per second. The verdict is the report's statement ")
        append("only: no test asserts wall-clock figures.\n\n")
        append("Warm-up (rounds, rate/s of the last): ")
        append(
            r.labels.joinToString(" · ") { (key, _) ->
                val w = r.warmups.getValue(key)
                val ending = if (w.converged) " (JIT quiet)" else " (cap reached)"
                "$key ${w.rates.size}$ending, ${w.rates.lastOrNull()?.let { Fmt.count(it) } ?: "–"}"
            },
        )
        append(".\n")
    }
}
