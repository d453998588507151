package dev.tether.benchmarks

import java.nio.file.Path
import java.nio.file.Paths
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/** The end-to-end scenarios, in the order they run and appear in the report. */
internal enum class Scenario(val key: String, val description: String) {
    RAW(
        "raw",
        "raw WebSocket echo baseline (a raw WebSocketDialer connection and the benchmark's Netty server), " +
            "round trips/s and latency",
    ),
    WSCLIENT(
        "wsclient",
        "WsClient request/response through FakeBroker's echo kind, requests/s and latency; with --broker-url, " +
            "register -> register.ack round trips through that broker (a real broker has no echo kind)",
    ),
    WSCLIENT_LEAN("wsclient-lean", "diagnostic: WsClient against a minimal envelope echo server that parses nothing"),
    ENVELOPE_FLOOR(
        "envelope-floor",
        "diagnostic: the raw socket doing only the envelope work (codec, ids, reply lookup) against the minimal echo",
    ),
    GOAL(
        "goal",
        "the wsclient goal at 64 in flight in paired cycles: one round each of raw echo (two read-loop dispatchers), " +
            "wsclient through FakeBroker, wsclient against the minimal echo and the envelope floor per cycle; " +
            "--rounds cycles",
    ),
    HEAP("heap", "heap per pending WsClient request with --pending requests in flight"),
    MUX(
        "mux",
        "wsmux stream throughput at windows 1 KiB, 4 KiB, 64 KiB and auto beside raw WebSocket, concurrent streams, " +
            "heap per idle stream; with --mux-url, stream echo MB/s through that wsmux echo server",
    ),
    TUNNEL(
        "tunnel",
        "TunnelClient.forward through FakeTunnelProxy (or --tunnel-proxy): body download/upload MB/s, " +
            "small GETs/s",
    ),
    RELAY(
        "relay",
        "two RelayClient peers through FakeRelayServer (or --relay-url): one-way MB/s with --relay-payload messages " +
            "and messages/s with --relay-small ones (backpressure and datagram mode, drops counted), ping-pong round " +
            "trips/s and p50/p99 latency at --in-flight; each beside the raw WebSocket with messages of the same size",
    ),
    WAMP(
        "wamp",
        "WAMP Session through the testkit FakeWampRouter (or --wamp-url): calls/s and p50/p99 latency at " +
            "--in-flight, events/s delivered to one subscriber and events lost (bounded by --wamp-wait), with JSON, " +
            "MessagePack and CBOR over WebSocket and RawSocket",
    ),
    TRANSPORT(
        "transport",
        "Tether's WebSocket transports (netty inline, netty with the caller on its event loop or on " +
            "Dispatchers.Default, ktor) and the Go gorilla client against one Go reference server " +
            "(benchmarks/go/refpeer, built with --go), interleaved: ping-pong round trips/s and latency, " +
            "credit-windowed upload and download MB/s, context switches per message, ratios to Go and the transport " +
            "goals; skipped with the reason where go is not installed",
    ),
    PROTOCOLS(
        "protocols",
        "each protocol client (wsclient, wsmux, relay, WAMP) at 1 in flight against a minimal server of its protocol " +
            "in the Go reference peer, interleaved with the raw transport's ping-pong against the same Go process " +
            "with messages of the same size, the caller on the client's dispatcher and on Dispatchers.Default: " +
            "round-trip time added by each protocol and the goal (at most +30 %); skipped with the reason where go " +
            "is not installed",
    ),
}

internal class UsageException(message: String) : Exception(message)

/** Command-line options of [EndToEnd]; every scenario is bounded by both time and count. */
internal data class EndToEndOptions(
    val scenarios: List<Scenario> = Scenario.entries,
    val warmup: Duration = 40.seconds,
    val duration: Duration = 2.seconds,
    val rounds: Int = 5,
    val maxRequests: Long = 1_000_000,
    val inFlight: List<Int> = listOf(1, 64),
    val pending: Int = 100_000,
    val heapRounds: Int = 3,
    val out: Path = Paths.get("docs", "performance.md"),
    val muxBytes: Long = 1L shl 30,
    val muxStreams: Int = 64,
    val muxIdle: Int = 10_000,
    /**
     * Largest application read of the mux scenario's readers (peer on upload, client on download); 0 = the rest of
     * the message. 16 KiB by default, as stream copy loops read (Java's transferTo 8 KiB, Go's io.Copy 32 KiB).
     */
    val muxRead: Int = 16 * 1024,
    /** Single-stream windows of the mux scenario, by [MuxScenario.Window.key]; all by default. */
    val muxWindows: List<String> = MuxScenario.Window.entries.map { it.key },
    val tunnelBody: Long = 256L shl 20,
    val tunnelViewers: List<Int> = listOf(1, 16, 64),
    val tunnelTimeout: Duration = 2.minutes,
    val tunnelProxy: String? = null,
    val tunnelSecret: String? = null,
    val tunnelId: String = "tether-bench",
    val relayUrl: String? = null,
    val relaySecret: String? = null,
    val relayPayload: Int = 8 * 1024,
    val relaySmall: Int = 64,
    val wampUrl: String? = null,
    val wampRealm: String = "realm1",
    /** Longest a WAMP events round waits, after its last publication, for the subscriber to receive the rest. */
    val wampWait: Duration = 10.seconds,
    /** An external nexus broker (`/connect` URL): the wsclient scenario measures `register` round trips there. */
    val brokerUrl: String? = null,
    val brokerToken: String? = null,
    /** An external wsmux echo server: the mux scenario measures stream echo there. */
    val muxUrl: String? = null,
    /** The `go` command that builds the transport scenario's reference peer: a name looked up on PATH, or a path. */
    val goCommand: String = "go",
    /** Loads of the transport scenario; all by default. */
    val transportLoads: List<TransportScenario.Load> = TransportScenario.Load.entries,
    /** Protocols of the protocols scenario; all by default. */
    val protocols: List<ProtocolsScenario.Protocol> = ProtocolsScenario.Protocol.entries,
    val help: Boolean = false,
) {
    /**
     * Why [scenario] does not run with these options, or null when it does. A scenario that needs one of the
     * benchmark's own peers is skipped when the target it would be compared with is external.
     */
    fun skipReason(scenario: Scenario): String? {
        if (brokerUrl == null) return null
        return when (scenario) {
            Scenario.RAW ->
                "the raw echo baseline needs the benchmark's own loopback echo peer, which --broker-url " +
                    "has no counterpart of"

            Scenario.WSCLIENT_LEAN, Scenario.ENVELOPE_FLOOR ->
                "a diagnostic against the benchmark's own minimal envelope echo peer, not against a broker " +
                    "(--broker-url)"

            Scenario.GOAL ->
                "the goal pairs wsclient through FakeBroker's echo kind with the raw echo on loopback; " +
                    "the broker at --broker-url has no echo kind (the wsclient scenario measures its register round " +
                    "trips instead)"

            Scenario.HEAP ->
                "needs the benchmark's /sink peer, which counts the frames it has received (the figure " +
                    "waits until every pending request has reached it); a broker answers or drops them"

            else -> null
        }
    }

    companion object {
        val USAGE: String = """
            |Usage: java -cp benchmarks/target/benchmarks.jar dev.tether.benchmarks.EndToEnd [options]
            |
            |Runs end-to-end scenarios over loopback (127.0.0.1, ephemeral ports), or against the external servers named
            |by the --*-url and --tunnel-proxy options, and rewrites their sections of a Markdown report (between
            |<!-- e2e:NAME:begin/end --> markers; the rest of the file is kept). A scenario that fails is reported and
            |the others still run; the exit status is then 1.
            |
            |  --scenario LIST     comma-separated: ${Scenario.entries.joinToString(", ") { it.key }}, or all
            |                      (default all)
            |                        raw: ${Scenario.RAW.description}
            |                        wsclient: ${Scenario.WSCLIENT.description}
            |                        wsclient-lean: ${Scenario.WSCLIENT_LEAN.description}
            |                        envelope-floor: ${Scenario.ENVELOPE_FLOOR.description}
            |                        goal: ${Scenario.GOAL.description}
            |                        heap: ${Scenario.HEAP.description}
            |                        mux: ${Scenario.MUX.description}
            |                        tunnel: ${Scenario.TUNNEL.description}
            |                        relay: ${Scenario.RELAY.description}
            |                        wamp: ${Scenario.WAMP.description}
            |                        transport: ${Scenario.TRANSPORT.description}
            |                        protocols: ${Scenario.PROTOCOLS.description}
            |  --warmup D          longest warm-up per configuration; it stops earlier once the JIT is quiet (default
            |                      40s; 0s for none)
            |  --duration D        length of one measured round, e.g. 2s, 500ms (default 2s)
            |  --rounds N          measured rounds per configuration (default 5)
            |  --requests N        cap on round trips per round, warm-up included (default 1000000)
            |  --in-flight LIST    concurrent requests on one connection, e.g. 1,64 (default 1,64)
            |  --pending N         requests left pending in the heap scenario (default 100000)
            |  --heap-rounds N     measured rounds of the heap scenario, after one warm-up round (default 3)
            |  --mux-bytes SIZE    cap on bytes moved per round and configuration of the mux scenario, e.g. 256MiB
            |                      (default 1GiB)
            |  --mux-streams N     concurrent streams on one session in the mux scenario (default 64)
            |  --mux-idle N        idle open streams per round of the mux heap figure (default 10000)
            |  --mux-windows LIST  single-stream windows of the mux scenario: 64kib, 4kib, 1kib, auto (default all)
            |  --mux-read SIZE     largest application read of the mux scenario's readers (default 16KiB; 0: the
            |                      whole message)
            |  --tunnel-body SIZE  body of the tunnel download and upload, e.g. 256MiB, 64KiB, 1000 (default 256MiB)
            |  --tunnel-viewers LIST  concurrent viewers of the small GETs (default 1,16,64)
            |  --tunnel-timeout D  bound of one measured body transfer (default 2m)
            |  --tunnel-proxy URL  register with this proxy instead of an embedded FakeTunnelProxy
            |  --tunnel-secret S   secret the proxy accepts for tokens (default test-secret, the fake's)
            |  --tunnel-id ID      tunnel id to register (default tether-bench)
            |  --relay-url URL     rel:// or rels:// relay to measure instead of an embedded FakeRelayServer (needs
            |                      --relay-secret)
            |  --relay-secret S    the relay's auth secret; the peers sign their tokens with it
            |  --relay-payload SIZE  message of the relay throughput figures, at most 8782 B (default 8KiB)
            |  --relay-small SIZE  message of the relay small-message rate and ping-pong, at least 16 B (default 64)
            |  --wamp-url URL      measure this WAMP router instead of an embedded FakeWampRouter (JSON, MessagePack
            |                      and CBOR over its transport)
            |  --wamp-realm R      realm to join on --wamp-url, open to anonymous sessions (default realm1)
            |  --wamp-wait D       longest an events round waits after its last publication for the subscriber (default
            |                      10s); it ends sooner on the end marker, or after 1s with no event (the router dropped
            |                      the rest: routers drop events to a subscriber that falls behind); events not
            |                      delivered by then count as lost
            |  --broker-url URL    a nexus broker's ws(s)://HOST/connect: the wsclient scenario measures register ->
            |                      register.ack round trips there (a real broker has no echo kind); raw, wsclient-lean,
            |                      envelope-floor, goal and heap need the benchmark's own peers and are skipped
            |  --broker-token T    bearer token for --broker-url
            |  --mux-url URL       a wsmux echo server's ws(s):// URL (a server session that echoes every stream it
            |                      accepts, e.g. `tether serve mux`): the mux scenario measures stream echo there; its
            |                      raw baselines, goal and idle-stream heap need the benchmark's own peers and are
            |                      skipped
            |  --go CMD            the go command that builds the Go reference peer of the transport and protocols
            |                      scenarios (default go, looked up on PATH; a path also works); without it, or without
            |                      gorilla/websocket, those scenarios are skipped with the reason (install golang-go and
            |                      golang-github-gorilla-websocket-dev)
            |  --transport-loads LIST  loads of the transport scenario (default all):
            |                      ${TransportScenario.Load.entries.joinToString(", ") { it.key }}
            |  --protocols LIST    protocols of the protocols scenario (default all):
            |                      ${ProtocolsScenario.Protocol.entries.joinToString(", ") { it.key }}
            |  --out FILE          report to update (default docs/performance.md, relative to the working directory)
            |  --help              this text
            |
            |The goal scenario states the wsclient goal: wsclient at 64 in flight reaches at least 80 % of the raw echo
            |round trips (PASS or MISS, from paired rounds; nothing asserts wall-clock figures). The mux scenario states
            |its goals too: at least 80 % of raw WebSocket throughput at a 64 KiB window, under 2 KiB heap per idle
            |stream.
            |The transport scenario states the transport goals: ping-pong at least 0.8x the Go client (stretch 1.0x),
            |credit-windowed upload and download at least 1.0x. The protocols scenario states the protocol goal: each
            |protocol at 1 in flight adds at most 30 % to the raw transport's round-trip time.
        """.trimMargin()

        fun parse(args: Array<String>): EndToEndOptions {
            var o = EndToEndOptions()
            var i = 0
            while (i < args.size) {
                val arg = args[i]
                val (name, inline) = if (arg.startsWith("--") && '=' in arg) {
                    arg.substringBefore('=') to arg.substringAfter('=')
                } else {
                    arg to null
                }
                fun value(): String = inline ?: args.getOrNull(++i) ?: throw UsageException("$name needs a value")
                o = when (name) {
                    "--scenario", "--scenarios" -> o.copy(scenarios = scenarios(value()))

                    "--warmup" -> o.copy(warmup = duration(name, value(), allowZero = true))

                    "--duration" -> o.copy(duration = duration(name, value(), allowZero = false))

                    "--rounds" -> o.copy(rounds = positiveInt(name, value()))

                    "--requests" -> o.copy(maxRequests = positiveInt(name, value()).toLong())

                    "--in-flight" -> o.copy(inFlight = positiveInts(name, value()))

                    "--pending" -> o.copy(pending = positiveInt(name, value()))

                    "--heap-rounds" -> o.copy(heapRounds = positiveInt(name, value()))

                    "--out" -> o.copy(out = Paths.get(value()))

                    "--mux-bytes" -> o.copy(muxBytes = size(name, value()))

                    "--mux-streams" -> o.copy(muxStreams = positiveInt(name, value()))

                    "--mux-idle" -> o.copy(muxIdle = positiveInt(name, value()))

                    "--mux-read" -> o.copy(
                        muxRead = value().let { v ->
                            if (v.trim() == "0") {
                                0
                            } else {
                                val n = size(name, v)
                                if (n > Int.MAX_VALUE) throw UsageException("$name: at most 2 GiB")
                                n.toInt()
                            }
                        },
                    )

                    "--mux-windows" -> o.copy(
                        muxWindows = value().split(',').map { w ->
                            w.trim().lowercase().also { key ->
                                if (MuxScenario.Window.entries.none { it.key == key }) {
                                    val known = MuxScenario.Window.entries.joinToString { it.key }
                                    throw UsageException("$name: unknown window $w (one of $known)")
                                }
                            }
                        },
                    )

                    "--tunnel-body" -> o.copy(tunnelBody = size(name, value()))

                    "--tunnel-viewers" -> o.copy(tunnelViewers = positiveInts(name, value()))

                    "--tunnel-timeout" -> o.copy(tunnelTimeout = duration(name, value(), allowZero = false))

                    "--tunnel-proxy" -> o.copy(tunnelProxy = value())

                    "--tunnel-secret" -> o.copy(tunnelSecret = nonEmpty(name, value()))

                    "--tunnel-id" -> o.copy(tunnelId = nonEmpty(name, value()))

                    "--relay-url" -> o.copy(relayUrl = nonEmpty(name, value()))

                    "--relay-secret" -> o.copy(relaySecret = nonEmpty(name, value()))

                    "--relay-payload" -> o.copy(relayPayload = intSize(name, value()))

                    "--relay-small" -> o.copy(relaySmall = intSize(name, value()))

                    "--wamp-url" -> o.copy(wampUrl = nonEmpty(name, value()))

                    "--wamp-realm" -> o.copy(wampRealm = nonEmpty(name, value()))

                    "--wamp-wait" -> o.copy(wampWait = duration(name, value(), allowZero = false))

                    "--broker-url" -> o.copy(brokerUrl = webSocketUrl(name, value()))

                    "--broker-token" -> o.copy(brokerToken = nonEmpty(name, value()))

                    "--mux-url" -> o.copy(muxUrl = webSocketUrl(name, value()))

                    "--go" -> o.copy(goCommand = nonEmpty(name, value().trim()))

                    "--transport-loads" -> o.copy(transportLoads = transportLoads(name, value()))

                    "--protocols" -> o.copy(protocols = protocols(name, value()))

                    "--help", "-h" -> o.copy(help = true)

                    else -> throw UsageException("unknown option $arg")
                }
                i++
            }
            if (o.brokerToken != null && o.brokerUrl == null) {
                throw UsageException("--broker-token goes with --broker-url")
            }
            return o
        }

        /** [size], capped at [Int.MAX_VALUE]. */
        private fun intSize(name: String, text: String): Int =
            size(name, text).coerceAtMost(Int.MAX_VALUE.toLong()).toInt()

        private fun nonEmpty(name: String, text: String): String =
            text.ifEmpty { throw UsageException("$name must not be empty") }

        private fun positiveInts(name: String, text: String): List<Int> =
            text.split(',').map { positiveInt(name, it.trim()) }.distinct()

        private fun scenarios(text: String): List<Scenario> {
            val keys = text.split(',').map { it.trim().lowercase() }.filter { it.isNotEmpty() }
            if (keys.isEmpty()) throw UsageException("--scenario needs at least one name")
            if ("all" in keys) return Scenario.entries
            val chosen = keys.map { k ->
                Scenario.entries.firstOrNull { it.key == k }
                    ?: throw UsageException(
                        "unknown scenario $k (known: ${Scenario.entries.joinToString { it.key }}, all)",
                    )
            }
            return Scenario.entries.filter { it in chosen }
        }

        private fun transportLoads(name: String, text: String): List<TransportScenario.Load> {
            val keys = text.split(',').map { it.trim().lowercase() }.filter { it.isNotEmpty() }
            if (keys.isEmpty()) throw UsageException("$name needs at least one load")
            if ("all" in keys) return TransportScenario.Load.entries
            val chosen = keys.map { k ->
                TransportScenario.Load.byKey(k)
                    ?: throw UsageException(
                        "$name: unknown load $k (known: " +
                            "${TransportScenario.Load.entries.joinToString { it.key }}, all)",
                    )
            }
            return TransportScenario.Load.entries.filter { it in chosen }
        }

        private fun protocols(name: String, text: String): List<ProtocolsScenario.Protocol> {
            val keys = text.split(',').map { it.trim().lowercase() }.filter { it.isNotEmpty() }
            if (keys.isEmpty()) throw UsageException("$name needs at least one protocol")
            if ("all" in keys) return ProtocolsScenario.Protocol.entries
            val chosen = keys.map { k ->
                ProtocolsScenario.Protocol.byKey(k)
                    ?: throw UsageException(
                        "$name: unknown protocol $k (known: " +
                            "${ProtocolsScenario.Protocol.entries.joinToString { it.key }}, all)",
                    )
            }
            return ProtocolsScenario.Protocol.entries.filter { it in chosen }
        }

        /** A byte count: a number with an optional unit B, KiB, MiB or GiB (e.g. 256MiB). */
        internal fun size(name: String, text: String): Long {
            val m = Regex("""(\d+)\s*(B|KiB|MiB|GiB)?""").matchEntire(text.trim().replace("_", ""))
                ?: throw UsageException("$name: use e.g. 1000, 64KiB, 256MiB or 1GiB, not $text")
            val n = m.groupValues[1].toLong() shl when (m.groupValues[2]) {
                "KiB" -> 10
                "MiB" -> 20
                "GiB" -> 30
                else -> 0
            }
            if (n <= 0) throw UsageException("$name must be positive: $text")
            return n
        }

        /** A ws:// or wss:// URL with a host. */
        private fun webSocketUrl(name: String, text: String): String {
            val uri = runCatching { java.net.URI(text.trim()) }.getOrNull()
            val scheme = uri?.scheme?.lowercase()
            if (uri == null || (scheme != "ws" && scheme != "wss") || uri.host.isNullOrEmpty()) {
                throw UsageException("$name: use a ws:// or wss:// URL with a host, not $text")
            }
            return text.trim()
        }

        private fun positiveInt(name: String, text: String): Int {
            val n = text.replace("_", "").toIntOrNull() ?: throw UsageException("$name: not a number: $text")
            if (n <= 0) throw UsageException("$name must be positive: $text")
            return n
        }

        private fun duration(name: String, text: String, allowZero: Boolean): Duration {
            val m = Regex("""(\d+)(ms|s|m)""").matchEntire(text.trim())
                ?: throw UsageException("$name: use e.g. 500ms, 10s or 2m, not $text")
            val n = m.groupValues[1].toLong()
            val d = when (m.groupValues[2]) {
                "ms" -> n.milliseconds
                "s" -> n.seconds
                else -> n.minutes
            }
            if (!allowZero && d == Duration.ZERO) throw UsageException("$name must be positive")
            return d
        }
    }
}
