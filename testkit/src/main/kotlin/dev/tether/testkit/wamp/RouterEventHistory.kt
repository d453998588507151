package dev.tether.testkit.wamp

import dev.tether.wamp.MatchPolicy

/**
 * One topic whose events a [FakeWampRouter] keeps for `wamp.subscription.get_events` (event history), set with
 * [FakeWampRouterConfig.Builder.eventHistory]: the last [limit] events published to a URI that [topic] matches under
 * [match], in [realm] (null: every realm).
 */
public data class RouterHistoryTopic(
    /** The topic, or the prefix or wildcard pattern that [match] applies. */
    val topic: String,
    /** How published URIs are matched against [topic], as for a subscription. */
    val match: MatchPolicy,
    /** How many events are kept; the oldest is dropped when a new one would exceed it. */
    val limit: Int,
    /** The realm, or null for every realm. */
    val realm: String?,
) {
    init {
        require(limit >= 1) { "event history limit must be at least 1, was $limit" }
        require(topic.isNotEmpty()) { "event history topic must not be empty" }
    }
}

/**
 * The event history of one realm: a bounded store per configured topic, filled by every publication whose topic it
 * matches (whether anyone is subscribed or not) and read by `wamp.subscription.get_events` for the subscription with
 * the same topic and match policy. Guarded by the realm's lock.
 */
internal class RouterEventHistory(topics: List<RouterHistoryTopic>) {
    /** A kept event: what an EVENT to a subscription with the store's topic and policy would have carried. */
    class Stored(
        val publication: Long,
        val details: Map<String, Any?>,
        val args: List<Any?>,
        val kwargs: Map<String, Any?>,
    )

    private class Store(val config: RouterHistoryTopic) {
        val events = ArrayDeque<Stored>()
        val isFull: Boolean get() = events.size >= config.limit
    }

    private val stores = topics.map { Store(it) }

    /** True when some topic is configured: the broker announces `event_history` either way, as nexus. */
    val isEmpty: Boolean get() = stores.isEmpty()

    /**
     * Keeps a publication to [topic] in every store whose pattern [matches] it; [details] gives the EVENT details a
     * subscription with that match policy would get (the published `topic` for a pattern, the `ppt_*` options).
     */
    fun record(
        topic: String,
        publication: Long,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        matches: (RouterHistoryTopic) -> Boolean,
        details: (MatchPolicy) -> Map<String, Any?>,
    ) {
        for (store in stores) {
            if (!matches(store.config)) continue
            if (store.isFull) store.events.removeFirst()
            store.events.addLast(Stored(publication, details(store.config.match), args, kwargs))
        }
    }

    /**
     * The kept events of [topic] under [match], oldest first, at most the last [limit] (null: all), and whether the
     * store is full; an empty list and false when the topic has no history.
     */
    fun events(topic: String, match: MatchPolicy, limit: Int?): Pair<List<Stored>, Boolean> {
        val store = stores.firstOrNull { it.config.topic == topic && it.config.match == match }
            ?: return emptyList<Stored>() to false
        val all = store.events.toList()
        return (if (limit != null && all.size > limit) all.takeLast(limit) else all) to store.isFull
    }

    /**
     * The `get_events` answer for [subscription] in nexus's shape: one argument per event, each a dictionary with Go's
     * field names (`Subscription`, `Publication`, `Details`, and `Arguments`, `ArgumentsKw` unless empty).
     */
    fun toNexusShape(subscription: Long, events: List<Stored>): List<Any?> = events.map { e ->
        buildMap {
            put("Subscription", subscription)
            put("Publication", e.publication)
            put("Details", e.details)
            if (e.args.isNotEmpty()) put("Arguments", e.args)
            if (e.kwargs.isNotEmpty()) put("ArgumentsKw", e.kwargs)
        }
    }
}
