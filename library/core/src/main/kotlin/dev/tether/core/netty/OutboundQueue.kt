package dev.tether.core.netty

import dev.tether.core.InternalTetherApi
import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufHolder
import io.netty.channel.Channel
import io.netty.util.ReferenceCountUtil
import kotlinx.coroutines.CancellableContinuation
import kotlinx.coroutines.InternalCoroutinesApi
import kotlinx.coroutines.suspendCancellableCoroutine
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.resume

/**
 * The send side of one Netty socket: messages from any thread are queued and written by one task on the socket's
 * event loop, with one flush for everything queued meanwhile (a burst of replies costs one write, not one each),
 * except that bulk goes out as soon as [flushBytes] of it are written: a credit-windowed sender (a wsmux stream
 * writing a window of DATs) then lets the peer see, and acknowledge, the first part of the window while the rest is
 * still being written, instead of the whole window arriving, and its credit coming back, in one piece.
 * There is room while fewer than [maxQueued] messages wait here and Netty's own buffer is under its high-water mark;
 * senders without room wait in [awaitRoom]. The owner forwards [onWritabilityChanged] and [onInactive] from its
 * handler.
 */
@InternalTetherApi
public class OutboundQueue(
    private val channel: Channel,
    private val maxQueued: Int,
    private val flushBytes: Int = DEFAULT_FLUSH_BYTES,
) {
    private val messages = ConcurrentLinkedQueue<Any>()
    private val queued = AtomicInteger()
    private val flushScheduled = AtomicBoolean()
    private val roomWaiters = ConcurrentLinkedQueue<CancellableContinuation<Unit>>()

    /** True when a message may be queued now. */
    public fun hasRoom(): Boolean = queued.get() < maxQueued && channel.isWritable

    /** Suspends until there is room or the socket is gone (the caller then checks which). */
    public suspend fun awaitRoom() {
        if (hasRoom() || !channel.isActive) return
        suspendCancellableCoroutine { waiter ->
            roomWaiters.add(waiter)
            // Room (or the end) may have come between the check and the registration.
            if (!channel.isActive) {
                wakeSenders()
            } else if (hasRoom()) {
                wakeForRoom()
            }
        }
    }

    /** Queues [message] (a ByteBuf, a frame, or anything the pipeline encodes) behind what is queued. */
    public fun enqueue(message: Any) {
        if (messages.isEmpty() && channel.eventLoop().inEventLoop() && channel.isActive &&
            sizeOf(message) >= flushBytes
        ) {
            // Bulk from the loop itself with nothing queued ahead: out now, not after the current read pass.
            channel.writeAndFlush(message, channel.voidPromise())
            return
        }
        queued.incrementAndGet()
        messages.add(message)
        if (flushScheduled.compareAndSet(false, true)) channel.eventLoop().execute(flush)
    }

    /** Writes everything queued, then flushes once; on the loop. */
    private val flush = Runnable {
        flushScheduled.set(false)
        var unflushed = -1 // bytes written since the last flush; -1: nothing
        while (true) {
            val message = messages.poll() ?: break
            queued.decrementAndGet()
            if (channel.isActive) {
                val size = sizeOf(message)
                channel.write(message, channel.voidPromise())
                unflushed = maxOf(unflushed, 0) + size
                if (unflushed >= flushBytes) {
                    channel.flush()
                    unflushed = -1
                }
            } else {
                ReferenceCountUtil.release(message)
            }
        }
        if (unflushed >= 0) channel.flush()
        if (!roomWaiters.isEmpty() && hasRoom()) wakeForRoom()
    }

    /** A message's data bytes: a link's [OutData] is encoded (and masked) further down the pipeline. */
    private fun sizeOf(message: Any): Int = when (message) {
        is ByteBufHolder -> message.content().readableBytes()
        is ByteBuf -> message.readableBytes()
        is OutData -> message.payload.size
        else -> 0
    }

    /** Writes and flushes everything queued now (on the loop: before a close that must not drop it). */
    public fun flushNow() {
        flush.run()
    }

    /** From the handler's channelWritabilityChanged. */
    public fun onWritabilityChanged() {
        if (hasRoom()) wakeForRoom()
    }

    /** From the handler's channelInactive: wakes every waiting sender and releases what was never written. */
    public fun onInactive() {
        wakeSenders()
        while (true) ReferenceCountUtil.release(messages.poll() ?: break)
    }

    /**
     * Wakes every sender waiting for room, so that each checks again (the owner's end, say). Only those waiting
     * when this starts: a sender resumed in this thread (unconfined) that finds the room gone waits again, and
     * polling until the queue is empty would resume it again and again without end, spinning the event loop.
     */
    public fun wakeSenders() {
        var waiting = roomWaiters.size
        while (waiting-- > 0) roomWaiters.poll()?.resume(Unit) ?: break
    }

    /**
     * Wakes as many waiting senders, oldest first, as there is room for: waking all of them would send thousands
     * of waiters (a burst of requests) round the loop for every few freed places. A sender woken here takes its
     * place and queues; the flush that follows wakes the next ones. A waiter cancelled meanwhile takes no room.
     * Each resume spends a place, so a sender that waits again cannot keep this loop going (no queue walk for a
     * size here: this runs after every flush, with possibly many thousands waiting).
     */
    @OptIn(InternalCoroutinesApi::class)
    private fun wakeForRoom() {
        var room = maxQueued - queued.get()
        while (room > 0) {
            val waiter = roomWaiters.poll() ?: break
            val token = waiter.tryResume(Unit) ?: continue
            waiter.completeResume(token)
            room--
        }
    }

    public companion object {
        /**
         * Written bytes that are flushed at once rather than at the end of the burst: one full wsmux DAT (16 KiB of
         * payload). Small messages (replies, ACKs, credit) stay batched.
         */
        public const val DEFAULT_FLUSH_BYTES: Int = 16 * 1024
    }
}
