package dev.tether.benchmarks.scale

import java.nio.file.Path
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/** A command-line mistake: the runner prints it with [ScaleOptions.USAGE] and exits with status 2. */
internal class ScaleUsageException(message: String) : Exception(message)

/**
 * What one run of [Scale] does. The loads are the issue's (1,000 connections, 10,000 streams on one session and 100
 * sessions of 100, 1,000 WAMP sessions with 10,000 subscriptions, 1,000 relay peers), each count divided by
 * [divisor]; the streams per session of the many-sessions load stay at 100.
 */
internal data class ScaleOptions(
    val divisor: Int = 1,
    val out: Path = Path.of("docs/performance.md"),
    val warm: Duration = 2.seconds,
    val hold: Duration = 5.seconds,
    val settle: Duration = 15.seconds,
    val loads: List<String> = LOADS,
    val help: Boolean = false,
) {
    val connections: Int get() = FULL_CONNECTIONS / divisor
    val pendingPerConnection: Int get() = PENDING_PER_CONNECTION
    val streamsOnOneSession: Int get() = FULL_STREAMS / divisor
    val sessions: Int get() = FULL_SESSIONS / divisor
    val streamsPerSession: Int get() = STREAMS_PER_SESSION
    val wampSessions: Int get() = FULL_WAMP_SESSIONS / divisor
    val subscriptions: Int get() = FULL_SUBSCRIPTIONS / divisor
    val relayPeers: Int get() = FULL_RELAY_PEERS / divisor

    companion object {
        const val FULL_CONNECTIONS: Int = 1_000
        const val PENDING_PER_CONNECTION: Int = 10
        const val FULL_STREAMS: Int = 10_000
        const val FULL_SESSIONS: Int = 100
        const val STREAMS_PER_SESSION: Int = 100
        const val FULL_WAMP_SESSIONS: Int = 1_000
        const val FULL_SUBSCRIPTIONS: Int = 10_000
        const val FULL_RELAY_PEERS: Int = 1_000
        const val QUICK_DIVISOR: Int = 10

        /** The smallest counts the loads work with: two relay pairs, two WAMP topic groups, one mux session. */
        private const val MAX_DIVISOR: Int = 50

        val LOADS: List<String> = listOf("wsclient", "mux", "wamp", "relay")

        val USAGE: String = """
            |Usage: java -cp benchmarks.jar dev.tether.benchmarks.scale.Scale [options]
            |Opens many clients at once against the testkit fakes (in a child JVM) and reports heap, direct memory and
            |threads per connection, stream, session, subscription and peer, the time to open them, the rate held with
            |all of them open, and what is left after they close. Options:
            |  --quick           every count divided by $QUICK_DIVISOR (a quick look)
            |  --divide N        every count divided by N (1 to $MAX_DIVISOR; default 1: the issue's loads)
            |  --out FILE        the Markdown report to update (default docs/performance.md; section `scale`)
            |  --warm DURATION   how long each rate runs before it is measured (default 2s)
            |  --hold DURATION   how long each rate is measured (default 5s)
            |  --settle DURATION after a load closed, how long its threads may take to end (default 15s)
            |  --loads LIST      comma-separated subset of ${LOADS.joinToString(",")} (default all)
            |  --help            this text
        """.trimMargin()

        fun parse(args: Array<String>): ScaleOptions {
            var o = ScaleOptions()
            var i = 0
            fun value(name: String): String = args.getOrNull(++i) ?: throw ScaleUsageException("$name needs a value")
            while (i < args.size) {
                when (val arg = args[i]) {
                    "--quick" -> o = o.copy(divisor = QUICK_DIVISOR)
                    "--divide" -> o = o.copy(divisor = int(arg, value(arg), 1..MAX_DIVISOR))
                    "--out" -> o = o.copy(out = Path.of(value(arg)))
                    "--warm" -> o = o.copy(warm = duration(arg, value(arg), allowZero = true))
                    "--hold" -> o = o.copy(hold = duration(arg, value(arg), allowZero = false))
                    "--settle" -> o = o.copy(settle = duration(arg, value(arg), allowZero = true))
                    "--loads" -> o = o.copy(loads = loads(value(arg)))
                    "--help", "-h" -> o = o.copy(help = true)
                    else -> throw ScaleUsageException("unknown option $arg")
                }
                i++
            }
            return o
        }

        private fun int(name: String, text: String, range: IntRange): Int = text.toIntOrNull()?.takeIf { it in range }
            ?: throw ScaleUsageException("$name must be a whole number in $range, not $text")

        private fun duration(name: String, text: String, allowZero: Boolean): Duration {
            val d = Duration.parseOrNull(text) ?: throw ScaleUsageException("$name: not a duration: $text (say 5s)")
            if (d.isNegative() || (!allowZero && d == Duration.ZERO)) {
                throw ScaleUsageException("$name must be ${if (allowZero) "zero or more" else "positive"}: $text")
            }
            return d
        }

        private fun loads(text: String): List<String> {
            val picked = text.split(',').map { it.trim() }.filter { it.isNotEmpty() }
            val unknown = picked.filterNot { it in LOADS }
            if (picked.isEmpty() || unknown.isNotEmpty()) {
                throw ScaleUsageException("--loads: pick from ${LOADS.joinToString(",")}, not $text")
            }
            return LOADS.filter { it in picked }
        }
    }
}
