package dev.tether.wamp

import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.message.WampValues

/**
 * A session as the router's meta API describes it (`wamp.session.get`, the `wamp.session.on_join` event): its
 * [id], authentication ([authId], [authRole], [authMethod], [authProvider]) and [details], everything the router
 * sent (nexus adds the HELLO details, e.g. `roles` and `transport`).
 */
public class SessionInfo(
    /** The session id. */
    public val id: Long,
    /** The authid, if the router sent one. */
    public val authId: String?,
    /** The authrole, if the router sent one. */
    public val authRole: String?,
    /** The authentication method (`anonymous`, `ticket`, `wampcra`, `cryptosign`, ...), if sent. */
    public val authMethod: String?,
    /** The authentication provider, if sent. */
    public val authProvider: String?,
    /** Every key the router sent, these included. */
    public val details: Map<String, Any?>,
) {
    /** The `transport` details, when the router discloses them (nexus: without `auth`). */
    public val transport: Map<String, Any?>?
        get() = (details["transport"] as? Map<*, *>)?.entries?.associate { it.key.toString() to it.value }

    override fun equals(other: Any?): Boolean = other is SessionInfo && details == other.details && id == other.id
    override fun hashCode(): Int = id.hashCode()
    override fun toString(): String = "SessionInfo(id=$id, authId=$authId, authRole=$authRole, authMethod=$authMethod)"

    internal companion object {
        fun from(value: Any?, what: String): SessionInfo {
            val d = dict(value, what)
            val id = WampValues.asLong(d["session"]) ?: throw malformed(what, "no session id in $d")
            return SessionInfo(
                id,
                d["authid"] as? String,
                d["authrole"] as? String,
                d["authmethod"] as? String,
                d["authprovider"] as? String,
                d,
            )
        }
    }
}

/**
 * A registration as `wamp.registration.get` and `wamp.registration.on_create` describe it: its [id], the
 * registered [uri], its [match] policy, its shared-registration [invoke] policy and, when the router sends it,
 * the ISO 8601 time it was [created].
 */
public data class RegistrationInfo(
    /** The registration id. */
    val id: Long,
    /** The procedure URI (a prefix or a wildcard pattern for those policies). */
    val uri: String,
    /** How calls are matched against [uri]. */
    val match: MatchPolicy,
    /** How calls are spread over the callees; [InvokePolicy.SINGLE] when the router does not say. */
    val invoke: InvokePolicy,
    /** When the registration was created (ISO 8601), if the router says. */
    val created: String?,
) {
    internal companion object {
        fun from(value: Any?, what: String): RegistrationInfo {
            val d = dict(value, what)
            val invoke = (d["invoke"] as? String)?.let { wire ->
                InvokePolicy.entries.firstOrNull { it.wire == wire } ?: throw malformed(what, "invoke policy $wire")
            } ?: InvokePolicy.SINGLE
            return RegistrationInfo(id(d, what), uri(d, what), match(d, what), invoke, d["created"] as? String)
        }
    }
}

/**
 * A subscription as `wamp.subscription.get` and `wamp.subscription.on_create` describe it: its [id], the
 * subscribed [uri], its [match] policy and, when the router sends it, the ISO 8601 time it was [created].
 */
public data class SubscriptionInfo(
    /** The subscription id. */
    val id: Long,
    /** The topic URI (a prefix or a wildcard pattern for those policies). */
    val uri: String,
    /** How publications are matched against [uri]. */
    val match: MatchPolicy,
    /** When the subscription was created (ISO 8601), if the router says. */
    val created: String?,
) {
    internal companion object {
        fun from(value: Any?, what: String): SubscriptionInfo {
            val d = dict(value, what)
            return SubscriptionInfo(id(d, what), uri(d, what), match(d, what), d["created"] as? String)
        }
    }
}

/**
 * The ids of the registrations or subscriptions of a realm by match policy (`wamp.registration.list`,
 * `wamp.subscription.list`).
 */
public data class IdsByMatchPolicy(
    /** Ids with [MatchPolicy.EXACT]. */
    val exact: List<Long>,
    /** Ids with [MatchPolicy.PREFIX]. */
    val prefix: List<Long>,
    /** Ids with [MatchPolicy.WILDCARD]. */
    val wildcard: List<Long>,
) {
    /** The ids with [policy]. */
    public operator fun get(policy: MatchPolicy): List<Long> = when (policy) {
        MatchPolicy.EXACT -> exact
        MatchPolicy.PREFIX -> prefix
        MatchPolicy.WILDCARD -> wildcard
    }

    /** Every id, exact first. */
    public val all: List<Long> get() = exact + prefix + wildcard

    internal companion object {
        fun from(value: Any?, what: String): IdsByMatchPolicy {
            val d = dict(value, what)
            fun ids(key: String) = idList(d[key] ?: emptyList<Any?>(), "$what $key")
            return IdsByMatchPolicy(ids("exact"), ids("prefix"), ids("wildcard"))
        }
    }
}

/**
 * `wamp.session.on_leave`: session [session] left the realm. [authId] and [authRole] are null when the router
 * sends the id alone (nexus does; the WAMP spec adds both).
 */
public data class SessionLeft(
    /** The id of the session that left. */
    val session: Long,
    /** Its authid, when the router sends it. */
    val authId: String?,
    /** Its authrole, when the router sends it. */
    val authRole: String?,
)

/**
 * `wamp.registration.on_create` or `wamp.subscription.on_create`: session [session]'s REGISTER or SUBSCRIBE
 * created [info], the first of its URI and policy.
 */
public data class MetaCreated<T>(
    /** The session whose request created it. */
    val session: Long,
    /** The registration or subscription created. */
    val info: T,
)

/**
 * `on_register`, `on_unregister`, `on_delete` of registrations, and `on_subscribe`, `on_unsubscribe`, `on_delete`
 * of subscriptions: session [session] was added to or removed from registration or subscription [id] (on_delete:
 * the last one left and [id] no longer exists).
 */
public data class MetaChange(
    /** The session added or removed. */
    val session: Long,
    /** The registration or subscription id. */
    val id: Long,
)

/**
 * A meta event topic of the router with the typed payload [T] its events decode to: subscribe with
 * [WampMeta.subscribe] (Kotlin) or [WampMeta.subscribeAsync] (Java), e.g.
 * `meta.subscribe(MetaTopic.SESSION_ON_JOIN) { info -> println(info.authId) }`.
 */
public class MetaTopic<T> private constructor(
    /** The topic URI. */
    public val uri: String,
    private val decoder: (args: List<Any?>, what: String) -> T,
) {
    /** Decodes one EVENT of this topic; throws [ProtocolViolationException] when it is not of the expected shape. */
    internal fun decode(event: Event): T = decoder(event.args, "$uri event")

    override fun toString(): String = "MetaTopic($uri)"

    /** The meta events of the WAMP spec's session, registration and subscription meta APIs. */
    public companion object {
        /** `wamp.session.on_join`: a session joined; args `[details]`. */
        @JvmField
        public val SESSION_ON_JOIN: MetaTopic<SessionInfo> =
            MetaTopic("wamp.session.on_join") { a, w -> SessionInfo.from(a.firstOrNull(), w) }

        /** `wamp.session.on_leave`: a session left; args `[session]` (nexus) or `[session, authid, authrole]`. */
        @JvmField
        public val SESSION_ON_LEAVE: MetaTopic<SessionLeft> = MetaTopic("wamp.session.on_leave") { a, w ->
            val id = WampValues.asLong(a.firstOrNull()) ?: throw malformed(w, "no session id in $a")
            SessionLeft(id, a.getOrNull(1) as? String, a.getOrNull(2) as? String)
        }

        /** `wamp.registration.on_create`: args `[session, registration details]`. */
        @JvmField
        public val REGISTRATION_ON_CREATE: MetaTopic<MetaCreated<RegistrationInfo>> =
            created("wamp.registration.on_create", RegistrationInfo::from)

        /** `wamp.registration.on_register`: a callee was added to a registration; args `[session, registration]`. */
        @JvmField
        public val REGISTRATION_ON_REGISTER: MetaTopic<MetaChange> = change("wamp.registration.on_register")

        /** `wamp.registration.on_unregister`: a callee was removed; args `[session, registration]`. */
        @JvmField
        public val REGISTRATION_ON_UNREGISTER: MetaTopic<MetaChange> = change("wamp.registration.on_unregister")

        /** `wamp.registration.on_delete`: the last callee left; args `[session, registration]`. */
        @JvmField
        public val REGISTRATION_ON_DELETE: MetaTopic<MetaChange> = change("wamp.registration.on_delete")

        /** `wamp.subscription.on_create`: args `[session, subscription details]`. */
        @JvmField
        public val SUBSCRIPTION_ON_CREATE: MetaTopic<MetaCreated<SubscriptionInfo>> =
            created("wamp.subscription.on_create", SubscriptionInfo::from)

        /** `wamp.subscription.on_subscribe`: a subscriber was added; args `[session, subscription]`. */
        @JvmField
        public val SUBSCRIPTION_ON_SUBSCRIBE: MetaTopic<MetaChange> = change("wamp.subscription.on_subscribe")

        /** `wamp.subscription.on_unsubscribe`: a subscriber was removed; args `[session, subscription]`. */
        @JvmField
        public val SUBSCRIPTION_ON_UNSUBSCRIBE: MetaTopic<MetaChange> = change("wamp.subscription.on_unsubscribe")

        /** `wamp.subscription.on_delete`: the last subscriber left; args `[session, subscription]`. */
        @JvmField
        public val SUBSCRIPTION_ON_DELETE: MetaTopic<MetaChange> = change("wamp.subscription.on_delete")

        /** Every meta event topic above. */
        @JvmField
        public val ALL: List<MetaTopic<*>> = listOf(
            SESSION_ON_JOIN, SESSION_ON_LEAVE,
            REGISTRATION_ON_CREATE, REGISTRATION_ON_REGISTER, REGISTRATION_ON_UNREGISTER, REGISTRATION_ON_DELETE,
            SUBSCRIPTION_ON_CREATE, SUBSCRIPTION_ON_SUBSCRIBE, SUBSCRIPTION_ON_UNSUBSCRIBE, SUBSCRIPTION_ON_DELETE,
        )

        /** An `on_create` event: args `[session, details]`, the details read by [info]. */
        private fun <T> created(uri: String, info: (Any?, String) -> T): MetaTopic<MetaCreated<T>> =
            MetaTopic(uri) { a, w -> MetaCreated(sessionOf(a, w), info(a.getOrNull(1), w)) }

        private fun change(uri: String): MetaTopic<MetaChange> = MetaTopic(uri) { a, w ->
            MetaChange(sessionOf(a, w), WampValues.asLong(a.getOrNull(1)) ?: throw malformed(w, "no id in $a"))
        }

        // crossbar sends a null session when the session is already gone: 0 stands for "unknown".
        private fun sessionOf(a: List<Any?>, what: String): Long = when (val s = a.firstOrNull()) {
            null -> if (a.isEmpty()) throw malformed(what, "no arguments") else 0L
            else -> WampValues.asLong(s) ?: throw malformed(what, "session id $s")
        }
    }
}

internal fun malformed(what: String, why: String): ProtocolViolationException =
    ProtocolViolationException("the router's $what is malformed: $why")

internal fun dict(value: Any?, what: String): Map<String, Any?> {
    val m = value as? Map<*, *> ?: throw malformed(what, "expected a dictionary, got $value")
    return m.entries.associate { it.key.toString() to it.value }
}

internal fun idList(value: Any?, what: String): List<Long> {
    val l = value as? List<*> ?: throw malformed(what, "expected a list of ids, got $value")
    return l.map { WampValues.asLong(it) ?: throw malformed(what, "id $it") }
}

private fun id(d: Map<String, Any?>, what: String): Long =
    WampValues.asLong(d["id"]) ?: throw malformed(what, "no id in $d")

private fun uri(d: Map<String, Any?>, what: String): String =
    d["uri"] as? String ?: throw malformed(what, "no uri in $d")

private fun match(d: Map<String, Any?>, what: String): MatchPolicy {
    val wire = d["match"] as? String ?: return MatchPolicy.EXACT
    return MatchPolicy.entries.firstOrNull { it.wire == wire } ?: throw malformed(what, "match policy $wire")
}
