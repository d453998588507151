@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.core.netty

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.netty.buffer.ByteBuf
import io.netty.buffer.Unpooled
import io.netty.channel.embedded.EmbeddedChannel
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * The send queue shared by the WebSocket link and WAMP's RawSocket peer: room by queued messages, one flush per
 * burst, senders woken when room comes back.
 */
class OutboundQueueSpec : FunSpec({
    fun message(n: Int): ByteBuf = Unpooled.buffer(1).writeByte(n)

    test("senders resumed on the loop that find the room taken again wait again, and the loop goes on") {
        val channel = EmbeddedChannel()
        val queue = OutboundQueue(channel, maxQueued = 1)
        queue.enqueue(message(0))
        queue.hasRoom() shouldBe false
        // Unconfined senders resume inline, in the thread that wakes them: here the flush on the loop.
        val scope = CoroutineScope(Job() + Dispatchers.Unconfined)
        val senders = (1..3).map { n ->
            scope.launch(start = CoroutineStart.UNDISPATCHED) {
                while (!queue.hasRoom()) queue.awaitRoom()
                queue.enqueue(message(n))
            }
        }
        // The embedded loop runs its tasks in the calling thread: run them on another one with a bound, so that a
        // loop that never ends fails this test instead of hanging it.
        val loop = Executors.newSingleThreadExecutor { r -> Thread(r, "embedded-loop").apply { isDaemon = true } }
        try {
            val written = mutableListOf<Int>()
            repeat(4) {
                loop.submit { channel.runPendingTasks() }.get(10, TimeUnit.SECONDS)
                while (true) {
                    val out = channel.readOutbound<ByteBuf>() ?: break
                    written += out.readByte().toInt()
                    out.release()
                }
            }
            written shouldContainExactly listOf(0, 1, 2, 3)
            senders.all { it.isCompleted } shouldBe true
        } finally {
            scope.cancel()
            loop.shutdownNow()
            channel.finishAndReleaseAll()
        }
    }

    test("room wakes as many waiting senders as it has places for, oldest first, not the whole crowd") {
        val channel = EmbeddedChannel()
        val queue = OutboundQueue(channel, maxQueued = 2)
        queue.enqueue(message(0))
        queue.enqueue(message(0))
        val wakes = java.util.concurrent.atomic.AtomicInteger()
        val scope = CoroutineScope(Job() + Dispatchers.Unconfined)
        (1..100).forEach { n ->
            scope.launch(start = CoroutineStart.UNDISPATCHED) {
                while (!queue.hasRoom()) {
                    queue.awaitRoom()
                    wakes.incrementAndGet()
                }
                queue.enqueue(message(n))
            }
        }
        val written = mutableListOf<Int>()
        repeat(60) {
            channel.runPendingTasks()
            while (true) {
                val out = channel.readOutbound<ByteBuf>() ?: break
                written += out.readByte().toInt()
                out.release()
            }
        }
        written shouldContainExactly listOf(0, 0) + (1..100).toList()
        wakes.get() shouldBe 100 // each sender woken once, when there was a place for it
        scope.cancel()
        channel.finishAndReleaseAll()
    }

    test("the end wakes every waiting sender, and what was never written is released") {
        val channel = EmbeddedChannel()
        val queue = OutboundQueue(channel, maxQueued = 1)
        val pending = message(0)
        queue.enqueue(pending)
        val scope = CoroutineScope(Job() + Dispatchers.Unconfined)
        val woken = scope.launch(start = CoroutineStart.UNDISPATCHED) { queue.awaitRoom() }
        woken.isCompleted shouldBe false
        // What the owner's handler does on channelInactive (before the loop ran the flush).
        queue.onInactive()
        woken.isCompleted shouldBe true
        pending.refCnt() shouldBe 0
        scope.cancel()
        channel.finishAndReleaseAll()
    }
})
