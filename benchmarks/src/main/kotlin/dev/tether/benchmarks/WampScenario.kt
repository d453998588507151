package dev.tether.benchmarks

import dev.tether.testkit.wamp.WampRouter
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.Session
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampValues
import dev.tether.wamp.serializer.Serialization
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import java.io.PrintStream
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/**
 * WAMP end to end: RPC calls/s with p50/p99 latency at each `--in-flight` setting, and events/s from one publisher
 * to one subscriber, over WebSocket JSON, WebSocket MessagePack and RawSocket MessagePack against the testkit's
 * [WampRouter] (in this JVM), or against any router named by `--wamp-url` / `--wamp-realm`.
 */
internal object WampScenario {
    /** One transport and serialization measured. */
    internal data class Setup(val label: String, val url: String, val serialization: Serialization)

    internal data class SetupResult(val setup: Setup, val calls: List<LoadSummary>, val events: LoadSummary)

    internal data class Result(val routerDescription: String, val realm: String, val external: Boolean, val setups: List<SetupResult>)

    /** Which setups run: all three on the embedded router; for an external URL, what its scheme allows. */
    internal fun setups(wsUrl: String?, tcpUrl: String?): List<Setup> = buildList {
        wsUrl?.let {
            add(Setup("WebSocket, JSON", it, Serialization.JSON))
            add(Setup("WebSocket, MessagePack", it, Serialization.MSGPACK))
        }
        tcpUrl?.let { add(Setup("RawSocket, MessagePack", it, Serialization.MSGPACK)) }
    }

    fun run(o: EndToEndOptions, log: PrintStream): Result {
        val url = o.wampUrl
        if (url != null) {
            val scheme = url.substringBefore("://", "").lowercase()
            val setups = when (scheme) {
                "ws", "wss", "http", "https" -> setups(url, null)
                "tcp", "tcps", "unix" -> setups(null, url)
                else -> throw UsageException("--wamp-url: use a ws, wss, tcp, tcps or unix URL, not $url")
            }
            return Result("the router at `$url`", o.wampRealm, true, setups.map { measureSetup(o, log, it, o.wampRealm) })
        }
        return WampRouter.start().use { router ->
            val setups = setups(router.wsUrl, router.tcpUrl)
            Result("the testkit `WampRouter` in the same JVM", "realm1", false, setups.map { measureSetup(o, log, it, "realm1") })
        }
    }

    private fun config(realm: String, serialization: Serialization): SessionConfig = SessionConfig(realm) {
        serialization(serialization)
        responseTimeout(10.seconds)
        callTimeout(1.minutes)
    }

    private fun measureSetup(o: EndToEndOptions, log: PrintStream, setup: Setup, realm: String): SetupResult {
        val cfg = config(realm, setup.serialization)
        val calls = o.inFlight.sortedDescending().map { n ->
            EndToEnd.measure(o, log, "wamp calls ${setup.label}", n) { CallTarget.open(setup.url, cfg) }
        }.sortedBy { it.inFlight }
        val events = EndToEnd.measure(o, log, "wamp events ${setup.label}", 1) { EventTarget.open(setup.url, cfg) }
        return SetupResult(setup, calls, events)
    }

    /** Two sessions to [url]; the first is closed again when the second cannot connect. */
    private suspend fun connectTwo(url: String, cfg: SessionConfig): Pair<Session, Session> {
        val first = Session.connect(url, cfg)
        val second = try {
            Session.connect(url, cfg)
        } catch (e: Exception) {
            first.close(); throw e
        }
        return first to second
    }

    /** A callee and a caller session; each round trip is one CALL answered by the callee's echo procedure. */
    private class CallTarget(private val callee: Session, private val caller: Session, private val procedure: String) : LoadTarget {
        override suspend fun roundTrip(worker: Int, seq: Int) {
            val r = caller.call(procedure, listOf(worker, seq))
            check(r.args.size == 2 && WampValues.asLong(r.args[1]) == seq.toLong()) { "unexpected result ${r.args}" }
        }

        override fun close() {
            runCatching { caller.close() }
            runCatching { callee.close() }
        }

        companion object {
            suspend fun open(url: String, cfg: SessionConfig): CallTarget {
                val (callee, caller) = connectTwo(url, cfg)
                val procedure = "tether.bench.echo.${callee.id}"
                callee.register(procedure) { inv -> InvokeResult(inv.args) }
                return CallTarget(callee, caller, procedure)
            }
        }
    }

    /**
     * A publisher and a subscriber session. Each operation publishes one unacknowledged event; the round ends
     * when the subscriber has received a final marker event, which (events of one subscription arrive in order)
     * follows every event published before it. Counts are checked: the figure is delivered events per second.
     */
    private class EventTarget(
        private val publisher: Session,
        private val subscriber: Session,
        private val topic: String,
        private val received: AtomicLong,
        private val marker: CompletableDeferred<Long>,
    ) : LoadTarget {
        private var published = 0L

        override suspend fun roundTrip(worker: Int, seq: Int) {
            publisher.publish(topic, listOf(seq))
            published++
        }

        override suspend fun finish() {
            publisher.publish(topic, listOf("end"))
            val got = withTimeout(2.minutes) { marker.await() }
            check(got == published) { "subscriber received $got of $published events" }
        }

        override fun close() {
            runCatching { publisher.close() }
            runCatching { subscriber.close() }
        }

        companion object {
            suspend fun open(url: String, cfg: SessionConfig): EventTarget {
                val (subscriber, publisher) = connectTwo(url, cfg)
                val topic = "tether.bench.events.${subscriber.id}"
                val received = AtomicLong()
                val marker = CompletableDeferred<Long>()
                subscriber.subscribe(topic) { e -> if (e.args.firstOrNull() == "end") marker.complete(received.get()) else received.incrementAndGet() }
                // subscribe returned after SUBSCRIBED: the router routes every later publication to it.
                return EventTarget(publisher, subscriber, topic, received, marker)
            }
        }
    }

    fun render(ctx: RunContext, r: Result): String {
        val o = ctx.options
        val inFlight = r.setups.firstOrNull()?.calls?.map { it.inFlight } ?: emptyList()
        val setup = "Router: ${r.routerDescription}, realm `${r.realm}`" +
            (if (r.external) "." else ", serving WebSocket (Ktor CIO server) and RawSocket (ktor-network) on 127.0.0.1.") +
            " Clients: `dev.tether.wamp.Session` over loopback. **Calls**: a callee session registers an echo procedure " +
            "and a caller session runs N coroutines calling it back to back (`call(proc, [worker, seq])`, the result " +
            "checked); latency is per `call`. **Events**: one publisher session publishes unacknowledged events back to " +
            "back to one subscriber session; a round ends when the subscriber has received a final marker event, and " +
            "the count of received events is checked; the rate is delivered events per second (the latency columns " +
            "of that table time the `publish` call only). A fresh pair of sessions for every round, connected outside " +
            "the measured time. Per configuration: ${EndToEnd.describeRounds(o)}."
        val body = buildString {
            append("| transport, serializer |")
            for (n in inFlight) append(" calls/s at $n | p50 at $n | p99 at $n |")
            append(" events/s to one subscriber |\n|:---|")
            repeat(inFlight.size) { append("---:|---:|---:|") }
            append("---:|\n")
            for (s in r.setups) {
                append("| ").append(s.setup.label).append(" |")
                for (c in s.calls) {
                    append(" **").append(Fmt.count(c.medianPerSecond)).append("** | ")
                    append(Fmt.micros(c.medianP50Nanos)).append(" | ").append(Fmt.micros(c.medianP99Nanos)).append(" |")
                }
                append(" **").append(Fmt.count(s.events.medianPerSecond)).append("** |\n")
            }
            append("\nMedians of the measured rounds. Everything (router, callee, caller) shares this machine's cores.\n")
            for (s in r.setups) {
                append("\n#### ").append(s.setup.label).append(": calls\n\n")
                append(loadTable("calls/s", s.calls))
                append("\n#### ").append(s.setup.label).append(": events to one subscriber\n\n")
                append(loadTable("events/s", listOf(s.events)))
            }
        }
        return EndToEnd.section("WAMP: calls and events through ${if (r.external) "an external router" else "the testkit WampRouter"}", ctx, setup, body)
    }
}
