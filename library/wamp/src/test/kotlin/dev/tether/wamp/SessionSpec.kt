@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.auth.WampCra
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.Abort
import dev.tether.wamp.message.Authenticate
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.Challenge
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
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
import dev.tether.wamp.message.Unsubscribe
import dev.tether.wamp.message.Unsubscribed
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.serializer.CborSerializer
import dev.tether.wamp.serializer.JsonSerializer
import dev.tether.wamp.serializer.MsgPackSerializer
import dev.tether.wamp.transport.LocalPeer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The client session against a scripted router on an in-process peer: the test plays the router, message by message.
 */
class SessionSpec : FunSpec({
    val welcomeDetails =
        mapOf(
            "authid" to "u1",
            "authrole" to "user",
            "authmethod" to "anonymous",
            "authprovider" to "static",
            "roles" to mapOf("dealer" to emptyMap<String, Any?>()),
        )

    suspend fun joined(
        config: SessionConfig = SessionConfig("realm1") {
            responseTimeout(500.milliseconds)
        },
    ): Pair<WampSession, LocalPeer> = coroutineScope {
        val (client, router) = LocalPeer.pair()
        val session = async { WampSession.join(client, config) }
        router.receive().shouldBeInstanceOf<Hello>()
        router.send(Welcome(42, welcomeDetails))
        session.await() to router
    }

    test("HELLO announces the same roles and features as the nexus client capture, for each serializer") {
        // Captured bytes, split at fixed widths so they can be compared with the capture by eye.
        @Suppress("ktlint:standard:max-line-length")
        val captures = listOf(
            JsonSerializer() to (
                "[1,\"realm1\",{\"roles\":{\"caller\":{\"features\":{\"call_timeout\":true,\"caller_i" +
                    "dentification\":true,\"progressive_call_invocations\":true,\"progressive_call_results\":true,\"paylo" +
                    "ad_passthru_mode\":true,\"call_canceling\":true}},\"publisher\":{\"features\":{\"subscriber_blackwhi" +
                    "te_listing\":true,\"publisher_exclusion\":true,\"publisher_identification\":true,\"payload_passthru_" +
                    "mode\":true}},\"subscriber\":{\"features\":{\"pattern_based_subscription\":true,\"publisher_identifi" +
                    "cation\":true,\"payload_passthru_mode\":true}},\"callee\":{\"features\":{\"pattern_based_registratio" +
                    "n\":true,\"shared_registration\":true,\"call_canceling\":true,\"call_timeout\":true,\"caller_identif" +
                    "ication\":true,\"progressive_call_invocations\":true,\"progressive_call_results\":true,\"payload_pas" +
                    "sthru_mode\":true}}}}]"
                ).toByteArray(),
            CborSerializer() to hex(
                "8301667265616c6d31a165726f6c6573a46663616c6c6565a1686665617475726573a8781c70726f67726573736976655f63" +
                    "616c6c5f696e766f636174696f6e73f5781870726f67726573736976655f63616c6c5f726573756c7473f5757061796c" +
                    "6f61645f70617373746872755f6d6f6465f5781a7061747465726e5f62617365645f726567697374726174696f6ef573" +
                    "7368617265645f726567697374726174696f6ef56e63616c6c5f63616e63656c696e67f56c63616c6c5f74696d656f75" +
                    "74f57563616c6c65725f6964656e74696669636174696f6ef56663616c6c6572a1686665617475726573a66e63616c6c" +
                    "5f63616e63656c696e67f56c63616c6c5f74696d656f7574f57563616c6c65725f6964656e74696669636174696f6ef5" +
                    "781c70726f67726573736976655f63616c6c5f696e766f636174696f6e73f5781870726f67726573736976655f63616c" +
                    "6c5f726573756c7473f5757061796c6f61645f70617373746872755f6d6f6465f5697075626c6973686572a168666561" +
                    "7475726573a4757061796c6f61645f70617373746872755f6d6f6465f5781d737562736372696265725f626c61636b77" +
                    "686974655f6c697374696e67f5737075626c69736865725f6578636c7573696f6ef578187075626c69736865725f6964" +
                    "656e74696669636174696f6ef56a73756273637269626572a1686665617475726573a378187075626c69736865725f69" +
                    "64656e74696669636174696f6ef5757061796c6f61645f70617373746872755f6d6f6465f5781a7061747465726e5f62" +
                    "617365645f737562736372697074696f6ef5",
            ),
        )
        val ours = Hello("realm1", SessionJoin.helloDetails(SessionConfig("realm1")))
        for ((s, bytes) in captures) {
            val nexus = s.decode(bytes).shouldBeInstanceOf<Hello>()
            WampValues.deepEquals(nexus.details, ours.details) shouldBe true
            s.encode(ours).size shouldBe bytes.size
        }
        MsgPackSerializer().encode(ours).size shouldBe 587
    }

    test("HELLO with auth handlers adds authmethods, keeps authid, and cryptosign puts its key in authextra") {
        val key = dev.tether.wamp.auth.CryptosignKey.generate()
        val details = SessionJoin.helloDetails(
            SessionConfig("r") {
                authId("alice")
                authHandler("cryptosign", AuthHandler.cryptosign(key))
            },
        )
        details["authid"] shouldBe "alice"
        details["authmethods"] shouldBe listOf("cryptosign")
        details["authextra"] shouldBe mapOf("pubkey" to key.publicKeyHex)
    }

    test("join: WELCOME details are exposed") {
        withTimeout(5.seconds) {
            val (s, _) = joined()
            s.id shouldBe 42
            s.authId shouldBe "u1"
            s.authRole shouldBe "user"
            s.realmDetails shouldBe welcomeDetails
            s.isOpen shouldBe true
        }
    }

    test("join: CHALLENGE is answered by the matching handler (wampcra salted)") {
        withTimeout(5.seconds) {
            val (client, router) = LocalPeer.pair()
            val config =
                SessionConfig("realm1") {
                    authId("saltuser")
                    authHandler("wampcra", AuthHandler.wampCra("saltsecret"))
                }
            coroutineScope {
                val session = async { WampSession.join(client, config) }
                val hello = router.receive().shouldBeInstanceOf<Hello>()
                hello.details["authmethods"] shouldBe listOf("wampcra")
                val ch = "{ \"nonce\":\"WpHKew1A6gz5F1M4Zj8/7Q==\", \"authprovider\":\"static\", \"authid\":\"saltuse" +
                    "r\", \"timestamp\":\"2026-11-22T01:04:17Z\", \"authrole\":\"user\", \"authmethod\":\"wampcra\"," +
                    " \"session\":7834933735956547 }"
                router.send(
                    Challenge(
                        "wampcra",
                        mapOf("challenge" to ch, "salt" to "salt123", "keylen" to 32L, "iterations" to 1000L),
                    ),
                )
                router.receive() shouldBe Authenticate("M76V2iqW77Q6CXQ5+aSyd7pWvFsi0o2uJFPV3eN0hpg=", emptyMap())
                router.send(Welcome(7834933735956547, mapOf("authmethod" to "wampcra")))
                session.await().id shouldBe 7834933735956547
            }
        }
    }

    test("join: ABORT is an AbortException with the URI and the router's message") {
        withTimeout(5.seconds) {
            val (client, router) = LocalPeer.pair()
            coroutineScope {
                val session =
                    async {
                        runCatching {
                            WampSession.join(
                                client,
                                SessionConfig("realm1") {
                                    authHandler("ticket", AuthHandler.ticket("bad"))
                                },
                            )
                        }
                    }
                router.receive()
                router.send(Challenge("ticket", emptyMap()))
                router.receive().shouldBeInstanceOf<Authenticate>().signature shouldBe "bad"
                router.send(Abort(mapOf("message" to "invalid ticket"), "wamp.error.authentication_failed"))
                val e = session.await().exceptionOrNull().shouldBeInstanceOf<AbortException>()
                e.reason shouldBe "wamp.error.authentication_failed"
                e.message shouldContain "invalid ticket"
            }
        }
    }

    test("join: a CHALLENGE for a method without handler aborts; no WELCOME in time is ResponseTimeoutException") {
        withTimeout(5.seconds) {
            val (client, router) = LocalPeer.pair()
            coroutineScope {
                val session = async { runCatching { WampSession.join(client, SessionConfig("realm1")) } }
                router.receive()
                router.send(Challenge("ticket", emptyMap()))
                router.receive().shouldBeInstanceOf<Abort>().reason shouldBe "wamp.error.authentication_failed"
                session.await().exceptionOrNull().shouldBeInstanceOf<AbortException>()
            }
            val (c2, r2) = LocalPeer.pair()
            coroutineScope {
                val session =
                    async {
                        runCatching {
                            WampSession.join(c2, SessionConfig("realm1") { responseTimeout(100.milliseconds) })
                        }
                    }
                r2.receive()
                session.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
            }
        }
    }

    test("call: RESULT returns args/kwargs/details; ERROR is RpcException with URI, args, kwargs, details") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val r = async { s.call("com.add", listOf(1, 2), mapOf("k" to "v")) }
                val call = router.receive().shouldBeInstanceOf<Call>()
                call.procedure shouldBe "com.add"
                call.args shouldBe listOf(1L, 2L)
                call.kwargs shouldBe mapOf("k" to "v")
                router.send(ResultMessage(call.request, mapOf("d" to 1L), listOf(3L), mapOf("x" to true)))
                r.await() shouldBe CallResult(listOf(3L), mapOf("x" to true), mapOf("d" to 1L))

                val failed = async { runCatching { s.call("com.fail") } }
                val call2 = router.receive().shouldBeInstanceOf<Call>()
                (call2.request > call.request) shouldBe true
                router.send(
                    ErrorMessage(
                        MessageCodes.CALL,
                        call2.request,
                        mapOf("d" to 2L),
                        "com.error.bad",
                        listOf("why"),
                        mapOf("code" to 7L),
                    ),
                )
                val e = failed.await().exceptionOrNull().shouldBeInstanceOf<RpcException>()
                e.error shouldBe "com.error.bad"
                e.args shouldBe listOf("why")
                e.kwargs shouldBe mapOf("code" to 7L)
                e.details shouldBe mapOf("d" to 2L)
            }
        }
    }

    test("call: cancelling the caller sends CANCEL; the late RESULT is dropped and the session keeps working") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val job = launch { s.call("slow") }
                val call = router.receive().shouldBeInstanceOf<Call>()
                job.cancel()
                router.receive() shouldBe Cancel(call.request, mapOf("mode" to "killnowait"))
                router.send(ResultMessage(call.request, emptyMap(), listOf("late")))
                router.send(ResultMessage(999_999, emptyMap(), listOf("unknown")))
                val ok = async { s.call("fast") }
                val c2 = router.receive().shouldBeInstanceOf<Call>()
                router.send(ResultMessage(c2.request, emptyMap(), listOf("ok")))
                ok.await().args shouldBe listOf("ok")
            }
        }
    }

    test("typed call options reach the wire; a cancelled call sends its own cancel mode, else the session's") {
        withTimeout(5.seconds) {
            val (s, router) = joined(
                SessionConfig("realm1") {
                    responseTimeout(500.milliseconds)
                    cancelMode(CancelMode.KILL)
                },
            )
            coroutineScope {
                val typed =
                    CallOptions {
                        timeout(2.seconds)
                        discloseMe()
                        option("x", 1)
                        cancelMode(CancelMode.SKIP)
                    }
                val job = launch { s.call("slow", listOf(1), options = typed) }
                val call = router.receive().shouldBeInstanceOf<Call>()
                call.options shouldBe mapOf("timeout" to 2000L, "disclose_me" to true, "x" to 1L)
                job.cancel()
                router.receive() shouldBe Cancel(call.request, mapOf("mode" to "skip"))
                router.send(ErrorMessage(MessageCodes.CALL, call.request, emptyMap(), "wamp.error.canceled"))
                job.join()

                val plain = launch { s.call("slow") }
                val call2 = router.receive().shouldBeInstanceOf<Call>()
                call2.options shouldBe emptyMap()
                plain.cancel()
                router.receive() shouldBe Cancel(call2.request, mapOf("mode" to "kill"))
                router.send(ErrorMessage(MessageCodes.CALL, call2.request, emptyMap(), "wamp.error.canceled"))
                plain.join()

                val progressive =
                    launch { s.callProgress("slow", options = CallOptions { cancelMode(CancelMode.KILL_NO_WAIT) }) { } }
                val call3 = router.receive().shouldBeInstanceOf<Call>()
                call3.options shouldBe mapOf("receive_progress" to true)
                progressive.cancel()
                router.receive() shouldBe Cancel(call3.request, mapOf("mode" to "killnowait"))
            }
        }
    }

    test("call options: a timeout that is not positive is refused when built") {
        shouldThrow<IllegalArgumentException> { CallOptions { timeout(java.time.Duration.ZERO) } }
        shouldThrow<IllegalArgumentException> { CallOptions.builder().timeout(java.time.Duration.ofMillis(-1)).build() }
        CallOptions.DEFAULT.toMap() shouldBe emptyMap()
        CallOptions {
            timeout(1500.milliseconds)
        }.toBuilder().discloseMe(false).build().toMap() shouldBe mapOf("timeout" to 1500L)
    }

    test("subscribe: ResponseTimeout when the router is silent; the late SUBSCRIBED is dropped") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val sub = async { runCatching { s.subscribe("t") { } } }
                val req = router.receive().shouldBeInstanceOf<Subscribe>()
                sub.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
                router.send(Subscribed(req.request, 5))
                s.subscriptionId("t") shouldBe null
                val pub = async { s.publish("t", options = mapOf("acknowledge" to true)) }
                val p = router.receive().shouldBeInstanceOf<Publish>()
                router.send(Published(p.request, 77))
                pub.await() shouldBe 77L
                s.isOpen shouldBe true
            }
        }
    }

    test("subscribe: events of one subscription reach the handler in order, off the read loop; unsubscribe") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            val got = Channel<Long>(Channel.UNLIMITED)
            val firstRelease = CompletableDeferred<Unit>()
            coroutineScope {
                val sub = async {
                    s.subscribe("topic") { e ->
                        val n = e.args[0] as Long
                        if (n == 0L) firstRelease.await() // a slow handler must not block the read loop
                        got.send(n)
                    }
                }
                val req = router.receive().shouldBeInstanceOf<Subscribe>()
                router.send(Subscribed(req.request, 9))
                sub.await() shouldBe 9L
                s.subscriptionId("topic") shouldBe 9L
                for (i in 0L until 50L) router.send(EventMessage(9, 100 + i, emptyMap(), listOf(i)))
                // The read loop still answers while the handler is stuck.
                val pub = async { s.publish("x", options = mapOf("acknowledge" to true)) }
                val p = router.receive().shouldBeInstanceOf<Publish>()
                router.send(Published(p.request, 1))
                pub.await() shouldBe 1L
                firstRelease.complete(Unit)
                List(50) { got.receive() } shouldBe (0L until 50L).toList()

                val unsub = async { s.unsubscribe("topic") }
                val u = router.receive().shouldBeInstanceOf<Unsubscribe>()
                u.subscription shouldBe 9L
                router.send(Unsubscribed(u.request))
                unsub.await()
                s.subscriptionId("topic") shouldBe null
                router.send(EventMessage(9, 500, emptyMap(), listOf(500L)))
                val pub2 = async { s.publish("x", options = mapOf("acknowledge" to true)) }
                val p2 = router.receive().shouldBeInstanceOf<Publish>()
                router.send(Published(p2.request, 2))
                pub2.await() shouldBe 2L
                got.tryReceive().getOrNull() shouldBe null
            }
        }
    }

    test("register: INVOCATION runs the handler and answers YIELD; RpcException answers ERROR; INTERRUPT cancels") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val reg = async {
                    s.register("com.echo") { inv ->
                        when (inv.args.firstOrNull()) {
                            "fail" -> throw RpcException("com.error.nope", listOf("no"), mapOf("k" to 1L))
                            "hang" -> awaitCancellation()
                            else -> InvokeResult(inv.args, inv.kwargs)
                        }
                    }
                }
                val r = router.receive().shouldBeInstanceOf<Register>()
                router.send(Registered(r.request, 31))
                reg.await() shouldBe 31L
                s.registrationId("com.echo") shouldBe 31L

                router.send(InvocationMessage(1, 31, emptyMap(), listOf("hi"), mapOf("a" to 1L)))
                router.receive() shouldBe Yield(1, emptyMap(), listOf("hi"), mapOf("a" to 1L))
                router.send(InvocationMessage(2, 31, emptyMap(), listOf("fail")))
                router.receive() shouldBe ErrorMessage(
                    MessageCodes.INVOCATION,
                    2,
                    emptyMap(),
                    "com.error.nope",
                    listOf("no"),
                    mapOf("k" to 1L),
                )
                router.send(InvocationMessage(3, 31, emptyMap(), listOf("hang")))
                router.send(Interrupt(3, mapOf("mode" to "killnowait")))
                router.receive() shouldBe ErrorMessage(MessageCodes.INVOCATION, 3, emptyMap(), "wamp.error.canceled")
                router.send(InvocationMessage(4, 99, emptyMap()))
                router.receive() shouldBe ErrorMessage(
                    MessageCodes.INVOCATION,
                    4,
                    emptyMap(),
                    "wamp.error.no_such_registration",
                )
            }
        }
    }

    test("an INTERRUPT that arrives right behind its INVOCATION is always answered wamp.error.canceled") {
        withTimeout(20.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val reg = async { s.register("com.hang") { awaitCancellation() } }
                val r = router.receive().shouldBeInstanceOf<Register>()
                router.send(Registered(r.request, 7))
                reg.await() shouldBe 7L
                // Before the fix an invocation cancelled before its handler started was never answered.
                for (request in 1L..300L) {
                    router.send(InvocationMessage(request, 7, emptyMap()))
                    router.send(Interrupt(request, mapOf("mode" to "killnowait")))
                    router.receive() shouldBe ErrorMessage(
                        MessageCodes.INVOCATION,
                        request,
                        emptyMap(),
                        "wamp.error.canceled",
                    )
                }
            }
        }
    }

    test("GOODBYE from the router: the session answers goodbye_and_out and ends; pending requests fail") {
        withTimeout(5.seconds) {
            val (s, router) = joined(SessionConfig("realm1"))
            coroutineScope {
                val pending = async { runCatching { s.call("x") } }
                router.receive().shouldBeInstanceOf<Call>()
                router.send(Goodbye(emptyMap(), "wamp.close.system_shutdown"))
                router.receive() shouldBe Goodbye(emptyMap(), "wamp.close.goodbye_and_out")
                pending.await().exceptionOrNull().shouldBeInstanceOf<WampSessionClosedException>()
                s.awaitClosed().message shouldContain "router"
                s.isOpen shouldBe false
                shouldThrow<WampSessionClosedException> { s.call("after") }
            }
        }
    }

    test("leave: sends GOODBYE close_realm and waits for the router's GOODBYE") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val left = async { s.leave() }
                router.receive() shouldBe Goodbye(emptyMap(), "wamp.close.close_realm")
                router.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                left.await()
                s.isOpen shouldBe false
            }
        }
    }

    test("a malformed message from the router ends the session with ABORT protocol_violation") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            router.send(Hello("x", emptyMap()))
            router.receive().shouldBeInstanceOf<Abort>().reason shouldBe "wamp.error.protocol_violation"
            s.awaitClosed().message shouldContain "protocol"
        }
    }
})
