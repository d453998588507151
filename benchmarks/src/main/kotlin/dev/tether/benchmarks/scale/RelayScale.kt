package dev.tether.benchmarks.scale

import dev.tether.relay.AuthToken
import dev.tether.relay.ConnClosedException
import dev.tether.relay.PeerId
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayConn
import dev.tether.relay.TokenStore
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout

/**
 * Many relay peers on FakeRelayServer, in pairs with a [RelayConn] each way: heap per peer (its [RelayClient] and
 * relay session) and per connection, and messages/s held with every pair exchanging messages.
 */
internal object RelayScale {
    const val KEY: String = "relay"
    private const val MESSAGE_BYTES = 64

    private class Pair(val a: RelayClient, val b: RelayClient, val ab: RelayConn, val ba: RelayConn)

    suspend fun run(ctx: LoadContext, plan: LoadPlan): LoadResult {
        val pairCount = plan.count(ScaleOptions.FULL_RELAY_PEERS) / 2
        val peers = pairCount * 2
        val setup = "$peers `RelayClient`s (one relay session each, default options) to `FakeRelayServer`, " +
            "connected ${Bounds.OPEN_PARALLELISM} at a time, then in $pairCount pairs each opening a `RelayConn` to " +
            "the other. Rate: in every pair peer A writes a $MESSAGE_BYTES-byte message, peer B reads it and writes " +
            "it back, A reads it ($pairCount round trips in flight); messages/s counts both directions, latency is " +
            "per round trip."
        return ctx.measureLoad(KEY, "relay: $peers peers ($pairCount pairs)", setup) { failures, baseline ->
            exercise(ctx, plan, pairCount, failures, baseline)
        }
    }

    private suspend fun exercise(
        ctx: LoadContext,
        plan: LoadPlan,
        pairCount: Int,
        failures: Failures,
        baseline: Snapshot,
    ): Measured {
        val peers = pairCount * 2
        val url = ctx.servers.relayUrl
        val secret = ctx.servers.relaySecret
        // A run id in the keys: a warm-up's peers may still be going offline on the relay when this load begins.
        val run = System.nanoTime().toString(36)
        val t0 = System.nanoTime()
        val clients = openAll(peers, failures, "connect") { i ->
            val client = RelayClient(url, TokenStore(AuthToken.generate(secret)), key(run, i))
            try {
                withTimeout(Bounds.CONNECT) { client.connect() }
            } catch (e: Throwable) {
                client.close()
                throw e
            }
        }
        val connectNanos = System.nanoTime() - t0
        val connected = snapshot()
        val byKey = clients.associateBy { it.peerId }
        val t1 = System.nanoTime()
        val pairs = openAll(pairCount, failures, "open conns") { p ->
            val a = byKey[PeerId.of(key(run, 2 * p))] ?: throw IllegalStateException("peer ${2 * p} did not connect")
            val b = byKey[PeerId.of(key(run, 2 * p + 1))]
                ?: throw IllegalStateException("peer ${2 * p + 1} did not connect")
            withTimeout(Bounds.CONNECT) {
                coroutineScope {
                    val ba = async { b.openConn(key(run, 2 * p)) }
                    val ab = a.openConn(key(run, 2 * p + 1))
                    Pair(a, b, ab, ba.await())
                }
            }
        }
        val openMillis = (connectNanos + System.nanoTime() - t1) / 1_000_000
        ctx.log.println("  relay: ${clients.size} of $peers peers, ${pairs.size} of $pairCount pairs in $openMillis ms")
        val open = snapshot()
        val footprints = ArrayList<Footprint>()
        if (clients.isNotEmpty()) {
            footprints += Footprint("peer (client and session)", "peer", baseline.growthTo(connected, clients.size))
        }
        if (pairs.isNotEmpty()) {
            val growth = connected.growthTo(open, 2 * pairs.size)
            footprints += Footprint("connection (one each way per pair)", "conn", growth)
        }
        // Peer B of every pair sends back what it reads.
        val echoes = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        for (p in pairs) {
            echoes.launch {
                try {
                    while (true) p.ba.write(p.ba.read())
                } catch (_: ConnClosedException) {
                    // the pair was closed at the end
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Exception) {
                    failures.record("echo", e)
                }
            }
        }
        val message = ByteArray(MESSAGE_BYTES) { it.toByte() }
        val window = HoldWindow(plan.warm, plan.hold)
        val held = holdRate(pairs.size, window, Bounds.GRACE, failures, "messages") { w, _ ->
            val pair = pairs[w]
            pair.ab.write(message)
            val back = pair.ab.read()
            check(back.size == MESSAGE_BYTES) { "expected $MESSAGE_BYTES bytes back, got ${back.size}" }
        }
        // Two messages per round trip: there and back.
        val messages = HeldRate(2 * held.completed, held.holdNanos, held.latency, held.workers, held.workersFailed)
        ctx.log.println("  relay: ${messages.perSecond.toLong()} messages/s held over ${pairs.size} pairs")
        val (_, closeMillis) = timed {
            for (p in pairs) {
                p.ab.close()
                p.ba.close()
            }
            echoes.coroutineContext[Job]!!.cancelAndJoin()
            closeAll(clients, failures, "close") { it.closeAndJoin() }
        }
        return Measured(
            "${clients.size} of $peers peers, ${pairs.size} of $pairCount pairs",
            openMillis,
            open,
            footprints,
            listOf(Rate("relayed messages", "messages/s", messages, "round trip (two messages)", "")),
            closeMillis,
        )
    }

    private fun key(run: String, i: Int): String = "tether-scale-$run-$i"
}
