package dev.tether.wamp

import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.WampValues
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import org.slf4j.Logger
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicReference

/**
 * A session's subscriptions: each has a bounded queue ([SessionConfig.eventBuffer]) drained by one handler
 * coroutine, so events of one subscription reach their handler in order and the read path never waits for it.
 */
internal class Subscriptions(
    private val scope: CoroutineScope,
    private val handlerContext: CoroutineDispatcher,
    private val config: SessionConfig,
    private val log: Logger,
    private val sessionId: Long,
) {
    /** Subscription [id] under its [key] (topic and match policy), so that removing it is one keyed remove. */
    private class Entry(val id: Long, val key: UriKey, val events: Channel<Event>, val job: Job) {
        val topic: String get() = key.uri
    }

    private val byId = ConcurrentHashMap<Long, Entry>()

    // By topic and match policy: one session may subscribe a topic twice with different policies.
    private val topics = ConcurrentHashMap<UriKey, Long>()

    /** What was queued and dropped, for [WampSession.stats]. */
    val counters: SessionCounters = SessionCounters()

    /** The subscription id for [topic] with [match], or null when not subscribed. */
    fun idOf(topic: String, match: MatchPolicy): Long? = topics[UriKey(topic, match)]

    /** The subscriptions of [topic] by match policy. */
    fun idsOf(topic: String): Map<MatchPolicy, Long> = UriKey.byPolicy(topic, topics)

    /**
     * One subscription in the making: [install] runs where SUBSCRIBED is read, so that an EVENT right behind it is
     * delivered rather than dropped as unknown; [discard] undoes it when the caller gave up meanwhile.
     */
    inner class Pending(private val key: UriKey, private val handler: suspend (Event) -> Unit) {
        private val installed = AtomicReference<Entry?>()

        /** Runs inline on the read path: starts the handler's queue for a new subscription id. */
        val install: (Message) -> Unit = { m ->
            // The router reuses one subscription per topic: the first handler keeps it.
            if (m is Subscribed && byId[m.subscription] == null) {
                val entry = start(m.subscription, key, handler)
                installed.set(entry)
                byId[m.subscription] = entry
                topics[key] = m.subscription
            }
        }

        /** A reply that raced the caller's timeout or cancellation: the caller never learns the id, so drop it. */
        fun discard() {
            installed.get()?.let { entry ->
                byId.remove(entry.id, entry)
                topics.remove(entry.key, entry.id)
                entry.events.close()
            }
        }
    }

    private fun start(id: Long, key: UriKey, handler: suspend (Event) -> Unit): Entry {
        val topic = key.uri
        val events = Channel<Event>(config.eventBuffer)
        val job = scope.launch(handlerContext + CoroutineName("wamp-events-$topic")) {
            for (event in events) {
                try {
                    handler(event)
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Exception) {
                    log.warn("WAMP session {}: event handler for {} failed", sessionId, topic, e)
                }
            }
        }
        return Entry(id, key, events, job)
    }

    /** Forgets subscription [subId] after UNSUBSCRIBED; queued events are still delivered. */
    fun remove(subId: Long) {
        byId.remove(subId)?.let { sub ->
            topics.remove(sub.key, subId)
            sub.events.close()
        }
    }

    /** The router revoked a subscription (UNSUBSCRIBED with request 0 and its details). */
    fun revoke(details: Map<String, Any?>) {
        remove(WampValues.asLong(details["subscription"]) ?: return)
    }

    /** Queues an EVENT for its subscription's handler, or drops (and counts) it when the queue is full. */
    fun deliver(m: EventMessage) {
        val sub = byId[m.subscription]
        if (sub == null) {
            log.debug("WAMP session {}: EVENT for unknown subscription {} dropped", sessionId, m.subscription)
            return
        }
        val event = Event(m.subscription, m.publication, m.args, m.kwargs, m.details)
        event.subscribedTopic = sub.topic
        // Counted before the handler can see it: whoever the handler tells that the event arrived must find it in
        // stats() (the handler runs on another thread and may take the event before trySend returns here).
        counters.queued()
        val sent = sub.events.trySend(event)
        if (sent.isSuccess) return
        counters.notQueued()
        if (sent.isClosed) return
        val drops = counters.dropped(sub.topic)
        // Once per thousand drops of a topic: a handler that cannot keep up would flood the log.
        if (drops % 1000 == 1L) {
            log.warn(
                "WAMP session {}: the handler of {} is {} events behind; dropped {} events of it so far",
                sessionId,
                sub.topic,
                config.eventBuffer,
                drops,
            )
        }
    }

    /** The session ended: every queue closes after the events it holds. */
    fun closeAll() {
        for (s in byId.values) s.events.close()
    }
}
