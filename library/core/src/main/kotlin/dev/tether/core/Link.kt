package dev.tether.core

import io.netty.channel.EventLoop
import kotlinx.coroutines.CoroutineDispatcher

/** A data message on its way out. */
internal sealed class OutFrame {
    /** A text message, already UTF-8: transports write these bytes as they are. */
    class Text(val utf8: ByteArray) : OutFrame()
    class Binary(val bytes: ByteArray) : OutFrame()

    /**
     * A binary message of [head] followed by [length] bytes of [body] from [offset]: a protocol's header in front of
     * a caller's bytes without joining them first. The link copies [body] before its send returns, so the caller may
     * reuse it at once.
     */
    class BinaryParts(val head: ByteArray, val body: ByteArray, val offset: Int, val length: Int) : OutFrame() {
        val size: Int get() = head.size + length

        /** The message as one array (for a transport that cannot write parts). */
        @OptIn(InternalTetherApi::class)
        fun joined(): ByteArray = joinParts(head, body, offset, length)
    }
}

/**
 * [head] followed by [length] bytes of [body] from [offset], as one new array: the join of a protocol's header and a
 * caller's bytes for a transport that cannot write them as parts ([OutFrame.BinaryParts.joined], wsmux's DAT send).
 */
@InternalTetherApi
public fun joinParts(head: ByteArray, body: ByteArray, offset: Int, length: Int): ByteArray =
    head.copyOf(head.size + length).also { System.arraycopy(body, offset, it, head.size, length) }

/**
 * One open WebSocket as a transport implements it, under a [WebSocketConnection]. The transport calls back into the
 * connection with [WebSocketConnection.deliver] (on its I/O thread), [WebSocketConnection.ended] and
 * [WebSocketConnection.released]; everything else the connection needs is here.
 */
internal interface Link {
    /** A header of the 101 response (case-insensitive; the first of repeated ones), or null. */
    fun handshakeHeader(name: String): String?

    /** The thread that reads this socket, as a dispatcher (see [WebSocketConnection.dispatcher]). */
    val dispatcher: CoroutineDispatcher

    /** The Netty event loop that reads this socket, or null for a transport without one. */
    val eventLoop: EventLoop?

    /** Queues [frame] behind the frames queued before it; suspends while the queue is full. */
    suspend fun send(frame: OutFrame)

    /** Queues [frame] if there is room now. */
    fun trySend(frame: OutFrame): Boolean

    /** Queues a close frame behind everything queued; the socket closes once the peer answers or [abort] runs. */
    fun sendClose(code: Short, reason: String)

    /** Drops the socket now. */
    fun abort()

    /** Stops reading the socket until [resumeReading] (the consumer of [WebSocketConnection.incoming] is behind). */
    fun pauseReading()

    /** Reads the socket again. */
    fun resumeReading()
}
