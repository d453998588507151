package dev.tether.docs

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MetaTopic
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.TestamentScope
import dev.tether.wamp.WampClient
import dev.tether.wamp.WampSession
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** The Kotlin examples of wamp.md's "Meta API and testaments" section. */
class WampMetaExamplesSpec : FunSpec({
    test("meta API: who is joined, what is registered, and the events that say when it changes") {
        withTimeout(30.seconds) {
            FakeWampRouter.start().use { router ->
                val session = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                val worker = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                val left = Channel<Long>(Channel.UNLIMITED)
                // docs:start meta
                val meta = session.meta
                meta.subscribe(MetaTopic.SESSION_ON_LEAVE) { gone -> left.send(gone.session) }

                worker.register("com.acme.work") { InvokeResult() }
                val registration = meta.registrationLookup("com.acme.work")!!
                val callees = meta.registrationListCallees(registration) // [worker's session id]
                val info = meta.sessionGet(callees.single()) // authid, authrole, authmethod, ...
                meta.sessionKill(info.id, reason = "wamp.close.killed", message = "maintenance")
                // docs:end meta
                info.id shouldBe worker.id
                left.receive() shouldBe worker.id
                session.leave()
            }
        }
    }

    test("testaments: a session's last words, published by the router when it is gone") {
        withTimeout(30.seconds) {
            FakeWampRouter.start().use { router ->
                val watcher = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                val offline = Channel<List<Any?>>(Channel.UNLIMITED)
                watcher.subscribe("com.acme.presence.offline") { offline.send(it.args) }
                // docs:start testament
                val client = WampClient(router.wsUrl, SessionConfig("realm1")).apply { connect() }
                client.addTestament(
                    "com.acme.presence.offline",
                    listOf("device-7"),
                    options = PublishOptions { discloseMe() },
                    scope = TestamentScope.DESTROYED,
                )
                // The router publishes it when the session ends: lost, killed, or left. After a reconnect the
                // client adds it to the new session, so it is published again when that one is lost.
                // docs:end testament
                router.faults.drop(client.session!!.id)
                offline.receive() shouldBe listOf("device-7")
                client.awaitConnected()
                // docs:start flush
                client.flushTestaments() // a planned shutdown: nobody needs to hear about it
                client.closeAndJoin()
                // docs:end flush
                watcher.publish(
                    "com.acme.presence.offline",
                    listOf("marker"),
                    options = PublishOptions {
                        excludeMe(false)
                        acknowledge()
                    },
                )
                offline.receive() shouldBe listOf("marker")
                watcher.leave()
            }
        }
    }
})
