package dev.tether.testkit.wamp

import dev.tether.wamp.message.Call
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Publish
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.WampValues

/**
 * The meta API of one realm, as the WAMP spec describes it and nexus implements it, and its testaments. Every
 * function runs under the realm's lock (the realm calls it from its own locked handlers).
 *
 * Procedures: wamp.session.count|list (optionally only the sessions with one of the authroles in args[0]),
 * get, kill, kill_by_authid (answers the ids, as the spec), kill_by_authrole, kill_all (answer the count);
 * wamp.registration.list|lookup|match|get|list_callees|count_callees;
 * wamp.subscription.list|lookup|match|get|list_subscribers|count_subscribers (and nexus's count_suscribers);
 * wamp.session.add_testament and flush_testaments.
 *
 * Events, published by the router (publisher not disclosed) to every subscriber of the topic, the session that
 * caused them included: wamp.session.on_join `[details]`, on_leave `[session, authid, authrole]`;
 * wamp.registration.on_create `[session, details]`, on_register, on_unregister, on_delete `[session, id]`;
 * wamp.subscription.on_create, on_subscribe, on_unsubscribe, on_delete likewise. A session that ends is removed
 * from its registrations and subscriptions with the same events, then its testaments are published, then on_leave.
 *
 * With [FakeWampRouterConfig.metaApi] off, every meta procedure answers `wamp.error.no_such_procedure` and no meta
 * event is published.
 */
internal class RouterMeta(private val realm: RouterRealm, private val enabled: Boolean) {
    private val testaments = RouterTestaments()

    fun sessionInfo(t: RouterSession): Map<String, Any?> = mapOf(
        "session" to t.id,
        "authid" to t.authId,
        "authrole" to t.authRole,
        "authmethod" to t.authMethod,
        "authprovider" to "static",
    )

    private fun registrationInfo(reg: RouterRealm.Registration): Map<String, Any?> =
        mapOf("id" to reg.id, "uri" to reg.procedure, "match" to reg.match, "invoke" to reg.invoke)

    private fun subscriptionInfo(sub: RouterRealm.Subscription): Map<String, Any?> =
        mapOf("id" to sub.id, "uri" to sub.topic, "match" to sub.match)

    // ---------------------------------------------------------------- events

    /** Publishes a meta event as the router: no publisher disclosed, [cause] receives it too if subscribed. */
    private fun event(cause: RouterSession, topic: String, vararg args: Any?) {
        if (!enabled) return
        realm.publish(cause, Publish(0, mapOf("exclude_me" to false), topic, args.toList(), emptyMap()))
    }

    fun joined(s: RouterSession) = event(s, "wamp.session.on_join", sessionInfo(s))

    fun registered(s: RouterSession, reg: RouterRealm.Registration, created: Boolean) {
        if (created) event(s, "wamp.registration.on_create", s.id, registrationInfo(reg))
        event(s, "wamp.registration.on_register", s.id, reg.id)
    }

    fun unregistered(s: RouterSession, reg: RouterRealm.Registration, deleted: Boolean) {
        event(s, "wamp.registration.on_unregister", s.id, reg.id)
        if (deleted) event(s, "wamp.registration.on_delete", s.id, reg.id)
    }

    fun subscribed(s: RouterSession, sub: RouterRealm.Subscription, created: Boolean) {
        if (created) event(s, "wamp.subscription.on_create", s.id, subscriptionInfo(sub))
        event(s, "wamp.subscription.on_subscribe", s.id, sub.id)
    }

    fun unsubscribed(s: RouterSession, sub: RouterRealm.Subscription, deleted: Boolean) {
        event(s, "wamp.subscription.on_unsubscribe", s.id, sub.id)
        if (deleted) event(s, "wamp.subscription.on_delete", s.id, sub.id)
    }

    /**
     * Session [s] has ended and left the realm's registrations and subscriptions: publishes its testaments with
     * their own options (the router publishes; `disclose_me` in them discloses [s]), then on_leave.
     */
    fun left(s: RouterSession) {
        for (t in testaments.takeAll(s.id)) {
            realm.publish(s, Publish(0, t.options - "acknowledge", t.topic, t.args, t.kwargs))
        }
        event(s, "wamp.session.on_leave", s.id, s.authId, s.authRole)
    }

    // ---------------------------------------------------------------- procedures

    /** Answers [m], a CALL to a `wamp.` procedure; false when no meta procedure has its name. */
    fun call(s: RouterSession, m: Call): Boolean {
        if (!enabled) return false
        val answer = Answer(s, m)
        when (m.procedure) {
            "wamp.session.count" -> answer.result(sessionsOf(m).size.toLong())

            "wamp.session.list" -> answer.result(sessionsOf(m).map { it.id })

            "wamp.session.get" -> {
                val target = WampValues.asLong(m.args.firstOrNull())?.let { realm.sessions[it] }
                    ?: return answer.error(NO_SUCH_SESSION)
                answer.result(sessionInfo(target))
            }

            "wamp.session.kill" -> {
                val target = WampValues.asLong(m.args.firstOrNull())?.let { realm.sessions[it] }
                    ?: return answer.error(NO_SUCH_SESSION)
                if (target === s) return answer.error(NO_SUCH_SESSION, "cannot kill the caller")
                kill(target, m)
                answer.result()
            }

            "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole", "wamp.session.kill_all" -> {
                val targets = when (m.procedure) {
                    "wamp.session.kill_by_authid" -> realm.sessions.values.filter { it.authId == m.args.firstOrNull() }

                    "wamp.session.kill_by_authrole" ->
                        realm.sessions.values.filter { it.authRole == m.args.firstOrNull() }

                    else -> realm.sessions.values.toList()
                }.filter { it !== s }
                for (t in targets) kill(t, m)
                // As the WAMP meta API: kill_by_authid answers the ids, the others the count.
                if (m.procedure == "wamp.session.kill_by_authid") {
                    answer.result(targets.map { it.id })
                } else {
                    answer.result(targets.size.toLong())
                }
            }

            "wamp.session.add_testament" -> addTestament(s, m, answer)

            "wamp.session.flush_testaments" -> {
                val scope = m.kwargs["scope"] as? String ?: RouterTestaments.DESTROYED
                if (scope !in RouterTestaments.SCOPES) return answer.error(INVALID_ARGUMENT, "unknown scope $scope")
                answer.result(testaments.flush(s.id, scope).toLong())
            }

            "wamp.registration.list" -> answer.result(
                MATCHES.associateWith { match ->
                    realm.registrations.values.filter { it.match == match }.map { it.id }
                },
            )

            "wamp.registration.lookup" -> {
                val match = matchOption(m)
                val procedure = m.args.firstOrNull()
                answer.result(
                    realm.registrations.values.firstOrNull { it.procedure == procedure && it.match == match }?.id,
                )
            }

            "wamp.registration.match" ->
                answer.result((m.args.firstOrNull() as? String)?.let { realm.matchRegistration(it) }?.id)

            "wamp.registration.get" -> {
                val reg = registration(m) ?: return answer.error(NO_SUCH_REGISTRATION)
                answer.result(registrationInfo(reg))
            }

            "wamp.registration.list_callees" -> {
                val reg = registration(m) ?: return answer.error(NO_SUCH_REGISTRATION)
                answer.result(reg.callees.map { it.session.id })
            }

            "wamp.registration.count_callees" -> {
                val reg = registration(m) ?: return answer.error(NO_SUCH_REGISTRATION)
                answer.result(reg.callees.size.toLong())
            }

            "wamp.subscription.list" -> answer.result(
                MATCHES.associateWith { match ->
                    realm.subscriptions.values.filter { it.match == match }.map { it.id }
                },
            )

            "wamp.subscription.lookup" -> {
                val match = matchOption(m)
                val topic = m.args.firstOrNull()
                answer.result(realm.subscriptions.values.firstOrNull { it.topic == topic && it.match == match }?.id)
            }

            "wamp.subscription.match" -> {
                val topic = m.args.firstOrNull() as? String
                val ids = if (topic == null) {
                    emptyList()
                } else {
                    realm.subscriptions.values.filter { realm.topicMatches(it, topic) }.map { it.id }
                }
                answer.result(ids.ifEmpty { null }) // as the spec: null when nothing matches
            }

            "wamp.subscription.get" -> {
                val sub = subscription(m) ?: return answer.error(NO_SUCH_SUBSCRIPTION)
                answer.result(subscriptionInfo(sub))
            }

            "wamp.subscription.list_subscribers" -> {
                val sub = subscription(m) ?: return answer.error(NO_SUCH_SUBSCRIPTION)
                answer.result(sub.subscribers.map { it.id })
            }

            // nexus registers the misspelt count_suscribers: accept both.
            "wamp.subscription.count_subscribers", "wamp.subscription.count_suscribers" -> {
                val sub = subscription(m) ?: return answer.error(NO_SUCH_SUBSCRIPTION)
                answer.result(sub.subscribers.size.toLong())
            }

            else -> return false
        }
        return true
    }

    /** Replies to one meta CALL. */
    private class Answer(val s: RouterSession, val m: Call) {
        fun result(vararg args: Any?) = s.send(ResultMessage(m.request, emptyMap(), args.toList()))

        /** Sends the ERROR; true, so that `return answer.error(...)` ends [call] as answered. */
        fun error(uri: String, vararg args: Any?): Boolean {
            s.send(ErrorMessage(MessageCodes.CALL, m.request, emptyMap(), uri, args.toList()))
            return true
        }
    }

    /** The sessions of `wamp.session.count` and `list`: all, or those with one of the authroles in args[0]. */
    private fun sessionsOf(m: Call): List<RouterSession> {
        val roles = (m.args.firstOrNull() as? List<*>)?.toSet()
        val all = realm.sessions.values.toList()
        return if (roles.isNullOrEmpty()) all else all.filter { it.authRole in roles }
    }

    private fun matchOption(m: Call): String = (m.args.getOrNull(1) as? Map<*, *>)?.get("match") as? String ?: "exact"

    private fun registration(m: Call) = WampValues.asLong(m.args.firstOrNull())?.let { realm.registrations[it] }

    private fun subscription(m: Call) = WampValues.asLong(m.args.firstOrNull())?.let { realm.subscriptions[it] }

    /**
     * Ends [target] as nexus does: GOODBYE with the CALL's `reason` and `message`, the connection closed once it is
     * written (no reply awaited), and the session out of the realm at once (its testaments published now).
     */
    private fun kill(target: RouterSession, m: Call) {
        val reason = m.kwargs["reason"] as? String ?: "wamp.close.killed"
        val message = m.kwargs["message"] as? String ?: "killed"
        target.expel(Goodbye(mapOf("message" to message), reason))
        realm.leave(target)
    }

    /** `wamp.session.add_testament(topic, args, kwargs, {publish_options, scope})`, checked as nexus checks it. */
    private fun addTestament(s: RouterSession, m: Call, answer: Answer) {
        val topic = m.args.getOrNull(0) as? String
        val args = m.args.getOrNull(1) as? List<*>
        val kwargs = m.args.getOrNull(2) as? Map<*, *>
        if (topic == null || args == null || kwargs == null) {
            answer.error(INVALID_ARGUMENT, "expected [topic, args, kwargs]")
            return
        }
        val options = m.kwargs["publish_options"] as? Map<*, *> ?: emptyMap<String, Any?>()
        val scope = m.kwargs["scope"] as? String ?: RouterTestaments.DESTROYED
        if (scope !in RouterTestaments.SCOPES) {
            answer.error(INVALID_ARGUMENT, "unknown scope $scope")
            return
        }
        val t = RouterTestaments.Testament(
            topic,
            args.toList(),
            kwargs.entries.associate { it.key.toString() to it.value },
            options.entries.associate { it.key.toString() to it.value },
        )
        testaments.add(s.id, scope, t)
        answer.result()
    }

    private companion object {
        val MATCHES = listOf("exact", "prefix", "wildcard")
        const val NO_SUCH_SESSION = "wamp.error.no_such_session"
        const val NO_SUCH_REGISTRATION = "wamp.error.no_such_registration"
        const val NO_SUCH_SUBSCRIPTION = "wamp.error.no_such_subscription"
        const val INVALID_ARGUMENT = "wamp.error.invalid_argument"
    }
}
