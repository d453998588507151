@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.core.netty

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.netty.buffer.ByteBuf
import io.netty.buffer.Unpooled
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelOutboundHandlerAdapter
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
 * burst (and one per [OutboundQueue.DEFAULT_FLUSH_BYTES] of bulk), senders woken when room comes back.
 */
class OutboundQueueSpec : FunSpec({
    fun message(n: Int): ByteBuf = Unpooled.buffer(1).writeByte(n)

    fun bulk(n: Int, size: Int): ByteBuf = Unpooled.buffer(size).writeByte(n).writeZero(size - 1)

    /** Counts flushes reaching the socket. */
    class Flushes : ChannelOutboundHandlerAdapter() {
        var count = 0

        override fun flush(ctx: ChannelHandlerContext) {
            count++
            ctx.flush()
        }
    }

    fun EmbeddedChannel.drain(): List<Int> = buildList {
        while (true) {
            val out = readOutbound<ByteBuf>() ?: break
            add(out.getByte(0).toInt())
            out.release()
        }
    }

    test("bulk sent from the loop with nothing queued goes out at once; small messages wait for the burst's flush") {
        val flushes = Flushes()
        val channel = EmbeddedChannel(flushes)
        val queue = OutboundQueue(channel, maxQueued = 16, flushBytes = 8)
        // A window's DAT written from the loop (a writer resumed by the peer's ACK): on the wire before the read pass
        // that resumed it ends, so the peer can acknowledge it while the rest of the window follows.
        queue.enqueue(bulk(1, 8))
        channel.drain() shouldContainExactly listOf(1)
        flushes.count shouldBe 1
        // Credit and replies still share one flush per burst.
        queue.enqueue(message(2))
        queue.enqueue(message(3))
        channel.drain() shouldBe emptyList()
        channel.runPendingTasks()
        channel.drain() shouldContainExactly listOf(2, 3)
        flushes.count shouldBe 2
        channel.finishAndReleaseAll()
    }

    test("a link's whole data message counts by its payload, encoded further down the pipeline") {
        val channel = EmbeddedChannel()
        val queue = OutboundQueue(channel, maxQueued = 16, flushBytes = 8)
        queue.enqueue(OutData(OutData.OPCODE_BINARY, ByteArray(8)))
        channel.readOutbound<OutData>().payload.size shouldBe 8
        queue.enqueue(OutData(OutData.OPCODE_BINARY, ByteArray(7)))
        channel.readOutbound<OutData>() shouldBe null
        channel.runPendingTasks()
        channel.readOutbound<OutData>().payload.size shouldBe 7
        channel.finishAndReleaseAll()
    }

    test("bulk behind queued messages keeps its place, and the burst is flushed after every flushBytes written") {
        val flushes = Flushes()
        val channel = EmbeddedChannel(flushes)
        val queue = OutboundQueue(channel, maxQueued = 16, flushBytes = 8)
        queue.enqueue(message(1))
        queue.enqueue(bulk(2, 8)) // queued behind message 1, not ahead of it
        queue.enqueue(message(3))
        queue.enqueue(bulk(4, 16))
        queue.enqueue(message(5))
        channel.drain() shouldBe emptyList()
        channel.runPendingTasks()
        channel.drain() shouldContainExactly listOf(1, 2, 3, 4, 5)
        // After 1+8 bytes, after 1+16 more, and the rest at the end of the burst.
        flushes.count shouldBe 3
        channel.finishAndReleaseAll()
    }

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
