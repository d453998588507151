package dev.tether.testkit

import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

/** WsClient's queue in front of its EnvelopeHandler is bounded: a stuck handler costs dropped frames, not memory. */
class WsClientHandlerQueueSpec : FunSpec({
    test("a stuck handler: frames past the queue are dropped and counted, replies still arrive, then it resumes") {
        val queue = 4
        val extra = 3
        FakeBroker.start().use { broker ->
            val stuck = CompletableDeferred<Unit>()
            val release = CountDownLatch(1)
            val handled = CopyOnWriteArrayList<String>()
            val allHandled = CountDownLatch(1 + queue)
            val handler = EnvelopeHandler { envelope ->
                if (envelope.kind == "push.0") {
                    stuck.complete(Unit)
                    release.await(10, TimeUnit.SECONDS)
                }
                handled.add(envelope.kind)
                allHandled.countDown()
            }
            val config = WsClientConfig(broker.url, handler) {
                authToken(broker.token)
                handlerQueueSize(queue)
            }
            WsClient(config).use { client ->
                withTimeout(10.seconds) {
                    client.connect()
                    broker.awaitConnections(1) // the broker counts it a moment after the client's 101
                }
                broker.broadcast(Envelope.create("push.0"))
                withTimeout(10.seconds) { stuck.await() }
                for (n in 1..queue + extra) broker.broadcast(Envelope.create("push.$n"))
                // The broker answers after every push it sent: the socket was read on while the handler was stuck.
                withTimeout(10.seconds) { client.request(Envelope.request("echo", "{}")) }.kind shouldBe "echo.result"
                client.stats().handlerDrops shouldBe extra.toLong()
                release.countDown()
                allHandled.await(10, TimeUnit.SECONDS) shouldBe true
                handled shouldBe (0..queue).map { "push.$it" }
                client.stats().handlerDrops shouldBe extra.toLong()
            }
        }
    }

    test("the queue size defaults to 4096 and must be positive") {
        val handler = EnvelopeHandler { }
        WsClientConfig("ws://127.0.0.1:1/connect", handler).handlerQueueSize shouldBe 4096
        WsClientConfig.DEFAULT_HANDLER_QUEUE_SIZE shouldBe 4096
        shouldThrow<IllegalArgumentException> {
            WsClientConfig("ws://127.0.0.1:1/connect", handler) { handlerQueueSize(0) }
        }.message shouldBe "handlerQueueSize must be positive, was 0"
    }
})
