@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionClosedException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.transport.LocalPeer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.future.await
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** How a session ends: closeAndJoin, closeAsync, leave with a reason, awaitClosed, and the end's typed reason. */
class SessionEndSpec : FunSpec({
    suspend fun joined(
        config: SessionConfig = SessionConfig("realm1") { responseTimeout(500.milliseconds) },
    ): Pair<WampSession, LocalPeer> = coroutineScope {
        val (client, router) = LocalPeer.pair()
        val session = async { WampSession.join(client, config) }
        router.receive().shouldBeInstanceOf<Hello>()
        router.send(Welcome(42, emptyMap()))
        session.await() to router
    }

    test("closeAndJoin leaves with close_realm; a second caller waits for the same close; then everything fails") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val first = async { s.closeAndJoin() }
                router.receive() shouldBe Goodbye(emptyMap(), WampSession.CLOSE_REALM)
                val second = async { s.closeAndJoin() }
                router.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                first.await()
                second.await()
            }
            // One GOODBYE only: the second close waited for the first instead of leaving again.
            shouldThrow<ConnectionClosedException> { router.receive() }
            s.isOpen shouldBe false
            val reason = s.awaitClosed()
            reason.shouldBeInstanceOf<WampSessionClosedException>()
            reason.message shouldContain "session closed"
            s.closedFuture().await() shouldBe reason
            shouldThrow<WampSessionClosedException> { s.call("after") } shouldBe reason
            shouldThrow<WampSessionClosedException> { s.callAsync("after").await() }
        }
    }

    test("closeAndJoin cancels the handlers the session started and returns only once they have stopped") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            val started = CompletableDeferred<Unit>()
            val stopped = CompletableDeferred<Unit>()
            coroutineScope {
                val registering = async {
                    s.register("com.example.forever") {
                        started.complete(Unit)
                        try {
                            awaitCancellation()
                        } finally {
                            stopped.complete(Unit)
                        }
                    }
                }
                val register = router.receive().shouldBeInstanceOf<Register>()
                router.send(Registered(register.request, 7))
                registering.await() shouldBe 7L
                router.send(InvocationMessage(1, 7, emptyMap()))
                started.await()
                val closing = async { s.closeAndJoin() }
                router.receive().shouldBeInstanceOf<Goodbye>()
                router.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                closing.await()
                stopped.isCompleted shouldBe true
            }
        }
    }

    test("leave sends the caller's reason; closeAsync after the end completes at once") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            coroutineScope {
                val leaving = async { s.leave("wamp.close.system_shutdown") }
                router.receive() shouldBe Goodbye(emptyMap(), "wamp.close.system_shutdown")
                router.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                leaving.await()
            }
            s.closeAsync().await()
            s.isOpen shouldBe false
        }
    }

    test("closeAndJoin is bounded when the router never answers GOODBYE") {
        withTimeout(5.seconds) {
            val (s, router) = joined(SessionConfig("realm1") { responseTimeout(100.milliseconds) })
            coroutineScope {
                val closing = async { s.closeAndJoin() }
                router.receive().shouldBeInstanceOf<Goodbye>()
                closing.await() // twice the response timeout, then the connection is closed anyway
            }
            s.awaitClosed().message shouldContain "session closed"
        }
    }

    test("awaitClosed after a lost connection is a WampConnectionLostException; closeAndJoin then sends nothing") {
        withTimeout(5.seconds) {
            val (s, router) = joined()
            router.close()
            val reason = s.awaitClosed()
            reason.shouldBeInstanceOf<WampConnectionLostException>()
            reason.message shouldContain "connection lost"
            s.closeAndJoin()
            shouldThrow<WampConnectionLostException> { s.publish("t") }
        }
    }
})
