@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Cancel
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.message.Yield
import dev.tether.wamp.transport.LocalPeer
import dev.tether.wamp.transport.ScriptedRawSocketRouter
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeGreaterThan
import io.kotest.matchers.longs.shouldBeLessThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withTimeout
import java.net.InetAddress
import java.net.ServerSocket
import java.util.concurrent.CountDownLatch
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * [WampSession.stats] and [WampClient.stats]: how calls ended, what is pending and running, and a client's joins,
 * failed attempts and totals across reconnects, against a router the test plays.
 */
class WampStatsSpec : FunSpec({
    suspend fun joined(config: SessionConfig): Pair<WampSession, LocalPeer> = coroutineScope {
        val (client, router) = LocalPeer.pair()
        val session = async { WampSession.join(client, config) }
        router.receive().shouldBeInstanceOf<Hello>()
        router.send(Welcome(7, mapOf("authid" to "u", "authrole" to "user")))
        session.await() to router
    }

    test("each call counts once: answered (with its round trip), failed, cancelled; pending while unanswered") {
        withTimeout(10.seconds) {
            val (s, router) = joined(SessionConfig("realm1") { responseTimeout(30.seconds) })
            s.stats() shouldBe SessionStats(0, 0, emptyMap())
            var answeredRoundTrip = 0L
            coroutineScope {
                val before = System.nanoTime()
                val answered = async { s.call("com.ok") }
                val call = router.receive().shouldBeInstanceOf<Call>()
                s.stats().requestsPending shouldBe 1
                router.send(ResultMessage(call.request, emptyMap(), listOf("ok")))
                answered.await().args shouldBe listOf("ok")
                val elapsed = System.nanoTime() - before
                val afterAnswer = s.stats()
                afterAnswer.callsAnswered shouldBe 1
                afterAnswer.callRoundTripNanos shouldBeGreaterThan 0
                afterAnswer.callRoundTripNanos shouldBeLessThanOrEqual elapsed
                afterAnswer.requestsPending shouldBe 0
                answeredRoundTrip = afterAnswer.callRoundTripNanos

                val failing = async { runCatching { s.call("com.fails") } }
                val failed = router.receive().shouldBeInstanceOf<Call>()
                router.send(ErrorMessage(MessageCodes.CALL, failed.request, emptyMap(), "com.error.nope"))
                failing.await().exceptionOrNull().shouldBeInstanceOf<RpcException>()

                val abandoned = launch { s.call("com.slow") }
                val slow = router.receive().shouldBeInstanceOf<Call>()
                abandoned.cancel()
                router.receive() shouldBe Cancel(slow.request, mapOf("mode" to "killnowait"))
                // The router's answer to CANCEL is the end of a cancelled call, not a failure.
                router.send(ErrorMessage(MessageCodes.CALL, slow.request, emptyMap(), "wamp.error.canceled"))
                abandoned.join()
            }
            val stats = s.stats()
            stats.callsAnswered shouldBe 1
            stats.callsFailed shouldBe 1
            stats.callsCancelled shouldBe 1
            stats.callsTimedOut shouldBe 0
            stats.requestsPending shouldBe 0
            // Only answered calls have a round trip: the failed and the cancelled one added nothing.
            stats.callRoundTripNanos shouldBe answeredRoundTrip
        }
    }

    test("a call past callTimeout counts as timed out, on a dispatcher with a timer and on one without") {
        withTimeout(10.seconds) {
            val (s, router) = joined(
                SessionConfig("realm1") {
                    callTimeout(200.milliseconds)
                    responseTimeout(30.seconds)
                },
            )
            coroutineScope {
                for (context in listOf(coroutineContext, Dispatchers.Default)) {
                    val call = async(context) { runCatching { s.call("com.slow") } }
                    val c = router.receive().shouldBeInstanceOf<Call>()
                    router.receive() shouldBe Cancel(c.request, mapOf("mode" to "killnowait"))
                    router.send(ErrorMessage(MessageCodes.CALL, c.request, emptyMap(), "wamp.error.canceled"))
                    call.await().exceptionOrNull().shouldBeInstanceOf<ResponseTimeoutException>()
                }
            }
            val stats = s.stats()
            stats.callsTimedOut shouldBe 2
            stats.callsCancelled shouldBe 0
            stats.callsFailed shouldBe 0
            stats.callsAnswered shouldBe 0
            stats.requestsPending shouldBe 0
        }
    }

    test("invocations running now and those refused over maxConcurrentInvocations") {
        withTimeout(10.seconds) {
            val (s, router) = joined(SessionConfig("realm1") { maxConcurrentInvocations(2) })
            val release = CompletableDeferred<Unit>()
            coroutineScope {
                val registered = async { s.register("com.slow") { release.await().let { InvokeResult.of() } } }
                router.send(Registered(router.receive().shouldBeInstanceOf<Register>().request, 11))
                registered.await()
                for (i in 1L..3L) router.send(InvocationMessage(i, 11, emptyMap(), listOf(i)))
                router.receive().shouldBeInstanceOf<ErrorMessage>().request shouldBe 3L
                s.stats().invocationsRunning shouldBe 2
                s.stats().invocationsRefused shouldBe 1
                release.complete(Unit)
                router.receive().shouldBeInstanceOf<Yield>()
                router.receive().shouldBeInstanceOf<Yield>()
                s.stats().invocationsRunning shouldBe 0
                s.stats().invocationsRefused shouldBe 1
            }
        }
    }

    test("an event is counted as queued before its handler runs: a handler reading stats() finds itself counted") {
        withTimeout(10.seconds) {
            // Inline handlers: the handler runs inside the session's hand-over of the event, the earliest it can.
            val (s, router) = joined(SessionConfig("realm1") { handlerExecutor(Runnable::run) })
            val seen = Channel<Long>(Channel.UNLIMITED)
            coroutineScope {
                val sub = async { s.subscribe("com.news") { seen.send(s.stats().eventsQueued) } }
                router.send(Subscribed(router.receive().shouldBeInstanceOf<Subscribe>().request, 23))
                sub.await()
                router.send(EventMessage(23, 1, emptyMap(), listOf("a")))
                router.send(EventMessage(23, 2, emptyMap(), listOf("b")))
                seen.receive() shouldBe 1L
                seen.receive() shouldBe 2L
                s.stats().eventsQueued shouldBe 2L
            }
        }
    }

    test("a client counts joins and reconnects, keeps call totals across a reconnect, and zeros now-values") {
        withTimeout(20.seconds) {
            ScriptedRawSocketRouter.start("tcp").use { router ->
                coroutineScope {
                    val drop = CountDownLatch(1)
                    val script = async {
                        runInterruptible(Dispatchers.IO) {
                            router.accept().use { conn ->
                                conn.join(1)
                                val call = conn.readMessage().shouldBeInstanceOf<Call>()
                                conn.send(ResultMessage(call.request, emptyMap(), listOf(1L)))
                                drop.await()
                            }
                            router.accept().use { conn ->
                                conn.join(2)
                                val call = conn.readMessage().shouldBeInstanceOf<Call>()
                                conn.send(ErrorMessage(MessageCodes.CALL, call.request, emptyMap(), "com.error.nope"))
                                conn.readMessage().shouldBeInstanceOf<Goodbye>()
                                conn.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                                conn.awaitEof()
                            }
                        }
                    }
                    val client = WampClient(router.url, SessionConfig("realm1"), quickly)
                    client.stats() shouldBe WampClientStats(0, noFailures(), SessionStats(0, 0, emptyMap()))
                    val events = async(start = CoroutineStart.UNDISPATCHED) {
                        client.events.filterIsInstance<ConnectionEvent.Connected>().take(2).toList()
                    }
                    val lost = async(start = CoroutineStart.UNDISPATCHED) {
                        client.events.filterIsInstance<ConnectionEvent.Disconnected>().first()
                    }
                    client.connect()
                    client.call("com.one").args shouldBe listOf(1L)
                    client.stats().sessionsJoined shouldBe 1
                    client.stats().reconnects shouldBe 0
                    drop.countDown()
                    lost.await()
                    // Between sessions: the first session's totals, nothing pending or running.
                    val between = client.stats().session
                    between.callsAnswered shouldBe 1
                    between.requestsPending shouldBe 0
                    events.await()
                    runCatching { client.call("com.two") }.exceptionOrNull().shouldBeInstanceOf<RpcException>()
                    val stats = client.stats()
                    stats.sessionsJoined shouldBe 2
                    stats.reconnects shouldBe 1
                    stats.attemptsFailedTotal shouldBe 0
                    stats.session.callsAnswered shouldBe 1 // the first session's, carried
                    stats.session.callsFailed shouldBe 1 // the second session's
                    stats.session.requestsPending shouldBe 0
                    client.closeAndJoin()
                    client.stats().session.callsFailed shouldBe 1
                    script.await() shouldBe true
                }
            }
        }
    }

    test("failed attempts count by cause: a refused connection is CONNECTION") {
        withTimeout(20.seconds) {
            val port = ServerSocket(0, 1, InetAddress.getByName("127.0.0.1")).use { it.localPort }
            val policy = quickly.toBuilder().maxAttempts(3).build()
            val client = WampClient("tcp://127.0.0.1:$port", SessionConfig("realm1"), policy)
            client.start()
            client.awaitClosed()
            val stats = client.stats()
            stats.attemptsFailed shouldBe noFailures() + (WampJoinFailure.CONNECTION to 3L)
            stats.attemptsFailedTotal shouldBe 3
            stats.sessionsJoined shouldBe 0
            stats.reconnects shouldBe 0
        }
    }

    test("causes: timeouts, refusals and protocol faults are told apart, a wrapped cause is looked through") {
        WampJoinFailure.of(ResponseTimeoutException("HELLO", 5)) shouldBe WampJoinFailure.TIMEOUT
        WampJoinFailure.of(dev.tether.wamp.error.AbortException("wamp.error.no_such_realm", emptyMap())) shouldBe
            WampJoinFailure.ABORTED
        WampJoinFailure.of(dev.tether.wamp.error.WampErrorException("wamp.error.not_authorized")) shouldBe
            WampJoinFailure.RESTORE
        WampJoinFailure.of(dev.tether.wamp.error.ProtocolViolationException("bad")) shouldBe WampJoinFailure.PROTOCOL
        val wrapped = dev.tether.wamp.error.WampConnectionLostException(
            "lost",
            dev.tether.core.DialTimeoutException("tcp://x", 5),
        )
        WampJoinFailure.of(wrapped) shouldBe WampJoinFailure.TIMEOUT
        WampJoinFailure.of(java.io.IOException("reset")) shouldBe WampJoinFailure.CONNECTION
        WampJoinFailure.of(IllegalStateException("?")) shouldBe WampJoinFailure.OTHER
    }
}) {
    private companion object {
        val quickly = ReconnectPolicy {
            backoff(ExponentialBackoff(minDelay = 10.milliseconds, quickDropThreshold = 0.seconds))
        }

        fun noFailures(): Map<WampJoinFailure, Long> = WampJoinFailure.entries.associateWith { 0L }
    }
}
