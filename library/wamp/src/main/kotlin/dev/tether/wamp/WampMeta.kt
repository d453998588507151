@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.TetherScope
import dev.tether.core.javaFuture
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.message.WampValues
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.function.Consumer

/**
 * The router's meta API as typed calls: the session, registration and subscription meta procedures of the WAMP
 * advanced profile (`wamp.session.*`, `wamp.registration.*`, `wamp.subscription.*`) and their meta events
 * ([MetaTopic]). Reach it as [WampSession.meta] or [WampClient.meta].
 *
 * Each procedure is one CALL with the session's call timeout; the router's ERROR is thrown as [RpcException]
 * (e.g. [NO_SUCH_SESSION], [NO_SUCH_REGISTRATION], [NO_SUCH_SUBSCRIPTION], `wamp.error.no_such_procedure` from a
 * router without the meta API: check the WELCOME's `session_meta_api`, `registration_meta_api` and
 * `subscription_meta_api` features), and a reply of the wrong shape as [ProtocolViolationException]. On a
 * [WampClient] every call waits for the joined session as [WampClient.call] does, and a meta event subscription is
 * restored on every new session like any [WampClient.subscribe] (so each [MetaTopic] at most once per client).
 *
 * ```kotlin
 * val sessions = session.meta.sessionList()
 * session.meta.subscribe(MetaTopic.SESSION_ON_LEAVE) { left -> println("gone: ${left.session}") }
 * ```
 */
public class WampMeta internal constructor(private val target: Target) {
    /** What the meta API runs on: a session, or a client's current session. */
    internal interface Target {
        suspend fun call(procedure: String, args: List<Any?>, kwargs: Map<String, Any?>): CallResult
        suspend fun subscribe(topic: String, handler: suspend (Event) -> Unit): Long
        suspend fun unsubscribe(topic: String)
    }

    private val log = LoggerFactory.getLogger(WampMeta::class.java)

    private suspend fun first(procedure: String, vararg args: Any?, kwargs: Map<String, Any?> = emptyMap()): Any? =
        target.call(procedure, args.toList(), kwargs).args.firstOrNull()

    private suspend fun count(procedure: String, vararg args: Any?, kwargs: Map<String, Any?> = emptyMap()): Long {
        val v = first(procedure, *args, kwargs = kwargs)
        return WampValues.asLong(v) ?: throw malformed("$procedure result", "expected a count, got $v")
    }

    private suspend fun ids(procedure: String, vararg args: Any?): List<Long> =
        idList(first(procedure, *args) ?: emptyList<Any?>(), "$procedure result")

    private suspend fun optionalId(procedure: String, vararg args: Any?): Long? {
        val v = first(procedure, *args) ?: return null
        return WampValues.asLong(v) ?: throw malformed("$procedure result", "expected an id or null, got $v")
    }

    private fun <T> future(block: suspend () -> T): CompletableFuture<T> = TetherScope.javaFuture { block() }

    private fun killKwargs(reason: String?, message: String?): Map<String, Any?> = buildMap {
        reason?.let { put("reason", it) }
        message?.let { put("message", it) }
    }

    // ---------------------------------------------------------------- sessions

    /** `wamp.session.count`: the sessions joined to the realm, only those with one of [authRoles] when given. */
    @JvmSynthetic
    public suspend fun sessionCount(authRoles: List<String> = emptyList()): Long =
        if (authRoles.isEmpty()) count(SESSION_COUNT) else count(SESSION_COUNT, authRoles)

    /** `wamp.session.list`: the ids of the realm's sessions, only those with one of [authRoles] when given. */
    @JvmSynthetic
    public suspend fun sessionList(authRoles: List<String> = emptyList()): List<Long> =
        if (authRoles.isEmpty()) ids(SESSION_LIST) else ids(SESSION_LIST, authRoles)

    /** `wamp.session.get`: session [id]'s details; [RpcException] [NO_SUCH_SESSION] when there is none. */
    @JvmSynthetic
    public suspend fun sessionGet(id: Long): SessionInfo =
        SessionInfo.from(first(SESSION_GET, id), "$SESSION_GET result")

    /**
     * `wamp.session.kill`: the router ends session [id] with GOODBYE [reason] (default `wamp.close.normal` on
     * nexus) and [message]. A session cannot kill itself: [RpcException] [NO_SUCH_SESSION], as for an unknown id.
     */
    @JvmSynthetic
    public suspend fun sessionKill(id: Long, reason: String? = null, message: String? = null) {
        target.call(SESSION_KILL, listOf(id), killKwargs(reason, message))
    }

    /**
     * `wamp.session.kill_by_authid`: ends every session with [authId] except this one and returns how many. The WAMP
     * spec answers their ids and nexus their count: both are read as the count.
     */
    @JvmSynthetic
    public suspend fun sessionKillByAuthId(authId: String, reason: String? = null, message: String? = null): Long =
        killed(SESSION_KILL_BY_AUTHID, listOf(authId), reason, message)

    /** `wamp.session.kill_by_authrole`: ends every session with [authRole] except this one; returns how many. */
    @JvmSynthetic
    public suspend fun sessionKillByAuthRole(authRole: String, reason: String? = null, message: String? = null): Long =
        killed(SESSION_KILL_BY_AUTHROLE, listOf(authRole), reason, message)

    /** `wamp.session.kill_all`: ends every other session of the realm; returns how many. */
    @JvmSynthetic
    public suspend fun sessionKillAll(reason: String? = null, message: String? = null): Long =
        killed(SESSION_KILL_ALL, emptyList(), reason, message)

    private suspend fun killed(procedure: String, args: List<Any?>, reason: String?, message: String?): Long =
        when (val v = target.call(procedure, args, killKwargs(reason, message)).args.firstOrNull()) {
            is List<*> -> v.size.toLong()
            else -> WampValues.asLong(v) ?: throw malformed("$procedure result", "expected a count, got $v")
        }

    // ---------------------------------------------------------------- registrations

    /** `wamp.registration.list`: the realm's registration ids by match policy. */
    @JvmSynthetic
    public suspend fun registrationList(): IdsByMatchPolicy =
        IdsByMatchPolicy.from(first(REGISTRATION_LIST), "$REGISTRATION_LIST result")

    /** `wamp.registration.lookup`: the id of the registration of exactly [procedure] with [match], or null. */
    @JvmSynthetic
    public suspend fun registrationLookup(procedure: String, match: MatchPolicy = MatchPolicy.EXACT): Long? =
        if (match == MatchPolicy.EXACT) {
            optionalId(REGISTRATION_LOOKUP, procedure)
        } else {
            optionalId(REGISTRATION_LOOKUP, procedure, mapOf("match" to match.wire))
        }

    /** `wamp.registration.match`: the id of the registration a call to [procedure] would go to, or null. */
    @JvmSynthetic
    public suspend fun registrationMatch(procedure: String): Long? = optionalId(REGISTRATION_MATCH, procedure)

    /** `wamp.registration.get`: registration [id]; [RpcException] [NO_SUCH_REGISTRATION] when there is none. */
    @JvmSynthetic
    public suspend fun registrationGet(id: Long): RegistrationInfo =
        RegistrationInfo.from(first(REGISTRATION_GET, id), "$REGISTRATION_GET result")

    /** `wamp.registration.list_callees`: the session ids of registration [id]'s callees. */
    @JvmSynthetic
    public suspend fun registrationListCallees(id: Long): List<Long> = ids(REGISTRATION_LIST_CALLEES, id)

    /** `wamp.registration.count_callees`: how many callees registration [id] has. */
    @JvmSynthetic
    public suspend fun registrationCountCallees(id: Long): Long = count(REGISTRATION_COUNT_CALLEES, id)

    // ---------------------------------------------------------------- subscriptions

    /** `wamp.subscription.list`: the realm's subscription ids by match policy. */
    @JvmSynthetic
    public suspend fun subscriptionList(): IdsByMatchPolicy =
        IdsByMatchPolicy.from(first(SUBSCRIPTION_LIST), "$SUBSCRIPTION_LIST result")

    /** `wamp.subscription.lookup`: the id of the subscription to exactly [topic] with [match], or null. */
    @JvmSynthetic
    public suspend fun subscriptionLookup(topic: String, match: MatchPolicy = MatchPolicy.EXACT): Long? =
        if (match == MatchPolicy.EXACT) {
            optionalId(SUBSCRIPTION_LOOKUP, topic)
        } else {
            optionalId(SUBSCRIPTION_LOOKUP, topic, mapOf("match" to match.wire))
        }

    /** `wamp.subscription.match`: the ids of every subscription a publication to [topic] would reach (may be empty). */
    @JvmSynthetic
    public suspend fun subscriptionMatch(topic: String): List<Long> = ids(SUBSCRIPTION_MATCH, topic)

    /** `wamp.subscription.get`: subscription [id]; [RpcException] [NO_SUCH_SUBSCRIPTION] when there is none. */
    @JvmSynthetic
    public suspend fun subscriptionGet(id: Long): SubscriptionInfo =
        SubscriptionInfo.from(first(SUBSCRIPTION_GET, id), "$SUBSCRIPTION_GET result")

    /** `wamp.subscription.list_subscribers`: the session ids of subscription [id]'s subscribers. */
    @JvmSynthetic
    public suspend fun subscriptionListSubscribers(id: Long): List<Long> = ids(SUBSCRIPTION_LIST_SUBSCRIBERS, id)

    /**
     * `wamp.subscription.count_subscribers`: how many subscribers subscription [id] has. A router that answers
     * `wamp.error.no_such_procedure` is asked again under nexus's misspelt name `wamp.subscription.count_suscribers`.
     */
    @JvmSynthetic
    public suspend fun subscriptionCountSubscribers(id: Long): Long = try {
        count(SUBSCRIPTION_COUNT_SUBSCRIBERS, id)
    } catch (e: RpcException) {
        if (e.error != NO_SUCH_PROCEDURE) throw e
        count(NEXUS_COUNT_SUSCRIBERS, id)
    }

    // ---------------------------------------------------------------- meta events

    /**
     * Subscribes [handler] to the meta event [topic] and returns the subscription id. Events reach the handler in
     * order, decoded; one that does not have the shape of [topic] is logged and dropped. Unsubscribe with
     * [unsubscribe].
     */
    @JvmSynthetic
    public suspend fun <T> subscribe(topic: MetaTopic<T>, handler: suspend (T) -> Unit): Long =
        target.subscribe(topic.uri) { event ->
            val decoded = try {
                topic.decode(event)
            } catch (e: ProtocolViolationException) {
                log.warn("dropped a meta event: {}", e.message)
                return@subscribe
            }
            handler(decoded)
        }

    /** Removes the subscription to [topic]. */
    @JvmSynthetic
    public suspend fun unsubscribe(topic: MetaTopic<*>) {
        target.unsubscribe(topic.uri)
    }

    // ---------------------------------------------------------------- Java faces

    /** Java face of [sessionCount]. */
    @JvmOverloads
    public fun sessionCountAsync(authRoles: List<String> = emptyList()): CompletableFuture<Long> =
        future { sessionCount(authRoles) }

    /** Java face of [sessionList]. */
    @JvmOverloads
    public fun sessionListAsync(authRoles: List<String> = emptyList()): CompletableFuture<List<Long>> =
        future { sessionList(authRoles) }

    /** Java face of [sessionGet]. */
    public fun sessionGetAsync(id: Long): CompletableFuture<SessionInfo> = future { sessionGet(id) }

    /** Java face of [sessionKill]. */
    @JvmOverloads
    public fun sessionKillAsync(id: Long, reason: String? = null, message: String? = null): CompletableFuture<Void?> =
        future {
            sessionKill(id, reason, message)
            null
        }

    /** Java face of [sessionKillByAuthId]. */
    @JvmOverloads
    public fun sessionKillByAuthIdAsync(
        authId: String,
        reason: String? = null,
        message: String? = null,
    ): CompletableFuture<Long> = future { sessionKillByAuthId(authId, reason, message) }

    /** Java face of [sessionKillByAuthRole]. */
    @JvmOverloads
    public fun sessionKillByAuthRoleAsync(
        authRole: String,
        reason: String? = null,
        message: String? = null,
    ): CompletableFuture<Long> = future { sessionKillByAuthRole(authRole, reason, message) }

    /** Java face of [sessionKillAll]. */
    @JvmOverloads
    public fun sessionKillAllAsync(reason: String? = null, message: String? = null): CompletableFuture<Long> =
        future { sessionKillAll(reason, message) }

    /** Java face of [registrationList]. */
    public fun registrationListAsync(): CompletableFuture<IdsByMatchPolicy> = future { registrationList() }

    /** Java face of [registrationLookup]; the future holds null when there is no such registration. */
    @JvmOverloads
    public fun registrationLookupAsync(
        procedure: String,
        match: MatchPolicy = MatchPolicy.EXACT,
    ): CompletableFuture<Long?> = future { registrationLookup(procedure, match) }

    /** Java face of [registrationMatch]; null when no registration matches. */
    public fun registrationMatchAsync(procedure: String): CompletableFuture<Long?> =
        future { registrationMatch(procedure) }

    /** Java face of [registrationGet]. */
    public fun registrationGetAsync(id: Long): CompletableFuture<RegistrationInfo> = future { registrationGet(id) }

    /** Java face of [registrationListCallees]. */
    public fun registrationListCalleesAsync(id: Long): CompletableFuture<List<Long>> =
        future { registrationListCallees(id) }

    /** Java face of [registrationCountCallees]. */
    public fun registrationCountCalleesAsync(id: Long): CompletableFuture<Long> =
        future { registrationCountCallees(id) }

    /** Java face of [subscriptionList]. */
    public fun subscriptionListAsync(): CompletableFuture<IdsByMatchPolicy> = future { subscriptionList() }

    /** Java face of [subscriptionLookup]; null when there is no such subscription. */
    @JvmOverloads
    public fun subscriptionLookupAsync(
        topic: String,
        match: MatchPolicy = MatchPolicy.EXACT,
    ): CompletableFuture<Long?> = future { subscriptionLookup(topic, match) }

    /** Java face of [subscriptionMatch]. */
    public fun subscriptionMatchAsync(topic: String): CompletableFuture<List<Long>> =
        future { subscriptionMatch(topic) }

    /** Java face of [subscriptionGet]. */
    public fun subscriptionGetAsync(id: Long): CompletableFuture<SubscriptionInfo> = future { subscriptionGet(id) }

    /** Java face of [subscriptionListSubscribers]. */
    public fun subscriptionListSubscribersAsync(id: Long): CompletableFuture<List<Long>> =
        future { subscriptionListSubscribers(id) }

    /** Java face of [subscriptionCountSubscribers]. */
    public fun subscriptionCountSubscribersAsync(id: Long): CompletableFuture<Long> =
        future { subscriptionCountSubscribers(id) }

    /**
     * Java face of [subscribe]: [listener] gets each decoded event of [topic], one at a time, on the handler
     * executor; the future holds the subscription id.
     */
    public fun <T> subscribeAsync(topic: MetaTopic<T>, listener: Consumer<T>): CompletableFuture<Long> =
        future { subscribe(topic) { listener.accept(it) } }

    /** Java face of [unsubscribe]. */
    public fun unsubscribeAsync(topic: MetaTopic<*>): CompletableFuture<Void?> = future {
        unsubscribe(topic)
        null
    }

    /** The meta procedure and error URIs. */
    public companion object {
        /** The ERROR of `wamp.session.get` and `kill` for an unknown session (or the caller's own, for kill). */
        public const val NO_SUCH_SESSION: String = "wamp.error.no_such_session"

        /** The ERROR of the registration procedures for an unknown registration id. */
        public const val NO_SUCH_REGISTRATION: String = "wamp.error.no_such_registration"

        /** The ERROR of the subscription procedures for an unknown subscription id. */
        public const val NO_SUCH_SUBSCRIPTION: String = "wamp.error.no_such_subscription"

        /** The ERROR of a router without the procedure (a router without the meta API answers it). */
        public const val NO_SUCH_PROCEDURE: String = "wamp.error.no_such_procedure"

        internal const val SESSION_COUNT = "wamp.session.count"
        internal const val SESSION_LIST = "wamp.session.list"
        internal const val SESSION_GET = "wamp.session.get"
        internal const val SESSION_KILL = "wamp.session.kill"
        internal const val SESSION_KILL_BY_AUTHID = "wamp.session.kill_by_authid"
        internal const val SESSION_KILL_BY_AUTHROLE = "wamp.session.kill_by_authrole"
        internal const val SESSION_KILL_ALL = "wamp.session.kill_all"
        internal const val REGISTRATION_LIST = "wamp.registration.list"
        internal const val REGISTRATION_LOOKUP = "wamp.registration.lookup"
        internal const val REGISTRATION_MATCH = "wamp.registration.match"
        internal const val REGISTRATION_GET = "wamp.registration.get"
        internal const val REGISTRATION_LIST_CALLEES = "wamp.registration.list_callees"
        internal const val REGISTRATION_COUNT_CALLEES = "wamp.registration.count_callees"
        internal const val SUBSCRIPTION_LIST = "wamp.subscription.list"
        internal const val SUBSCRIPTION_LOOKUP = "wamp.subscription.lookup"
        internal const val SUBSCRIPTION_MATCH = "wamp.subscription.match"
        internal const val SUBSCRIPTION_GET = "wamp.subscription.get"
        internal const val SUBSCRIPTION_LIST_SUBSCRIBERS = "wamp.subscription.list_subscribers"
        internal const val SUBSCRIPTION_COUNT_SUBSCRIBERS = "wamp.subscription.count_subscribers"
        internal const val NEXUS_COUNT_SUSCRIBERS = "wamp.subscription.count_suscribers"

        /** The meta API of [session]. */
        internal fun of(session: WampSession): WampMeta = WampMeta(
            object : Target {
                override suspend fun call(procedure: String, args: List<Any?>, kwargs: Map<String, Any?>) =
                    session.call(procedure, args, kwargs, emptyMap<String, Any?>())

                override suspend fun subscribe(topic: String, handler: suspend (Event) -> Unit): Long =
                    session.subscribe(topic, emptyMap<String, Any?>(), handler)

                override suspend fun unsubscribe(topic: String) = session.unsubscribe(topic)
            },
        )

        /** The meta API of [client]'s joined session; subscriptions are restored on every new session. */
        internal fun of(client: WampClient): WampMeta = WampMeta(
            object : Target {
                override suspend fun call(procedure: String, args: List<Any?>, kwargs: Map<String, Any?>) =
                    client.call(procedure, args, kwargs)

                override suspend fun subscribe(topic: String, handler: suspend (Event) -> Unit): Long =
                    client.subscribe(topic, SubscribeOptions.DEFAULT, handler)

                override suspend fun unsubscribe(topic: String) = client.unsubscribe(topic)
            },
        )
    }
}
