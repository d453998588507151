package dev.tether.testkit.wamp

import dev.tether.wamp.PublishOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.serializer.Serialization
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Semaphore
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.io.DataInputStream
import java.net.InetSocketAddress
import java.net.Socket
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.Duration.Companion.seconds

/**
 * A blocked subscriber, as nexus treats one: the router drops EVENTs to a session whose outbound queue is full
 * ([FakeWampRouterConfig.outboundQueueSize]), counts them ([FakeWampRouter.eventStats]) and never drops anything
 * else; a Tether subscriber keeps its connection read, so the router never drops to it, and a slow handler of its
 * own loses events on the client side only, where [WampSession.stats] shows them.
 */
class BlockedSubscriberSpec : FunSpec({
    val json = Serialization.JSON.serializer()

    /** A RawSocket JSON client on a plain socket: it reads only when the test says so. */
    class RawClient(port: Int) : AutoCloseable {
        // A small receive buffer: the router's writes back up after a few events instead of megabytes.
        val socket = Socket().apply {
            receiveBufferSize = 4096
            connect(InetSocketAddress("127.0.0.1", port), 5_000)
            soTimeout = 10_000
        }
        private val input = DataInputStream(socket.getInputStream())
        private val output = socket.getOutputStream()

        init {
            output.write(byteArrayOf(0x7F, 0xF1.toByte(), 0, 0)) // 16 MiB, JSON
            output.flush()
            val reply = ByteArray(4).also { input.readFully(it) }
            reply[0] shouldBe 0x7F.toByte()
        }

        fun send(m: Message) {
            val bytes = json.encode(m)
            val header = byteArrayOf(0, (bytes.size shr 16).toByte(), (bytes.size shr 8).toByte(), bytes.size.toByte())
            output.write(header + bytes)
            output.flush()
        }

        fun receive(): Message {
            while (true) {
                val header = ByteArray(4).also { input.readFully(it) }
                val length = ((header[1].toInt() and 0xFF) shl 16) or ((header[2].toInt() and 0xFF) shl 8) or
                    (header[3].toInt() and 0xFF)
                val body = ByteArray(length).also { input.readFully(it) }
                if (header[0].toInt() and 7 == 0) return json.decode(body) // else a PING or PONG: not ours
            }
        }

        override fun close() = socket.close()
    }

    test("a subscriber that does not read its socket loses EVENTs at the router, and the count says how many") {
        FakeWampRouter.start { outboundQueueSize(16) }.use { router ->
            withTimeout(60.seconds) {
                val raw = withContext(Dispatchers.IO) { RawClient(router.rawSocketPort) }
                raw.use {
                    val sessionId = withContext(Dispatchers.IO) {
                        raw.send(Hello("realm1", mapOf("roles" to mapOf("subscriber" to emptyMap<String, Any?>()))))
                        val welcome = raw.receive().shouldBeInstanceOf<Welcome>()
                        raw.send(Subscribe(1, emptyMap(), "flood"))
                        raw.receive().shouldBeInstanceOf<Subscribed>()
                        welcome.session
                    }
                    val publisher = WampSession.connect(router.wsUrl, SessionConfig("realm1"))
                    val published = 400
                    val payload = "x".repeat(16 * 1024)
                    // Acknowledged one by one: when the last PUBLISHED arrives the router has routed (or dropped)
                    // every event, and the subscriber has read none of them.
                    repeat(published) { publisher.publish("flood", listOf(it.toLong(), payload), options = ACK) }
                    val dropped = router.eventStats().droppedTo(sessionId)
                    dropped shouldBeGreaterThan 0L
                    router.eventStats().eventsDropped shouldBe dropped
                    // Now it reads: the RESULT of a call made after the flood is never dropped and comes after every
                    // EVENT the router kept, so counting up to it counts every event delivered.
                    val delivered = withContext(Dispatchers.IO) {
                        raw.send(Call(2, emptyMap(), "wamp.session.count"))
                        var events = 0L
                        while (true) {
                            when (val m = raw.receive()) {
                                is EventMessage -> events++
                                is ResultMessage -> if (m.request == 2L) break
                                else -> Unit
                            }
                        }
                        events
                    }
                    (delivered + dropped) shouldBe published.toLong()
                    publisher.leave()
                }
            }
        }
    }

    test("a prompt Tether subscriber under a flood loses nothing at the router; a slow handler drops client-side") {
        FakeWampRouter.start().use { router ->
            withTimeout(60.seconds) {
                val prompt = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                val slow = WampSession.connect(router.wsUrl, SessionConfig("realm1") { eventBuffer(8) })
                val promptEvents = AtomicLong()
                val allPrompt = CompletableDeferred<Unit>()
                val published = 3_000L
                // The flood runs at most 32 events ahead of what the prompt subscriber has taken: the router's queue to
                // it (64 messages, as nexus) can then never fill, however slowly this machine schedules the reader.
                val window = Semaphore(32)
                prompt.subscribe("flood") {
                    window.release()
                    if (promptEvents.incrementAndGet() == published) allPrompt.complete(Unit)
                }
                val release = CountDownLatch(1)
                val slowEvents = AtomicLong()
                slow.subscribe("flood") {
                    // The first event holds the handler until the flood is over: the rest queue up, then drop.
                    withContext(Dispatchers.IO) { release.await(30, TimeUnit.SECONDS) }
                    slowEvents.incrementAndGet()
                }
                // A marker on its own subscription: events are read in order, so once its handler runs the slow
                // session has read every flood event off its socket (queued or dropped).
                val floodRead = CompletableDeferred<Unit>()
                slow.subscribe("flood.end") { floodRead.complete(Unit) }
                val publisher = WampSession.connect(router.tcpUrl, SessionConfig("realm1"))
                // Up to 32 acknowledged publishes in flight: a flood, paced by the prompt subscriber's reading.
                val acks = Semaphore(32)
                coroutineScope {
                    for (i in 0 until published) {
                        window.acquire()
                        acks.acquire()
                        launch {
                            try {
                                publisher.publish("flood", listOf(i), options = ACK)
                            } finally {
                                acks.release()
                            }
                        }
                    }
                }
                allPrompt.await()
                router.eventStats().droppedTo(prompt.id) shouldBe 0L
                router.eventStats().droppedTo(slow.id) shouldBe 0L
                prompt.stats().eventsDropped shouldBe 0L
                // The slow session read every event off its socket and dropped the overflow itself, counted.
                publisher.publish("flood.end", options = ACK)
                floodRead.await()
                // The marker's handler may run before the read thread counts the marker as queued; a reply the
                // session reads after that EVENT is read only once its delivery (and count) is done.
                slow.publish("flood.sync", options = ACK)
                val slowStats = slow.stats()
                slowStats.eventsDropped shouldBeGreaterThan 0L
                slowStats.eventsDroppedByTopic["flood"] shouldBe slowStats.eventsDropped
                release.countDown()
                // The marker is one more queued event.
                (slowStats.eventsQueued + slowStats.eventsDropped) shouldBe published + 1
                publisher.leave()
                slow.leave()
                prompt.leave()
            }
        }
    }

    test("outboundQueueSize: default 64 as nexus, and a size below 1 is refused") {
        FakeWampRouterConfig.DEFAULT.outboundQueueSize shouldBe 64
        io.kotest.assertions.throwables.shouldThrow<IllegalArgumentException> {
            FakeWampRouterConfig { outboundQueueSize(0) }
        }
    }
}) {
    private companion object {
        val ACK = PublishOptions { acknowledge() }
    }
}
