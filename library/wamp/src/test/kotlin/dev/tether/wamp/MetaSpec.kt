package dev.tether.wamp

import dev.tether.core.ConnectionClosedException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.transport.WampTransport
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/**
 * The typed meta API and testaments on the wire: what each WampMeta function sends and how it reads the router's
 * answer (the WAMP spec's shapes and nexus's), against a scripted router.
 */
class MetaSpec : FunSpec({
    /** A router that answers each CALL with [answer] and records it; SUBSCRIBE gets subscription id 7. */
    class ScriptedRouter(val answer: (Call) -> Message) : WampTransport {
        val toClient = Channel<Message>(Channel.UNLIMITED)
        val calls = Channel<Call>(Channel.UNLIMITED)

        override suspend fun send(message: Message) {
            when (message) {
                is Call -> {
                    calls.send(message)
                    toClient.send(answer(message))
                }

                is Subscribe -> toClient.send(Subscribed(message.request, 7))

                is Goodbye -> toClient.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))

                else -> {}
            }
        }

        override suspend fun receive(): Message =
            toClient.receiveCatching().getOrNull() ?: throw ConnectionClosedException(null, "closed")

        override suspend fun close() {
            toClient.close()
        }

        override val description: String = "scripted meta router"
    }

    fun result(c: Call, vararg args: Any?): Message = ResultMessage(c.request, emptyMap(), args.toList())

    suspend fun session(answer: (Call) -> Message): Pair<WampSession, ScriptedRouter> {
        val router = ScriptedRouter(answer)
        router.toClient.send(Welcome(1, emptyMap()))
        return WampSession.join(router, SessionConfig("realm1")) to router
    }

    test("session procedures: the procedure, arguments and keyword arguments sent, and the typed answers") {
        withTimeout(5.seconds) {
            val (s, router) = session { c ->
                when (c.procedure) {
                    "wamp.session.count" -> result(c, if (c.args.isEmpty()) 3L else 1L)

                    "wamp.session.list" -> result(c, listOf(11L, 12L))

                    "wamp.session.get" -> result(
                        c,
                        mapOf(
                            "session" to 11L,
                            "authid" to "alice",
                            "authrole" to "user",
                            "authmethod" to "ticket",
                            "authprovider" to "static",
                            "transport" to mapOf("protocol" to "wamp.2.json"),
                        ),
                    )

                    "wamp.session.kill" -> result(c)

                    // the WAMP spec: the ids
                    "wamp.session.kill_by_authid" -> result(c, listOf(11L, 12L))

                    else -> result(c, 2L) // nexus: kill_by_authrole and kill_all answer a count
                }
            }
            s.meta.sessionCount() shouldBe 3L
            router.calls.receive().args shouldBe emptyList()
            s.meta.sessionCount(listOf("user")) shouldBe 1L
            router.calls.receive().args shouldBe listOf(listOf("user"))
            s.meta.sessionList() shouldBe listOf(11L, 12L)
            router.calls.receive()
            val info = s.meta.sessionGet(11)
            router.calls.receive().args shouldBe listOf(11L)
            info.id shouldBe 11L
            info.authId shouldBe "alice"
            info.authRole shouldBe "user"
            info.authMethod shouldBe "ticket"
            info.authProvider shouldBe "static"
            info.transport shouldBe mapOf("protocol" to "wamp.2.json")

            s.meta.sessionKill(11, "wamp.close.killed", "bye")
            router.calls.receive().let {
                it.procedure shouldBe "wamp.session.kill"
                it.args shouldBe listOf(11L)
                it.kwargs shouldBe mapOf("reason" to "wamp.close.killed", "message" to "bye")
            }
            s.meta.sessionKillByAuthId("alice") shouldBe 2L
            router.calls.receive().kwargs shouldBe emptyMap()
            s.meta.sessionKillByAuthRole("user", message = "out") shouldBe 2L
            router.calls.receive().let {
                it.args shouldBe listOf("user")
                it.kwargs shouldBe mapOf("message" to "out")
            }
            s.meta.sessionKillAll() shouldBe 2L
            router.calls.receive().args shouldBe emptyList()
            s.leave()
        }
    }

    test("registration and subscription procedures: lists by policy, lookups, matches, details, callees") {
        withTimeout(5.seconds) {
            val (s, router) = session { c ->
                when (c.procedure) {
                    "wamp.registration.list", "wamp.subscription.list" ->
                        result(c, mapOf("exact" to listOf(1L), "prefix" to listOf(2L), "wildcard" to emptyList<Long>()))

                    "wamp.registration.lookup" -> result(c, if (c.args.size == 1) 1L else null)

                    "wamp.registration.match" -> result(c, null)

                    "wamp.registration.get" -> result(
                        c,
                        mapOf("id" to 2L, "uri" to "com.a.", "match" to "prefix", "invoke" to "roundrobin"),
                    )

                    "wamp.subscription.get" ->
                        result(c, mapOf("id" to 3L, "uri" to "com..b", "match" to "wildcard", "created" to "T"))

                    "wamp.subscription.lookup" -> result(c, 3L)

                    // the spec: null when nothing matches
                    "wamp.subscription.match" -> result(c, null)

                    "wamp.registration.list_callees", "wamp.subscription.list_subscribers" -> result(c, listOf(5L, 6L))

                    else -> result(c, 2L)
                }
            }
            s.meta.registrationList() shouldBe IdsByMatchPolicy(listOf(1L), listOf(2L), emptyList())
            s.meta.registrationList()[MatchPolicy.PREFIX] shouldBe listOf(2L)
            repeat(2) { router.calls.receive() }
            s.meta.registrationLookup("com.a") shouldBe 1L
            router.calls.receive().args shouldBe listOf("com.a")
            s.meta.registrationLookup("com.a.", MatchPolicy.PREFIX) shouldBe null
            router.calls.receive().args shouldBe listOf("com.a.", mapOf("match" to "prefix"))
            s.meta.registrationMatch("com.x") shouldBe null
            router.calls.receive()
            s.meta.registrationGet(2) shouldBe
                RegistrationInfo(2, "com.a.", MatchPolicy.PREFIX, InvokePolicy.ROUNDROBIN, null)
            router.calls.receive()
            s.meta.registrationListCallees(2) shouldBe listOf(5L, 6L)
            s.meta.registrationCountCallees(2) shouldBe 2L
            repeat(2) { router.calls.receive() }

            s.meta.subscriptionList().all shouldBe listOf(1L, 2L)
            router.calls.receive()
            s.meta.subscriptionLookup("com..b", MatchPolicy.WILDCARD) shouldBe 3L
            router.calls.receive().args shouldBe listOf("com..b", mapOf("match" to "wildcard"))
            s.meta.subscriptionMatch("com.q") shouldBe emptyList()
            router.calls.receive()
            s.meta.subscriptionGet(3) shouldBe SubscriptionInfo(3, "com..b", MatchPolicy.WILDCARD, "T")
            s.meta.subscriptionListSubscribers(3) shouldBe listOf(5L, 6L)
            s.meta.subscriptionCountSubscribers(3) shouldBe 2L
            s.leave()
        }
    }

    test("count_subscribers falls back to nexus's count_suscribers when the router has no such procedure") {
        withTimeout(5.seconds) {
            val (s, router) = session { c ->
                if (c.procedure == "wamp.subscription.count_subscribers") {
                    ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), WampMeta.NO_SUCH_PROCEDURE)
                } else {
                    result(c, 4L)
                }
            }
            s.meta.subscriptionCountSubscribers(9) shouldBe 4L
            router.calls.receive().procedure shouldBe "wamp.subscription.count_subscribers"
            router.calls.receive().let {
                it.procedure shouldBe "wamp.subscription.count_suscribers"
                it.args shouldBe listOf(9L)
            }
            s.leave()
        }
    }

    test("the router's errors are RpcExceptions with their URI; an answer of the wrong shape is a protocol error") {
        withTimeout(5.seconds) {
            val (s, _) = session { c ->
                when (c.procedure) {
                    "wamp.session.get" ->
                        ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), WampMeta.NO_SUCH_SESSION)

                    "wamp.registration.get" -> result(c, mapOf("id" to 1L, "uri" to "a", "match" to "sometimes"))

                    "wamp.subscription.get" -> result(c, "not a dictionary")

                    else -> result(c, "not a count")
                }
            }
            shouldThrow<RpcException> { s.meta.sessionGet(5) }.error shouldBe WampMeta.NO_SUCH_SESSION
            shouldThrow<ProtocolViolationException> { s.meta.registrationGet(1) }.message shouldContain "sometimes"
            shouldThrow<ProtocolViolationException> { s.meta.subscriptionGet(1) }.message shouldContain "dictionary"
            shouldThrow<ProtocolViolationException> { s.meta.sessionCount() }.message shouldContain "not a count"
            s.isOpen shouldBe true // the session goes on
            s.leave()
        }
    }

    test("meta events decode to typed payloads, the spec's and nexus's shapes alike; malformed ones are dropped") {
        withTimeout(5.seconds) {
            val (s, router) = session { c -> result(c) }
            val joins = Channel<SessionInfo>(Channel.UNLIMITED)
            s.meta.subscribe(MetaTopic.SESSION_ON_JOIN) { joins.send(it) } shouldBe 7L
            router.toClient.send(EventMessage(7, 100, emptyMap(), listOf("garbage")))
            router.toClient.send(EventMessage(7, 101, emptyMap(), listOf(mapOf("session" to 21L, "authid" to "bob"))))
            joins.receive().let {
                it.id shouldBe 21L
                it.authId shouldBe "bob"
                it.authRole shouldBe null
            }
            joins.tryReceive().isSuccess shouldBe false // the garbage was dropped, not delivered
            s.leave()
            // Decoding alone, for the other topics (a session routes events by subscription id, tested above).
            fun ev(vararg args: Any?) = Event(1, 2, args.toList(), emptyMap(), emptyMap())
            MetaTopic.SESSION_ON_LEAVE.decode(ev(21L)) shouldBe SessionLeft(21, null, null) // nexus
            MetaTopic.SESSION_ON_LEAVE.decode(ev(21L, "bob", "user")) shouldBe SessionLeft(21, "bob", "user")
            MetaTopic.REGISTRATION_ON_CREATE.decode(
                ev(21L, mapOf("id" to 4L, "uri" to "com.x", "match" to "exact", "invoke" to "single")),
            ) shouldBe MetaCreated(21L, RegistrationInfo(4, "com.x", MatchPolicy.EXACT, InvokePolicy.SINGLE, null))
            MetaTopic.SUBSCRIPTION_ON_CREATE.decode(ev(21L, mapOf("id" to 5L, "uri" to "t"))).info shouldBe
                SubscriptionInfo(5, "t", MatchPolicy.EXACT, null)
            for (topic in listOf(
                MetaTopic.REGISTRATION_ON_REGISTER,
                MetaTopic.REGISTRATION_ON_UNREGISTER,
                MetaTopic.REGISTRATION_ON_DELETE,
                MetaTopic.SUBSCRIPTION_ON_SUBSCRIBE,
                MetaTopic.SUBSCRIPTION_ON_UNSUBSCRIBE,
                MetaTopic.SUBSCRIPTION_ON_DELETE,
            )) {
                topic.decode(ev(21L, 4L)) shouldBe MetaChange(21, 4)
                topic.decode(ev(null, 4L)) shouldBe MetaChange(0, 4) // crossbar: the session already gone
                shouldThrow<ProtocolViolationException> { topic.decode(ev(21L)) }
            }
            MetaTopic.ALL.map { it.uri }.toSet().size shouldBe 10
        }
    }

    test("testaments: add_testament carries topic, args, kwargs, the publish options and the scope") {
        withTimeout(5.seconds) {
            val (s, router) = session { c -> result(c) }
            s.addTestament(
                "com.gone",
                listOf("bye"),
                mapOf("n" to 1),
                PublishOptions {
                    discloseMe()
                    excludeAuthRole("bot")
                },
                TestamentScope.DETACHED,
            )
            router.calls.receive().let {
                it.procedure shouldBe "wamp.session.add_testament"
                it.args shouldBe listOf("com.gone", listOf("bye"), mapOf("n" to 1L))
                it.kwargs shouldBe mapOf(
                    "publish_options" to mapOf("disclose_me" to true, "exclude_authrole" to listOf("bot")),
                    "scope" to "detached",
                )
            }
            s.addTestament("com.gone")
            router.calls.receive().let {
                it.args shouldBe listOf("com.gone", emptyList<Any?>(), emptyMap<String, Any?>())
                it.kwargs shouldBe mapOf("publish_options" to emptyMap<String, Any?>(), "scope" to "destroyed")
            }
            s.flushTestaments()
            router.calls.receive().let {
                it.procedure shouldBe "wamp.session.flush_testaments"
                it.kwargs shouldBe mapOf("scope" to "destroyed")
            }
            s.leave()
        }
    }
})
