@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.wamp.message.Call
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.transport.LocalPeer
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.lang.ref.WeakReference
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/**
 * A closed session is garbage: nothing the library keeps (the shared deadline thread with a call's ten-minute
 * deadline still queued, handler coroutines, subscription queues) reaches it after its end. The load-at-scale run
 * once found every closed session's queues still reachable after the close (docs/performance.md).
 */
class SessionRetentionSpec : FunSpec({
    /** A session that subscribed, got an event, made a call and left; only a weak reference to it comes back. */
    suspend fun usedAndClosed(): WeakReference<WampSession> = withContext(Dispatchers.Default) {
        // Dispatchers.Default has no timer of its own: the call's deadline goes to the shared DeadlineSweeper.
        val config = SessionConfig("realm1") {
            callTimeout(10.minutes)
            responseTimeout(10.minutes)
        }
        val (client, router) = LocalPeer.pair()
        coroutineScope {
            val joining = async { WampSession.join(client, config) }
            (router.receive() is Hello) shouldBe true
            router.send(Welcome(7, emptyMap()))
            val session = joining.await()

            val delivered = CompletableDeferred<Any?>()
            val subscribing = async { session.subscribe("retention.topic") { delivered.complete(it.args.single()) } }
            router.send(Subscribed((router.receive() as Subscribe).request, 11))
            subscribing.await()
            router.send(EventMessage(11, 1, emptyMap(), listOf("event")))
            withTimeout(10.seconds) { delivered.await() } shouldBe "event"

            val calling = async { session.call("retention.proc", listOf(1)) }
            router.send(ResultMessage((router.receive() as Call).request, emptyMap(), listOf(2)))
            calling.await().args shouldBe listOf(2L)

            val leaving = async { session.leave() }
            (router.receive() is Goodbye) shouldBe true
            router.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
            leaving.await()
            session.isOpen shouldBe false
            WeakReference(session)
        }
    }

    test("a session that subscribed, called and left becomes unreachable") {
        val session = usedAndClosed()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (session.get() != null && System.nanoTime() < deadline) {
            System.gc()
            Thread.onSpinWait()
        }
        session.get() shouldBe null
    }
})
