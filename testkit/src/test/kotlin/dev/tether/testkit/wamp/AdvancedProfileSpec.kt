package dev.tether.testkit.wamp

import dev.tether.wamp.CallOptions
import dev.tether.wamp.Event
import dev.tether.wamp.Invocation
import dev.tether.wamp.InvokePolicy
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampErrorException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeIn
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The advanced profile through the typed options against the testkit router: shared registrations and their
 * invocation policies, pattern-based registrations and subscriptions, forwarded call timeouts, caller and publisher
 * disclosure, and subscriber black- and whitelisting.
 */
class AdvancedProfileSpec : FunSpec({
    val routerOptions = FakeWampRouterConfig {
        realm("realm1")
        ticketUser("alice", "a", "user")
        ticketUser("bob", "b", "admin")
    }

    fun config(block: SessionConfig.Builder.() -> Unit = {}) = SessionConfig("realm1") {
        responseTimeout(5.seconds)
        block()
    }
    fun user(authId: String, ticket: String) = config {
        authId(authId)
        authHandler("ticket", AuthHandler.ticket(ticket))
    }

    /** Runs [block] with [n] anonymous sessions on alternating transports, all closed afterwards. */
    suspend fun <T> sessions(router: FakeWampRouter, n: Int, block: suspend (List<WampSession>) -> T): T {
        val list = List(n) { WampSession.connect(if (it % 2 == 0) router.tcpUrl else router.wsUrl, config()) }
        try {
            return block(list)
        } finally {
            list.forEach { it.close() }
        }
    }

    /** Registers each session as a callee of [procedure] that answers with its own session id. */
    suspend fun registerAll(callees: List<WampSession>, procedure: String, options: RegisterOptions) {
        for (c in callees) c.register(procedure, options) { InvokeResult.of(c.id) }
    }

    suspend fun WampSession.whoAnswers(procedure: String): Long = call(procedure).args[0] as Long

    test("roundrobin: the callees in turn, in registration order, and a callee that leaves drops out of the turn") {
        FakeWampRouter.start(routerOptions).use { router ->
            withTimeout(30.seconds) {
                sessions(router, 4) { (a, b, c, caller) ->
                    registerAll(listOf(a, b, c), "com.rr", RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) })
                    List(6) { caller.whoAnswers("com.rr") } shouldBe listOf(a.id, b.id, c.id, a.id, b.id, c.id)
                    b.unregister("com.rr")
                    List(4) { caller.whoAnswers("com.rr") }.toSet() shouldBe setOf(a.id, c.id)
                }
            }
        }
    }

    test("first and last: picked by registration order; when that callee unregisters the next in line answers") {
        FakeWampRouter.start(routerOptions).use { router ->
            withTimeout(30.seconds) {
                sessions(router, 4) { (a, b, c, caller) ->
                    registerAll(listOf(a, b, c), "com.first", RegisterOptions { invoke(InvokePolicy.FIRST) })
                    registerAll(listOf(a, b, c), "com.last", RegisterOptions { invoke(InvokePolicy.LAST) })
                    List(3) { caller.whoAnswers("com.first") } shouldBe List(3) { a.id }
                    List(3) { caller.whoAnswers("com.last") } shouldBe List(3) { c.id }
                    a.unregister("com.first")
                    c.unregister("com.last")
                    caller.whoAnswers("com.first") shouldBe b.id
                    caller.whoAnswers("com.last") shouldBe b.id
                }
            }
        }
    }

    test("random: every call goes to one of the callees, and not always the same one") {
        FakeWampRouter.start(routerOptions).use { router ->
            withTimeout(30.seconds) {
                sessions(router, 4) { (a, b, c, caller) ->
                    registerAll(listOf(a, b, c), "com.random", RegisterOptions { invoke(InvokePolicy.RANDOM) })
                    val answers = List(60) { caller.whoAnswers("com.random") }
                    answers.forEach { it shouldBeIn listOf(a.id, b.id, c.id) }
                    // Three callees and 60 calls: one callee answering all of them has odds of 3^-59.
                    (answers.toSet().size > 1) shouldBe true
                }
            }
        }
    }

    test(
        "single refuses a second callee; a different policy than the existing one is refused; the meta API lists " +
            "callees",
    ) {
        FakeWampRouter.start(routerOptions).use { router ->
            withTimeout(30.seconds) {
                sessions(router, 4) { (a, b, c, admin) ->
                    a.register("com.single", RegisterOptions.DEFAULT) { InvokeResult() }
                    val seconds = listOf(
                        RegisterOptions.DEFAULT,
                        RegisterOptions { invoke(InvokePolicy.SINGLE) },
                        RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) },
                    )
                    for (second in seconds) {
                        shouldThrow<WampErrorException> { b.register("com.single", second) { InvokeResult() } }
                            .error shouldBe "wamp.error.procedure_already_exists"
                    }
                    val shared = a.register(
                        "com.shared",
                        RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) },
                    ) { InvokeResult() }
                    b.register(
                        "com.shared",
                        RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) },
                    ) { InvokeResult() } shouldBe shared
                    for (other in listOf(RegisterOptions { invoke(InvokePolicy.RANDOM) }, RegisterOptions.DEFAULT)) {
                        shouldThrow<WampErrorException> { c.register("com.shared", other) { InvokeResult() } }
                            .error shouldBe "wamp.error.procedure_already_exists"
                    }
                    // A session is one callee of a registration: it cannot join the same one twice.
                    shouldThrow<WampErrorException> {
                        b.register("com.shared", RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) }) { InvokeResult() }
                    }.error shouldBe "wamp.error.procedure_already_exists"
                    // The same URI under another match policy is another registration.
                    c.register("com.shared", RegisterOptions { match(MatchPolicy.PREFIX) }) { InvokeResult() }

                    suspend fun meta(proc: String, vararg args: Any?) =
                        admin.call(proc, args.toList()).args.firstOrNull()
                    meta("wamp.registration.get", shared) shouldBe
                        mapOf("id" to shared, "uri" to "com.shared", "match" to "exact", "invoke" to "roundrobin")
                    meta("wamp.registration.list_callees", shared) shouldBe listOf(a.id, b.id)
                    meta("wamp.registration.count_callees", shared) shouldBe 2L
                    // The registration outlives a callee that unregisters, and goes with the last one.
                    a.unregister("com.shared")
                    meta("wamp.registration.list_callees", shared) shouldBe listOf(b.id)
                    b.unregister("com.shared")
                    meta("wamp.registration.lookup", "com.shared") shouldBe null
                }
            }
        }
    }

    test("prefix and wildcard registrations and subscriptions give the handler the concrete URI") {
        FakeWampRouter.start(routerOptions).use { router ->
            withTimeout(30.seconds) {
                sessions(router, 2) { (callee, caller) ->
                    val invoked = Channel<Invocation>(Channel.UNLIMITED)
                    callee.register(
                        "com.math.",
                        RegisterOptions { match(MatchPolicy.PREFIX) },
                    ) {
                        invoked.send(it)
                        InvokeResult()
                    }
                    callee.register(
                        "com..echo",
                        RegisterOptions { match(MatchPolicy.WILDCARD) },
                    ) {
                        invoked.send(it)
                        InvokeResult()
                    }
                    callee.register("com.exact") {
                        invoked.send(it)
                        InvokeResult()
                    }
                    caller.call("com.math.add.int")
                    invoked.receive().procedure shouldBe "com.math.add.int"
                    caller.call("com.text.echo")
                    invoked.receive().procedure shouldBe "com.text.echo"
                    caller.call("com.exact")
                    invoked.receive().procedure shouldBe "com.exact"

                    val prefixed = Channel<Event>(Channel.UNLIMITED)
                    val wild = Channel<Event>(Channel.UNLIMITED)
                    val plain = Channel<Event>(Channel.UNLIMITED)
                    callee.subscribe(
                        "com.sensor.",
                        SubscribeOptions { match(MatchPolicy.PREFIX) },
                    ) { prefixed.send(it) }
                    callee.subscribe("com..alarm", SubscribeOptions { match(MatchPolicy.WILDCARD) }) { wild.send(it) }
                    callee.subscribe("com.plain", SubscribeOptions.DEFAULT) { plain.send(it) }
                    caller.publish("com.sensor.kitchen.temp", listOf(1), options = PublishOptions { acknowledge() })
                    prefixed.receive().topic shouldBe "com.sensor.kitchen.temp"
                    caller.publish("com.door.alarm", options = PublishOptions { acknowledge() })
                    wild.receive().topic shouldBe "com.door.alarm"
                    caller.publish("com.plain", options = PublishOptions { acknowledge() })
                    plain.receive().topic shouldBe "com.plain"
                    // A wildcard component matches exactly one component: the next event of that subscription is
                    // the second publication (events of one subscription arrive in order).
                    caller.publish("com.a.b.alarm", options = PublishOptions { acknowledge() })
                    caller.publish("com.window.alarm", options = PublishOptions { acknowledge() })
                    wild.receive().topic shouldBe "com.window.alarm"
                }
            }
        }
    }

    test("forward_timeout: the router forwards the call's timeout and the callee answers wamp.error.timeout") {
        FakeWampRouter.start(routerOptions).use { router ->
            withTimeout(30.seconds) {
                sessions(router, 2) { (calleeSession, caller) ->
                    val seen = CompletableDeferred<Duration?>()
                    val cancelledBy = CompletableDeferred<String>()
                    calleeSession.register("com.forwarded", RegisterOptions { forwardTimeout() }) { inv ->
                        if (inv.args.firstOrNull() == "quick") return@register InvokeResult.of("quick")
                        seen.complete(inv.timeout)
                        try {
                            awaitCancellation()
                        } catch (e: CancellationException) {
                            cancelledBy.complete(e.message ?: "")
                            throw e
                        }
                    }
                    val e = shouldThrow<RpcException> {
                        caller.call(
                            "com.forwarded",
                            options = CallOptions { timeout(300.milliseconds) },
                        )
                    }
                    e.error shouldBe "wamp.error.timeout"
                    e.args shouldBe listOf("call timeout")
                    seen.await() shouldBe Duration.ofMillis(300)
                    // The callee's own timer ended it, not an INTERRUPT from the router.
                    cancelledBy.await() shouldBe "call timeout"
                    caller.call(
                        "com.forwarded",
                        listOf("quick"),
                        options = CallOptions { timeout(5.seconds) },
                    ).args shouldBe listOf("quick")

                    // Without forward_timeout the callee never sees the timeout: the router times the call.
                    val plainSeen = CompletableDeferred<Duration?>()
                    val interrupted = CompletableDeferred<String>()
                    calleeSession.register("com.timed") { inv ->
                        plainSeen.complete(inv.timeout)
                        try {
                            awaitCancellation()
                        } catch (e: CancellationException) {
                            interrupted.complete(e.message ?: "")
                            throw e
                        }
                    }
                    shouldThrow<RpcException> {
                        caller.call(
                            "com.timed",
                            options = CallOptions { timeout(300.milliseconds) },
                        )
                    }.error shouldBe "wamp.error.timeout"
                    plainSeen.await() shouldBe null
                    interrupted.await() shouldBe "interrupted by router"
                }
            }
        }
    }

    test("disclose_caller on REGISTER discloses every caller; without it only a caller's disclose_me does") {
        FakeWampRouter.start(routerOptions).use { router ->
            withTimeout(30.seconds) {
                WampSession.connect(router.tcpUrl, config()).use { callee ->
                    WampSession.connect(router.wsUrl, user("alice", "a")).use { caller ->
                        val invoked = Channel<Invocation>(Channel.UNLIMITED)
                        callee.register(
                            "com.disclosed",
                            RegisterOptions { discloseCaller() },
                        ) {
                            invoked.send(it)
                            InvokeResult()
                        }
                        callee.register("com.private") {
                            invoked.send(it)
                            InvokeResult()
                        }
                        caller.call("com.disclosed")
                        with(invoked.receive()) {
                            this.caller shouldBe caller.id
                            callerAuthId shouldBe "alice"
                            callerAuthRole shouldBe "user"
                        }
                        caller.call("com.private")
                        with(invoked.receive()) {
                            this.caller shouldBe null
                            callerAuthId shouldBe null
                            callerAuthRole shouldBe null
                        }
                        caller.call("com.private", options = CallOptions { discloseMe() })
                        invoked.receive().caller shouldBe caller.id
                    }
                }
            }
        }
    }

    test(
        "eligible and exclude filter subscribers by session id, authid and authrole; exclude_me; publisher " +
            "disclosure",
    ) {
        FakeWampRouter.start(routerOptions).use { router ->
            withTimeout(30.seconds) {
                val publisher = WampSession.connect(router.tcpUrl, config { authId("pat") })
                val alice = WampSession.connect(router.wsUrl, user("alice", "a")) // role user
                val bob = WampSession.connect(router.tcpUrl, user("bob", "b")) // role admin
                val carol = WampSession.connect(router.wsUrl, config { authId("carol") }) // role anonymous
                val names = mapOf(publisher to "pat", alice to "alice", bob to "bob", carol to "carol")
                val inboxes = names.keys.associateWith { Channel<Event>(Channel.UNLIMITED) }
                for ((s, inbox) in inboxes) s.subscribe("com.news") { inbox.send(it) }

                // Events of one subscription arrive in order: once every session has the marker that follows a
                // publication, every delivery of that publication has happened.
                var marker = 0L
                suspend fun deliveredTo(options: PublishOptions): Set<String> {
                    publisher.publish(
                        "com.news",
                        listOf("payload"),
                        options = options.toBuilder().acknowledge().build(),
                    )
                    val m = ++marker
                    publisher.publish(
                        "com.news",
                        listOf("marker", m),
                        options = PublishOptions {
                            acknowledge()
                            excludeMe(false)
                        },
                    )
                    val got = mutableSetOf<String>()
                    for ((s, inbox) in inboxes) {
                        while (true) {
                            val e = inbox.receive()
                            if (e.args == listOf("marker", m)) break
                            got += names.getValue(s)
                        }
                    }
                    return got
                }

                deliveredTo(PublishOptions.DEFAULT) shouldBe setOf("alice", "bob", "carol")
                deliveredTo(PublishOptions { excludeMe(false) }) shouldBe setOf("pat", "alice", "bob", "carol")
                deliveredTo(PublishOptions { exclude(alice.id) }) shouldBe setOf("bob", "carol")
                deliveredTo(PublishOptions { eligible(alice.id, carol.id) }) shouldBe setOf("alice", "carol")
                deliveredTo(PublishOptions { eligible(emptyList()) }) shouldBe emptySet()
                deliveredTo(PublishOptions { excludeAuthId("bob") }) shouldBe setOf("alice", "carol")
                deliveredTo(
                    PublishOptions {
                        eligibleAuthId("alice", "pat")
                        excludeMe(false)
                    },
                ) shouldBe
                    setOf("pat", "alice")
                deliveredTo(PublishOptions { excludeAuthRole("anonymous") }) shouldBe setOf("alice", "bob")
                deliveredTo(PublishOptions { eligibleAuthRole("admin", "anonymous") }) shouldBe setOf("bob", "carol")
                // Lists combine: eligible by role, minus one excluded by id.
                deliveredTo(
                    PublishOptions {
                        eligibleAuthRole("user", "admin")
                        exclude(bob.id)
                    },
                ) shouldBe
                    setOf("alice")
                // Exclusion wins over eligibility.
                deliveredTo(
                    PublishOptions {
                        eligible(alice.id, bob.id)
                        excludeAuthId("alice")
                    },
                ) shouldBe setOf("bob")

                // Publisher disclosure, and none without disclose_me.
                publisher.publish(
                    "com.news",
                    listOf("who"),
                    options = PublishOptions {
                        acknowledge()
                        discloseMe()
                        eligibleAuthId("alice")
                    },
                )
                with(inboxes.getValue(alice).receive()) {
                    this.publisher shouldBe publisher.id
                    publisherAuthId shouldBe "pat"
                    publisherAuthRole shouldBe "anonymous"
                    topic shouldBe "com.news"
                }
                publisher.publish(
                    "com.news",
                    listOf("anonymous"),
                    options = PublishOptions {
                        acknowledge()
                        eligibleAuthId("alice")
                    },
                )
                with(inboxes.getValue(alice).receive()) {
                    this.publisher shouldBe null
                    publisherAuthId shouldBe null
                    publisherAuthRole shouldBe null
                }
                names.keys.forEach { it.close() }
            }
        }
    }
})
