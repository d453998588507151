package dev.tether.testkit.wamp

import dev.tether.core.ConnectionEvent
import dev.tether.wamp.Event
import dev.tether.wamp.IdsByMatchPolicy
import dev.tether.wamp.InvokePolicy
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.MetaChange
import dev.tether.wamp.MetaCreated
import dev.tether.wamp.MetaTopic
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.RegistrationInfo
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SessionLeft
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.SubscriptionInfo
import dev.tether.wamp.TestamentScope
import dev.tether.wamp.WampClient
import dev.tether.wamp.WampMeta
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactlyInAnyOrder
import io.kotest.matchers.nulls.shouldNotBeNull
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/**
 * The typed meta API and testaments end to end, client <-> testkit router: every meta procedure, every meta event
 * with the spec's payloads at the right moment, testaments published when a session is lost, killed or leaves
 * (and not after a flush), a WampClient's testaments and meta subscriptions carried over a reconnect, and a router
 * with the meta API off.
 */
class WampMetaSpec : FunSpec({
    val router = FakeWampRouter.start(
        FakeWampRouterConfig {
            realm("realm1")
            ticketUser("worker", "t-1", role = "workers")
        },
    )
    afterSpec { router.close() }

    fun config(ser: Serialization = Serialization.JSON, block: SessionConfig.Builder.() -> Unit = {}) =
        SessionConfig("realm1") {
            responseTimeout(3.seconds)
            serialization(ser)
            block()
        }

    fun worker(ser: Serialization = Serialization.JSON) = config(ser) {
        authId("worker")
        authHandler("ticket", dev.tether.wamp.auth.AuthHandler.ticket("t-1"))
    }

    for ((url, ser) in listOf(router.wsUrl to Serialization.JSON, router.tcpUrl to Serialization.MSGPACK)) {
        test("every meta procedure answers typed ($ser over ${url.substringBefore(':')})") {
            withTimeout(20.seconds) {
                val admin = WampSession.connect(url, config(ser))
                val callee = WampSession.connect(url, worker(ser))
                val other = WampSession.connect(url, worker(ser))
                val meta = admin.meta
                try {
                    meta.sessionCount() shouldBe 3L
                    meta.sessionCount(listOf("workers")) shouldBe 2L
                    meta.sessionList() shouldContainExactlyInAnyOrder listOf(admin.id, callee.id, other.id)
                    meta.sessionList(listOf("workers")) shouldContainExactlyInAnyOrder listOf(callee.id, other.id)
                    meta.sessionGet(callee.id).let {
                        it.id shouldBe callee.id
                        it.authId shouldBe "worker"
                        it.authRole shouldBe "workers"
                        it.authMethod shouldBe "ticket"
                        it.authProvider shouldBe "static"
                    }
                    shouldThrow<RpcException> { meta.sessionGet(4242) }.error shouldBe WampMeta.NO_SUCH_SESSION

                    val exact = callee.register("com.meta.echo") { InvokeResult() }
                    val prefix = callee.register("com.meta.p.", RegisterOptions { match(MatchPolicy.PREFIX) }) {
                        InvokeResult()
                    }
                    val shared = callee.register("com.meta.shared", RegisterOptions { invoke(InvokePolicy.FIRST) }) {
                        InvokeResult()
                    }
                    other.register("com.meta.shared", RegisterOptions { invoke(InvokePolicy.FIRST) }) {
                        InvokeResult()
                    } shouldBe shared
                    meta.registrationList() shouldBe IdsByMatchPolicy(listOf(exact, shared), listOf(prefix), listOf())
                    meta.registrationLookup("com.meta.echo") shouldBe exact
                    meta.registrationLookup("com.meta.p.", MatchPolicy.PREFIX) shouldBe prefix
                    meta.registrationLookup("com.meta.p.") shouldBe null
                    meta.registrationMatch("com.meta.p.deep") shouldBe prefix
                    meta.registrationMatch("com.nothing") shouldBe null
                    meta.registrationGet(prefix) shouldBe
                        RegistrationInfo(prefix, "com.meta.p.", MatchPolicy.PREFIX, InvokePolicy.SINGLE, null)
                    meta.registrationGet(shared).invoke shouldBe InvokePolicy.FIRST
                    meta.registrationListCallees(shared) shouldBe listOf(callee.id, other.id)
                    meta.registrationCountCallees(shared) shouldBe 2L
                    shouldThrow<RpcException> { meta.registrationGet(999_999) }.error shouldBe
                        WampMeta.NO_SUCH_REGISTRATION

                    val sub = other.subscribe("com.meta.topic") { }
                    val wild = callee.subscribe("com.meta..x", SubscribeOptions { match(MatchPolicy.WILDCARD) }) { }
                    callee.subscribe("com.meta.topic") { } shouldBe sub
                    meta.subscriptionList() shouldBe IdsByMatchPolicy(listOf(sub), listOf(), listOf(wild))
                    meta.subscriptionLookup("com.meta..x", MatchPolicy.WILDCARD) shouldBe wild
                    meta.subscriptionLookup("com.meta.none") shouldBe null
                    meta.subscriptionMatch("com.meta.topic") shouldBe listOf(sub)
                    meta.subscriptionMatch("com.meta.a.x") shouldBe listOf(wild)
                    meta.subscriptionMatch("com.none") shouldBe emptyList()
                    meta.subscriptionGet(
                        wild,
                    ) shouldBe SubscriptionInfo(wild, "com.meta..x", MatchPolicy.WILDCARD, null)
                    meta.subscriptionListSubscribers(sub) shouldContainExactlyInAnyOrder listOf(other.id, callee.id)
                    meta.subscriptionCountSubscribers(sub) shouldBe 2L
                    shouldThrow<RpcException> { meta.subscriptionGet(999_999) }.error shouldBe
                        WampMeta.NO_SUCH_SUBSCRIPTION

                    shouldThrow<RpcException> { meta.sessionKill(admin.id) }.error shouldBe WampMeta.NO_SUCH_SESSION
                    meta.sessionKill(other.id, "com.example.out", "go away")
                    other.awaitClosed().message shouldContain "com.example.out"
                    // The killed session left the realm at once, its registrations and subscriptions with it.
                    meta.sessionCount() shouldBe 2L
                    meta.registrationListCallees(shared) shouldBe listOf(callee.id)
                    meta.sessionKillByAuthRole("workers") shouldBe 1L
                    callee.awaitClosed().message shouldContain "wamp.close.killed"
                    meta.sessionList() shouldBe listOf(admin.id)
                    meta.registrationList() shouldBe IdsByMatchPolicy(listOf(), listOf(), listOf())

                    val third = WampSession.connect(url, worker(ser))
                    val fourth = WampSession.connect(url, config(ser))
                    meta.sessionKillByAuthId("worker") shouldBe 1L
                    third.awaitClosed()
                    meta.sessionKillAll(message = "all out") shouldBe 1L // the caller is spared
                    fourth.awaitClosed()
                    meta.sessionCount() shouldBe 1L
                } finally {
                    admin.leave()
                    callee.leave()
                    other.leave()
                }
            }
        }
    }

    test("meta events: on_join, on_leave, and registrations and subscriptions created, joined, left and deleted") {
        withTimeout(20.seconds) {
            val watcher = WampSession.connect(router.wsUrl, config())
            val received = MetaTopic.ALL.associateWith { Channel<Any?>(Channel.UNLIMITED) }
            for (topic in MetaTopic.ALL) {
                @Suppress("UNCHECKED_CAST")
                watcher.meta.subscribe(topic as MetaTopic<Any?>) { payload ->
                    // The watcher's own subscriptions make events too: only the other sessions' count here.
                    val cause = when (payload) {
                        is MetaChange -> payload.session
                        is MetaCreated<*> -> payload.session
                        else -> null
                    }
                    if (cause != watcher.id) received.getValue(topic).send(payload)
                }
            }

            suspend fun <T> next(topic: MetaTopic<T>): T {
                @Suppress("UNCHECKED_CAST")
                return received.getValue(topic).receive() as T
            }

            val a = WampSession.connect(router.wsUrl, worker())
            next(MetaTopic.SESSION_ON_JOIN).let {
                it.id shouldBe a.id
                it.authId shouldBe "worker"
                it.authRole shouldBe "workers"
                it.authMethod shouldBe "ticket"
            }
            val b = WampSession.connect(router.tcpUrl, config())
            next(MetaTopic.SESSION_ON_JOIN).id shouldBe b.id

            val reg = a.register("com.ev.proc", RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) }) {
                InvokeResult()
            }
            next(MetaTopic.REGISTRATION_ON_CREATE).let {
                it.session shouldBe a.id
                it.info shouldBe RegistrationInfo(reg, "com.ev.proc", MatchPolicy.EXACT, InvokePolicy.ROUNDROBIN, null)
            }
            next(MetaTopic.REGISTRATION_ON_REGISTER) shouldBe MetaChange(a.id, reg)
            b.register("com.ev.proc", RegisterOptions { invoke(InvokePolicy.ROUNDROBIN) }) { InvokeResult() }
            next(MetaTopic.REGISTRATION_ON_REGISTER) shouldBe MetaChange(b.id, reg) // shared: no second on_create
            b.unregister("com.ev.proc")
            next(MetaTopic.REGISTRATION_ON_UNREGISTER) shouldBe MetaChange(b.id, reg)

            val sub = b.subscribe("com.ev.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { }
            next(MetaTopic.SUBSCRIPTION_ON_CREATE).let {
                it.session shouldBe b.id
                it.info shouldBe SubscriptionInfo(sub, "com.ev.", MatchPolicy.PREFIX, null)
            }
            next(MetaTopic.SUBSCRIPTION_ON_SUBSCRIBE) shouldBe MetaChange(b.id, sub)
            a.subscribe("com.ev.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { }
            next(MetaTopic.SUBSCRIPTION_ON_SUBSCRIBE) shouldBe MetaChange(a.id, sub)
            b.unsubscribe("com.ev.")
            next(MetaTopic.SUBSCRIPTION_ON_UNSUBSCRIBE) shouldBe MetaChange(b.id, sub)

            // a leaves with a registration and a subscription of its own: both are deleted, then on_leave.
            a.leave()
            next(MetaTopic.REGISTRATION_ON_UNREGISTER) shouldBe MetaChange(a.id, reg)
            next(MetaTopic.REGISTRATION_ON_DELETE) shouldBe MetaChange(a.id, reg)
            next(MetaTopic.SUBSCRIPTION_ON_UNSUBSCRIBE) shouldBe MetaChange(a.id, sub)
            next(MetaTopic.SUBSCRIPTION_ON_DELETE) shouldBe MetaChange(a.id, sub)
            next(MetaTopic.SESSION_ON_LEAVE) shouldBe SessionLeft(a.id, "worker", "workers")
            // A lost connection is a leave too.
            router.faults.drop(b.id) shouldBe true
            next(MetaTopic.SESSION_ON_LEAVE).session shouldBe b.id
            b.awaitClosed()

            watcher.meta.unsubscribe(MetaTopic.SESSION_ON_JOIN)
            val c = WampSession.connect(router.wsUrl, config())
            c.leave()
            next(MetaTopic.SESSION_ON_LEAVE).session shouldBe c.id
            received.getValue(MetaTopic.SESSION_ON_JOIN).tryReceive().isSuccess shouldBe false
            watcher.leave()
        }
    }

    test("testaments are published when the session is lost, killed or leaves, with their options; not after flush") {
        withTimeout(20.seconds) {
            val listener = WampSession.connect(router.wsUrl, config())
            val gone = Channel<Event>(Channel.UNLIMITED)
            listener.subscribe("com.will.", SubscribeOptions { match(MatchPolicy.PREFIX) }) { gone.send(it) }

            // Lost connection: detached testaments first, then destroyed ones, each in the order added.
            val lost = WampSession.connect(router.tcpUrl, worker(Serialization.CBOR))
            lost.addTestament("com.will.lost", listOf("a"), mapOf("k" to 1))
            lost.addTestament("com.will.lost", listOf("b"), options = PublishOptions { discloseMe() })
            lost.addTestament("com.will.lost", listOf("detached"), scope = TestamentScope.DETACHED)
            router.faults.drop(lost.id) shouldBe true
            gone.receive().let {
                it.args shouldBe listOf("detached")
                it.topic shouldBe "com.will.lost"
            }
            gone.receive().let {
                it.args shouldBe listOf("a")
                it.kwargs shouldBe mapOf("k" to 1L)
                it.publisher shouldBe null // from the router: not disclosed unless asked
            }
            gone.receive().let {
                it.args shouldBe listOf("b")
                it.publisher shouldBe lost.id
                it.publisherAuthId shouldBe "worker"
            }

            // Options apply: an exclusion by authrole keeps it from the excluded.
            val killed = WampSession.connect(router.wsUrl, config())
            killed.addTestament("com.will.killed", listOf("nobody"), options = PublishOptions { eligible(1L) })
            killed.addTestament("com.will.killed", listOf("killed"))
            listener.meta.sessionKill(killed.id)
            gone.receive().args shouldBe listOf("killed")
            killed.awaitClosed()

            // Flushed: nothing; a clean GOODBYE publishes what is left.
            val leaving = WampSession.connect(router.wsUrl, config())
            leaving.addTestament("com.will.leaving", listOf("flushed"))
            leaving.addTestament("com.will.leaving", listOf("flushed too"), scope = TestamentScope.DETACHED)
            leaving.flushTestaments()
            leaving.flushTestaments(TestamentScope.DETACHED)
            leaving.addTestament("com.will.leaving", listOf("kept"))
            leaving.leave()
            gone.receive().args shouldBe listOf("kept")

            // An acknowledged publish after all of them arrives next: nothing else was published.
            listener.publish(
                "com.will.end",
                listOf("end"),
                options = PublishOptions {
                    acknowledge(true)
                    excludeMe(false)
                },
            )
            gone.receive().args shouldBe listOf("end")
            listener.leave()
        }
    }

    test("a WampClient adds its testaments and keeps its meta subscriptions again after a reconnect") {
        withTimeout(30.seconds) {
            val listener = WampSession.connect(router.wsUrl, config())
            val gone = Channel<Event>(Channel.UNLIMITED)
            listener.subscribe("com.client.gone") { gone.send(it) }
            val client = WampClient(router.wsUrl, config()).apply { connect() }
            try {
                val joins = Channel<Long>(Channel.UNLIMITED)
                client.meta.subscribe(MetaTopic.SESSION_ON_JOIN) { joins.send(it.id) }
                client.addTestament("com.client.gone", listOf("first"))
                client.addTestament("com.client.gone", listOf("second"))
                val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
                coroutineScope {
                    val collector = launch(Dispatchers.Default, CoroutineStart.UNDISPATCHED) {
                        client.events.collect { events.send(it) }
                    }
                    val before = client.session.shouldNotBeNull().id
                    router.faults.drop(before) shouldBe true
                    gone.receive().args shouldBe listOf("first")
                    gone.receive().args shouldBe listOf("second")
                    events.receive().shouldBeInstanceOf<ConnectionEvent.Disconnected>()
                    events.receive().shouldBeInstanceOf<ConnectionEvent.Connecting>()
                    events.receive().shouldBeInstanceOf<ConnectionEvent.Connected>()
                    val after = client.session.shouldNotBeNull().id
                    after shouldNotBe before
                    // The meta subscription came back with the session: another session's join is seen.
                    val other = WampSession.connect(router.tcpUrl, config())
                    while (joins.receive() != other.id) Unit
                    other.leave()
                    // The new session has the testaments again; flushed ones are not added after the next drop.
                    router.faults.drop(after) shouldBe true
                    gone.receive().args shouldBe listOf("first")
                    gone.receive().args shouldBe listOf("second")
                    while (events.receive() !is ConnectionEvent.Connected) Unit
                    client.flushTestaments()
                    client.addTestament("com.client.gone", listOf("after flush"))
                    router.faults.drop(client.session.shouldNotBeNull().id) shouldBe true
                    gone.receive().args shouldBe listOf("after flush")
                    collector.cancel()
                }
            } finally {
                client.closeAndJoin()
                listener.leave()
            }
        }
    }

    test("with the meta API off the router announces none of it, answers no_such_procedure and publishes nothing") {
        FakeWampRouter.start(FakeWampRouterConfig { metaApi(false) }).use { bare ->
            withTimeout(10.seconds) {
                val s = WampSession.connect(bare.wsUrl, config())
                val features = listOf("dealer", "broker").flatMap { role ->
                    (((s.realmDetails["roles"] as Map<*, *>)[role] as Map<*, *>)["features"] as Map<*, *>)
                        .filterValues { it == true }.keys
                }
                for (f in listOf("session_meta_api", "registration_meta_api", "subscription_meta_api")) {
                    (f in features) shouldBe false
                }
                ("testament_meta_api" in features) shouldBe false
                shouldThrow<RpcException> { s.meta.sessionCount() }.error shouldBe WampMeta.NO_SUCH_PROCEDURE
                shouldThrow<RpcException> { s.addTestament("com.x") }.error shouldBe WampMeta.NO_SUCH_PROCEDURE
                val joins = Channel<Any>(Channel.UNLIMITED)
                s.meta.subscribe(MetaTopic.SESSION_ON_JOIN) { joins.send(it) }
                s.subscribe("com.marker") { joins.send("marker") }
                WampSession.connect(bare.wsUrl, config()).leave()
                s.publish(
                    "com.marker",
                    options = PublishOptions {
                        excludeMe(false)
                        acknowledge(true)
                    },
                )
                joins.receive() shouldBe "marker" // no on_join came before it
                s.leave()
            }
        }
    }
})
