package dev.tether.benchmarks.scale

import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Many [WsClient]s at once against FakeBroker: heap per connection, heap per pending request (10 pending on every
 * connection), and the echo requests/s held with every connection making requests back to back.
 */
internal object WsclientScale {
    const val KEY: String = "wsclient"

    suspend fun run(ctx: LoadContext, plan: LoadPlan): LoadResult {
        val n = plan.count(ScaleOptions.FULL_CONNECTIONS)
        val pendingEach = ScaleOptions.PENDING_PER_CONNECTION
        val setup = "$n `WsClient`s (one WebSocket each, default options, 30 s request timeout) to `FakeBroker`, " +
            "opened ${Bounds.OPEN_PARALLELISM} at a time. Pending requests: $pendingEach requests of a kind the " +
            "broker never answers on every connection, then one echo request per connection (its reply means the " +
            "broker has read the ones before it, so nothing is left in a send queue), then the heap reading. Rate: " +
            "every connection makes echo requests back to back, one at a time ($n in flight), each reply checked; " +
            "latency per `request`."
        return ctx.measureLoad(KEY, "wsclient: $n connections", setup) { failures, baseline ->
            exercise(ctx, plan, n, pendingEach, failures, baseline)
        }
    }

    private suspend fun exercise(
        ctx: LoadContext,
        plan: LoadPlan,
        n: Int,
        pendingEach: Int,
        failures: Failures,
        baseline: Snapshot,
    ): Measured {
        val servers = ctx.servers
        val (clients, openMillis) = timed {
            openAll(n, failures, "connect") { connect(servers.brokerUrl, servers.brokerToken) }
        }
        ctx.log.println("  wsclient: ${clients.size} of $n connected in $openMillis ms")
        val open = snapshot()
        val footprints = ArrayList<Footprint>()
        if (clients.isNotEmpty()) {
            footprints += Footprint("connection", "connection", baseline.growthTo(open, clients.size))
            pendingHeap(clients, pendingEach, failures)?.let { withPending ->
                footprints += Footprint(
                    "pending request ($pendingEach per connection)",
                    "request",
                    open.growthTo(withPending, clients.size * pendingEach),
                )
            }
        }
        val window = HoldWindow(plan.warm, plan.hold)
        val held = holdRate(clients.size, window, Bounds.GRACE, failures, "requests") { w, seq ->
            val payload = "{\"c\":$w,\"seq\":$seq}"
            val reply = clients[w].request(Envelope.request("echo", payload))
            check(reply.kind == "echo.result" && reply.payload == payload) { "unexpected reply $reply" }
        }
        ctx.log.println("  wsclient: ${held.perSecond.toLong()} requests/s held over ${clients.size} connections")
        val (_, closeMillis) = timed { closeAll(clients, failures, "close") { it.closeAndJoin() } }
        return Measured(
            "${clients.size} of $n connections",
            openMillis,
            open,
            footprints,
            listOf(Rate("echo requests", "requests/s", held, "request", "")),
            closeMillis,
        )
    }

    private suspend fun connect(url: String, token: String): WsClient {
        val client = WsClient(
            WsClientConfig(url, EnvelopeHandler { }) {
                authToken(token)
                requestTimeout(30.seconds)
            },
        )
        try {
            withTimeout(Bounds.CONNECT) { client.connect() }
        } catch (e: Throwable) {
            client.close()
            throw e
        }
        return client
    }

    /** Heap with [each] unanswered requests pending on every client; null (and a failure) if they never were. */
    private suspend fun pendingHeap(clients: List<WsClient>, each: Int, failures: Failures): Snapshot? {
        val callers = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        try {
            for ((c, client) in clients.withIndex()) {
                repeat(each) { i ->
                    callers.launch {
                        try {
                            client.request(Envelope.request("scale.unanswered", "{\"c\":$c,\"i\":$i}"))
                        } catch (e: Exception) {
                            if (e !is kotlinx.coroutines.CancellationException) failures.record("pending", e)
                        }
                    }
                }
            }
            val expected = clients.size * each
            val settled = withTimeoutOrNull(Bounds.OPEN) {
                while (clients.sumOf { it.stats().pendingRequests } < expected) delay(20.milliseconds)
                // The broker answers in order on each connection: once this reply is in, every request before it
                // has left the client.
                openAll(clients.size, failures, "pending barrier") { clients[it].request(Envelope.request("echo")) }
                while (clients.sumOf { it.stats().pendingRequests } > expected) delay(20.milliseconds)
                true
            }
            if (settled == null) {
                failures.record("pending", "$expected requests not pending within ${Bounds.OPEN}")
                return null
            }
            return snapshot()
        } finally {
            callers.coroutineContext[kotlinx.coroutines.Job]!!.cancelAndJoin()
        }
    }
}
