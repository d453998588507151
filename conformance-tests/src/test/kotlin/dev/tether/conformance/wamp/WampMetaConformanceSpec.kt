package dev.tether.conformance.wamp

import dev.tether.conformance.External
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.MetaChange
import dev.tether.wamp.MetaTopic
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.SessionInfo
import dev.tether.wamp.SessionLeft
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampMeta
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.collections.shouldContainAll
import io.kotest.matchers.collections.shouldNotContain
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/**
 * The router meta API and testaments through the typed client API ([WampSession.meta], [WampSession.addTestament]):
 * session, registration and subscription procedures and events, kill, and testaments published when a session is
 * killed or its connection is lost. Against an external router a case runs when its WELCOME announces the feature
 * and is skipped with that reason when it does not; events of sessions other than the case's own are ignored (the
 * router may be shared).
 */
class WampMetaConformanceSpec : FunSpec({
    val subject = RouterSubject.open()
    afterSpec { subject.close() }

    fun lacks(vararg features: Pair<String, String>) = External.skipIf {
        features.firstNotNullOfOrNull { (role, feature) -> subject.lacksFeature(role, feature) }
    }

    val sessionMeta = "broker" to "session_meta_api"
    val registrationMeta = "dealer" to "registration_meta_api"
    val subscriptionMeta = "broker" to "subscription_meta_api"
    val testamentMeta = "dealer" to "testament_meta_api"

    suspend fun connect(url: String = subject.firstUrl) = WampSession.connect(url, subject.config())

    test("session meta: count, list, get and kill, and the on_join and on_leave events")
        .config(enabledOrReasonIf = lacks(sessionMeta)) {
            withTimeout(20.seconds) {
                val admin = connect()
                val joins = Channel<SessionInfo>(Channel.UNLIMITED)
                val leaves = Channel<SessionLeft>(Channel.UNLIMITED)
                admin.meta.subscribe(MetaTopic.SESSION_ON_JOIN) { joins.send(it) }
                admin.meta.subscribe(MetaTopic.SESSION_ON_LEAVE) { leaves.send(it) }
                val other = connect(subject.urls.values.last())
                var joined = joins.receive()
                while (joined.id != other.id) joined = joins.receive()
                joined.authRole shouldBe other.authRole

                admin.meta.sessionList() shouldContainAll listOf(admin.id, other.id)
                (admin.meta.sessionCount() >= 2) shouldBe true
                admin.meta.sessionGet(other.id).let {
                    it.id shouldBe other.id
                    it.authId shouldBe other.authId
                }
                shouldThrow<RpcException> { admin.meta.sessionGet(1) }.error shouldBe WampMeta.NO_SUCH_SESSION
                shouldThrow<RpcException> { admin.meta.sessionKill(admin.id) }.error shouldBe
                    WampMeta.NO_SUCH_SESSION

                admin.meta.sessionKill(other.id, message = "conformance")
                other.awaitClosed()
                var left = leaves.receive()
                while (left.session != other.id) left = leaves.receive()
                admin.meta.sessionList() shouldNotContain other.id
                admin.leave()
            }
        }

    test("registration meta: list, lookup, match, get, callees, and on_create, on_register, on_unregister, on_delete")
        .config(enabledOrReasonIf = lacks(registrationMeta)) {
            withTimeout(20.seconds) {
                val admin = connect()
                val callee = connect()
                val changes = Channel<Pair<String, MetaChange>>(Channel.UNLIMITED)
                val created = Channel<Long>(Channel.UNLIMITED)
                admin.meta.subscribe(MetaTopic.REGISTRATION_ON_CREATE) {
                    if (it.session == callee.id) created.send(it.info.id)
                }
                for (topic in listOf(
                    MetaTopic.REGISTRATION_ON_REGISTER,
                    MetaTopic.REGISTRATION_ON_UNREGISTER,
                    MetaTopic.REGISTRATION_ON_DELETE,
                )) {
                    admin.meta.subscribe(topic) { if (it.session == callee.id) changes.send(topic.uri to it) }
                }
                val proc = "conf.meta.proc.${callee.id}"
                val reg = callee.register(proc) { InvokeResult() }
                created.receive() shouldBe reg
                changes.receive() shouldBe ("wamp.registration.on_register" to MetaChange(callee.id, reg))

                admin.meta.registrationList().exact shouldContain reg
                admin.meta.registrationLookup(proc) shouldBe reg
                admin.meta.registrationLookup(proc, MatchPolicy.PREFIX) shouldBe null
                admin.meta.registrationMatch(proc) shouldBe reg
                admin.meta.registrationGet(reg).let {
                    it.id shouldBe reg
                    it.uri shouldBe proc
                    it.match shouldBe MatchPolicy.EXACT
                }
                admin.meta.registrationListCallees(reg) shouldBe listOf(callee.id)
                admin.meta.registrationCountCallees(reg) shouldBe 1L

                callee.unregister(proc)
                // Each topic's events arrive in order, but two topics' relative to each other in any.
                setOf(changes.receive(), changes.receive()) shouldBe setOf(
                    "wamp.registration.on_unregister" to MetaChange(callee.id, reg),
                    "wamp.registration.on_delete" to MetaChange(callee.id, reg),
                )
                shouldThrow<RpcException> { admin.meta.registrationGet(reg) }.error shouldBe
                    WampMeta.NO_SUCH_REGISTRATION
                callee.leave()
                admin.leave()
            }
        }

    test("subscription meta: list, lookup, match, get, subscribers, and the subscription events")
        .config(enabledOrReasonIf = lacks(subscriptionMeta)) {
            withTimeout(20.seconds) {
                val admin = connect()
                val subscriber = connect()
                val changes = Channel<Pair<String, MetaChange>>(Channel.UNLIMITED)
                val created = Channel<Long>(Channel.UNLIMITED)
                admin.meta.subscribe(MetaTopic.SUBSCRIPTION_ON_CREATE) {
                    if (it.session == subscriber.id) created.send(it.info.id)
                }
                for (topic in listOf(
                    MetaTopic.SUBSCRIPTION_ON_SUBSCRIBE,
                    MetaTopic.SUBSCRIPTION_ON_UNSUBSCRIBE,
                    MetaTopic.SUBSCRIPTION_ON_DELETE,
                )) {
                    admin.meta.subscribe(topic) { if (it.session == subscriber.id) changes.send(topic.uri to it) }
                }
                val topic = "conf.meta.topic.${subscriber.id}."
                val sub = subscriber.subscribe(topic, SubscribeOptions { match(MatchPolicy.PREFIX) }) { }
                created.receive() shouldBe sub
                changes.receive() shouldBe ("wamp.subscription.on_subscribe" to MetaChange(subscriber.id, sub))

                admin.meta.subscriptionList().prefix shouldContain sub
                admin.meta.subscriptionLookup(topic, MatchPolicy.PREFIX) shouldBe sub
                admin.meta.subscriptionMatch("${topic}x") shouldContain sub
                admin.meta.subscriptionGet(sub).let {
                    it.uri shouldBe topic
                    it.match shouldBe MatchPolicy.PREFIX
                }
                admin.meta.subscriptionListSubscribers(sub) shouldBe listOf(subscriber.id)
                admin.meta.subscriptionCountSubscribers(sub) shouldBe 1L

                subscriber.unsubscribe(topic)
                // Each topic's events arrive in order, but two topics' relative to each other in any.
                setOf(changes.receive(), changes.receive()) shouldBe setOf(
                    "wamp.subscription.on_unsubscribe" to MetaChange(subscriber.id, sub),
                    "wamp.subscription.on_delete" to MetaChange(subscriber.id, sub),
                )
                subscriber.leave()
                admin.leave()
            }
        }

    test("testaments: published when the session is killed, with their options; flushed ones are not")
        .config(enabledOrReasonIf = lacks(testamentMeta, sessionMeta)) {
            withTimeout(20.seconds) {
                val listener = connect()
                val gone = Channel<Event>(Channel.UNLIMITED)
                val topic = "conf.meta.will.${listener.id}"
                listener.subscribe(topic) { gone.send(it) }
                val doomed = connect()
                doomed.addTestament(topic, listOf("flushed"))
                doomed.flushTestaments()
                doomed.addTestament(topic, listOf("will"), mapOf("n" to 1), PublishOptions { discloseMe() })
                listener.meta.sessionKill(doomed.id)
                gone.receive().let {
                    it.args shouldBe listOf("will")
                    it.kwargs shouldBe mapOf("n" to 1L)
                    it.publisher shouldBe doomed.id
                }
                // Nothing else came before a marker published after it.
                val marker = PublishOptions {
                    excludeMe(false)
                    acknowledge()
                }
                listener.publish(topic, listOf("marker"), options = marker)
                gone.receive().args shouldBe listOf("marker")
                listener.leave()
            }
        }

    test("testaments: published when the session's connection is lost")
        .config(enabledOrReasonIf = RouterSubject.needsFake("the testkit router's drop fault")) {
            withTimeout(20.seconds) {
                val router = subject.router!!
                for (url in subject.urls.values) {
                    val listener = connect()
                    val gone = Channel<Event>(Channel.UNLIMITED)
                    listener.subscribe("conf.meta.lost") { gone.send(it) }
                    val doomed = connect(url)
                    doomed.addTestament("conf.meta.lost", listOf(url))
                    router.faults.drop(doomed.id) shouldBe true
                    gone.receive().args shouldBe listOf(url)
                    doomed.awaitClosed()
                    listener.leave()
                }
            }
        }
})
