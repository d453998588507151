package dev.tether.benchmarks.scale

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import kotlinx.coroutines.withTimeout

/**
 * Many wsmux streams at once against the echo server: heap per session and per open stream, and echoes/s held with
 * every stream echoing back to back. Two shapes: all streams on one session, or many sessions of 100 streams.
 */
internal object MuxScale {
    const val KEY_ONE: String = "mux-one-session"
    const val KEY_MANY: String = "mux-many-sessions"
    private const val ECHO_BYTES = 16

    suspend fun runOneSession(ctx: LoadContext, plan: LoadPlan): LoadResult =
        run(ctx, KEY_ONE, 1, plan.count(ScaleOptions.FULL_STREAMS), plan)

    suspend fun runManySessions(ctx: LoadContext, plan: LoadPlan): LoadResult =
        run(ctx, KEY_MANY, plan.count(ScaleOptions.FULL_SESSIONS), ScaleOptions.STREAMS_PER_SESSION, plan)

    private suspend fun run(
        ctx: LoadContext,
        key: String,
        sessionCount: Int,
        perSession: Int,
        plan: LoadPlan,
    ): LoadResult {
        val total = sessionCount * perSession
        val label = if (sessionCount == 1) {
            "$total streams on one session"
        } else {
            "$sessionCount sessions × $perSession streams"
        }
        val setup = "`WebSocketDialer` + `MuxSession.client` (default `MuxConfig`: 1 KiB windows, 20 s keepalive) to " +
            "a wsmux echo server (`MuxSession.server` on the benchmark's Netty server, every stream echoed); " +
            "$sessionCount session(s), then $perSession streams opened on each, ${Bounds.OPEN_PARALLELISM} opens at " +
            "a time per session. Rate: every stream writes $ECHO_BYTES bytes and reads them back, back to back " +
            "($total in flight); latency per echo."
        return ctx.measureLoad(key, "wsmux: $label", setup) { failures, baseline ->
            val dialer = WebSocketDialer(DialerConfig(ctx.servers.muxUrl))
            try {
                exercise(ctx, dialer, sessionCount, perSession, plan, failures, baseline)
            } finally {
                dialer.close()
            }
        }
    }

    private suspend fun exercise(
        ctx: LoadContext,
        dialer: WebSocketDialer,
        sessionCount: Int,
        perSession: Int,
        plan: LoadPlan,
        failures: Failures,
        baseline: Snapshot,
    ): Measured {
        val config = MuxConfig.DEFAULT
        val total = sessionCount * perSession
        val t0 = System.nanoTime()
        val sessions = openAll(sessionCount, failures, "session") {
            withTimeout(Bounds.CONNECT) { MuxSession.client(dialer.dial(), config) }
        }
        val sessionNanos = System.nanoTime() - t0
        val withSessions = snapshot()
        val t1 = System.nanoTime()
        val streams = sessions.flatMap { session ->
            openAll(perSession, failures, "stream") { withTimeout(Bounds.CONNECT) { session.open() } }
        }
        val openMillis = (sessionNanos + System.nanoTime() - t1) / 1_000_000 // the heap reading left out
        ctx.log.println("  wsmux: ${streams.size} of $total streams on ${sessions.size} sessions in $openMillis ms")
        val open = snapshot()
        val footprints = ArrayList<Footprint>()
        if (sessions.isNotEmpty()) {
            val growth = baseline.growthTo(withSessions, sessions.size)
            footprints += Footprint("session (its WebSocket)", "session", growth)
        }
        if (streams.isNotEmpty()) {
            footprints += Footprint("open stream", "stream", withSessions.growthTo(open, streams.size))
        }
        val message = ByteArray(ECHO_BYTES) { it.toByte() }
        val buffers = Array(streams.size) { ByteArray(ECHO_BYTES) }
        val window = HoldWindow(plan.warm, plan.hold)
        val held = holdRate(streams.size, window, Bounds.GRACE, failures, "echo") { w, _ ->
            val stream = streams[w]
            stream.write(message)
            val into = buffers[w]
            var got = 0
            while (got < ECHO_BYTES) {
                val r = stream.read(into, got, ECHO_BYTES - got)
                check(r >= 0) { "stream ${stream.id} ended" }
                got += r
            }
        }
        ctx.log.println("  wsmux: ${held.perSecond.toLong()} echoes/s held over ${streams.size} streams")
        val (_, closeMillis) = timed { closeAll(sessions, failures, "close") { it.closeAndJoin() } }
        return Measured(
            "${streams.size} of $total streams on ${sessions.size} session(s)",
            openMillis,
            open,
            footprints,
            listOf(Rate("echoes", "echoes/s", held, "echo", "")),
            closeMillis,
        )
    }
}
