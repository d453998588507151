package dev.tether.conformance.wamp

import dev.tether.conformance.External
import dev.tether.wamp.CallChunk
import dev.tether.wamp.CallOptions
import dev.tether.wamp.CallResult
import dev.tether.wamp.CancelMode
import dev.tether.wamp.Event
import dev.tether.wamp.InvokePolicy
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.Roles
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.Interrupt
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Yield
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.asFlow
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import java.time.Duration
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * WAMP conformance, the advanced profile, over a [RouterSubject] with the typed options: cancel modes, router-side
 * and forwarded call timeouts, progressive call results and invocations, pattern-based registrations and
 * subscriptions, shared registrations, caller and publisher disclosure, publisher exclusion and subscriber black-
 * and whitelists. Each case runs on every transport of the subject, and on every serializer where the feature puts
 * something of its own on the wire (session ids, chunks). [WireTap] shows what went over the wire where the API
 * shows only the outcome. Against an external router a case whose feature the WELCOME does not announce is skipped
 * with that reason.
 */
class WampAdvancedConformanceSpec : FunSpec({
    val subject = RouterSubject.open()
    afterSpec { subject.close() }

    /** Skips the case with the reason when the router lacks a feature or refuses [ser] at [url]. */
    fun needs(vararg features: Pair<String, String>, url: String? = null, ser: Serialization? = null) =
        External.skipIf {
            (if (url != null && ser != null) subject.refusal(url, ser) else null)
                ?: features.firstNotNullOfOrNull { (role, feature) -> subject.lacksFeature(role, feature) }
        }

    suspend fun join(url: String, ser: Serialization = subject.preferred): WampSession =
        WampSession.connect(url, subject.config { serialization(subject.serializationFor(url, ser)) })

    suspend fun tapped(url: String, ser: Serialization = subject.preferred): Pair<WampSession, WireTap> =
        WireTap.connect(url, subject.config { serialization(subject.serializationFor(url, ser)) })

    /** A unique URI part per case: cases share one router (and, externally, one realm with other users). */
    fun unique(session: WampSession) = "${session.id}x${System.nanoTime()}"

    // ---------------------------------------------------------------- cancel modes

    val callCanceling = "dealer" to "call_canceling"
    for ((transport, url) in subject.urls) {
        for (mode in CancelMode.entries) {
            test(
                "$transport: cancel mode ${mode.wire}: " + when (mode) {
                    CancelMode.SKIP ->
                        "the caller gets wamp.error.canceled at once, the callee no INTERRUPT, " +
                            "its late YIELD is dropped"

                    CancelMode.KILL_NO_WAIT ->
                        "the caller gets wamp.error.canceled at once, the callee an " +
                            "INTERRUPT and it answers wamp.error.canceled"

                    CancelMode.KILL ->
                        "the callee gets an INTERRUPT; the caller's answer waits for the callee's " +
                            "wamp.error.canceled"
                },
            ).config(enabledOrReasonIf = needs(callCanceling)) {
                withTimeout(20.seconds) {
                    val (callee, calleeWire) = tapped(url)
                    val (caller, callerWire) = tapped(url)
                    val proc = "conf.cancel.${unique(callee)}"
                    val started = CompletableDeferred<Unit>()
                    val release = CompletableDeferred<Unit>()
                    val interrupted = CompletableDeferred<Unit>()
                    callee.register(proc) {
                        started.complete(Unit)
                        try {
                            release.await()
                            InvokeResult.of("finished")
                        } catch (e: CancellationException) {
                            interrupted.complete(Unit)
                            // Holds the callee's answer to the INTERRUPT until the case releases it.
                            withContext(NonCancellable) { release.await() }
                            throw e
                        }
                    }
                    callee.register("$proc.echo") { inv -> InvokeResult(inv.args) }
                    try {
                        val call = async { caller.call(proc, options = CallOptions { cancelMode(mode) }) }
                        started.await()
                        val callId = callerWire.sent<Call> { it.procedure == proc }.single().request
                        val invocationId = calleeWire.received<InvocationMessage>().single().request
                        call.cancel()
                        callerWire.awaitSent<Cancel> { it.request == callId }.options["mode"] shouldBe mode.wire
                        when (mode) {
                            CancelMode.SKIP, CancelMode.KILL_NO_WAIT -> {
                                // Answered while the callee's handler still holds: the router did not wait for it.
                                val answer = callerWire.awaitReceived<ErrorMessage> { it.request == callId }
                                answer.error shouldBe "wamp.error.canceled"
                                calleeWire.sent<ErrorMessage> { it.request == invocationId }.shouldBeEmpty()
                                call.join()
                            }

                            CancelMode.KILL -> {
                                calleeWire.awaitReceived<Interrupt> { it.request == invocationId }
                                interrupted.await()
                                // The callee has not answered yet (it is held), so the router cannot have answered.
                                callerWire.received<ErrorMessage> { it.request == callId }.shouldBeEmpty()
                                call.isCompleted shouldBe false
                            }
                        }
                        if (mode == CancelMode.SKIP) {
                            // An INTERRUPT sent with the ERROR would reach the callee before the answer to its CALL.
                            callee.call("$proc.echo", listOf(1)).args shouldBe listOf(1L)
                            calleeWire.received<Interrupt>().shouldBeEmpty()
                            interrupted.isCompleted shouldBe false
                            release.complete(Unit)
                            calleeWire.awaitSent<Yield> { it.request == invocationId }.args shouldBe listOf("finished")
                            // The late YIELD is dropped: a later call's RESULT comes, none for the cancelled call.
                            caller.call("$proc.echo", listOf(2)).args shouldBe listOf(2L)
                            callerWire.received<ResultMessage> { it.request == callId }.shouldBeEmpty()
                        } else {
                            val interrupt = calleeWire.awaitReceived<Interrupt> { it.request == invocationId }
                            interrupt.options["mode"] shouldBe mode.wire
                            interrupted.await()
                            release.complete(Unit)
                            val answer = calleeWire.awaitSent<ErrorMessage> { it.request == invocationId }
                            answer.error shouldBe "wamp.error.canceled"
                            if (mode == CancelMode.KILL) {
                                // The router forwards the callee's answer as the caller's.
                                callerWire.awaitReceived<ErrorMessage> { it.request == callId }.error shouldBe
                                    "wamp.error.canceled"
                                call.join()
                            }
                        }
                        call.isCancelled shouldBe true
                        callerWire.received<ResultMessage> { it.request == callId }.shouldBeEmpty()
                        caller.call("$proc.echo", listOf(3)).args shouldBe listOf(3L)
                    } finally {
                        release.complete(Unit)
                        caller.leave()
                        callee.leave()
                    }
                }
            }
        }
    }

    /** HELLO roles of a client whose callee does not announce call_canceling (a stock autobahn-js callee). */
    val calleeFeatures = (Roles.CLIENT["callee"] as Map<*, *>)["features"] as Map<*, *>
    val rolesWithoutCanceling =
        Roles.CLIENT + ("callee" to mapOf("features" to calleeFeatures.filterKeys { it != "call_canceling" }))
    for (mode in listOf(CancelMode.KILL, CancelMode.KILL_NO_WAIT)) {
        test(
            "cancel mode ${mode.wire} to a callee that did not announce call_canceling is skip: the caller gets " +
                "wamp.error.canceled at once, the callee no INTERRUPT",
        ).config(enabledOrReasonIf = needs(callCanceling)) {
            withTimeout(20.seconds) {
                val url = subject.firstUrl
                val (callee, calleeWire) = WireTap.connect(
                    url,
                    subject.config { helloDetail("roles", rolesWithoutCanceling) },
                )
                val (caller, callerWire) = tapped(url)
                val proc = "conf.nocancel.${unique(callee)}"
                val started = CompletableDeferred<Unit>()
                val release = CompletableDeferred<Unit>()
                callee.register(proc) {
                    started.complete(Unit)
                    withContext(NonCancellable) { release.await() }
                    InvokeResult.of("late")
                }
                callee.register("$proc.echo") { inv -> InvokeResult(inv.args) }
                try {
                    val call = async { caller.call(proc, options = CallOptions { cancelMode(mode) }) }
                    started.await()
                    val callId = callerWire.sent<Call> { it.procedure == proc }.single().request
                    call.cancel()
                    val answer = withTimeoutOrNull(5.seconds) {
                        callerWire.awaitReceived<ErrorMessage> { it.request == callId }
                    }
                    withClue("no answer to CANCEL within 5 s: the router waits for a callee it cannot interrupt") {
                        answer?.error shouldBe "wamp.error.canceled"
                    }
                    callee.call("$proc.echo", listOf(1)).args shouldBe listOf(1L)
                    calleeWire.received<Interrupt>().shouldBeEmpty()
                } finally {
                    release.complete(Unit)
                    caller.leave()
                    callee.leave()
                }
            }
        }
    }

    test(
        "a callee that did not announce call_canceling gets no receive_progress (as nexus): the caller gets the " +
            "final result only",
    ).config(enabledOrReasonIf = needs("dealer" to "progressive_call_results")) {
        withTimeout(20.seconds) {
            val url = subject.firstUrl
            val callee = WampSession.connect(url, subject.config { helloDetail("roles", rolesWithoutCanceling) })
            val caller = join(url)
            val proc = "conf.noprogress.${unique(callee)}"
            callee.register(proc) { inv -> InvokeResult(listOf(inv.receiveProgress)) }
            val progress = CopyOnWriteArrayList<CallResult>()
            caller.callProgress(proc) { progress += it }.args shouldBe listOf(false)
            progress.shouldBeEmpty()
            caller.leave()
            callee.leave()
        }
    }

    // ---------------------------------------------------------------- call timeouts

    val callTimeout = "dealer" to "call_timeout"
    for ((transport, url) in subject.urls) {
        test(
            "$transport: CallOptions.timeout is timed by the router: the caller gets wamp.error.timeout, the callee " +
                "an INTERRUPT",
        ).config(enabledOrReasonIf = needs(callTimeout, callCanceling)) {
            withTimeout(20.seconds) {
                val (callee, calleeWire) = tapped(url)
                val caller = join(url)
                val proc = "conf.timeout.${unique(callee)}"
                val invoked = CompletableDeferred<dev.tether.wamp.Invocation>()
                val interrupted = CompletableDeferred<Unit>()
                callee.register(proc) { inv ->
                    invoked.complete(inv)
                    try {
                        awaitCancellation()
                    } finally {
                        interrupted.complete(Unit)
                    }
                }
                val e = shouldThrow<RpcException> {
                    caller.call(proc, options = CallOptions { timeout(300.milliseconds) })
                }
                e.error shouldBe "wamp.error.timeout"
                invoked.await().timeout shouldBe null // not forwarded: the callee did not ask for it
                val invocationId = calleeWire.received<InvocationMessage>().single().request
                calleeWire.awaitReceived<Interrupt> { it.request == invocationId }
                interrupted.await()
                caller.leave()
                callee.leave()
            }
        }

        test(
            "$transport: a forwarded call timeout (RegisterOptions.forwardTimeout) is enforced by the callee, which " +
                "answers wamp.error.timeout",
        ).config(enabledOrReasonIf = needs(callTimeout)) {
            withTimeout(20.seconds) {
                val (callee, calleeWire) = tapped(url)
                val caller = join(url)
                val proc = "conf.fwdtimeout.${unique(callee)}"
                val invoked = CompletableDeferred<dev.tether.wamp.Invocation>()
                callee.register(proc, RegisterOptions { forwardTimeout() }) { inv ->
                    invoked.complete(inv)
                    awaitCancellation()
                }
                val e = shouldThrow<RpcException> {
                    caller.call(proc, options = CallOptions { timeout(300.milliseconds) })
                }
                e.error shouldBe "wamp.error.timeout"
                invoked.await().timeout shouldBe Duration.ofMillis(300)
                val invocationId = calleeWire.received<InvocationMessage>().single().request
                calleeWire.awaitSent<ErrorMessage> { it.request == invocationId }.error shouldBe "wamp.error.timeout"
                caller.leave()
                callee.leave()
            }
        }
    }

    // ---------------------------------------------------------------- progressive calls

    for ((transport, url) in subject.urls) {
        for (ser in Serialization.entries) {
            test(
                "$transport x $ser: progressive call invocations arrive in order, the last chunk without progress; " +
                    "progressive results come back in order before the final result",
            ).config(
                enabledOrReasonIf = needs(
                    "dealer" to "progressive_call_invocations",
                    "dealer" to "progressive_call_results",
                    url = url,
                    ser = ser,
                ),
            ) {
                withTimeout(20.seconds) {
                    val (callee, calleeWire) = tapped(url, ser)
                    val (caller, callerWire) = tapped(url, ser)
                    val proc = "conf.stream.${unique(callee)}"
                    callee.registerStreaming(proc) { inv, chunks ->
                        val got = ArrayList<Any?>()
                        chunks.collect { chunk ->
                            got.addAll(chunk.args)
                            inv.sendProgress(listOf("ack", got.size.toLong()))
                        }
                        InvokeResult(listOf(got.size.toLong()) + got, mapOf("procedure" to inv.procedure))
                    }
                    val sent = listOf<Any?>(1L shl 52, "é€", byteArrayOf(0, -1, 7), mapOf("k" to listOf(true, null)))
                    val progress = CopyOnWriteArrayList<List<Any?>>()
                    val result = caller.callStreaming(proc, sent.map { CallChunk.of(it) }.asFlow()) {
                        progress += it.args
                    }
                    WampValues.deepEquals(result.args, listOf(4L) + sent) shouldBe true
                    result.kwargs shouldBe mapOf("procedure" to proc)
                    progress.toList() shouldBe (1L..4L).map { listOf("ack", it) }

                    // One request id; every chunk but the last marked progress, the last not.
                    val calls = callerWire.sent<Call>()
                    calls.map { it.request }.toSet().size shouldBe 1
                    calls.map { it.options["progress"] == true } shouldBe listOf(true, true, true, false)
                    val invocations = calleeWire.received<InvocationMessage>()
                    invocations.map { it.request }.toSet().size shouldBe 1
                    invocations.map { it.details["progress"] == true } shouldBe listOf(true, true, true, false)
                    WampValues.deepEquals(invocations.map { it.args.single() }, sent) shouldBe true
                    caller.leave()
                    callee.leave()
                }
            }
        }
    }

    // ---------------------------------------------------------------- pattern-based registration and subscription

    for ((transport, url) in subject.urls) {
        test(
            "$transport: prefix and wildcard registrations get the concrete procedure; exact beats prefix beats " +
                "wildcard, the longest prefix wins",
        ).config(enabledOrReasonIf = needs("dealer" to "pattern_based_registration")) {
            withTimeout(20.seconds) {
                val callee = join(url)
                val caller = join(url)
                val base = "conf.pat.${unique(callee)}"
                val named = { name: String ->
                    { inv: dev.tether.wamp.Invocation -> InvokeResult.of(name, inv.procedure) }
                }
                callee.register("$base.", RegisterOptions { match(MatchPolicy.PREFIX) }, named("prefix"))
                callee.register("$base.deep.", RegisterOptions { match(MatchPolicy.PREFIX) }, named("deep"))
                callee.register("$base.exact", handler = named("exact"))
                callee.register("$base..leaf", RegisterOptions { match(MatchPolicy.WILDCARD) }, named("wild"))
                callee.register("conf.wc.$base..leaf", RegisterOptions { match(MatchPolicy.WILDCARD) }, named("wild"))

                caller.call("$base.a.b").args shouldBe listOf("prefix", "$base.a.b")
                caller.call("$base.deep.x").args shouldBe listOf("deep", "$base.deep.x")
                caller.call("$base.exact").args shouldBe listOf("exact", "$base.exact")
                caller.call("$base.y.leaf").args shouldBe listOf("prefix", "$base.y.leaf") // prefix before wildcard
                caller.call("conf.wc.$base.y.leaf").args shouldBe listOf("wild", "conf.wc.$base.y.leaf")
                // A wildcard's empty component matches exactly one component.
                shouldThrow<RpcException> { caller.call("conf.wc.$base.y.z.leaf") }.error shouldBe
                    "wamp.error.no_such_procedure"
                caller.leave()
                callee.leave()
            }
        }

        test("$transport: prefix and wildcard subscriptions get every matching event with its concrete topic")
            .config(enabledOrReasonIf = needs("broker" to "pattern_based_subscription")) {
                withTimeout(20.seconds) {
                    val subscriber = join(url)
                    val publisher = join(url)
                    val base = "conf.psub.${unique(subscriber)}"
                    val byPrefix = Channel<Event>(Channel.UNLIMITED)
                    val byWildcard = Channel<Event>(Channel.UNLIMITED)
                    subscriber.subscribe("$base.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { byPrefix.send(it) }
                    subscriber.subscribe("conf.wsub.$base..end", SubscribeOptions { match(MatchPolicy.WILDCARD) }) {
                        byWildcard.send(it)
                    }
                    val ack = PublishOptions { acknowledge() }
                    publisher.publish("$base.kitchen.temp", listOf(21L), options = ack)
                    publisher.publish("conf.wsub.$base.a.b.end", listOf(0L), options = ack) // too many components
                    publisher.publish("conf.wsub.$base.door.end", listOf(1L), options = ack)
                    publisher.publish("$base.hall", listOf(22L), options = ack)

                    val first = byPrefix.receive()
                    (first.topic to first.args) shouldBe ("$base.kitchen.temp" to listOf(21L))
                    first.details["topic"] shouldBe "$base.kitchen.temp"
                    byPrefix.receive().topic shouldBe "$base.hall"
                    // Events of one subscription arrive in publication order: the mismatch was never delivered.
                    val wild = byWildcard.receive()
                    (wild.topic to wild.args) shouldBe ("conf.wsub.$base.door.end" to listOf(1L))
                    publisher.leave()
                    subscriber.leave()
                }
            }
    }

    // ---------------------------------------------------------------- shared registration

    val shared = "dealer" to "shared_registration"

    /** [n] callees of one procedure, spread over the subject's transports, each answering with its index. */
    suspend fun sharedCallees(
        n: Int,
        policy: InvokePolicy,
        proc: (WampSession) -> String,
    ): Pair<String, List<WampSession>> {
        val urls = subject.urls.values.toList()
        val callees = List(n) { join(urls[it % urls.size]) }
        val name = proc(callees.first())
        callees.forEachIndexed { i, c ->
            c.register(name, RegisterOptions { invoke(policy) }) { InvokeResult.of(i.toLong()) }
        }
        return name to callees
    }

    test(
        "shared registration: a second single callee, or another policy than the first's, is refused with " +
            "wamp.error.procedure_already_exists",
    )
        .config(enabledOrReasonIf = needs(shared)) {
            withTimeout(20.seconds) {
                val urls = subject.urls.values.toList()
                val first = join(urls.first())
                val second = join(urls.last())
                val single = "conf.single.${unique(first)}"
                first.register(single) { InvokeResult.of("first") }
                for (policy in listOf(InvokePolicy.SINGLE, InvokePolicy.ROUNDROBIN)) {
                    withClue("a second callee with $policy on a single registration") {
                        shouldThrow<WampErrorException> {
                            second.register(single, RegisterOptions { invoke(policy) }) { InvokeResult() }
                        }.error shouldBe "wamp.error.procedure_already_exists"
                    }
                }
                val rr = "conf.rr.${unique(first)}"
                first.register(rr, RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) }) { InvokeResult() }
                for (policy in listOf(InvokePolicy.SINGLE, InvokePolicy.RANDOM)) {
                    withClue("a second callee with $policy on a roundrobin registration") {
                        shouldThrow<WampErrorException> {
                            second.register(rr, RegisterOptions { invoke(policy) }) { InvokeResult() }
                        }.error shouldBe "wamp.error.procedure_already_exists"
                    }
                }
                second.register(rr, RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) }) { InvokeResult() }
                second.registrationId(rr) shouldBe first.registrationId(rr)
                second.leave()
                first.leave()
            }
        }

    test("shared registration roundrobin: the callees answer in turn").config(enabledOrReasonIf = needs(shared)) {
        withTimeout(20.seconds) {
            val (proc, callees) = sharedCallees(3, InvokePolicy.ROUNDROBIN) { "conf.rr.${unique(it)}" }
            val caller = join(subject.firstUrl)
            val answers = List(6) { caller.call(proc).args.single() as Long }
            answers.take(3).toSet() shouldBe setOf(0L, 1L, 2L)
            answers.drop(3) shouldBe answers.take(3)
            caller.leave()
            callees.forEach { it.leave() }
        }
    }

    test("shared registration random: every call goes to one of the callees, not always the same")
        .config(enabledOrReasonIf = needs(shared)) {
            withTimeout(20.seconds) {
                val (proc, callees) = sharedCallees(3, InvokePolicy.RANDOM) { "conf.random.${unique(it)}" }
                val caller = join(subject.firstUrl)
                val answers = coroutineScope { List(60) { async { caller.call(proc).args.single() as Long } } }
                    .map { it.await() }
                (answers.toSet() - setOf(0L, 1L, 2L)).shouldBeEmpty()
                // 60 calls all to one of three callees: probability 3^-59.
                (answers.toSet().size > 1) shouldBe true
                caller.leave()
                callees.forEach { it.leave() }
            }
        }

    for (policy in listOf(InvokePolicy.FIRST, InvokePolicy.LAST)) {
        test(
            "shared registration ${policy.wire}: the ${policy.wire} callee to register answers, and after it " +
                "unregisters the next one",
        ).config(enabledOrReasonIf = needs(shared)) {
            withTimeout(20.seconds) {
                val (proc, callees) = sharedCallees(3, policy) { "conf.${policy.wire}.${unique(it)}" }
                val caller = join(subject.firstUrl)
                val (chosen, next) = if (policy == InvokePolicy.FIRST) 0 to 1 else 2 to 1
                List(3) { caller.call(proc).args.single() } shouldBe List(3) { chosen.toLong() }
                callees[chosen].unregister(proc)
                List(3) { caller.call(proc).args.single() } shouldBe List(3) { next.toLong() }
                caller.leave()
                callees.forEach { it.leave() }
            }
        }
    }

    // ---------------------------------------------------------------- disclosure, exclusion, black- and whitelists

    for ((transport, url) in subject.urls) {
        for (ser in Serialization.entries) {
            test(
                "$transport x $ser: caller disclosure (CallOptions.discloseMe, RegisterOptions.discloseCaller) and " +
                    "publisher disclosure (PublishOptions.discloseMe) give session id, authid and authrole",
            ).config(
                enabledOrReasonIf = needs(
                    "dealer" to "caller_identification",
                    "broker" to "publisher_identification",
                    url = url,
                    ser = ser,
                ),
            ) {
                withTimeout(20.seconds) {
                    val callee = join(url, ser)
                    val peer = join(url, ser)
                    val base = "conf.disclose.${unique(callee)}"
                    val whoCalled = { inv: dev.tether.wamp.Invocation ->
                        InvokeResult(listOf(inv.caller, inv.callerAuthId, inv.callerAuthRole))
                    }
                    callee.register(base, handler = whoCalled)
                    callee.register("$base.always", RegisterOptions { discloseCaller() }, whoCalled)
                    val disclosed = listOf(peer.id, peer.authId, peer.authRole)
                    peer.call(base).args shouldBe listOf(null, null, null)
                    peer.call(base, options = CallOptions { discloseMe() }).args shouldBe disclosed
                    peer.call("$base.always").args shouldBe disclosed

                    val events = Channel<Event>(Channel.UNLIMITED)
                    callee.subscribe(base) { events.send(it) }
                    peer.publish(base, listOf(1L), options = PublishOptions { acknowledge() })
                    peer.publish(base, listOf(2L), options = PublishOptions { acknowledge().discloseMe() })
                    events.receive().let { listOf(it.publisher, it.publisherAuthId, it.publisherAuthRole) } shouldBe
                        listOf(null, null, null)
                    events.receive().let { listOf(it.publisher, it.publisherAuthId, it.publisherAuthRole) } shouldBe
                        disclosed
                    peer.leave()
                    callee.leave()
                }
            }
        }
    }

    for ((transport, url) in subject.urls) {
        test("$transport: exclude_me: a publisher does not get its own event unless PublishOptions.excludeMe(false)")
            .config(enabledOrReasonIf = needs("broker" to "publisher_exclusion")) {
                withTimeout(20.seconds) {
                    val publisher = join(url)
                    val other = join(url)
                    val topic = "conf.excludeme.${unique(publisher)}"
                    val own = Channel<Long>(Channel.UNLIMITED)
                    val others = Channel<Long>(Channel.UNLIMITED)
                    publisher.subscribe(topic) { own.send(it.args[0] as Long) }
                    other.subscribe(topic) { others.send(it.args[0] as Long) }
                    publisher.publish(topic, listOf(1L), options = PublishOptions { acknowledge() })
                    publisher.publish(topic, listOf(2L), options = PublishOptions { acknowledge().excludeMe(false) })
                    List(2) { others.receive() } shouldBe listOf(1L, 2L)
                    own.receive() shouldBe 2L // in order: the first publication never came
                    other.leave()
                    publisher.leave()
                }
            }
    }

    for ((transport, url) in subject.urls) {
        for (ser in Serialization.entries) {
            test(
                "$transport x $ser: eligible and exclude by session id, authid and authrole pick the subscribers " +
                    "that get an event",
            ).config(
                enabledOrReasonIf = needs("broker" to "subscriber_blackwhite_listing", url = url, ser = ser),
            ) {
                withTimeout(20.seconds) {
                    val publisher = join(url, ser)
                    // Subscribers spread over the transports; the lists carry their ids in the publisher's serializer.
                    val urls = subject.urls.values.toList()
                    val subscribers = List(3) { join(urls[it % urls.size]) }
                    val (a, b, c) = subscribers
                    val topic = "conf.lists.${unique(publisher)}"
                    val got = subscribers.associateWith { Channel<String>(Channel.UNLIMITED) }
                    for (s in subscribers) s.subscribe(topic) { e -> got.getValue(s).send(e.args[0] as String) }

                    val cases = listOf<Triple<String, PublishOptions.Builder.() -> Unit, (WampSession) -> Boolean>>(
                        Triple("exclude a", { exclude(a.id) }, { it !== a }),
                        Triple("eligible b", { eligible(b.id) }, { it === b }),
                        Triple("eligible a b, exclude b", { eligible(a.id, b.id).exclude(b.id) }, { it === a }),
                        Triple("exclude authid a", { excludeAuthId(a.authId!!) }, { it.authId != a.authId }),
                        Triple(
                            "eligible authid b c",
                            { eligibleAuthId(b.authId!!, c.authId!!) },
                            { it.authId == b.authId || it.authId == c.authId },
                        ),
                        Triple("exclude authrole", { excludeAuthRole(a.authRole!!) }, { it.authRole != a.authRole }),
                        Triple("eligible authrole", { eligibleAuthRole(a.authRole!!) }, { it.authRole == a.authRole }),
                        Triple("eligible no role", { eligibleAuthRole("conf-no-such-role") }, { false }),
                    )
                    for ((label, options, _) in cases) {
                        publisher.publish(
                            topic,
                            listOf(label),
                            options = PublishOptions {
                                acknowledge()
                                options()
                            },
                        )
                    }
                    publisher.publish(topic, listOf("end"), options = PublishOptions { acknowledge() })
                    for (s in subscribers) {
                        // Events arrive in publication order: what came before "end" is all this one got.
                        val labels = ArrayList<String>()
                        while (true) {
                            val next = got.getValue(s).receive()
                            if (next == "end") break
                            labels += next
                        }
                        withClue("subscriber ${s.id} (authid ${s.authId}, authrole ${s.authRole})") {
                            labels shouldContainExactly cases.filter { (_, _, gets) -> gets(s) }.map { it.first }
                        }
                    }
                    subscribers.forEach { it.leave() }
                    publisher.leave()
                }
            }
        }
    }
})
