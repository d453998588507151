package dev.tether.testkit.wamp

import dev.tether.wamp.message.Abort
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Interrupt
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Publish
import dev.tether.wamp.message.Published
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Unregister
import dev.tether.wamp.message.Unregistered
import dev.tether.wamp.message.Unsubscribe
import dev.tether.wamp.message.Unsubscribed
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Yield
import java.util.concurrent.atomic.AtomicLong

/**
 * The dealer and broker of one realm. All state is guarded by one lock; handlers only queue outbound messages,
 * so nothing here blocks.
 *
 * Dealer: exact, prefix and wildcard registrations; shared registrations (`invoke` single, roundrobin, random,
 * first, last); caller disclosure (CALL `disclose_me`, REGISTER `disclose_caller`); call timeouts, timed here or
 * forwarded to a callee that registered with `forward_timeout`; cancel modes; progressive results; progressive call
 * invocations (the chunks of one call, CALLs with one request id, go to the callee of the first as INVOCATIONs with
 * one invocation id and the first's details, `timeout` only on the first). Broker: exact,
 * prefix and wildcard subscriptions; `exclude_me`, black- and whitelists by session id, authid and authrole;
 * publisher disclosure; acknowledgement.
 */
internal class RouterRealm(val name: String, val anonymous: Boolean, private val router: FakeWampRouter) {
    private val lock = Any()
    private val sessions = LinkedHashMap<Long, RouterSession>()
    private val registrations = LinkedHashMap<Long, Registration>()
    private val subscriptions = LinkedHashMap<Long, Subscription>()
    private val calls = HashMap<Long, PendingCall>()
    private val ids = AtomicLong()

    /** One REGISTER of a (possibly shared) registration, with the options that callee asked for. */
    private class Callee(val session: RouterSession, val discloseCaller: Boolean, val forwardTimeout: Boolean)

    /** A registration and its callees in registration order; [invoke] is the shared-registration policy. */
    private class Registration(val id: Long, val procedure: String, val match: String, val invoke: String) {
        val callees = ArrayList<Callee>()
        var nextRoundRobin = 0
    }
    private class Subscription(
        val id: Long,
        val topic: String,
        val match: String,
        val subscribers: LinkedHashSet<RouterSession>,
    )

    /**
     * A call routed to [callee]; [details] are the INVOCATION details every chunk of a progressive call repeats
     * (all but the forwarded `timeout`, which only the first carries).
     */
    private class PendingCall(
        val caller: RouterSession,
        val request: Long,
        val callee: RouterSession,
        val invocation: Long,
        val receiveProgress: Boolean,
        val registration: Long,
        val details: Map<String, Any?>,
    ) {
        /** True while the caller still sends chunks (progressive call invocations): its last CALL has not come. */
        var streaming: Boolean = false
    }

    /** A call as its caller names it. */
    private data class CallKey(val caller: RouterSession, val request: Long)

    /** Progressive calls whose caller is still sending chunks. */
    private val streams = HashMap<CallKey, PendingCall>()

    /**
     * Progressive calls that ended (answered, cancelled, timed out, refused) before their last chunk: chunks still on
     * their way are dropped instead of starting new calls. Bounded: request ids do not recur soon.
     */
    private val endedStreams = object : LinkedHashMap<CallKey, Unit>() {
        override fun removeEldestEntry(eldest: MutableMap.MutableEntry<CallKey, Unit>?): Boolean = size > ENDED_STREAMS
    }

    val sessionCount: Int get() = synchronized(lock) { sessions.size }

    fun sessions(): List<RouterSession> = synchronized(lock) { sessions.values.toList() }

    fun join(s: RouterSession) = synchronized(lock) { sessions[s.id] = s }

    fun leave(s: RouterSession) = synchronized(lock) {
        if (sessions.remove(s.id) == null) return
        registrations.values.forEach { reg -> reg.callees.removeIf { it.session === s } }
        registrations.values.removeIf { it.callees.isEmpty() }
        subscriptions.values.forEach { it.subscribers.remove(s) }
        subscriptions.values.removeIf { it.subscribers.isEmpty() }
        val iter = calls.entries.iterator()
        while (iter.hasNext()) {
            val (_, c) = iter.next()
            if (c.callee === s) {
                val canceled = listOf("callee left")
                c.caller.send(ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), "wamp.error.canceled", canceled))
                stopStreaming(c)
                iter.remove()
            } else if (c.caller === s) {
                // A callee waiting for more chunks would wait forever: the spec interrupts it (killnowait).
                if (c.streaming) {
                    val options = mapOf("reason" to "wamp.error.canceled", "mode" to "killnowait")
                    c.callee.send(Interrupt(c.invocation, options))
                }
                stopStreaming(c)
                iter.remove()
            }
        }
        endedStreams.keys.removeIf { it.caller === s }
        Unit
    }

    /** The caller of [c] sends no more chunks that matter: later ones are dropped. */
    private fun stopStreaming(c: PendingCall) {
        if (!c.streaming) return
        c.streaming = false
        val key = CallKey(c.caller, c.request)
        streams.remove(key)
        endedStreams[key] = Unit
    }

    /** Handles one message from [s]; false when the session is over. */
    fun handle(s: RouterSession, m: Message): Boolean {
        when (m) {
            is Goodbye -> {
                s.goodbye()
                return false
            }

            is Call -> if (!call(s, m)) return false

            is Yield -> yieldResult(s, m)

            is ErrorMessage -> if (m.requestType == MessageCodes.INVOCATION) invocationError(s, m)

            is Cancel -> cancel(s, m)

            is Register -> register(s, m)

            is Unregister -> unregister(s, m)

            is Publish -> publish(s, m)

            is Subscribe -> subscribe(s, m)

            is Unsubscribe -> unsubscribe(s, m)

            else -> {
                val message = "unexpected ${MessageCodes.nameOf(m.code)}"
                s.send(Abort(mapOf("message" to message), "wamp.error.protocol_violation"))
                return false
            }
        }
        return true
    }

    private fun error(s: RouterSession, type: Int, request: Long, uri: String, vararg args: Any?) =
        s.send(ErrorMessage(type, request, emptyMap(), uri, args.toList()))

    private fun register(s: RouterSession, m: Register) = synchronized(lock) {
        val match = m.options["match"] as? String ?: "exact"
        if (match !in MATCHES) {
            return error(
                s,
                MessageCodes.REGISTER,
                m.request,
                "wamp.error.invalid_argument",
                "unknown match policy $match",
            )
        }
        val invoke = m.options["invoke"] as? String ?: "single"
        if (invoke !in INVOKE_POLICIES) {
            return error(
                s,
                MessageCodes.REGISTER,
                m.request,
                "wamp.error.invalid_argument",
                "unknown invocation policy $invoke",
            )
        }
        if (m.procedure.startsWith("wamp.") && match == "exact") {
            return error(s, MessageCodes.REGISTER, m.request, "wamp.error.procedure_already_exists")
        }
        val callee = Callee(s, m.options["disclose_caller"] == true, m.options["forward_timeout"] == true)
        val existing = registrations.values.firstOrNull { it.procedure == m.procedure && it.match == match }
        if (existing != null) {
            // Shared registration: every callee must ask for the same policy, and single admits only one.
            if (invoke == "single" || existing.invoke != invoke) {
                return error(
                    s,
                    MessageCodes.REGISTER,
                    m.request,
                    "wamp.error.procedure_already_exists",
                    "${m.procedure} is registered with invoke ${existing.invoke}",
                )
            }
            // One session is one callee: its client keeps one handler per registration id.
            if (existing.callees.any { it.session === s }) {
                return error(s, MessageCodes.REGISTER, m.request, "wamp.error.procedure_already_exists")
            }
            existing.callees += callee
            return s.send(Registered(m.request, existing.id))
        }
        val id = ids.incrementAndGet()
        registrations[id] = Registration(id, m.procedure, match, invoke).also { it.callees += callee }
        s.send(Registered(m.request, id))
    }

    private fun unregister(s: RouterSession, m: Unregister) = synchronized(lock) {
        val reg = registrations[m.registration]
        if (reg == null || !reg.callees.removeIf { it.session === s }) {
            return error(s, MessageCodes.UNREGISTER, m.request, "wamp.error.no_such_registration")
        }
        if (reg.callees.isEmpty()) registrations.remove(reg.id)
        s.send(Unregistered(m.request))
    }

    /** The callee of [reg] a call goes to, by its invocation policy. */
    private fun pickCallee(reg: Registration): Callee = when (reg.invoke) {
        "roundrobin" -> {
            // Modulo again: a callee may have left since the last call.
            val i = reg.nextRoundRobin % reg.callees.size
            reg.nextRoundRobin = (i + 1) % reg.callees.size
            reg.callees[i]
        }

        "random" -> reg.callees[random.nextInt(reg.callees.size)]

        "last" -> reg.callees.last()

        else -> reg.callees.first() // single, first
    }

    /** Routes a CALL, or one chunk of a progressive call; false when it ends the caller's session (ABORT). */
    private fun call(s: RouterSession, m: Call): Boolean = synchronized(lock) {
        val key = CallKey(s, m.request)
        val progress = m.options["progress"] == true
        // A later chunk of a progressive call: the callee of the first, with the first's details.
        streams[key]?.let { c ->
            if (!progress) {
                c.streaming = false
                streams.remove(key)
            }
            val details = if (progress) c.details + ("progress" to true) else c.details
            c.callee.send(InvocationMessage(c.invocation, c.registration, details, m.args, m.kwargs))
            return true
        }
        if (endedStreams.containsKey(key)) {
            if (!progress) endedStreams.remove(key) // the caller's last chunk: nothing more will come
            return true
        }
        if (progress && !s.announces("caller", "progressive_call_invocations")) {
            // As nexus and the spec: a protocol error, not an application error.
            val message = "progressive CALL from a caller that did not announce progressive_call_invocations"
            s.send(Abort(mapOf("message" to message), "wamp.error.protocol_violation"))
            return false
        }
        if (m.procedure.startsWith("wamp.")) {
            if (progress) {
                refuse(s, key, "wamp.error.feature_not_supported", "meta procedures take no progressive calls")
            } else {
                meta(s, m)
            }
            return true
        }
        val reg = matchRegistration(m.procedure)
        if (reg == null) {
            if (progress) {
                refuse(s, key, "wamp.error.no_such_procedure", "no procedure ${m.procedure}")
            } else {
                error(s, MessageCodes.CALL, m.request, "wamp.error.no_such_procedure", "no procedure ${m.procedure}")
            }
            return true
        }
        val callee = pickCallee(reg)
        // A callee must announce the feature and call canceling, or it could never be told the caller gave up.
        val calleeTakesProgress = callee.session.announces("callee", "progressive_call_invocations") &&
            callee.session.announces("callee", "call_canceling")
        if (progress && !calleeTakesProgress) {
            refuse(
                s,
                key,
                "wamp.error.feature_not_supported",
                "the callee of ${m.procedure} does not accept progressive call invocations",
            )
            return true
        }
        val invocation = ids.incrementAndGet()
        val receiveProgress = m.options["receive_progress"] == true
        val details = LinkedHashMap<String, Any?>()
        if (reg.match != "exact") details["procedure"] = m.procedure
        if (receiveProgress) details["receive_progress"] = true
        if (m.options["disclose_me"] == true || callee.discloseCaller) {
            details["caller"] = s.id
            details["caller_authid"] = s.authId
            details["caller_authrole"] = s.authRole
        }
        val pendingCall = PendingCall(
            s,
            m.request,
            callee.session,
            invocation,
            receiveProgress,
            reg.id,
            details.toMap(),
        )
        calls[invocation] = pendingCall
        if (progress) {
            pendingCall.streaming = true
            streams[key] = pendingCall
        }
        val timeout = WampValues.asLong(m.options["timeout"]) ?: 0L
        // A callee that registered with forward_timeout and announced call_timeout enforces the timeout itself;
        // for any other the router times the call (as nexus).
        val forward = timeout > 0 && callee.forwardTimeout && callee.session.announces("callee", "call_timeout")
        if (forward) details["timeout"] = timeout
        if (progress) details["progress"] = true
        callee.session.send(InvocationMessage(invocation, reg.id, details, m.args, m.kwargs))
        if (timeout > 0 && !forward) router.after(timeout) { timeOut(invocation) }
        true
    }

    /** Answers the first chunk of a progressive call with an error; its later chunks are dropped. */
    private fun refuse(s: RouterSession, key: CallKey, uri: String, why: String) {
        endedStreams[key] = Unit
        error(s, MessageCodes.CALL, key.request, uri, why)
    }

    /** A call past its CALL `timeout`: the caller gets wamp.error.timeout, the callee an INTERRUPT. */
    private fun timeOut(invocation: Long) = synchronized(lock) {
        val c = calls.remove(invocation) ?: return@synchronized
        stopStreaming(c)
        c.caller.send(
            ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), "wamp.error.timeout", listOf("call timeout")),
        )
        c.callee.send(Interrupt(invocation, mapOf("reason" to "wamp.error.timeout", "mode" to "killnowait")))
    }

    /** The registration a call to [procedure] goes to: exact, else the longest prefix, else a wildcard. */
    private fun matchRegistration(procedure: String): Registration? =
        registrations.values.firstOrNull { it.match == "exact" && it.procedure == procedure }
            ?: registrations.values.filter { it.match == "prefix" && procedure.startsWith(it.procedure) }
                .maxByOrNull { it.procedure.length }
            ?: registrations.values.firstOrNull { it.match == "wildcard" && wildcard(it.procedure, procedure) }

    private fun topicMatches(sub: Subscription, topic: String): Boolean = when (sub.match) {
        "prefix" -> topic.startsWith(sub.topic)
        "wildcard" -> wildcard(sub.topic, topic)
        else -> sub.topic == topic
    }

    private fun yieldResult(s: RouterSession, m: Yield) = synchronized(lock) {
        val c = calls[m.request]
        if (c == null || c.callee !== s) return@synchronized // late: the call was canceled or the caller left
        val progress = m.options["progress"] == true
        // A progressive YIELD reaches only a caller that asked for progress; for any other it is dropped.
        if (progress && !c.receiveProgress) return@synchronized
        if (!progress) {
            calls.remove(m.request)
            stopStreaming(c) // answered before the caller's last chunk
        }
        val details = if (progress) mapOf("progress" to true) else emptyMap()
        c.caller.send(ResultMessage(c.request, details, m.args, m.kwargs))
    }

    private fun invocationError(s: RouterSession, m: ErrorMessage) = synchronized(lock) {
        val c = calls[m.request]
        if (c == null || c.callee !== s) return@synchronized
        calls.remove(m.request)
        stopStreaming(c)
        c.caller.send(ErrorMessage(MessageCodes.CALL, c.request, m.details, m.error, m.args, m.kwargs))
    }

    private fun cancel(s: RouterSession, m: Cancel) = synchronized(lock) {
        val entry =
            calls.entries.firstOrNull { it.value.caller === s && it.value.request == m.request } ?: return@synchronized
        val c = entry.value
        val mode = m.options["mode"] as? String ?: "killnowait"
        if (mode in CANCEL_MODES) stopStreaming(c) // whatever the mode, the call takes no more chunks
        when (mode) {
            "skip" -> {
                calls.remove(entry.key)
                s.send(ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), "wamp.error.canceled"))
            }

            "killnowait" -> {
                calls.remove(entry.key)
                s.send(ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), "wamp.error.canceled"))
                c.callee.send(Interrupt(c.invocation, mapOf("reason" to "wamp.error.canceled", "mode" to mode)))
            }

            "kill" -> c.callee.send(Interrupt(c.invocation, mapOf("reason" to "wamp.error.canceled", "mode" to mode)))

            else -> error(s, MessageCodes.CANCEL, m.request, "wamp.error.invalid_argument", "unknown cancel mode $mode")
        }
    }

    private fun subscribe(s: RouterSession, m: Subscribe) = synchronized(lock) {
        val match = m.options["match"] as? String ?: "exact"
        if (match !in MATCHES) {
            return error(
                s,
                MessageCodes.SUBSCRIBE,
                m.request,
                "wamp.error.invalid_argument",
                "unknown match policy $match",
            )
        }
        val sub = subscriptions.values.firstOrNull { it.topic == m.topic && it.match == match }
            ?: Subscription(ids.incrementAndGet(), m.topic, match, LinkedHashSet()).also { subscriptions[it.id] = it }
        sub.subscribers.add(s)
        s.send(Subscribed(m.request, sub.id))
    }

    private fun unsubscribe(s: RouterSession, m: Unsubscribe) = synchronized(lock) {
        val sub = subscriptions[m.subscription]
        if (sub == null || !sub.subscribers.remove(s)) {
            return error(s, MessageCodes.UNSUBSCRIBE, m.request, "wamp.error.no_such_subscription")
        }
        if (sub.subscribers.isEmpty()) subscriptions.remove(sub.id)
        s.send(Unsubscribed(m.request))
    }

    private fun publish(s: RouterSession, m: Publish) = synchronized(lock) {
        val publication = router.newSessionId()
        val o = m.options
        val excludeMe = o["exclude_me"] != false
        val exclude = (o["exclude"] as? List<*>)?.mapNotNull { WampValues.asLong(it) }?.toSet()
        val eligible = (o["eligible"] as? List<*>)?.mapNotNull { WampValues.asLong(it) }?.toSet()
        val excludeAuthId = (o["exclude_authid"] as? List<*>)?.toSet()
        val eligibleAuthId = (o["eligible_authid"] as? List<*>)?.toSet()
        val excludeRole = (o["exclude_authrole"] as? List<*>)?.toSet()
        val eligibleRole = (o["eligible_authrole"] as? List<*>)?.toSet()
        for (sub in subscriptions.values) {
            if (!topicMatches(sub, m.topic)) continue
            val details = LinkedHashMap<String, Any?>()
            if (sub.match != "exact") details["topic"] = m.topic
            if (o["disclose_me"] == true) {
                details["publisher"] =
                    s.id
                details["publisher_authid"] = s.authId
                details["publisher_authrole"] = s.authRole
            }
            for (target in sub.subscribers) {
                if (target === s && excludeMe) continue
                if (exclude != null && target.id in exclude) continue
                if (excludeAuthId != null && target.authId in excludeAuthId) continue
                if (excludeRole != null && target.authRole in excludeRole) continue
                if (eligible != null && target.id !in eligible) continue
                if (eligibleAuthId != null && target.authId !in eligibleAuthId) continue
                if (eligibleRole != null && target.authRole !in eligibleRole) continue
                target.send(EventMessage(sub.id, publication, details, m.args, m.kwargs))
            }
        }
        if (o["acknowledge"] == true) s.send(Published(m.request, publication))
    }

    private fun sessionInfo(t: RouterSession): Map<String, Any?> = mapOf(
        "session" to t.id,
        "authid" to t.authId,
        "authrole" to t.authRole,
        "authmethod" to t.authMethod,
        "authprovider" to "static",
    )

    /**
     * The meta API: wamp.session.count|list|get|kill|kill_by_authid|kill_by_authrole|kill_all,
     * wamp.registration.list|lookup|match|get|list_callees|count_callees,
     * wamp.subscription.list|lookup|match|get|list_subscribers|count_subscribers (and nexus's count_suscribers).
     * No meta events (on_join, on_create, ...) and no testaments.
     */
    private fun meta(s: RouterSession, m: Call) {
        fun result(vararg args: Any?) = s.send(ResultMessage(m.request, emptyMap(), args.toList()))
        when (m.procedure) {
            "wamp.session.count" -> result(sessions.size.toLong())

            "wamp.session.list" -> result(sessions.keys.toList())

            "wamp.session.get" -> {
                val target = WampValues.asLong(m.args.firstOrNull())?.let { sessions[it] }
                    ?: return error(s, MessageCodes.CALL, m.request, "wamp.error.no_such_session")
                result(sessionInfo(target))
            }

            "wamp.session.kill" -> {
                val target = WampValues.asLong(m.args.firstOrNull())?.let { sessions[it] }
                    ?: return error(s, MessageCodes.CALL, m.request, "wamp.error.no_such_session")
                if (target === s) {
                    return error(
                        s,
                        MessageCodes.CALL,
                        m.request,
                        "wamp.error.no_such_session",
                        "cannot kill the caller",
                    )
                }
                target.send(Goodbye(mapOf("message" to "killed"), "wamp.close.killed"))
                result()
            }

            "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole", "wamp.session.kill_all" -> {
                val targets = when (m.procedure) {
                    "wamp.session.kill_by_authid" -> sessions.values.filter { it.authId == m.args.firstOrNull() }
                    "wamp.session.kill_by_authrole" -> sessions.values.filter { it.authRole == m.args.firstOrNull() }
                    else -> sessions.values.toList()
                }.filter { it !== s }
                val reason = m.kwargs["reason"] as? String ?: "wamp.close.killed"
                val message = m.kwargs["message"] as? String ?: "killed"
                for (t in targets) t.send(Goodbye(mapOf("message" to message), reason))
                // As the WAMP meta API: kill_by_authid answers the ids, the others the count.
                if (m.procedure == "wamp.session.kill_by_authid") {
                    result(targets.map { it.id })
                } else {
                    result(targets.size.toLong())
                }
            }

            "wamp.registration.list" -> result(
                MATCHES.associateWith { match -> registrations.values.filter { it.match == match }.map { it.id } },
            )

            "wamp.registration.lookup" -> {
                val match = (m.args.getOrNull(1) as? Map<*, *>)?.get("match") as? String ?: "exact"
                val procedure = m.args.firstOrNull()
                result(registrations.values.firstOrNull { it.procedure == procedure && it.match == match }?.id)
            }

            "wamp.registration.match" -> result((m.args.firstOrNull() as? String)?.let { matchRegistration(it) }?.id)

            "wamp.registration.get" -> {
                val reg = WampValues.asLong(m.args.firstOrNull())?.let { registrations[it] }
                    ?: return error(s, MessageCodes.CALL, m.request, "wamp.error.no_such_registration")
                result(mapOf("id" to reg.id, "uri" to reg.procedure, "match" to reg.match, "invoke" to reg.invoke))
            }

            "wamp.registration.list_callees", "wamp.registration.count_callees" -> {
                val reg = WampValues.asLong(m.args.firstOrNull())?.let { registrations[it] }
                    ?: return error(s, MessageCodes.CALL, m.request, "wamp.error.no_such_registration")
                if (m.procedure.endsWith("list_callees")) {
                    result(reg.callees.map { it.session.id })
                } else {
                    result(reg.callees.size.toLong())
                }
            }

            "wamp.subscription.list" -> result(
                MATCHES.associateWith { match -> subscriptions.values.filter { it.match == match }.map { it.id } },
            )

            "wamp.subscription.lookup" -> {
                val match = (m.args.getOrNull(1) as? Map<*, *>)?.get("match") as? String ?: "exact"
                result(subscriptions.values.firstOrNull { it.topic == m.args.firstOrNull() && it.match == match }?.id)
            }

            "wamp.subscription.match" -> {
                val topic = m.args.firstOrNull() as? String
                val ids =
                    if (topic == null) {
                        emptyList()
                    } else {
                        subscriptions.values.filter { topicMatches(it, topic) }.map { it.id }
                    }
                result(ids.ifEmpty { null })
            }

            "wamp.subscription.get" -> {
                val sub = WampValues.asLong(m.args.firstOrNull())?.let { subscriptions[it] }
                    ?: return error(s, MessageCodes.CALL, m.request, "wamp.error.no_such_subscription")
                result(mapOf("id" to sub.id, "uri" to sub.topic, "match" to sub.match))
            }

            // nexus registers the misspelt count_suscribers as well: accept both.
            "wamp.subscription.list_subscribers",
            "wamp.subscription.count_subscribers",
            "wamp.subscription.count_suscribers",
            -> {
                val sub = WampValues.asLong(m.args.firstOrNull())?.let { subscriptions[it] }
                    ?: return error(s, MessageCodes.CALL, m.request, "wamp.error.no_such_subscription")
                if (m.procedure.endsWith("list_subscribers")) {
                    result(sub.subscribers.map { it.id })
                } else {
                    result(sub.subscribers.size.toLong())
                }
            }

            else -> error(
                s,
                MessageCodes.CALL,
                m.request,
                "wamp.error.no_such_procedure",
                "no procedure ${m.procedure}",
            )
        }
    }

    /** Sends GOODBYE to every session of the realm (router shutdown). */
    fun shutdown() = synchronized(lock) {
        for (s in sessions.values) s.send(Goodbye(emptyMap(), "wamp.close.system_shutdown"))
    }

    private companion object {
        val MATCHES = setOf("exact", "prefix", "wildcard")
        val CANCEL_MODES = setOf("skip", "kill", "killnowait")
        const val ENDED_STREAMS = 1024
        val INVOKE_POLICIES = setOf("single", "roundrobin", "random", "first", "last")
        val random = java.util.Random()

        // Wildcard URIs have empty components that match any single component.
        fun wildcard(pattern: String, uri: String): Boolean {
            val p = pattern.split('.')
            val u = uri.split('.')
            return p.size == u.size && p.indices.all { p[it].isEmpty() || p[it] == u[it] }
        }
    }
}
