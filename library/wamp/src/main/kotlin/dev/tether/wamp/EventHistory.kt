package dev.tether.wamp

import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.message.WampValues

/**
 * What `wamp.subscription.get_events` returned for one subscription ([WampSession.eventHistory]): the stored
 * [events], oldest first, and whether the router's store for it is full ([limitReached]), so that older events may
 * have been discarded.
 *
 * Routers keep history only for the topics their configuration names (nexus: `TopicEventHistoryConfigs`; the
 * testkit router: `FakeWampRouterConfig.eventHistory`), and leave out publications restricted by session id
 * (`exclude`, `eligible`). A subscription without history gives an empty list.
 */
public data class EventHistory(
    /** The stored events, oldest first; [Event.subscription] is the subscription asked about. */
    val events: List<Event>,
    /** The router's `is_limit_reached`: its store is full and drops the oldest events. Null when not reported. */
    val limitReached: Boolean?,
) {
    internal companion object {
        /** The procedure of the WAMP event history meta API. */
        val PROCEDURE: String = "wamp.subscription.get_events"

        /**
         * Reads a `get_events` result. nexus answers with one positional argument per event, each a dictionary
         * with Go's field names (`Subscription`, `Publication`, `Details`, `Arguments`, `ArgumentsKw`) and kwargs
         * `is_limit_reached`; Crossbar answers with one argument, the list of events, each with lowercase keys
         * (`subscription`, `publication`, `topic`, `args`, `kwargs`, `details`). Both are accepted, and at most
         * [limit] (the most recent) events are kept: a router may ignore the limit it was sent. Throws
         * [WampErrorException] (`wamp.error.invalid_argument`) for a result of another shape.
         */
        fun parse(result: CallResult, subscription: Long, limit: Int?): EventHistory {
            val items: List<Any?> = result.args.singleOrNull() as? List<*> ?: result.args
            val events = items.map { item ->
                val map = item as? Map<*, *> ?: malformed("an event is not a dictionary: $item")
                parseEvent(map, subscription)
            }
            val kept = if (limit != null && events.size > limit) events.takeLast(limit) else events
            return EventHistory(kept, result.kwargs["is_limit_reached"] as? Boolean)
        }

        private fun parseEvent(map: Map<*, *>, subscription: Long): Event {
            fun field(vararg names: String): Any? = names.firstNotNullOfOrNull { map[it] }

            val args = when (val a = field("Arguments", "args", "arguments")) {
                null -> emptyList()
                is List<*> -> a.toList()
                else -> malformed("event arguments are not a list: $a")
            }
            val kwargs = stringKeys(field("ArgumentsKw", "kwargs", "argumentsKw", "arguments_kw"), "keyword arguments")
            val details = LinkedHashMap(stringKeys(field("Details", "details"), "details"))
            // Crossbar stores the topic beside the payload, not in the details.
            (field("Topic", "topic") as? String)?.let { details.putIfAbsent("topic", it) }
            val sub = WampValues.asLong(field("Subscription", "subscription")) ?: subscription
            val publication = WampValues.asLong(field("Publication", "publication"))
                ?: malformed("an event has no publication id: $map")
            return Event(sub, publication, args, kwargs, details)
        }

        private fun stringKeys(value: Any?, what: String): Map<String, Any?> = when (value) {
            null -> emptyMap()
            is Map<*, *> -> value.entries.associate { (k, v) -> (k as? String ?: malformed("$what key $k")) to v }
            else -> malformed("event $what are not a dictionary: $value")
        }

        private fun malformed(why: String): Nothing =
            throw WampErrorException("wamp.error.invalid_argument", listOf("malformed $PROCEDURE result: $why"))
    }
}
