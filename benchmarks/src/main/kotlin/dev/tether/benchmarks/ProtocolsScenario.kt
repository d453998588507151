@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.benchmarks

import dev.tether.core.DialerConfig
import dev.tether.core.MessageListener
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WebSocketTransport
import dev.tether.core.WsMessage
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import dev.tether.relay.Auth
import dev.tether.relay.AuthToken
import dev.tether.relay.ConnClosedException
import dev.tether.relay.PeerId
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayConn
import dev.tether.relay.TokenStore
import dev.tether.relay.Transport
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.serializer.Serialization
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancel
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import java.io.PrintStream
import java.net.URLEncoder
import java.nio.charset.StandardCharsets
import java.util.Locale
import java.util.UUID
import kotlin.coroutines.CoroutineContext
import kotlin.time.Duration
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds
import dev.tether.mux.Stream as MuxStream

/**
 * The protocols scenario (issue 14, "each protocol at 1 in flight adds at most 30 % to the raw transport's
 * round-trip time"): every protocol client of Tether against a minimal server of its protocol in the Go reference
 * peer ([GoRefPeer], `benchmarks/go/refpeer`: `/broker`, `/mux`, `/relay`, `/wamp`), interleaved round by round
 * with the raw transport's ping-pong against the same Go process (`/echo`, or `/forward` for the protocols whose
 * round trip crosses the server twice) with messages of the size of the protocol's request. One request in flight;
 * the protocol's caller on the client's own dispatcher (its I/O thread) and on [Dispatchers.Default], each beside
 * the raw transport's caller on the same kind of thread. Skipped, with the reason, where `go` or gorilla/websocket
 * is not installed.
 */
internal object ProtocolsScenario {
    const val SECTION: String = "protocols"

    /** Goal of the transport issue: a protocol adds at most this share to the raw transport's round-trip time. */
    const val GOAL_ADDED: Double = 0.30

    /** Application payload of the binary protocols (wsmux stream data, relay Transport payload). */
    const val BINARY_PAYLOAD: Int = 64

    private const val REALM = "realm1"
    private const val ECHO_PROCEDURE = "bench.echo"
    private const val CALLEE_PROCEDURE = "bench.callee"

    enum class Protocol(val key: String, val title: String, val twoHops: Boolean) {
        WSCLIENT("wsclient", "wsclient request", false),
        MUX("wsmux", "wsmux stream echo", false),
        RELAY("relay", "relay ping-pong", true),
        WAMP("wamp", "WAMP call (router answers)", false),
        WAMP_CALLEE("wamp-callee", "WAMP call through a callee", true),
        ;

        companion object {
            fun byKey(key: String): Protocol? = entries.firstOrNull { it.key == key }
        }
    }

    /** Where a round's caller runs, and against what. */
    enum class Variant(val short: String, val raw: Boolean) {
        RAW_INLINE("raw-inline", true),
        RAW_LOOP("raw-loop", true),
        RAW_DEFAULT("raw-default", true),
        RAW_ECHO_LOOP("raw-echo-loop", true),
        PROTO_FLOOR("protocol-floor", true),
        PROTO_LOOP("proto-dispatcher", false),
        PROTO_DEFAULT("proto-default", false),
    }

    /** One protocol's comparison of its caller with the raw transport's on the same kind of thread. */
    enum class Pairing(val label: String, val raw: Variant, val proto: Variant) {
        IO_THREAD(
            "caller on the I/O thread (the client's `dispatcher`; raw: `connection.dispatcher`)",
            Variant.RAW_LOOP,
            Variant.PROTO_LOOP,
        ),
        DEFAULT("caller on `Dispatchers.Default`", Variant.RAW_DEFAULT, Variant.PROTO_DEFAULT),
    }

    /** The figures of one round of one variant. */
    data class Round(
        val ops: Long,
        val nanos: Long,
        val p50Nanos: Double,
        val p99Nanos: Double,
        val switches: Long,
        val cpuNanos: Long,
        val jitMillis: Long,
    ) {
        val perSecond: Double get() = if (nanos <= 0) 0.0 else ops * 1e9 / nanos
        val meanNanos: Double get() = if (ops == 0L) Double.NaN else nanos.toDouble() / ops
        val switchesPerOp: Double get() = if (switches < 0 || ops == 0L) Double.NaN else switches.toDouble() / ops
        val cpuNanosPerOp: Double get() = if (cpuNanos < 0 || ops == 0L) Double.NaN else cpuNanos.toDouble() / ops
    }

    class VariantResult(
        val variant: Variant,
        val warmup: List<Round>,
        val warmConverged: Boolean,
        val rounds: List<Round>,
    ) {
        val medianRate: Double get() = median(rounds.map { it.perSecond })
        val minRate: Double get() = rounds.minOf { it.perSecond }
        val maxRate: Double get() = rounds.maxOf { it.perSecond }

        /** Mean round-trip time at the median rate. */
        val meanNanos: Double get() = medianRate.let { if (it == 0.0) Double.NaN else 1e9 / it }
        val medianP50: Double get() = medianOrNaN(rounds.map { it.p50Nanos })
        val medianP99: Double get() = medianOrNaN(rounds.map { it.p99Nanos })
        val medianSwitchesPerOp: Double get() = medianOrNaN(rounds.map { it.switchesPerOp })
        val medianCpuPerOp: Double get() = medianOrNaN(rounds.map { it.cpuNanosPerOp })
    }

    class ProtocolResult(
        val protocol: Protocol,
        val requestBytes: Int,
        val variants: List<Variant>,
        val results: Map<Variant, VariantResult>,
        val orders: List<List<Variant>>,
    ) {
        fun has(v: Variant): Boolean = results.containsKey(v)

        /**
         * Smallest and largest per-round ratio of [proto]'s round-trip time (1 / rate) to [raw]'s in the same round.
         */
        fun pairedRange(raw: Variant, proto: Variant): Pair<Double, Double> {
            val r = results.getValue(raw).rounds
            val p = results.getValue(proto).rounds
            val ratios = r.indices.map { i ->
                if (p[i].perSecond == 0.0) Double.NaN else r[i].perSecond / p[i].perSecond
            }
            return ratios.min() to ratios.max()
        }
    }

    class Results(val serverUrl: String, val protocols: List<ProtocolResult>)

    // ---------------------------------------------------------------------------------------------------------

    fun run(o: EndToEndOptions, log: PrintStream): Results {
        val peer = GoRefPeer.build(o.goCommand, log)
        val secret = "refpeer-" + UUID.randomUUID()
        peer.startServer(listOf("-relay-secret", secret)).use { server ->
            log.println("  protocols: refpeer server at ${server.url}")
            val env = Env(server, secret)
            val results = o.protocols.map { p -> runProtocol(p, o, log, env) }
            return Results(server.url, results)
        }
    }

    /** What a round needs: the server and the relay secret its tokens are signed with. */
    private class Env(val server: GoRefPeer.Server, val relaySecret: String) {
        val base: String get() = server.url
        val relayUrl: String get() = "rel://" + base.removePrefix("ws://")
    }

    /** The size of one request of [p] on the wire (one WebSocket message), which the raw ping-pong sends. */
    internal fun requestBytes(p: Protocol): Int = when (p) {
        Protocol.WSCLIENT -> EndToEnd.requestBytes
        Protocol.MUX -> 5 + BINARY_PAYLOAD
        Protocol.RELAY -> 2 + 36 + BINARY_PAYLOAD
        Protocol.WAMP -> "[48,12345,{},\"$ECHO_PROCEDURE\",[0,12345]]".length
        Protocol.WAMP_CALLEE -> "[48,12345,{},\"$CALLEE_PROCEDURE\",[0,12345]]".length
    }

    private fun variants(p: Protocol): List<Variant> = buildList {
        add(Variant.RAW_INLINE)
        add(Variant.RAW_LOOP)
        add(Variant.RAW_DEFAULT)
        if (p.twoHops) add(Variant.RAW_ECHO_LOOP)
        add(Variant.PROTO_FLOOR)
        add(Variant.PROTO_LOOP)
        add(Variant.PROTO_DEFAULT)
    }

    private fun runProtocol(p: Protocol, o: EndToEndOptions, log: PrintStream, env: Env): ProtocolResult {
        val size = requestBytes(p)
        val vs = variants(p)
        val samples = LongArray(o.maxRequests.coerceAtMost(Int.MAX_VALUE.toLong() - 8).toInt())
        fun once(v: Variant, d: Duration): Round {
            check(env.server.isAlive) { "the refpeer server has ended: ${env.server.output()}" }
            return round(p, v, size, env, d, samples)
        }
        val warm = HashMap<Variant, Pair<List<Round>, Boolean>>()
        if (o.warmup > Duration.ZERO) {
            val step = minOf(EndToEnd.WARMUP_STEP, o.warmup)
            for (v in vs) {
                val rounds = ArrayList<Round>()
                var spent = Duration.ZERO
                var steady = false
                while (spent < o.warmup && !steady) {
                    rounds += once(v, step)
                    spent += step
                    steady = Warmup.steady(rounds.map { it.jitMillis }, step.inWholeMilliseconds)
                }
                warm[v] = rounds to steady
                log.println(
                    "  protocols ${p.key}, ${v.short}: warm-up ${rounds.size} x $step, " +
                        (if (steady) "JIT quiet" else "cap reached") +
                        ": " + rounds.joinToString(" ") { "${Fmt.count(it.perSecond)}/${it.jitMillis}ms" },
                )
            }
        }
        val orders = ArrayList<List<Variant>>()
        val measured = vs.associateWith { ArrayList<Round>() }
        for (i in 1..o.rounds) {
            val order = if (i % 2 == 1) vs else vs.reversed()
            orders += order
            val line = StringBuilder("  protocols ${p.key}, round $i:")
            for (v in order) {
                val r = once(v, o.duration)
                measured.getValue(v) += r
                line.append(" ${v.short} ${Fmt.count(r.perSecond)}/s p50 ${Fmt.micros(r.p50Nanos)}")
                if (!r.switchesPerOp.isNaN()) line.append(String.format(Locale.US, " %.2f cs/rt", r.switchesPerOp))
                line.append(';')
            }
            log.println(line)
        }
        val results = vs.associateWith { v ->
            val (w, steady) = warm[v] ?: (emptyList<Round>() to false)
            VariantResult(v, w, steady, measured.getValue(v))
        }
        return ProtocolResult(p, size, vs, results, orders)
    }

    // ---- one round ------------------------------------------------------------------------------------------

    /** A round's clients, opened before and closed after the measured time. */
    private interface Target {
        /**
         * Runs round trips back to back for [durationNanos] (at most [samples].size), recording each; ops and nanos.
         */
        suspend fun run(durationNanos: Long, samples: LongArray): Pair<Long, Long>

        suspend fun close()
    }

    private fun round(p: Protocol, v: Variant, size: Int, env: Env, d: Duration, samples: LongArray): Round =
        runBlocking(Dispatchers.Default) {
            val target = withTimeoutOrNull(EndToEnd.OPEN_BOUND) { open(p, v, size, env, samples) }
                ?: throw IllegalStateException(
                    "protocols ${p.key}, ${v.short}: not connected within ${EndToEnd.OPEN_BOUND}",
                )
            try {
                val before = TransportScenario.Usage.now()
                val (ops, nanos) = withTimeoutOrNull(d + ROUND_GRACE) { target.run(d.inWholeNanoseconds, samples) }
                    ?: throw IllegalStateException(
                        "protocols ${p.key}, ${v.short}: a round of $d did not end within $ROUND_GRACE more",
                    )
                val after = TransportScenario.Usage.now()
                val (p50, p99) = TransportScenario.percentiles(samples, ops.toInt())
                Round(
                    ops = ops,
                    nanos = nanos,
                    p50Nanos = p50,
                    p99Nanos = p99,
                    switches = after.switchesSince(before),
                    cpuNanos = after.cpuSince(before),
                    jitMillis = after.jitSince(before),
                )
            } finally {
                withContext(NonCancellable) { withTimeoutOrNull(CLOSE_BOUND) { target.close() } }
            }
        }

    private suspend fun open(p: Protocol, v: Variant, size: Int, env: Env, samples: LongArray): Target = when (v) {
        Variant.RAW_INLINE -> openRaw(p, env, size, Caller.INLINE, samples)

        Variant.RAW_LOOP -> openRaw(p, env, size, Caller.LOOP, samples)

        Variant.RAW_DEFAULT -> openRaw(p, env, size, Caller.DEFAULT, samples)

        Variant.RAW_ECHO_LOOP -> RawEcho.open(env.base, size, Caller.LOOP, samples)

        Variant.PROTO_FLOOR -> Floor.open(p, env)

        Variant.PROTO_LOOP, Variant.PROTO_DEFAULT -> {
            val own = v == Variant.PROTO_LOOP
            when (p) {
                Protocol.WSCLIENT -> WsclientTarget.open(env.base, own)
                Protocol.MUX -> MuxTarget.open(env.base, own)
                Protocol.RELAY -> RelayTarget.open(env.relayUrl, env.relaySecret, own)
                Protocol.WAMP -> WampTarget.open(env.base, own, callee = false)
                Protocol.WAMP_CALLEE -> WampTarget.open(env.base, own, callee = true)
            }
        }
    }

    /** The raw transport's target for [p]: two hops through `/forward` where the protocol has two, else `/echo`. */
    private suspend fun openRaw(p: Protocol, env: Env, size: Int, caller: Caller, samples: LongArray): Target =
        if (p.twoHops) {
            RawForward.open(env.base, size, caller, samples)
        } else {
            RawEcho.open(env.base, size, caller, samples)
        }

    /** Where the raw transport's side of a round runs: a listener inline on the event loop, or a caller coroutine. */
    private enum class Caller {
        INLINE,
        LOOP, // on the connection's own dispatcher (its event loop)
        DEFAULT, // on Dispatchers.Default
        ;

        fun on(connection: WebSocketConnection): CoroutineContext =
            if (this == LOOP) connection.dispatcher else Dispatchers.Default
    }

    /** The caller's loop on [context]: one round trip at a time, each timed. */
    private suspend fun callerLoop(
        context: CoroutineContext,
        durationNanos: Long,
        samples: LongArray,
        roundTrip: suspend (Int) -> Unit,
    ): Pair<Long, Long> = withContext(context) {
        val start = System.nanoTime()
        val deadline = start + durationNanos
        var n = 0
        while (n < samples.size) {
            val t0 = System.nanoTime()
            if (t0 >= deadline) break
            roundTrip(n)
            samples[n++] = System.nanoTime() - t0
        }
        n.toLong() to (System.nanoTime() - start)
    }

    private fun dialer(url: String): WebSocketDialer = WebSocketDialer(
        DialerConfig(url) {
            transport(WebSocketTransport.netty())
            pingInterval(Duration.ZERO) // the Go peers do not ping either
            maxMessageBytes(2L shl 20)
        },
    )

    /** Runs an inline listener's ping-pong on its connection's event loop until it is done. */
    private suspend fun runInline(
        connection: WebSocketConnection,
        listener: TransportScenario.InlineLoad,
        durationNanos: Long,
    ): Pair<Long, Long> {
        listener.run(connection, durationNanos)
        return listener.ops to (listener.endNanos - listener.startNanos)
    }

    /** The raw transport's ping-pong against `/echo`: one hop. [caller] null: the inline listener. */
    private class RawEcho(
        private val dialer: WebSocketDialer,
        private val connection: WebSocketConnection,
        private val inline: TransportScenario.InlinePingPong?,
        private val caller: Caller,
        size: Int,
    ) : Target {
        private val message = ByteArray(size)

        override suspend fun run(durationNanos: Long, samples: LongArray): Pair<Long, Long> {
            if (inline != null) return runInline(connection, inline, durationNanos)
            return callerLoop(caller.on(connection), durationNanos, samples) {
                connection.send(message)
                connection.incoming.receive()
            }
        }

        override suspend fun close() {
            runCatching { connection.close() }
            dialer.close()
        }

        companion object {
            suspend fun open(base: String, size: Int, caller: Caller, samples: LongArray): RawEcho {
                val dialer = dialer("$base/echo")
                try {
                    val inline = if (caller == Caller.INLINE) TransportScenario.InlinePingPong(size, samples) else null
                    return RawEcho(dialer, dialer.dial(inline), inline, caller, size)
                } catch (e: Throwable) {
                    dialer.close()
                    throw e
                }
            }
        }
    }

    /**
     * The raw transport over two hops, as the relay and a routed WAMP call cross the server: A and B, two connections
     * joined by refpeer's `/forward`; B sends every message back; A pings. Inline: both ends are listeners on their
     * event loops; otherwise A's caller and B's echo loop are coroutines on the same kind of thread ([Caller.LOOP]:
     * each on its own connection's dispatcher).
     */
    private class RawForward(
        private val dialer: WebSocketDialer,
        private val a: WebSocketConnection,
        private val b: WebSocketConnection,
        private val inline: TransportScenario.InlinePingPong?,
        private val caller: Caller,
        private val echo: Job?,
        private val echoScope: CoroutineScope,
        size: Int,
    ) : Target {
        private val message = ByteArray(size)

        override suspend fun run(durationNanos: Long, samples: LongArray): Pair<Long, Long> {
            if (inline != null) return runInline(a, inline, durationNanos)
            return callerLoop(caller.on(a), durationNanos, samples) {
                a.send(message)
                a.incoming.receive()
            }
        }

        override suspend fun close() {
            echo?.cancel()
            echoScope.cancel()
            runCatching { a.close() }
            runCatching { b.close() }
            dialer.close()
        }

        /** B's inline echo: every binary message straight back from the event loop. */
        private class EchoListener(private val scope: CoroutineScope) : MessageListener {
            lateinit var connection: WebSocketConnection

            override fun onMessage(message: WsMessage) {
                val bytes = (message as? WsMessage.Binary)?.bytes ?: return
                if (!connection.trySend(bytes)) scope.launch { runCatching { connection.send(bytes) } }
            }
        }

        companion object {
            suspend fun open(
                base: String,
                size: Int,
                caller: Caller,
                samples: LongArray,
                attempt: Int = 1,
            ): RawForward {
                val inline = caller == Caller.INLINE
                val pair = URLEncoder.encode(UUID.randomUUID().toString(), StandardCharsets.UTF_8)
                val dialer = dialer("$base/forward?pair=$pair")
                val echoScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
                try {
                    val listener = if (inline) EchoListener(echoScope) else null
                    val b = dialer.dial(listener)
                    listener?.connection = b
                    val echo = if (inline) {
                        null
                    } else {
                        echoScope.launch(caller.on(b)) {
                            try {
                                for (m in b.incoming) b.send((m as WsMessage.Binary).bytes)
                            } catch (_: Exception) {
                                // the round is over
                            }
                        }
                    }
                    val ping = if (inline) TransportScenario.InlinePingPong(size, samples) else null
                    // A on another event loop than B, as two peers in different processes would be (connections go
                    // to the loops in turn; the pairing refuses a third connection, so a retry needs a new pair).
                    val a = dialer.dial(ping)
                    if (a.eventLoop != null && a.eventLoop === b.eventLoop && attempt < 3) { // one loop only: so be it
                        runCatching { a.close() }
                        runCatching { b.close() }
                        echoScope.cancel()
                        dialer.close()
                        return open(base, size, caller, samples, attempt + 1)
                    }
                    return RawForward(dialer, a, b, ping, caller, echo, echoScope, size)
                } catch (e: Throwable) {
                    echoScope.cancel()
                    dialer.close()
                    throw e
                }
            }
        }
    }

    /**
     * The protocol floor (a diagnostic): the raw transport speaking the protocol to its server with none of Tether's
     * protocol client, the messages any client must exchange and nothing else: requests encoded once up front,
     * replies counted, not parsed, no ids matched, no timers; the caller on `connection.dispatcher` (and a far end,
     * where there is one, echoing from its own connection's dispatcher). Over the raw ping-pong it shows the server's
     * share and the protocol's extra messages; under the protocol client, Tether's own work.
     *
     * - wsclient: one pre-encoded `echo` request envelope (a fixed id) to `/broker`, one reply read.
     * - wsmux: SYN and its ACK at open; then DAT(64 B) out, the echo's ACK and DAT in, ACK(64) out (the credit any
     *   reader returns).
     * - relay: two connections log in with Auth (tokens signed with the server's secret); A sends one pre-encoded
     *   Transport to B; B sends every Transport back unchanged (the relay has rewritten its peer id to A's).
     * - wamp: HELLO/WELCOME at open; one pre-encoded CALL of `bench.echo`, one RESULT read.
     * - wamp-callee: a callee connection registers `bench.callee` and answers each INVOCATION with a YIELD (the
     *   invocation id cut from the text); the caller sends one pre-encoded CALL and reads one RESULT.
     */
    private class Floor(
        private val dialers: List<WebSocketDialer>,
        private val caller: WebSocketConnection,
        private val others: List<WebSocketConnection>,
        private val scope: CoroutineScope,
        private val roundTrip: suspend () -> Unit,
    ) : Target {
        override suspend fun run(durationNanos: Long, samples: LongArray): Pair<Long, Long> =
            callerLoop(caller.dispatcher, durationNanos, samples) { roundTrip() }

        override suspend fun close() {
            scope.cancel()
            runCatching { caller.close() }
            for (c in others) runCatching { c.close() }
            dialers.forEach { it.close() }
        }

        companion object {
            private fun binary(m: WsMessage): ByteArray = (m as? WsMessage.Binary)?.bytes
                ?: throw IllegalStateException("floor: a text message where binary was expected")
            private fun text(m: WsMessage): String = (m as? WsMessage.Text)?.text
                ?: throw IllegalStateException("floor: a binary message where text was expected")

            private fun muxFrame(type: Int, id: Int, payload: ByteArray): ByteArray {
                val b = ByteArray(5 + payload.size)
                b[0] = type.toByte()
                for (i in 0 until 4) b[1 + i] = (id shr (8 * i)).toByte()
                payload.copyInto(b, 5)
                return b
            }

            private fun le32(n: Int): ByteArray = ByteArray(4) { (n shr (8 * it)).toByte() }

            /** Dials [dialer] until the connection is on another event loop than [other] (at most 3 tries). */
            private suspend fun dialApart(dialer: WebSocketDialer, other: WebSocketConnection): WebSocketConnection {
                var c = dialer.dial()
                var tries = 1
                while (c.eventLoop != null && c.eventLoop === other.eventLoop && tries++ < 3) {
                    runCatching { c.close() }
                    c = dialer.dial()
                }
                return c
            }

            private fun wampDialer(base: String): WebSocketDialer = WebSocketDialer(
                DialerConfig("$base/wamp") {
                    transport(WebSocketTransport.netty())
                    pingInterval(Duration.ZERO)
                    header("Sec-WebSocket-Protocol", Serialization.JSON.subprotocol)
                },
            )

            private suspend fun hello(c: WebSocketConnection) {
                c.send("[1,\"$REALM\",{\"roles\":{\"caller\":{},\"callee\":{}}}]")
                val welcome = text(c.incoming.receive())
                if (!welcome.startsWith("[2,")) throw IllegalStateException("floor: no WELCOME but $welcome")
            }

            suspend fun open(p: Protocol, env: Env): Floor {
                val dialers = ArrayList<WebSocketDialer>()
                val conns = ArrayList<WebSocketConnection>()
                val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
                try {
                    fun d(url: String) = dialer(url).also { dialers += it }
                    return when (p) {
                        Protocol.WSCLIENT -> {
                            val c = d("${env.base}/broker").dial().also { conns += it }
                            val request = Envelope.request("echo", EndToEnd.echoPayload(12_345, 0)).encode()
                            Floor(dialers, c, emptyList(), scope) {
                                c.send(request)
                                c.incoming.receive()
                            }
                        }

                        Protocol.MUX -> {
                            val c = d("${env.base}/mux").dial().also { conns += it }
                            c.send(muxFrame(1, 1, ByteArray(0))) // SYN 1
                            if (binary(c.incoming.receive())[0].toInt() != 2) {
                                throw IllegalStateException("floor: SYN not ACKed")
                            }
                            val dat = muxFrame(0, 1, ByteArray(BINARY_PAYLOAD) { (it % 251).toByte() })
                            val ack = muxFrame(2, 1, le32(BINARY_PAYLOAD))
                            Floor(dialers, c, emptyList(), scope) {
                                c.send(dat)
                                c.incoming.receive() // the echo's ACK for what it consumed
                                c.incoming.receive() // the echo
                                if (!c.trySend(ack)) c.send(ack)
                            }
                        }

                        Protocol.RELAY -> {
                            val dialer = d("${env.base}/relay")
                            val a = dialer.dial().also { conns += it }
                            val b = dialApart(dialer, a).also { conns += it }
                            val idA = PeerId.of("floor-a-" + UUID.randomUUID())
                            val idB = PeerId.of("floor-b-" + UUID.randomUUID())
                            for ((c, id) in listOf(a to idA, b to idB)) {
                                c.send(Auth(id, AuthToken.generate(env.relaySecret).toWire()).encode())
                                if (binary(c.incoming.receive())[1].toInt() != 7) {
                                    throw IllegalStateException("floor: no AuthResponse")
                                }
                            }
                            scope.launch(b.dispatcher) {
                                for (m in b.incoming) {
                                    val bytes = binary(m)
                                    // Transport back (now to A), health check answered
                                    if (bytes[1].toInt() == 3 || bytes[1].toInt() == 5) b.send(bytes)
                                }
                            }
                            val message = Transport.encode(idB, ByteArray(BINARY_PAYLOAD) { (it % 251).toByte() })
                            Floor(dialers, a, listOf(b), scope) {
                                a.send(message)
                                while (true) {
                                    val bytes = binary(a.incoming.receive())
                                    if (bytes[1].toInt() == 3) break
                                    if (bytes[1].toInt() == 5) a.send(bytes)
                                }
                            }
                        }

                        Protocol.WAMP -> {
                            val c = wampDialer(env.base).also { dialers += it }.dial().also { conns += it }
                            hello(c)
                            val call = "[48,12345,{},\"$ECHO_PROCEDURE\",[0,12345]]"
                            Floor(dialers, c, emptyList(), scope) {
                                c.send(call)
                                c.incoming.receive()
                            }
                        }

                        Protocol.WAMP_CALLEE -> {
                            val dialer = wampDialer(env.base).also { dialers += it }
                            val callee = dialer.dial().also { conns += it }
                            val c = dialApart(dialer, callee).also { conns += it }
                            hello(callee)
                            callee.send("[64,1,{},\"$CALLEE_PROCEDURE\"]")
                            val registered = text(callee.incoming.receive())
                            if (!registered.startsWith("[65,")) {
                                throw IllegalStateException("floor: not registered: $registered")
                            }
                            scope.launch(callee.dispatcher) {
                                for (m in callee.incoming) {
                                    val t = text(m)
                                    if (t.startsWith("[68,")) {
                                        callee.send("[70," + t.substring(4, t.indexOf(',', 4)) + ",{},[0,12345]]")
                                    }
                                }
                            }
                            hello(c)
                            val call = "[48,12345,{},\"$CALLEE_PROCEDURE\",[0,12345]]"
                            Floor(dialers, c, listOf(callee), scope) {
                                c.send(call)
                                c.incoming.receive()
                            }
                        }
                    }
                } catch (e: Throwable) {
                    scope.cancel()
                    for (c in conns) runCatching { c.close() }
                    dialers.forEach { it.close() }
                    throw e
                }
            }
        }
    }

    /** `WsClient.request(Envelope.request("echo", …))` to refpeer's `/broker`, the reply checked. */
    private class WsclientTarget(private val client: WsClient, private val own: Boolean) : Target {
        override suspend fun run(durationNanos: Long, samples: LongArray): Pair<Long, Long> =
            callerLoop(if (own) client.dispatcher else Dispatchers.Default, durationNanos, samples) { i ->
                val payload = EndToEnd.echoPayload(i, 0)
                val reply = client.request(Envelope.request("echo", payload))
                if (reply.kind != "echo.result" || reply.payload != payload) {
                    throw IllegalStateException("unexpected reply $reply")
                }
            }

        override suspend fun close() = client.closeAndJoin()

        companion object {
            suspend fun open(base: String, own: Boolean): WsclientTarget {
                val client = WsClient(
                    WsClientConfig("$base/broker", EnvelopeHandler { }) {
                        requestTimeout(1.minutes)
                        dialer { it.transport(WebSocketTransport.netty()) }
                    },
                )
                try {
                    client.start()
                    withTimeoutOrNull(CONNECT_BOUND) { client.awaitConnected() }
                        ?: throw IllegalStateException("wsclient: no connection to $base/broker within $CONNECT_BOUND")
                } catch (e: Throwable) {
                    withContext(NonCancellable) { client.closeAndJoin() }
                    throw e
                }
                return WsclientTarget(client, own)
            }
        }
    }

    /** One wsmux stream to refpeer's `/mux`: write [BINARY_PAYLOAD] bytes, read them back, again. */
    private class MuxTarget(
        private val dialer: WebSocketDialer,
        private val connection: WebSocketConnection,
        private val session: MuxSession,
        private val stream: MuxStream,
        private val own: Boolean,
    ) : Target {
        private val message = ByteArray(BINARY_PAYLOAD) { (it % 251).toByte() }
        private val buffer = ByteArray(BINARY_PAYLOAD)

        override suspend fun run(durationNanos: Long, samples: LongArray): Pair<Long, Long> =
            callerLoop(if (own) connection.dispatcher else Dispatchers.Default, durationNanos, samples) {
                stream.write(message)
                var got = 0
                while (got < buffer.size) {
                    val n = stream.read(buffer, got, buffer.size - got)
                    if (n < 0) {
                        throw IllegalStateException("wsmux: the stream ended after $got of ${buffer.size} echoed bytes")
                    }
                    got += n
                }
                if (buffer[BINARY_PAYLOAD - 1] != message[BINARY_PAYLOAD - 1]) {
                    throw IllegalStateException("wsmux: the echo differs")
                }
            }

        override suspend fun close() {
            runCatching { stream.close() }
            session.close()
            runCatching { connection.close() }
            dialer.close()
        }

        companion object {
            suspend fun open(base: String, own: Boolean): MuxTarget {
                val dialer = dialer("$base/mux")
                try {
                    val connection = dialer.dial()
                    val session = MuxSession.client(connection, MuxConfig.DEFAULT)
                    val stream = try {
                        session.open()
                    } catch (e: Throwable) {
                        session.close()
                        throw e
                    }
                    return MuxTarget(dialer, connection, session, stream, own)
                } catch (e: Throwable) {
                    dialer.close()
                    throw e
                }
            }
        }
    }

    /**
     * Two relay clients, A and B, logged in to refpeer's `/relay` with tokens signed by its secret, each with a
     * connection to the other; B's reader writes every message back from a coroutine on B's dispatcher (or on
     * [Dispatchers.Default]), and A's caller writes [BINARY_PAYLOAD] bytes and reads the echo.
     */
    private class RelayTarget(
        private val a: RelayClient,
        private val b: RelayClient,
        private val toB: RelayConn,
        private val echo: Job,
        private val own: Boolean,
    ) : Target {
        private val message = ByteArray(BINARY_PAYLOAD) { (it % 251).toByte() }

        override suspend fun run(durationNanos: Long, samples: LongArray): Pair<Long, Long> =
            callerLoop(if (own) a.dispatcher else Dispatchers.Default, durationNanos, samples) {
                toB.write(message)
                val back = toB.read()
                if (back.size != BINARY_PAYLOAD) throw IllegalStateException("relay: an echo of ${back.size} bytes")
            }

        override suspend fun close() {
            echo.cancel()
            withContext(Dispatchers.IO) {
                runCatching { a.close() }
                runCatching { b.close() }
            }
        }

        companion object {
            suspend fun open(url: String, secret: String, own: Boolean): RelayTarget {
                val keyA = "a-" + UUID.randomUUID()
                val keyB = "b-" + UUID.randomUUID()
                val a = RelayClient(url, TokenStore(AuthToken.generate(secret)), keyA)
                // B on another I/O thread than A, as two peers in different processes would be (each client takes
                // the next event loop when it is made).
                var b = RelayClient(url, TokenStore(AuthToken.generate(secret)), keyB)
                var tries = 0
                while (b.dispatcher == a.dispatcher && tries++ < 3) {
                    b.close() // never connected: nothing to end
                    b = RelayClient(url, TokenStore(AuthToken.generate(secret)), keyB)
                }
                try {
                    a.connect()
                    b.connect()
                    val (toB, toA) = coroutineScope {
                        listOf(async { a.openConn(keyB) }, async { b.openConn(keyA) }).awaitAll()
                    }
                    val echoOn = if (own) b.dispatcher else Dispatchers.Default
                    val echo = CoroutineScope(Dispatchers.Default).launch(echoOn) {
                        try {
                            while (true) toA.write(toA.read())
                        } catch (_: ConnClosedException) {
                            // the round is over
                        } catch (_: CancellationException) {
                            // likewise
                        }
                    }
                    return RelayTarget(a, b, toB, echo, own)
                } catch (e: Throwable) {
                    withContext(NonCancellable + Dispatchers.IO) {
                        runCatching { a.close() }
                        runCatching { b.close() }
                    }
                    throw e
                }
            }
        }
    }

    /**
     * WAMP over WebSocket JSON to refpeer's `/wamp`: `call("bench.echo", [0, seq])`, answered by the router itself,
     * or with [callee] a second session that registers `bench.callee` (its handler returns the arguments) and a
     * call of that, which the router routes to it as INVOCATION and back from its YIELD.
     */
    private class WampTarget(
        private val caller: WampSession,
        private val callee: WampSession?,
        private val own: Boolean,
    ) : Target {
        private val procedure = if (callee != null) CALLEE_PROCEDURE else ECHO_PROCEDURE

        override suspend fun run(durationNanos: Long, samples: LongArray): Pair<Long, Long> {
            val on = if (own) caller.dispatcher else Dispatchers.Default
            return callerLoop(on, durationNanos, samples) { i ->
                val r = caller.call(procedure, listOf(0, i))
                if (r.args.size != 2 || WampValues.asLong(r.args[1]) != i.toLong()) {
                    throw IllegalStateException("wamp: unexpected result ${r.args}")
                }
            }
        }

        override suspend fun close() {
            withContext(Dispatchers.IO) {
                runCatching { caller.close() }
                callee?.let { runCatching { it.close() } }
            }
        }

        companion object {
            /** With [inlineHandlers] the callee's handler runs where the INVOCATION is read (a direct executor). */
            private fun config(inlineHandlers: Boolean = false): SessionConfig = SessionConfig(REALM) {
                serialization(Serialization.JSON)
                responseTimeout(10.seconds)
                callTimeout(1.minutes)
                if (inlineHandlers) handlerExecutor(Runnable::run)
            }

            suspend fun open(base: String, own: Boolean, callee: Boolean): WampTarget {
                val url = "$base/wamp"
                // Beside a caller on its I/O thread, the callee's handler runs on its own (the raw echo's counterpart).
                val c = if (callee) WampSession.connect(url, config(inlineHandlers = own)) else null
                try {
                    c?.register(CALLEE_PROCEDURE) { inv -> InvokeResult(inv.args) }
                    return WampTarget(WampSession.connect(url, config()), c, own)
                } catch (e: Throwable) {
                    withContext(NonCancellable + Dispatchers.IO) { c?.let { runCatching { it.close() } } }
                    throw e
                }
            }
        }
    }

    // ---- report ---------------------------------------------------------------------------------------------

    /** What the round trip of [p] is, for the report. */
    private fun describe(p: Protocol): String = when (p) {
        Protocol.WSCLIENT ->
            "`WsClient.request(Envelope.request(\"echo\", {\"seq\":…,\"worker\":0}))` to `/broker` " +
                "(netty transport), the reply's kind and payload checked"

        Protocol.MUX ->
            "one wsmux stream to `/mux` (`MuxSession.client` over a netty `WebSocketDialer` connection, " +
                "default `MuxConfig`): `write` $BINARY_PAYLOAD bytes, `read` until all $BINARY_PAYLOAD are back"

        Protocol.RELAY ->
            "relay clients A and B (`RelayClient`, netty) logged in to `/relay`, a `RelayConn` each " +
                "way: A `write`s $BINARY_PAYLOAD bytes, B's reader (a coroutine on the same kind of thread as A's " +
                "caller) `write`s them back, A `read`s them"

        Protocol.WAMP ->
            "`Session.call(\"$ECHO_PROCEDURE\", [0, seq])` over WebSocket JSON to `/wamp`, answered by " +
                "the router itself, the result checked"

        Protocol.WAMP_CALLEE ->
            "`Session.call(\"$CALLEE_PROCEDURE\", [0, seq])` over WebSocket JSON to `/wamp`, " +
                "routed to a second Tether session that registered it (its handler returns the arguments; beside a " +
                "caller on the I/O thread the handler runs inline there, `handlerExecutor(Runnable::run)`, " +
                "otherwise on `Dispatchers.Default`) and back"
    }

    private fun label(p: Protocol, v: Variant): String = when (v) {
        Variant.RAW_INLINE -> if (p.twoHops) {
            "raw, 2 hops (`/forward`), both ends listeners inline on the event loop"
        } else {
            "raw (`/echo`), listener inline on the event loop"
        }

        Variant.RAW_LOOP -> if (p.twoHops) {
            "raw, 2 hops, caller and echo on `connection.dispatcher`"
        } else {
            "raw, caller on `connection.dispatcher`"
        }

        Variant.RAW_DEFAULT -> if (p.twoHops) {
            "raw, 2 hops, caller and echo on `Dispatchers.Default`"
        } else {
            "raw, caller on `Dispatchers.Default`"
        }

        Variant.RAW_ECHO_LOOP -> "raw, 1 hop (`/echo`), caller on `connection.dispatcher` (reference)"

        Variant.PROTO_FLOOR ->
            "protocol floor: raw, speaking ${p.key} to its server, caller on " +
                "`connection.dispatcher` (diagnostic)"

        Variant.PROTO_LOOP -> "${p.key}, caller on the client's `dispatcher`"

        Variant.PROTO_DEFAULT -> "${p.key}, caller on `Dispatchers.Default`"
    }

    private fun ratio(r: Double): String = if (r.isNaN()) "–" else String.format(Locale.US, "%.2f×", r)
    private fun added(r: Double): String = if (r.isNaN()) "–" else String.format(Locale.US, "%+.0f %%", (r - 1) * 100)
    private fun micros(v: Double): String = if (v.isNaN()) "n/a" else Fmt.micros(v)
    private fun addedMicros(v: Double): String = when {
        v.isNaN() -> "n/a"

        v <= -50.0 -> "−" + Fmt.micros(-v)

        // anything closer to zero prints as +0.0 µs
        else -> "+" + Fmt.micros(maxOf(v, 0.0))
    }
    private fun perOp(v: Double): String = if (v.isNaN()) "n/a" else String.format(Locale.US, "%.2f", v)

    /** The verdict on one pairing: both the mean round trip and the p50 within the goal. */
    internal fun verdict(meanRatio: Double, p50Ratio: Double): String = when {
        meanRatio.isNaN() || p50Ratio.isNaN() -> "–"
        meanRatio <= 1 + GOAL_ADDED && p50Ratio <= 1 + GOAL_ADDED -> "**PASS**"
        meanRatio <= 1 + GOAL_ADDED -> "**MISS** (p50)"
        p50Ratio <= 1 + GOAL_ADDED -> "**MISS** (mean)"
        else -> "**MISS**"
    }

    fun render(ctx: RunContext, r: Results): String = buildString {
        val o = ctx.options
        append("### Protocols against the raw transport (Go reference peer)\n\n")
        append(ctx.provenance()).append("\n\n")
        append("One Go server, `refpeer server` (`benchmarks/go/refpeer`, gorilla/websocket from the Debian packages, ")
        append("built by the runner), started once on 127.0.0.1 with an ephemeral port, serves every protocol and the ")
        append("raw baselines: `/broker` answers each nexus request envelope with `<kind>.result` and `in_reply_to` ")
        append("(encoding/json both ways); `/mux` is a wsmux server session that ACKs each SYN with its 1024-byte ")
        append("buffer, echoes each stream's bytes (ACK per consumed read, never past the client's window: first ")
        append("window min(1024, 1024)); `/relay` a netbird relay (Auth with the HMAC token checked, AuthResponse, ")
        append("peer-state subscriptions, Transport forwarded from the sender's read loop with the peer id rewritten, ")
        append("health checks every 25 s); `/wamp` a WAMP router for `wamp.2.json` (HELLO/WELCOME, REGISTER, CALL ")
        append("answered by the router for `$ECHO_PROCEDURE` or routed as INVOCATION/YIELD, GOODBYE); `/echo` sends ")
        append("each message back and `/forward` joins two connections and writes each one's messages to the other. ")
        append("The Go server does each protocol's work on the connection's read goroutine, as the raw paths do, so ")
        append("what differs between a protocol row and its raw rows is the protocol's work on both sides. Round ")
        append("trips:\n\n")
        for (pr in r.protocols) {
            append("- **${pr.protocol.title}** (${pr.protocol.key}): ${describe(pr.protocol)}. ")
            append("Request: ${pr.requestBytes} bytes on the wire; the raw rows send messages of that size.\n")
        }
        append('\n')
        append("The raw transport is the `transport` scenario's netty client (client pings off): a listener inline on ")
        append("the event loop, or a caller coroutine `send(message); incoming.receive()` on `connection.dispatcher` ")
        append("or on `Dispatchers.Default`. Relay ping-pong and a routed WAMP call cross the server twice (caller → ")
        append("server → other client → server → caller), so their raw baseline does too: two raw connections joined ")
        append("by `/forward`, the far end sending every message back from the same kind of thread as the caller; the ")
        append("one-hop `/echo` is shown for reference. The **protocol floor** row is a diagnostic: the raw transport ")
        append("speaking the protocol to the same server with none of Tether's protocol client (requests encoded once ")
        append("up front, replies counted, not parsed; wsmux returns the echo's credit, the relay's far end sends ")
        append("each Transport back, the WAMP callee cuts the invocation id from the text), its caller on ")
        append("`connection.dispatcher`: over the raw ping-pong it is the server's share and the protocol's extra ")
        append("messages, under the protocol client Tether's own work. Every round opens fresh clients and ")
        append("connections outside the measured time. Per protocol: ")
        if (o.warmup == Duration.ZERO) {
            append("no warm-up")
        } else {
            append("warm-up first (each row in ${minOf(EndToEnd.WARMUP_STEP, o.warmup)} rounds until the JIT goes ")
            append("quiet, at most ${o.warmup})")
        }
        append(", then ${o.rounds} interleaved rounds: in each round every row runs once for ${o.duration}, in the ")
        append("order of the table, reversed every other round. Figures are medians of the rounds; the mean round ")
        append("trip is 1 / the median rate; p50 and p99 are exact percentiles of a round, median of the rounds. ")
        append("Context switches and CPU: the whole JVM (every thread, `/proc/self/task/*/status` and process CPU ")
        append("time) over the round, per round trip; the Go server's share is not counted.\n\n")

        append("| protocol | client | request | round trips/s (median) | min – max | mean round trip | p50 | p99 | ")
        append("context switches per round trip | CPU per round trip |\n")
        append("|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for (pr in r.protocols) {
            for (v in pr.variants) {
                val vr = pr.results.getValue(v)
                append("| ${pr.protocol.key} | ${label(pr.protocol, v)} | ${pr.requestBytes} B | ")
                append("**${Fmt.count(vr.medianRate)}** | ${Fmt.count(vr.minRate)} – ${Fmt.count(vr.maxRate)} | ")
                append("${micros(vr.meanNanos)} | ${micros(vr.medianP50)} | ${micros(vr.medianP99)} | ")
                append("${perOp(vr.medianSwitchesPerOp)} | ${micros(vr.medianCpuPerOp)} |\n")
            }
        }
        append('\n')

        append("**Goal** (transport issue): each protocol at 1 in flight adds at most ${(GOAL_ADDED * 100).toInt()} % ")
        append("to the raw transport's round-trip time. Each protocol against the raw transport with its caller on ")
        append("the same kind of thread; **PASS** when both the mean round trip and the p50 are within 1.30× of raw:\n")
        append("\n")
        append("| protocol | pairing | raw: mean · p50 | protocol: mean · p50 | added (mean · p50) | protocol / raw ")
        append("(mean · p50) | paired / raw (mean, per round) | protocol / raw inline (mean) | verdict (≤ +30 %) |\n")
        append("|:---|:---|---:|---:|---:|---:|---:|---:|:---|\n")
        for (pr in r.protocols) {
            for (pairing in Pairing.entries) {
                if (!pr.has(pairing.proto)) continue
                val raw = pr.results.getValue(pairing.raw)
                val proto = pr.results.getValue(pairing.proto)
                val inline = pr.results.getValue(Variant.RAW_INLINE)
                val meanRatio = proto.meanNanos / raw.meanNanos
                val p50Ratio = proto.medianP50 / raw.medianP50
                val (lo, hi) = pr.pairedRange(pairing.raw, pairing.proto)
                append("| ${pr.protocol.key} | ${pairing.label} | ${micros(raw.meanNanos)} · ${micros(raw.medianP50)} ")
                append("| ${micros(proto.meanNanos)} · ${micros(proto.medianP50)} | ")
                append("${addedMicros(proto.meanNanos - raw.meanNanos)} · ")
                append("${addedMicros(proto.medianP50 - raw.medianP50)} | **${ratio(meanRatio)}** ")
                append("(${added(meanRatio)}) · ${ratio(p50Ratio)} | ${ratio(lo)} – ${ratio(hi)} | ")
                append("${ratio(proto.meanNanos / inline.meanNanos)} | ${verdict(meanRatio, p50Ratio)} |\n")
            }
        }
        append('\n')
        append("**Where the added time goes** (mean round trips): the server and the protocol's messages = protocol ")
        append("floor − raw with the caller on `connection.dispatcher`; Tether's client = what the protocol adds in ")
        append("the pairing − that share.\n\n")
        append("| protocol | pairing | added by the protocol | of it: server and protocol messages (floor − raw) | of ")
        append("it: Tether's client |\n")
        append("|:---|:---|---:|---:|---:|\n")
        for (pr in r.protocols) {
            if (!pr.has(Variant.PROTO_FLOOR)) continue
            val server =
                pr.results.getValue(Variant.PROTO_FLOOR).meanNanos - pr.results.getValue(Variant.RAW_LOOP).meanNanos
            for (pairing in Pairing.entries) {
                if (!pr.has(pairing.proto)) continue
                val add = pr.results.getValue(pairing.proto).meanNanos - pr.results.getValue(pairing.raw).meanNanos
                append("| ${pr.protocol.key} | ${pairing.label} | ${addedMicros(add)} | ${addedMicros(server)} | ")
                append("${addedMicros(add - server)} |\n")
            }
        }
        append('\n')
        append("Verdicts compare medians of interleaved rounds of this one run on this machine; no test asserts a ")
        append("wall-clock figure.\n\n")
        append("Rounds, in run order (round trips/s):  \n")
        for (pr in r.protocols) {
            append("${pr.protocol.key}: ")
            append(
                pr.orders.indices.joinToString(" · ") { i ->
                    "${i + 1}: " +
                        pr.orders[i].joinToString(", ") { v ->
                            "${v.short} ${Fmt.count(pr.results.getValue(v).rounds[i].perSecond)}"
                        }
                },
            )
            append(".  \n")
        }
        val warmed = r.protocols.flatMap { pr -> pr.variants.map { pr to pr.results.getValue(it) } }
            .filter { it.second.warmup.isNotEmpty() }
        if (warmed.isNotEmpty()) {
            append("Warm-up (rounds, JIT quiet or cap): ")
            append(
                warmed.joinToString("; ") { (pr, vr) ->
                    "${pr.protocol.key} ${vr.variant.short} ${vr.warmup.size}${if (vr.warmConverged) "" else " (cap)"}"
                },
            )
            append(".\n")
        }
    }

    private val ROUND_GRACE = 60.seconds
    private val CLOSE_BOUND = 10.seconds
    private val CONNECT_BOUND = 10.seconds

    private fun medianOrNaN(values: List<Double>): Double =
        values.filterNot { it.isNaN() }.let { if (it.isEmpty()) Double.NaN else median(it) }
}
