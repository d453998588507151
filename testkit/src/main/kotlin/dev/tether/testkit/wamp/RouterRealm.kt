package dev.tether.testkit.wamp

import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PayloadPassthru
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
    internal val sessions = LinkedHashMap<Long, RouterSession>()
    internal val registrations = LinkedHashMap<Long, Registration>()
    internal val subscriptions = LinkedHashMap<Long, Subscription>()
    private val calls = HashMap<Long, PendingCall>()
    private val ids = AtomicLong()
    private val history = RouterEventHistory(router.config.eventHistory.filter { it.realm == null || it.realm == name })

    /** One REGISTER of a (possibly shared) registration, with the options that callee asked for. */
    class Callee(val session: RouterSession, val discloseCaller: Boolean, val forwardTimeout: Boolean)

    /** A registration and its callees in registration order; [invoke] is the shared-registration policy. */
    class Registration(val id: Long, val procedure: String, val match: String, val invoke: String) {
        val callees = ArrayList<Callee>()
        var nextRoundRobin = 0
    }
    class Subscription(
        val id: Long,
        val topic: String,
        val match: String,
        val subscribers: LinkedHashSet<RouterSession>,
    )

    /**
     * A call routed to [callee]; [details] are the INVOCATION details every chunk of a progressive call repeats
     * (all but the forwarded `timeout`, which only the first carries, and the payload passthru options, which each
     * chunk brings with it).
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

    /** The meta API and testaments of this realm; events are published from the hooks below. */
    private val metaApi = RouterMeta(this, router.config.metaApi)

    fun join(s: RouterSession) = synchronized(lock) {
        sessions[s.id] = s
        metaApi.joined(s)
    }

    fun leave(s: RouterSession) = synchronized(lock) {
        if (sessions.remove(s.id) == null) return
        for (reg in registrations.values.toList()) {
            if (!reg.callees.removeIf { it.session === s }) continue
            if (reg.callees.isEmpty()) registrations.remove(reg.id)
            metaApi.unregistered(s, reg, reg.callees.isEmpty())
        }
        for (sub in subscriptions.values.toList()) {
            if (!sub.subscribers.remove(s)) continue
            if (sub.subscribers.isEmpty()) subscriptions.remove(sub.id)
            metaApi.unsubscribed(s, sub, sub.subscribers.isEmpty())
        }
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
        metaApi.left(s) // testaments, then on_leave
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

            is Yield -> if (!yieldResult(s, m)) return false

            is ErrorMessage -> if (m.requestType == MessageCodes.INVOCATION && !invocationError(s, m)) return false

            is Cancel -> cancel(s, m)

            is Register -> register(s, m)

            is Unregister -> unregister(s, m)

            is Publish -> if (!publish(s, m)) return false

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
            s.send(Registered(m.request, existing.id))
            return metaApi.registered(s, existing, created = false)
        }
        val id = ids.incrementAndGet()
        val reg = Registration(id, m.procedure, match, invoke).also { it.callees += callee }
        registrations[id] = reg
        s.send(Registered(m.request, id))
        metaApi.registered(s, reg, created = true)
    }

    private fun unregister(s: RouterSession, m: Unregister) = synchronized(lock) {
        val reg = registrations[m.registration]
        if (reg == null || !reg.callees.removeIf { it.session === s }) {
            return error(s, MessageCodes.UNREGISTER, m.request, "wamp.error.no_such_registration")
        }
        if (reg.callees.isEmpty()) registrations.remove(reg.id)
        s.send(Unregistered(m.request))
        metaApi.unregistered(s, reg, reg.callees.isEmpty())
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
        // A later chunk of a progressive call: the callee of the first, with the first's details and its own ppt_*.
        streams[key]?.let { c ->
            if (!passthruAnnounced(s, "caller", m.options)) return false
            if (m.options.containsKey(PayloadPassthru.SCHEME) && !c.callee.announces("callee", PAYLOAD_PASSTHRU)) {
                // As for a first chunk: the caller gets feature_not_supported; the callee, invoked already, stops.
                calls.remove(c.invocation)
                endCall(c, "wamp.error.feature_not_supported", "the callee does not support payload passthru mode")
                if (!progress) endedStreams.remove(key) // the caller's last chunk: nothing more will come
                return true
            }
            if (!progress) {
                c.streaming = false
                streams.remove(key)
            }
            val details = LinkedHashMap<String, Any?>()
            copyPassthru(m.options, details)
            details.putAll(c.details)
            if (progress) details["progress"] = true
            c.callee.send(InvocationMessage(c.invocation, c.registration, details, m.args, m.kwargs))
            return true
        }
        if (endedStreams.containsKey(key)) {
            if (!progress) endedStreams.remove(key) // the caller's last chunk: nothing more will come
            return true
        }
        if (!passthruAnnounced(s, "caller", m.options)) return false
        if (progress && !s.announces("caller", "progressive_call_invocations")) {
            // As nexus and the spec: a protocol error, not an application error.
            val message = "progressive CALL from a caller that did not announce progressive_call_invocations"
            s.send(Abort(mapOf("message" to message), "wamp.error.protocol_violation"))
            return false
        }
        if (m.procedure == EVENT_HISTORY && !progress) {
            eventHistory(s, m)
            return true
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
        if (m.options.containsKey(PayloadPassthru.SCHEME) &&
            !callee.session.announces("callee", PAYLOAD_PASSTHRU)
        ) {
            // As the spec: an application error for the caller; the callee is never bothered.
            val why = "the callee of ${m.procedure} does not support payload passthru mode"
            if (progress) {
                refuse(s, key, "wamp.error.feature_not_supported", why)
            } else {
                error(s, MessageCodes.CALL, m.request, "wamp.error.feature_not_supported", why)
            }
            return true
        }
        val invocation = ids.incrementAndGet()
        // As nexus: progress requests go only to a callee that announced progressive results and call canceling.
        val receiveProgress = m.options["receive_progress"] == true && callee.session.cancels() &&
            callee.session.announces("callee", "progressive_call_results")
        // What every chunk's INVOCATION repeats; the passthru options are each chunk's own.
        val shared = LinkedHashMap<String, Any?>()
        if (reg.match != "exact") shared["procedure"] = m.procedure
        if (receiveProgress) shared["receive_progress"] = true
        if (m.options["disclose_me"] == true || callee.discloseCaller) {
            shared["caller"] = s.id
            shared["caller_authid"] = s.authId
            shared["caller_authrole"] = s.authRole
        }
        val pendingCall = PendingCall(
            s,
            m.request,
            callee.session,
            invocation,
            receiveProgress,
            reg.id,
            shared.toMap(),
        )
        val details = LinkedHashMap<String, Any?>()
        copyPassthru(m.options, details)
        details.putAll(shared)
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
        endCall(c, "wamp.error.timeout", "call timeout")
    }

    /**
     * Ends call [c], already removed from [calls], for a reason of the router's: the caller gets [error] with
     * [why], a callee that announced call canceling an INTERRUPT (killnowait); later chunks are dropped.
     */
    private fun endCall(c: PendingCall, error: String, why: String) {
        stopStreaming(c)
        c.caller.send(ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), error, listOf(why)))
        if (c.callee.cancels()) {
            c.callee.send(Interrupt(c.invocation, mapOf("reason" to error, "mode" to "killnowait")))
        }
    }

    /** The registration a call to [procedure] goes to: exact, else the longest prefix, else a wildcard. */
    fun matchRegistration(procedure: String): Registration? =
        registrations.values.firstOrNull { it.match == "exact" && it.procedure == procedure }
            ?: registrations.values.filter { it.match == "prefix" && procedure.startsWith(it.procedure) }
                .maxByOrNull { it.procedure.length }
            ?: registrations.values.firstOrNull { it.match == "wildcard" && wildcard(it.procedure, procedure) }

    fun topicMatches(sub: Subscription, topic: String): Boolean = topicMatches(sub.topic, sub.match, topic)

    private fun topicMatches(pattern: String, match: String, topic: String): Boolean = when (match) {
        "prefix" -> topic.startsWith(pattern)
        "wildcard" -> wildcard(pattern, topic)
        else -> pattern == topic
    }

    /** Routes a YIELD; false when it ends the callee's session (passthru options it did not announce). */
    private fun yieldResult(s: RouterSession, m: Yield): Boolean = synchronized(lock) {
        if (!passthruAnnounced(s, "callee", m.options)) return false
        val c = calls[m.request]
        if (c == null || c.callee !== s) return true // late: the call was canceled or the caller left
        val progress = m.options["progress"] == true
        // A progressive YIELD reaches only a caller that asked for progress; for any other it is dropped.
        if (progress && !c.receiveProgress) return true
        if (!progress) {
            calls.remove(m.request)
            stopStreaming(c) // answered before the caller's last chunk
        }
        val details = LinkedHashMap<String, Any?>()
        if (progress) details["progress"] = true
        copyPassthru(m.options, details)
        c.caller.send(ResultMessage(c.request, details, m.args, m.kwargs))
        true
    }

    /** Routes a callee's ERROR, its details (`ppt_*` included) as they came; false as for [yieldResult]. */
    private fun invocationError(s: RouterSession, m: ErrorMessage): Boolean = synchronized(lock) {
        if (!passthruAnnounced(s, "callee", m.details)) return false
        val c = calls[m.request]
        if (c == null || c.callee !== s) return true
        calls.remove(m.request)
        stopStreaming(c)
        c.caller.send(ErrorMessage(MessageCodes.CALL, c.request, m.details, m.error, m.args, m.kwargs))
        true
    }

    /**
     * Payload passthru options (`ppt_*`) from a peer that did not announce `payload_passthru_mode` for [role]: a
     * protocol violation, answered as nexus does with ABORT `wamp.error.protocol_violation`. False when it did so.
     */
    private fun passthruAnnounced(s: RouterSession, role: String, options: Map<String, Any?>): Boolean {
        if (!options.containsKey(PayloadPassthru.SCHEME) || s.announces(role, PAYLOAD_PASSTHRU)) return true
        val message = "$role sent payload passthru options without announcing $PAYLOAD_PASSTHRU"
        s.send(Abort(mapOf("message" to message), "wamp.error.protocol_violation"))
        return false
    }

    /** `wamp.subscription.get_events`: the kept events of a subscription's topic and policy, in nexus's shape. */
    private fun eventHistory(s: RouterSession, m: Call) {
        val subId = WampValues.asLong(m.args.firstOrNull())
            ?: return error(s, MessageCodes.CALL, m.request, "wamp.error.invalid_argument", "no subscription id")
        val limitValue = m.kwargs["limit"] ?: m.args.getOrNull(1)
        val limit = limitValue?.let { WampValues.asLong(it) }
        if (limitValue != null && (limit == null || limit < 1)) {
            return error(s, MessageCodes.CALL, m.request, "wamp.error.invalid_argument", "limit must be positive")
        }
        val answer = synchronized(lock) {
            // As nexus: a subscription that is unknown or has no history answers with no events.
            val sub = subscriptions[subId]
            val match = MatchPolicy.entries.firstOrNull { it.wire == sub?.match } ?: MatchPolicy.EXACT
            val (events, full) = if (sub == null) {
                emptyList<RouterEventHistory.Stored>() to false
            } else {
                history.events(sub.topic, match, limit?.coerceAtMost(Int.MAX_VALUE.toLong())?.toInt())
            }
            ResultMessage(m.request, emptyMap(), history.toNexusShape(subId, events), mapOf("is_limit_reached" to full))
        }
        s.send(answer)
    }

    private fun cancel(s: RouterSession, m: Cancel) = synchronized(lock) {
        val entry =
            calls.entries.firstOrNull { it.value.caller === s && it.value.request == m.request } ?: return@synchronized
        val c = entry.value
        val asked = m.options["mode"] as? String ?: "killnowait"
        if (asked in CANCEL_MODES) stopStreaming(c) // whatever the mode, the call takes no more chunks
        // The spec: a callee that did not announce call_canceling cannot be interrupted, so every mode is skip.
        val mode = if (asked in CANCEL_MODES && !c.callee.cancels()) "skip" else asked
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
        val existing = subscriptions.values.firstOrNull { it.topic == m.topic && it.match == match }
        val sub = existing
            ?: Subscription(ids.incrementAndGet(), m.topic, match, LinkedHashSet()).also { subscriptions[it.id] = it }
        val added = sub.subscribers.add(s)
        s.send(Subscribed(m.request, sub.id))
        if (added) metaApi.subscribed(s, sub, created = existing == null)
    }

    private fun unsubscribe(s: RouterSession, m: Unsubscribe) = synchronized(lock) {
        val sub = subscriptions[m.subscription]
        if (sub == null || !sub.subscribers.remove(s)) {
            return error(s, MessageCodes.UNSUBSCRIBE, m.request, "wamp.error.no_such_subscription")
        }
        if (sub.subscribers.isEmpty()) subscriptions.remove(sub.id)
        s.send(Unsubscribed(m.request))
        metaApi.unsubscribed(s, sub, sub.subscribers.isEmpty())
    }

    /** Routes a PUBLISH of [s] (also the router's own publications: meta events and testaments, see [RouterMeta]). */
    fun publish(s: RouterSession, m: Publish): Boolean = synchronized(lock) {
        // A publisher's payload passthru options must have been announced (else ABORT, and false).
        if (!passthruAnnounced(s, "publisher", m.options)) return false
        val publication = router.newSessionId()
        val o = m.options
        val passthru = o.containsKey(PayloadPassthru.SCHEME)
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
            copyPassthru(o, details)
            if (o["disclose_me"] == true) {
                details["publisher"] =
                    s.id
                details["publisher_authid"] = s.authId
                details["publisher_authrole"] = s.authRole
            }
            for (target in sub.subscribers) {
                if (target === s && excludeMe) continue
                // A subscriber that cannot take a passthru payload does not get it (it could not read it).
                if (passthru && !target.announces("subscriber", PAYLOAD_PASSTHRU)) continue
                if (exclude != null && target.id in exclude) continue
                if (excludeAuthId != null && target.authId in excludeAuthId) continue
                if (excludeRole != null && target.authRole in excludeRole) continue
                if (eligible != null && target.id !in eligible) continue
                if (eligibleAuthId != null && target.authId !in eligibleAuthId) continue
                if (eligibleRole != null && target.authRole !in eligibleRole) continue
                target.send(EventMessage(sub.id, publication, details, m.args, m.kwargs))
            }
        }
        // As nexus: a publication restricted by session id is not kept, since a later reader's id cannot be checked.
        if (exclude == null && eligible == null) {
            history.record(
                m.topic,
                publication,
                m.args,
                m.kwargs,
                matches = { h -> topicMatches(h.topic, h.match.wire, m.topic) },
            ) { match ->
                val details = LinkedHashMap<String, Any?>()
                if (match != MatchPolicy.EXACT) details["topic"] = m.topic
                copyPassthru(o, details)
                details
            }
        }
        if (o["acknowledge"] == true) s.send(Published(m.request, publication))
        true
    }

    /** Copies the payload passthru options (`ppt_*`) unchanged into forwarded [details]; never reads the payload. */
    private fun copyPassthru(options: Map<String, Any?>, details: MutableMap<String, Any?>) {
        for (key in PASSTHRU_KEYS) options[key]?.let { details[key] = it }
    }

    /** A CALL to a `wamp.` procedure: the meta API answers it ([RouterMeta]), else there is no such procedure. */
    private fun meta(s: RouterSession, m: Call) {
        if (metaApi.call(s, m)) return
        error(s, MessageCodes.CALL, m.request, "wamp.error.no_such_procedure", "no procedure ${m.procedure}")
    }

    /** Sends GOODBYE to every session of the realm (router shutdown). */
    fun shutdown() = synchronized(lock) {
        for (s in sessions.values) s.sayGoodbye(Goodbye(emptyMap(), "wamp.close.system_shutdown"))
    }

    private companion object {
        val MATCHES = setOf("exact", "prefix", "wildcard")
        val CANCEL_MODES = setOf("skip", "kill", "killnowait")
        const val ENDED_STREAMS = 1024
        val INVOKE_POLICIES = setOf("single", "roundrobin", "random", "first", "last")
        const val PAYLOAD_PASSTHRU = "payload_passthru_mode"
        const val EVENT_HISTORY = "wamp.subscription.get_events"
        val PASSTHRU_KEYS = listOf(
            PayloadPassthru.SCHEME,
            PayloadPassthru.SERIALIZER,
            PayloadPassthru.CIPHER,
            PayloadPassthru.KEY_ID,
        )
        val random = java.util.Random()

        // Wildcard URIs have empty components that match any single component.
        fun wildcard(pattern: String, uri: String): Boolean {
            val p = pattern.split('.')
            val u = uri.split('.')
            return p.size == u.size && p.indices.all { p[it].isEmpty() || p[it] == u[it] }
        }
    }
}
