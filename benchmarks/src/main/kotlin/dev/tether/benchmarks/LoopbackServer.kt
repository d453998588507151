package dev.tether.benchmarks

import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufUtil
import io.netty.channel.ChannelHandlerContext
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketFrame
import java.util.concurrent.atomic.AtomicLong

/**
 * The benchmark's own WebSocket server on 127.0.0.1 (ephemeral port): Netty ([PeerServer]), every message handled
 * inline on its connection's event loop with no hand-off, so that the peer is never what limits the client it is
 * measured with (issue 14). As FakeBroker:
 * * `/echo` sends every text frame back unchanged (the bytes, no decoding): the raw round-trip baseline;
 * * `/envelope-echo` answers each wsclient request `{"kind":…,"id":"X",…,"payload":P}` with
 *   `{"kind":"echo.result","in_reply_to":"X","ts":…,"payload":P}` found by plain string search, no JSON parsing:
 *   the cheapest correct peer for the correlating client, so that its figures show the client's own costs. It
 *   understands only the flat payloads the benchmark sends;
 * * `/source` answers one text request `TOTAL SIZE` with TOTAL bytes in binary messages of SIZE bytes (the raw
 *   baseline of one-way downloads);
 * * `/sink` reads and discards every frame, keeping only a count: a peer that never answers and retains nothing,
 *   so that the client's heap is all that grows while requests are pending;
 * * `/window-sink` and `/window-source` are `/sink` and `/source` under a credit window, wsmux's flow-control rule
 *   without wsmux ([RawBulkClient.windowBytes]): the receiver answers each binary message it has read with a 4-byte
 *   little-endian credit of its size, and the sender keeps at most the window unacknowledged. `/window-source`
 *   takes the text request `TOTAL CHUNK WINDOW`.
 *
 * The sources write while the socket is writable and go on when it drains (and, windowed, when credit comes); the
 * answering endpoints stop reading while their answers cannot be written. Every endpoint answers pings and a close
 * frame; fragmented messages arrive joined (the benchmark's clients send none). A request other than the expected
 * text closes the connection.
 */
internal class LoopbackServer : AutoCloseable {
    private val sunk = AtomicLong()
    private val sunkByteCount = AtomicLong()

    private val server = PeerServer(
        "loopback-peer",
        mapOf(
            "/echo" to PeerServer.handler { Echo() },
            "/envelope-echo" to PeerServer.handler { EnvelopeEcho() },
            "/source" to PeerServer.handler { Source(windowed = false) },
            "/window-source" to PeerServer.handler { Source(windowed = true) },
            "/window-sink" to PeerServer.handler { Sink(credit = true) },
            "/sink" to PeerServer.handler { Sink(credit = false) },
        ),
    )

    val port: Int = server.port

    fun url(path: String): String = "ws://127.0.0.1:$port$path"

    /** Payload bytes the sink has swallowed since start. */
    fun sunkBytes(): Long = sunkByteCount.get()

    /** Data frames the sink has swallowed since start. */
    fun sunkFrames(): Long = sunk.get()

    /** The `/envelope-echo` answer to [request], or null when it has no id (nothing to correlate). */
    internal fun leanReply(request: String): String? {
        val idAt = request.indexOf(ID_KEY)
        if (idAt < 0) return null
        val idStart = idAt + ID_KEY.length
        val idEnd = request.indexOf('"', idStart)
        val payloadAt = request.indexOf(PAYLOAD_KEY)
        val payload = if (payloadAt < 0) {
            "null"
        } else {
            request.substring(
                payloadAt + PAYLOAD_KEY.length,
                request.indexOf('}', payloadAt) + 1,
            )
        }
        return buildString(request.length + 32) {
            append("{\"kind\":\"echo.result\",\"in_reply_to\":\"").append(request, idStart, idEnd)
            append("\",\"ts\":\"").append(REPLY_TS).append("\",\"payload\":").append(payload).append('}')
        }
    }

    override fun close() = server.close()

    private class Echo : PeerEndpoint() {
        override fun onMessage(ctx: ChannelHandlerContext, frame: WebSocketFrame) {
            // The received buffer itself goes back out.
            if (frame is TextWebSocketFrame) reply(ctx, TextWebSocketFrame(true, 0, frame.content().retain()))
        }
    }

    private inner class EnvelopeEcho : PeerEndpoint() {
        override fun onMessage(ctx: ChannelHandlerContext, frame: WebSocketFrame) {
            if (frame !is TextWebSocketFrame) return
            val answer = leanReply(frame.content().toString(Charsets.UTF_8)) ?: return
            reply(ctx, TextWebSocketFrame(ByteBufUtil.writeUtf8(ctx.alloc(), answer)))
        }
    }

    /** `/sink` (text and binary counted) or, with [credit], `/window-sink` (binary counted and credited). */
    private inner class Sink(private val credit: Boolean) : PeerEndpoint() {
        override fun onMessage(ctx: ChannelHandlerContext, frame: WebSocketFrame) {
            if (credit && frame !is BinaryWebSocketFrame) return
            val size = frame.content().readableBytes()
            sunkByteCount.addAndGet(size.toLong())
            sunk.incrementAndGet()
            if (credit) reply(ctx, BinaryWebSocketFrame(ctx.alloc().buffer(4).writeIntLE(size)))
        }
    }

    /** `/source` or, [windowed], `/window-source`. */
    private class Source(private val windowed: Boolean) : PeerEndpoint() {
        /**
         * One message of the pattern, direct: every message sent is a slice of it, never a copy. Null until the
         * request.
         */
        private var message: ByteBuf? = null
        private var total = 0L
        private var size = 0
        private var sent = 0L
        private var credit = Long.MAX_VALUE

        override fun onMessage(ctx: ChannelHandlerContext, frame: WebSocketFrame) {
            if (message == null) {
                if (frame !is TextWebSocketFrame) return run { ctx.close() }
                val numbers = frame.text().split(' ').map { it.toLong() }
                total = numbers[0]
                size = numbers[1].toInt()
                if (windowed) credit = numbers[2]
                if (size <= 0) return run { ctx.close() }
                message = ctx.alloc().directBuffer(size).writeBytes(ByteArray(size) { (it % 251).toByte() })
                pump(ctx)
            } else if (windowed && frame is BinaryWebSocketFrame) {
                credit += frame.content().let { it.getUnsignedIntLE(it.readerIndex()) }
                pump(ctx)
            }
        }

        override fun onWritable(ctx: ChannelHandlerContext) = pump(ctx)

        private fun pump(ctx: ChannelHandlerContext) {
            val m = message ?: return
            var wrote = false
            while (sent < total && ctx.channel().isWritable) {
                val n = minOf(size.toLong(), total - sent).toInt()
                if (credit < n) break
                ctx.write(BinaryWebSocketFrame(m.retainedSlice(0, n)), ctx.voidPromise())
                credit -= n
                sent += n
                wrote = true
            }
            if (wrote) ctx.flush()
        }

        override fun channelInactive(ctx: ChannelHandlerContext) {
            message?.release()
            message = null
            ctx.fireChannelInactive()
        }
    }

    private companion object {
        const val ID_KEY = "\"id\":\""
        const val PAYLOAD_KEY = "\"payload\":"
        const val REPLY_TS = "2025-06-01T12:34:56.123456789Z"
    }
}
