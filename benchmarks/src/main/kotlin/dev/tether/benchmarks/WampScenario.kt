package dev.tether.benchmarks

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.serializer.Serialization
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeoutOrNull
import java.io.PrintStream
import java.util.Locale
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/**
 * WAMP end to end: RPC calls/s with p50/p99 latency at each `--in-flight` setting, and events/s from one publisher
 * to one subscriber, with JSON, MessagePack and CBOR over WebSocket and RawSocket against the testkit's
 * [FakeWampRouter] (in this JVM), or against any router named by `--wamp-url` / `--wamp-realm`.
 */
internal object WampScenario {
    /** One transport and serialization measured. */
    internal data class Setup(val label: String, val url: String, val serialization: Serialization)

    internal data class SetupResult(
        val setup: Setup,
        val calls: List<LoadSummary>,
        val events: LoadSummary,
        val tally: EventTally,
    ) {
        /** Median over the measured rounds of the events per second that reached the subscriber. */
        val medianDeliveredPerSecond: Double get() = median(
            tally.rounds.map {
                it.deliveredPerSecond
            }.ifEmpty { listOf(0.0) },
        )
    }

    /** How an events round's wait for the subscriber ended. */
    internal enum class WaitEnd(val label: String) {
        MARKER("end marker"),
        ALL("all delivered"),
        QUIET("quiet"),
        BOUND("--wamp-wait bound"),
    }

    /**
     * One measured events round: [published] events, [delivered] of them received by the subscriber before the wait
     * ended, over [activeNanos] (first publication to the last event or marker received); the publisher took
     * [publishNanos] from its first publication to the end of its last.
     */
    internal data class EventRound(
        val published: Long,
        val delivered: Long,
        val activeNanos: Long,
        val publishNanos: Long,
        val end: WaitEnd,
    ) {
        val lost: Long get() = published - delivered
        val deliveredPerSecond: Double get() = if (activeNanos <= 0L) 0.0 else delivered * 1e9 / activeNanos
        val publishedPerSecond: Double get() = if (publishNanos <= 0L) 0.0 else published * 1e9 / publishNanos
    }

    /**
     * The measured events rounds of one setup, in the order of [LoadSummary.rounds] (each target adds its own on
     * close).
     */
    internal class EventTally {
        private val list = ArrayList<EventRound>()

        @Synchronized
        fun add(r: EventRound) {
            list += r
        }

        val rounds: List<EventRound> @Synchronized get() = list.toList()
        val published: Long get() = rounds.sumOf { it.published }
        val lost: Long get() = rounds.sumOf { it.lost }
    }

    internal data class Result(
        val routerDescription: String,
        val realm: String,
        val external: Boolean,
        val setups: List<SetupResult>,
    )

    /** Which setups run: every serializer on each transport given (both on the embedded router). */
    internal fun setups(wsUrl: String?, tcpUrl: String?): List<Setup> = buildList {
        for ((transport, url) in listOf("WebSocket" to wsUrl, "RawSocket" to tcpUrl)) {
            if (url == null) continue
            for ((name, serialization) in SERIALIZERS) add(Setup("$transport, $name", url, serialization))
        }
    }

    private val SERIALIZERS = listOf(
        "JSON" to Serialization.JSON,
        "MessagePack" to Serialization.MSGPACK,
        "CBOR" to Serialization.CBOR,
    )

    /** The setups an external router's URL allows; a usage error for any other scheme. */
    private fun externalSetups(url: String): List<Setup> = when (url.substringBefore("://", "").lowercase()) {
        "ws", "wss", "http", "https" -> setups(url, null)
        "tcp", "tcps", "unix" -> setups(null, url)
        else -> throw UsageException("--wamp-url: use a ws, wss, tcp, tcps or unix URL, not $url")
    }

    /** Usage errors of the WAMP options, found before any scenario runs. */
    fun validate(o: EndToEndOptions) {
        o.wampUrl?.let { externalSetups(it) }
    }

    fun run(o: EndToEndOptions, log: PrintStream): Result {
        val url = o.wampUrl
        if (url != null) {
            return Result(
                "the router at `$url`",
                o.wampRealm,
                true,
                externalSetups(url).map {
                    measureSetup(o, log, it, o.wampRealm)
                },
            )
        }
        return FakeWampRouter.start().use { router ->
            val setups = setups(router.wsUrl, router.tcpUrl)
            Result(
                "the testkit `FakeWampRouter` in the same JVM",
                "realm1",
                false,
                setups.map {
                    measureSetup(o, log, it, "realm1")
                },
            )
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
        val tally = EventTally()
        val label = "wamp events ${setup.label}"
        val events = EndToEnd.measure(o, log, label, 1, warmOpen = {
            EventTarget.open(setup.url, cfg, o.wampWait, null)
        }) {
            EventTarget.open(setup.url, cfg, o.wampWait, tally)
        }
        tally.rounds.forEachIndexed { i, r ->
            log.println(
                "  $label: round ${i + 1} delivered ${r.delivered} of ${r.published} (${Fmt.count(
                    r.deliveredPerSecond,
                )}/s), lost ${r.lost}, wait ended by ${r.end.label}",
            )
        }
        return SetupResult(setup, calls, events, tally)
    }

    /** Two sessions to [url]; the first is closed again when the second cannot connect. */
    private suspend fun connectTwo(url: String, cfg: SessionConfig): Pair<WampSession, WampSession> {
        val first = WampSession.connect(url, cfg)
        val second = try {
            WampSession.connect(url, cfg)
        } catch (e: Exception) {
            first.close()
            throw e
        }
        return first to second
    }

    /** A callee and a caller session; each round trip is one CALL answered by the callee's echo procedure. */
    private class CallTarget(
        private val callee: WampSession,
        private val caller: WampSession,
        private val procedure: String,
    ) : LoadTarget {
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
     * A publisher and a subscriber session. Each operation publishes one unacknowledged event. A router may drop
     * events to a subscriber that falls behind (the nexus router does: "Dropped EVENT … blocked"), so [finish]
     * never insists on all of them: it publishes a final marker and waits, at most [wait], until the marker arrives
     * (events of one subscription arrive in order, so whatever was not delivered before it is lost), or every event
     * has arrived, or none has arrived for [quiet] (the router dropped the rest, marker included). What was not
     * delivered by then counts as lost; [tally] gets the round when the target closes.
     */
    private class EventTarget(
        private val publisher: WampSession,
        private val subscriber: WampSession,
        private val topic: String,
        private val received: AtomicLong,
        private val lastArrival: AtomicLong,
        private val marker: CompletableDeferred<Long>,
        private val wait: Duration,
        private val tally: EventTally?,
    ) : LoadTarget {
        private var published = 0L
        private var firstPublish = 0L
        private var round: EventRound? = null
        private val quiet: Duration = minOf(QUIET, wait)

        private var lastPublish = 0L

        override suspend fun roundTrip(worker: Int, seq: Int) {
            if (published == 0L) firstPublish = System.nanoTime()
            publisher.publish(topic, listOf(seq))
            published++
            lastPublish = System.nanoTime()
        }

        override suspend fun finish() {
            publisher.publish(topic, listOf(END))
            val since = System.nanoTime()
            val how: WaitEnd
            while (true) {
                val now = System.nanoTime()
                how = when {
                    marker.isCompleted -> WaitEnd.MARKER

                    received.get() >= published -> WaitEnd.ALL

                    now - maxOf(lastArrival.get(), since) >= quiet.inWholeNanoseconds -> WaitEnd.QUIET

                    now - since >= wait.inWholeNanoseconds -> WaitEnd.BOUND

                    else -> {
                        withTimeoutOrNull(POLL) { marker.await() }
                        continue
                    }
                }
                break
            }
            val delivered = if (how == WaitEnd.MARKER) marker.await() else received.get()
            round = EventRound(
                published,
                minOf(delivered, published),
                lastArrival.get() - firstPublish,
                lastPublish - firstPublish,
                how,
            )
        }

        override fun close() {
            round?.let { tally?.add(it) }
            runCatching { publisher.close() }
            runCatching { subscriber.close() }
        }

        companion object {
            const val END = "end"

            /** No event for this long after the last publication: the router dropped the rest. */
            val QUIET: Duration = 1.seconds
            val POLL: Duration = 10.milliseconds

            suspend fun open(url: String, cfg: SessionConfig, wait: Duration, tally: EventTally?): EventTarget {
                val (subscriber, publisher) = connectTwo(url, cfg)
                val topic = "tether.bench.events.${subscriber.id}"
                val received = AtomicLong()
                val lastArrival = AtomicLong()
                val marker = CompletableDeferred<Long>()
                subscriber.subscribe(topic) { e ->
                    lastArrival.set(System.nanoTime())
                    if (e.args.firstOrNull() == END) marker.complete(received.get()) else received.incrementAndGet()
                }
                // subscribe returned after SUBSCRIBED: the router routes every later publication to it.
                return EventTarget(publisher, subscriber, topic, received, lastArrival, marker, wait, tally)
            }
        }
    }

    private fun lost(published: Long, lost: Long): String = if (published == 0L) {
        "0"
    } else {
        "${Fmt.count(
            lost,
        )} of ${Fmt.count(published)} (${String.format(Locale.US, "%.2f %%", lost * 100.0 / published)})"
    }

    fun render(ctx: RunContext, r: Result): String {
        val o = ctx.options
        val inFlight = r.setups.firstOrNull()?.calls?.map { it.inFlight } ?: emptyList()
        val setup = "Router: ${r.routerDescription}, realm `${r.realm}`" +
            (
                if (r.external) {
                    "."
                } else {
                    ", serving WebSocket (Ktor CIO server) and RawSocket (ktor-network) on " +
                        "127.0.0.1."
                }
                ) +
            " Clients: `dev.tether.wamp.WampSession` over loopback. **Calls**: a callee session registers an echo " +
            "procedure and a caller session runs N coroutines calling it back to back (`call(proc, [worker, " +
            "seq])`, the result checked); latency is per `call`. **Events**: one publisher session publishes " +
            "unacknowledged events back to back to one subscriber session, then a final marker event. Routers " +
            "may drop events to a subscriber that falls behind (the nexus router does), so the wait for the " +
            "subscriber is bounded: it ends when the marker arrives (events of one subscription arrive in order, " +
            "so what did not come before it was dropped), when every event has arrived, " +
            "after ${Fmt.seconds(minOf(EventTarget.QUIET, o.wampWait))} without an event (the router dropped the " +
            "rest, marker included), or at the latest ${Fmt.seconds(o.wampWait)} after the last publication " +
            "(`--wamp-wait`). Delivered events/s: events the subscriber received over the time from the first " +
            "publication to the last arrival; lost: published but not received by the end of the wait, summed " +
            "over the measured rounds. A fresh pair of sessions for every round, connected outside the measured " +
            "time. Per configuration: ${EndToEnd.describeRounds(o)}."
        val body = buildString {
            append("| transport, serializer |")
            for (n in inFlight) append(" calls/s at $n | p50 at $n | p99 at $n |")
            append(" events/s delivered to one subscriber | events lost |\n|:---|")
            repeat(inFlight.size) { append("---:|---:|---:|") }
            append("---:|---:|\n")
            for (s in r.setups) {
                append("| ").append(s.setup.label).append(" |")
                for (c in s.calls) {
                    append(" **").append(Fmt.count(c.medianPerSecond)).append("** | ")
                    append(Fmt.micros(c.medianP50Nanos)).append(" | ").append(Fmt.micros(c.medianP99Nanos)).append(" |")
                }
                append(" **").append(Fmt.count(s.medianDeliveredPerSecond)).append("** | ")
                append(lost(s.tally.published, s.tally.lost)).append(" |\n")
            }
            append(
                "\nMedians of the measured rounds. Everything (router, callee, caller) shares this machine's cores.\n",
            )
            for (s in r.setups) {
                append("\n#### ").append(s.setup.label).append(": calls\n\n")
                append(loadTable("calls/s", s.calls))
                append("\n#### ").append(s.setup.label).append(": events to one subscriber\n\n")
                append(
                    "| round | published | published/s | publish p50 | publish p99 | delivered | delivered events/s " +
                        "| lost | wait ended by |\n",
                )
                append("|---:|---:|---:|---:|---:|---:|---:|---:|:---|\n")
                s.tally.rounds.forEachIndexed { i, e ->
                    val rr = s.events.rounds.getOrNull(i)
                    append("| ${i + 1} | ${Fmt.count(e.published)} | ${Fmt.count(e.publishedPerSecond)} | ")
                    append(
                        "${rr?.let {
                            Fmt.micros(it.p50Nanos)
                        } ?: "–"} | ${rr?.let { Fmt.micros(it.p99Nanos) } ?: "–"} | ",
                    )
                    append(
                        "${Fmt.count(
                            e.delivered,
                        )} | **${Fmt.count(
                            e.deliveredPerSecond,
                        )}** | ${lost(e.published, e.lost)} | ${e.end.label} |\n",
                    )
                }
                val w = s.events.warmup
                append("\nWarm-up: ")
                append(
                    if (w.rates.isEmpty()) {
                        "none"
                    } else {
                        "${w.rates.size} round" +
                            "s${if (w.converged) " (JIT quiet)" else " (cap reached with the JIT still busy)"}"
                    },
                )
                append(". Publish latency times the `publish` call only.\n")
            }
        }
        return EndToEnd.section(
            "WAMP: calls and events through ${if (r.external) "an external router" else "the testkit FakeWampRouter"}",
            ctx,
            setup,
            body,
        )
    }
}
