@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.transport.ScriptedRawSocketRouter
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.matchers.types.shouldBeSameInstanceAs
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.net.Socket
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * A reconnecting [WampClient] pins its connections to one event loop: [WampClient.dispatcher] is the I/O thread of
 * every session it joins, the first and the ones after a reconnect.
 */
class WampClientDispatcherSpec : FunSpec({
    val quickly = ReconnectPolicy {
        backoff(ExponentialBackoff(minDelay = 10.milliseconds, quickDropThreshold = 0.seconds))
    }

    test("every session of a client, across a reconnect, runs on the client's dispatcher, an I/O thread") {
        withTimeout(20.seconds) {
            ScriptedRawSocketRouter.start("tcp").use { router ->
                coroutineScope {
                    val drop = java.util.concurrent.CountDownLatch(1)
                    val script = async {
                        runInterruptible(Dispatchers.IO) {
                            router.accept().use {
                                it.join(1)
                                drop.await() // then dropped, once the test has looked at the first session
                            }
                            router.accept().use { conn ->
                                conn.join(2)
                                conn.readMessage().shouldBeInstanceOf<Goodbye>()
                                conn.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                                conn.awaitEof()
                            }
                        }
                    }
                    val client = WampClient(router.url, SessionConfig("realm1"), quickly)
                    val dispatcher = client.dispatcher
                    withContext(dispatcher) { Thread.currentThread().name } shouldStartWith "tether-io"
                    val lost = async(start = CoroutineStart.UNDISPATCHED) {
                        client.events.filterIsInstance<ConnectionEvent.Disconnected>().first()
                    }
                    client.connect()
                    val first = client.session!!
                    first.id shouldBe 1L
                    first.dispatcher shouldBeSameInstanceAs dispatcher
                    drop.countDown()
                    lost.await()
                    val second = client.awaitSession()
                    second.id shouldBe 2L
                    second.dispatcher shouldBeSameInstanceAs dispatcher
                    client.dispatcher shouldBeSameInstanceAs dispatcher
                    client.closeAndJoin()
                    script.await() shouldBe true
                }
            }
        }
    }

    test("two clients may get different loops, but each keeps its own; a socketDialer client has no loop") {
        val a = WampClient("tcp://127.0.0.1:1", SessionConfig("realm1"))
        val b = WampClient("unix:///tmp/none.sock", SessionConfig("realm1"))
        withContext(a.dispatcher) { Thread.currentThread().name } shouldStartWith "tether-io"
        withContext(b.dispatcher) { Thread.currentThread().name } shouldStartWith "tether-io"
        a.dispatcher shouldBeSameInstanceAs a.dispatcher
        val own = WampClient(
            "tcp://127.0.0.1:1",
            SessionConfig("realm1") { socketDialer { _, _, _ -> Socket() } },
        )
        own.dispatcher shouldBeSameInstanceAs Dispatchers.Default
        a.closeAndJoin()
        b.closeAndJoin()
        own.closeAndJoin()
    }
})
