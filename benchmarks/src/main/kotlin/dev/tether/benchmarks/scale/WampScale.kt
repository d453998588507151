package dev.tether.benchmarks.scale

import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import java.util.concurrent.atomic.AtomicReference
import java.util.concurrent.atomic.LongAdder
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Many WAMP sessions on FakeWampRouter: heap per session and per subscription, RPC calls/s with every session calling
 * another's procedure, and events/s delivered to every subscription with every session publishing.
 *
 * Topics: the sessions form groups of about [GROUP_SIZE] (session i is in group i mod G); each group has its own
 * topics, and each session subscribes to all of its group's, so every topic has about [GROUP_SIZE] subscribers and
 * there are subscriptions / sessions topics per group. Session i publishes to the topics of group (i + 1) mod G, never
 * its own, so every publication reaches each session of that group.
 */
internal object WampScale {
    const val KEY: String = "wamp"
    private const val GROUP_SIZE = 10
    private const val REALM = "realm1"

    private class Topics(sessions: Int, subscriptions: Int) {
        val perSession: Int = maxOf(1, subscriptions / sessions)
        val groups: Int = maxOf(2, sessions / GROUP_SIZE)
        private val sizes = IntArray(groups).also { s -> repeat(sessions) { s[it % groups]++ } }

        fun groupOf(session: Int): Int = session % groups

        fun topic(group: Int, j: Int): String = "tether.scale.g$group.t$j"

        /** Where session [publisher]'s [seq]-th publication goes, and how many subscribers it has. */
        fun target(publisher: Int, seq: Int): Pair<String, Int> {
            val g = (groupOf(publisher) + 1) % groups
            return topic(g, seq % perSession) to sizes[g]
        }
    }

    private fun config(): SessionConfig = SessionConfig(REALM) {
        responseTimeout(30.seconds)
        callTimeout(30.seconds)
    }

    suspend fun run(ctx: LoadContext, plan: LoadPlan): LoadResult {
        val n = plan.count(ScaleOptions.FULL_WAMP_SESSIONS)
        val topics = Topics(n, plan.count(ScaleOptions.FULL_SUBSCRIPTIONS))
        val all = n * topics.perSession
        val setup = "$n `WampSession`s (WebSocket, JSON) to `FakeWampRouter`, realm `$REALM`, opened " +
            "${Bounds.OPEN_PARALLELISM} at a time; then ${topics.perSession} subscriptions on each: the sessions " +
            "form ${topics.groups} groups, each group's sessions subscribe to its ${topics.perSession} topics " +
            "(about $GROUP_SIZE subscribers per topic). **Calls**: every session registers an echo procedure and " +
            "calls the next session's back to back ($n in flight), each result checked; latency per `call`. " +
            "**Events**: every session publishes acknowledged events back to back to the topics of the next group " +
            "(never its own), so each publication reaches about $GROUP_SIZE subscriptions; delivered events/s " +
            "counts handler invocations in the window, latency from `publish` to the subscriber's handler."
        return ctx.measureLoad(KEY, "WAMP: $n sessions, $all subscriptions", setup) { failures, baseline ->
            exercise(ctx, plan, n, topics, failures, baseline)
        }
    }

    private suspend fun exercise(
        ctx: LoadContext,
        plan: LoadPlan,
        n: Int,
        topics: Topics,
        failures: Failures,
        baseline: Snapshot,
    ): Measured {
        val url = ctx.servers.wampUrl
        val cfg = config()
        val (sessions, connectMillis) = timed {
            openAll(n, failures, "connect") { withTimeout(Bounds.CONNECT) { WampSession.connect(url, cfg) } }
        }
        ctx.log.println("  wamp: ${sessions.size} of $n sessions in $connectMillis ms")
        val connected = snapshot()
        // Events: delivered counts every event a handler saw; in the window, its latency from publication too (the
        // publisher and the subscriber are in this JVM, so one System.nanoTime clock serves both).
        val delivered = LongAdder()
        val deliveredInWindow = LongAdder()
        val eventLatency = LatencyHistogram()
        val eventWindow = AtomicReference<HoldWindow?>()
        val (subscribed, subscribeMillis) = timed {
            openAll(sessions.size * topics.perSession, failures, "subscribe") { k ->
                val i = k / topics.perSession
                sessions[i].subscribe(topics.topic(topics.groupOf(i), k % topics.perSession)) { e ->
                    val now = System.nanoTime()
                    delivered.increment()
                    val w = eventWindow.get()
                    if (w != null && now in w) {
                        deliveredInWindow.increment()
                        eventLatency.record(now - (e.args[0] as Number).toLong())
                    }
                }
            }
        }
        ctx.log.println("  wamp: ${subscribed.size} subscriptions in $subscribeMillis ms")
        val withSubscriptions = snapshot()
        val footprints = ArrayList<Footprint>()
        if (sessions.isNotEmpty()) {
            footprints += Footprint("session (its WebSocket)", "session", baseline.growthTo(connected, sessions.size))
        }
        if (subscribed.isNotEmpty()) {
            val growth = connected.growthTo(withSubscriptions, subscribed.size)
            footprints += Footprint("subscription", "subscription", growth)
        }
        openAll(sessions.size, failures, "register") { i ->
            sessions[i].register(procedure(i)) { inv -> InvokeResult(inv.args) }
        }
        val callWindow = HoldWindow(plan.warm, plan.hold)
        val calls = holdRate(sessions.size, callWindow, Bounds.GRACE, failures, "calls") { w, seq ->
            val r = sessions[w].call(procedure((w + 1) % sessions.size), listOf(w, seq))
            check(r.args.size == 2 && (r.args[1] as Number).toLong() == seq.toLong()) { "unexpected result ${r.args}" }
        }
        ctx.log.println("  wamp: ${calls.perSecond.toLong()} calls/s held over ${sessions.size} sessions")
        val expected = LongAdder()
        val window = HoldWindow(plan.warm, plan.hold).also { eventWindow.set(it) }
        val publications = holdRate(sessions.size, window, Bounds.GRACE, failures, "publish") { w, seq ->
            val (topic, subscribers) = topics.target(w, seq)
            sessions[w].publish(topic, listOf(System.nanoTime()), options = mapOf("acknowledge" to true))
            expected.add(subscribers.toLong())
        }
        val events = HeldRate(deliveredInWindow.sum(), window.until - window.from, eventLatency, sessions.size, 0)
        // Every acknowledged publication's events are on their way; a bounded wait for the last of them.
        val settled = withTimeoutOrNull(EVENTS_SETTLE) {
            while (delivered.sum() < expected.sum()) delay(20.milliseconds)
        }
        val lost = expected.sum() - delivered.sum()
        val dropped = sessions.sumOf { it.stats().eventsDropped }
        if (settled == null) failures.record("events", "events not delivered within $EVENTS_SETTLE of the end", lost)
        ctx.log.println(
            "  wamp: ${publications.perSecond.toLong()} publications/s, ${events.perSecond.toLong()} events/s " +
                "delivered; ${delivered.sum()} of ${expected.sum()} delivered in all, $dropped dropped by the client",
        )
        val (_, closeMillis) = timed { closeAll(sessions, failures, "close") { it.closeAndJoin() } }
        return Measured(
            "${sessions.size} of $n sessions, ${subscribed.size} of ${n * topics.perSession} subscriptions",
            connectMillis + subscribeMillis,
            withSubscriptions,
            footprints,
            listOf(
                Rate("RPC calls", "calls/s", calls, "call", ""),
                Rate("publications (acknowledged)", "publications/s", publications, "publish to PUBLISHED", ""),
                Rate(
                    "events delivered",
                    "events/s",
                    events,
                    "publish to handler",
                    "${delivered.sum()} of ${expected.sum()} events of the acknowledged publications delivered " +
                        "by the end ($lost missing, $dropped dropped by full handler queues)",
                ),
            ),
            closeMillis,
        )
    }

    private fun procedure(session: Int): String = "tether.scale.echo.$session"

    private val EVENTS_SETTLE = 30.seconds
}
