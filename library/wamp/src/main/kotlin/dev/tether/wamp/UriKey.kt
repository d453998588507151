package dev.tether.wamp

import dev.tether.wamp.error.WampErrorException

/**
 * A registration's procedure or a subscription's topic together with its match policy: one session may hold two
 * registrations (or subscriptions) of the same URI that differ only in `match`, and the router gives each its own id.
 */
internal data class UriKey(val uri: String, val match: MatchPolicy) {
    companion object {
        /** The key of a REGISTER or SUBSCRIBE with [options] (`match` absent or unknown: exact, as the router). */
        fun of(uri: String, options: Map<String, Any?>): UriKey {
            val wire = options["match"] as? String
            return UriKey(uri, MatchPolicy.entries.firstOrNull { it.wire == wire } ?: MatchPolicy.EXACT)
        }

        /**
         * The entries of [all] keyed by [uri], by match policy: one keyed lookup per policy, however many other URIs
         * [all] holds.
         */
        fun <V> byPolicy(uri: String, all: Map<UriKey, V>): Map<MatchPolicy, V> {
            val found = LinkedHashMap<MatchPolicy, V>(2)
            for (match in MatchPolicy.entries) all[UriKey(uri, match)]?.let { found[match] = it }
            return found
        }

        /** Of a URI's entries by match policy ([byPolicy]): the only one, or the exact one of several (else null). */
        fun <V> preferred(byPolicy: Map<MatchPolicy, V>): V? =
            if (byPolicy.size <= 1) byPolicy.values.firstOrNull() else byPolicy[MatchPolicy.EXACT]

        /**
         * The one id among [ids] (the registrations or subscriptions of [uri], by match policy), or null when there
         * is none; several are ambiguous: throws [WampErrorException] `dev.tether.error.ambiguous_uri` asking for
         * the match policy. [what] names them in the message.
         */
        fun <V : Any> single(uri: String, ids: Map<MatchPolicy, V>, what: String): V? {
            if (ids.size <= 1) return ids.values.firstOrNull()
            val policies = ids.keys.sorted().joinToString { it.wire }
            throw WampErrorException(
                AMBIGUOUS_URI,
                listOf("$what of $uri exist with match policies $policies: name the match policy"),
            )
        }

        /** The error URI of an unregister or unsubscribe by URI alone that names several (see [single]). */
        const val AMBIGUOUS_URI: String = "dev.tether.error.ambiguous_uri"
    }
}
