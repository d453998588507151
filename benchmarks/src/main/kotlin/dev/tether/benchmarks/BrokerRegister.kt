package dev.tether.benchmarks

import dev.tether.wsclient.Envelope
import dev.tether.wsclient.WsClient
import java.io.PrintStream
import java.util.UUID

/**
 * The wsclient scenario against an external nexus broker (`--broker-url`, `--broker-token`). The real broker has
 * no `echo` kind (unknown kinds are dropped without a reply), so the round trip measured is the one every agent
 * makes: `register` answered by `register.ack` (specs/nexus-wsclient.md, "Register flow"). Re-registering a name
 * with the same session id is acked again, so the workers of one connection all register the same name.
 */
internal object BrokerRegister {
    const val SECTION: String = "wsclient-register"
    const val KIND: String = "register"
    const val ACK: String = "register.ack"

    /** The registration one target repeats: a name and session id of its own, and the fields the broker requires. */
    fun payload(name: String, sessionId: String): String =
        """{"name":"$name","session_id":"$sessionId","provider":"tether-bench","context_mode":"stateless"}"""

    /** One client on a fresh connection; each op is one `register` request whose reply must be the ack. */
    class Target(private val client: WsClient, name: String) : LoadTarget {
        private val payload = payload(name, UUID.randomUUID().toString())

        override suspend fun roundTrip(worker: Int, seq: Int) {
            val reply = client.request(Envelope.request(KIND, payload))
            check(reply.kind == ACK) { "$KIND answered ${reply.kind}: ${reply.payload}" }
        }

        override fun close() = client.close() // the broker deregisters a closed connection's names
    }

    fun run(o: EndToEndOptions, log: PrintStream): List<LoadSummary> {
        val url = requireNotNull(o.brokerUrl)
        val token = if (o.brokerToken == null) "no token" else "bearer token given"
        log.println("  broker at $url ($token): register -> register.ack")
        return o.inFlight.sortedDescending().map { n ->
            EndToEnd.measure(o, log, "wsclient register", n) {
                val name = "tether-bench-" + UUID.randomUUID().toString().substring(0, 8)
                Target(EndToEnd.connectedClient(url, o.brokerToken), name)
            }
        }.sortedBy { it.inFlight }
    }

    fun render(ctx: RunContext, s: List<LoadSummary>): String = EndToEnd.section(
        "wsclient request/response: `register` → `register.ack` through an external broker",
        ctx,
        "The broker at `${ctx.options.brokerUrl}`" +
            (if (ctx.options.brokerToken != null) " (bearer token from `--broker-token`)" else "") + ". " +
            "A real nexus broker has no `echo` kind, so each round trip is a registration: " +
            "`WsClient.request(Envelope.request(\"register\", " +
            "{\"name\":…,\"session_id\":…,\"provider\":\"tether-bench\",\"context_mode\":\"stateless\"}))`, and each " +
            "reply is checked to be `register.ack`. A fresh client (one connection) with a name and session id of " +
            "its own for every round; all N coroutines of a round re-register that name, which the broker acks each " +
            "time. The broker handles one connection's frames one at a time, and its registry work is part of every " +
            "round trip, so the figures are the broker's as much as the client's and do not compare with the " +
            "FakeBroker `echo` figures. Per configuration: ${EndToEnd.describeRounds(ctx.options)}. Latency is per " +
            "`request` call, System.nanoTime, exact percentiles of all samples.",
        loadTable("requests/s", s),
    )
}
