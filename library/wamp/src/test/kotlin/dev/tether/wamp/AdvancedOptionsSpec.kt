@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.Interrupt
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Publish
import dev.tether.wamp.message.Published
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.transport.LocalPeer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Typed REGISTER, SUBSCRIBE and PUBLISH options against a scripted router: what reaches the wire, the typed
 * accessors of invocations and events, and the callee-side enforcement of a forwarded call timeout.
 */
class AdvancedOptionsSpec : FunSpec({
    suspend fun joined(): Pair<WampSession, LocalPeer> = coroutineScope {
        val (client, router) = LocalPeer.pair()
        val session = async { WampSession.join(client, SessionConfig("realm1") { responseTimeout(2.seconds) }) }
        router.receive().shouldBeInstanceOf<Hello>()
        router.send(Welcome(42, mapOf("authid" to "u1", "authrole" to "user")))
        session.await() to router
    }

    test("options classes: wire maps, defaults, the escape hatch wins, toBuilder round trips") {
        RegisterOptions.DEFAULT.toMap() shouldBe emptyMap()
        SubscribeOptions.DEFAULT.toMap() shouldBe emptyMap()
        PublishOptions.DEFAULT.toMap() shouldBe emptyMap()
        PublishOptions.DEFAULT.excludeMe shouldBe true

        val register = RegisterOptions {
            match(MatchPolicy.WILDCARD)
            invoke(InvokePolicy.ROUNDROBIN)
            discloseCaller()
            forwardTimeout()
            option("x", 1)
        }
        register.toMap() shouldBe mapOf(
            "match" to "wildcard",
            "invoke" to "roundrobin",
            "disclose_caller" to true,
            "forward_timeout" to true,
            "x" to 1,
        )
        register.toBuilder().build() shouldBe register
        register.toBuilder().match(
            null,
        ).invoke(InvokePolicy.FIRST).discloseCaller(false).forwardTimeout(false).build().toMap() shouldBe
            mapOf("invoke" to "first", "x" to 1)
        RegisterOptions {
            invoke(InvokePolicy.LAST)
            option("invoke", "random")
        }.toMap() shouldBe mapOf("invoke" to "random")
        InvokePolicy.entries.map { it.wire } shouldBe listOf("single", "roundrobin", "random", "first", "last")
        MatchPolicy.entries.map { it.wire } shouldBe listOf("exact", "prefix", "wildcard")

        val subscribe = SubscribeOptions {
            match(MatchPolicy.PREFIX)
            option("get_retained", true)
        }
        subscribe.toMap() shouldBe mapOf("match" to "prefix", "get_retained" to true)
        subscribe.toBuilder().match(null).build().toMap() shouldBe mapOf("get_retained" to true)

        val publish = PublishOptions {
            acknowledge()
            excludeMe(false)
            exclude(3L, 4L)
            eligible(listOf(5L))
            excludeAuthId("mallory")
            eligibleAuthId(listOf("alice", "bob"))
            excludeAuthRole("guest")
            eligibleAuthRole("user")
            discloseMe()
            option("retain", true)
        }
        publish.toMap() shouldBe mapOf(
            "acknowledge" to true, "exclude_me" to false, "exclude" to listOf(3L, 4L), "eligible" to listOf(5L),
            "exclude_authid" to listOf("mallory"), "eligible_authid" to listOf("alice", "bob"),
            "exclude_authrole" to listOf(
                "guest",
            ),
            "eligible_authrole" to listOf("user"), "disclose_me" to true, "retain" to true,
        )
        publish.toBuilder().build() shouldBe publish
        publish.toBuilder().acknowledge(false).excludeMe(true).exclude(null).eligible(null).excludeAuthId(null)
            .eligibleAuthId(
                null,
            ).excludeAuthRole(
                null,
            ).eligibleAuthRole(null).discloseMe(false).build().toMap() shouldBe mapOf("retain" to true)
        // An empty eligible list is sent: it means nobody, not everybody.
        PublishOptions { eligible(emptyList()) }.toMap() shouldBe mapOf("eligible" to emptyList<Long>())
        shouldThrow<IllegalArgumentException> { PublishOptions { exclude(0L) } }
        shouldThrow<IllegalArgumentException> { PublishOptions.builder().eligible(WampValues.MAX_ID + 1).build() }
    }

    test("typed register, subscribe and publish options reach the wire") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val reg = async {
                    s.register(
                        "com.app.",
                        RegisterOptions {
                            match(MatchPolicy.PREFIX)
                            invoke(InvokePolicy.RANDOM)
                            forwardTimeout()
                        },
                    ) { InvokeResult() }
                }
                val r = router.receive().shouldBeInstanceOf<Register>()
                r.procedure shouldBe "com.app."
                r.options shouldBe mapOf("match" to "prefix", "invoke" to "random", "forward_timeout" to true)
                router.send(Registered(r.request, 11))
                reg.await() shouldBe 11L

                val sub = async { s.subscribe("com..temp", SubscribeOptions { match(MatchPolicy.WILDCARD) }) { } }
                val sr = router.receive().shouldBeInstanceOf<Subscribe>()
                sr.options shouldBe mapOf("match" to "wildcard")
                router.send(Subscribed(sr.request, 12))
                sub.await() shouldBe 12L

                // Unacknowledged: returns once sent, with no publication id.
                s.publish(
                    "com.t",
                    listOf(1),
                    options = PublishOptions {
                        excludeMe(false)
                        eligible(7L)
                    },
                ) shouldBe null
                val p1 = router.receive().shouldBeInstanceOf<Publish>()
                p1.options shouldBe mapOf("exclude_me" to false, "eligible" to listOf(7L))
                p1.args shouldBe listOf(1L)

                // Acknowledged: waits for PUBLISHED and returns its id; an ERROR is a WampErrorException.
                val acked =
                    async {
                        s.publish(
                            "com.t",
                            options = PublishOptions {
                                acknowledge()
                                discloseMe()
                                excludeAuthRole("guest")
                            },
                        )
                    }
                val p2 = router.receive().shouldBeInstanceOf<Publish>()
                p2.options shouldBe mapOf(
                    "acknowledge" to true,
                    "exclude_authrole" to listOf("guest"),
                    "disclose_me" to true,
                )
                router.send(Published(p2.request, 77))
                acked.await() shouldBe 77L
                val refused = async { runCatching { s.publish("com.t", options = PublishOptions { acknowledge() }) } }
                val p3 = router.receive().shouldBeInstanceOf<Publish>()
                router.send(ErrorMessage(MessageCodes.PUBLISH, p3.request, emptyMap(), "wamp.error.not_authorized"))
                val refusal = refused.await().exceptionOrNull().shouldBeInstanceOf<WampErrorException>()
                refusal.error shouldBe "wamp.error.not_authorized"

                // The Java faces send the same maps.
                val viaJava = s.publishAsync(
                    "com.t",
                    listOf(),
                    mapOf(),
                    PublishOptions.builder().exclude(listOf(9L)).build(),
                )
                router.receive().shouldBeInstanceOf<Publish>().options shouldBe mapOf("exclude" to listOf(9L))
                viaJava.get() shouldBe null
            }
        }
    }

    test("invocation and event accessors: the concrete URI, the disclosed caller and publisher") {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val invocations = Channel<Invocation>(Channel.UNLIMITED)
            val events = Channel<Event>(Channel.UNLIMITED)
            coroutineScope {
                val reg =
                    async {
                        s.register("com.app.", RegisterOptions { match(MatchPolicy.PREFIX) }) {
                            invocations.send(it)
                            InvokeResult()
                        }
                    }
                router.send(Registered(router.receive().shouldBeInstanceOf<Register>().request, 21))
                reg.await()
                val exact = async {
                    s.register("com.exact") {
                        invocations.send(it)
                        InvokeResult()
                    }
                }
                router.send(Registered(router.receive().shouldBeInstanceOf<Register>().request, 22))
                exact.await()
                val sub = async { s.subscribe("com.news") { events.send(it) } }
                router.send(Subscribed(router.receive().shouldBeInstanceOf<Subscribe>().request, 23))
                sub.await()

                router.send(
                    InvocationMessage(
                        1,
                        21,
                        mapOf(
                            "procedure" to "com.app.add",
                            "caller" to 5L,
                            "caller_authid" to "alice",
                            "caller_authrole" to "user",
                            "timeout" to 3000L,
                        ),
                    ),
                )
                router.receive().shouldBeInstanceOf<Yield>()
                with(invocations.receive()) {
                    procedure shouldBe "com.app.add"
                    caller shouldBe 5L
                    callerAuthId shouldBe "alice"
                    callerAuthRole shouldBe "user"
                    timeout shouldBe Duration.ofSeconds(3)
                }
                router.send(InvocationMessage(2, 22, emptyMap()))
                router.receive().shouldBeInstanceOf<Yield>()
                with(invocations.receive()) {
                    procedure shouldBe "com.exact" // no details: the registered procedure
                    caller shouldBe null
                    callerAuthId shouldBe null
                    callerAuthRole shouldBe null
                    timeout shouldBe null
                }

                router.send(EventMessage(23, 100, emptyMap(), listOf("plain")))
                router.send(
                    EventMessage(
                        23,
                        101,
                        mapOf(
                            "topic" to "com.news",
                            "publisher" to 6L,
                            "publisher_authid" to "bob",
                            "publisher_authrole" to "admin",
                        ),
                    ),
                )
                with(events.receive()) {
                    topic shouldBe "com.news"
                    publisher shouldBe null
                    publisherAuthId shouldBe null
                    publisherAuthRole shouldBe null
                }
                with(events.receive()) {
                    topic shouldBe "com.news"
                    publisher shouldBe 6L
                    publisherAuthId shouldBe "bob"
                    publisherAuthRole shouldBe "admin"
                }
                // Values built by hand (no session) keep working; only the session-known URI is missing.
                Invocation(1, emptyList(), emptyMap(), emptyMap()).procedure shouldBe null
                Event(1, 2, emptyList(), emptyMap(), mapOf("topic" to "a.b")).topic shouldBe "a.b"
            }
        }
    }

    test(
        "a forwarded call timeout cancels the handler and answers wamp.error.timeout; INTERRUPT still answers canceled",
    ) {
        withTimeout(10.seconds) {
            val (s, router) = joined()
            val cancelled = Channel<String>(Channel.UNLIMITED)
            coroutineScope {
                val reg = async {
                    s.register("com.slow", RegisterOptions { forwardTimeout() }) { inv ->
                        if (inv.args.firstOrNull() == "fast") return@register InvokeResult.of("fast")
                        try {
                            awaitCancellation()
                        } catch (e: CancellationException) {
                            cancelled.send(e.message ?: "")
                            throw e
                        }
                    }
                }
                router.send(Registered(router.receive().shouldBeInstanceOf<Register>().request, 31))
                reg.await()

                router.send(InvocationMessage(1, 31, mapOf("timeout" to 100L)))
                router.receive() shouldBe ErrorMessage(
                    MessageCodes.INVOCATION,
                    1,
                    emptyMap(),
                    "wamp.error.timeout",
                    listOf("call timeout"),
                )
                cancelled.receive() shouldBe "call timeout"

                // Answered in time: a YIELD.
                router.send(InvocationMessage(2, 31, mapOf("timeout" to 200L), listOf("fast")))
                router.receive() shouldBe Yield(2, emptyMap(), listOf("fast"))

                router.send(InvocationMessage(3, 31, mapOf("timeout" to 60_000L)))
                router.send(Interrupt(3, mapOf("mode" to "killnowait")))
                router.receive() shouldBe ErrorMessage(MessageCodes.INVOCATION, 3, emptyMap(), "wamp.error.canceled")
                cancelled.receive()

                // A handler's own timeout is not the call's: it still answers canceled, not timeout.
                val own = async {
                    s.register("com.own") { withTimeout(50.milliseconds) { awaitCancellation() } }
                }
                router.send(Registered(router.receive().shouldBeInstanceOf<Register>().request, 32))
                own.await()
                router.send(InvocationMessage(4, 32, mapOf("timeout" to 60_000L)))
                router.receive() shouldBe ErrorMessage(MessageCodes.INVOCATION, 4, emptyMap(), "wamp.error.canceled")
            }
        }
    }
})
