package dev.tether.core.netty.fuzz

import dev.tether.core.BinaryBufferListener
import dev.tether.core.ConnectionClosedException
import dev.tether.core.DialerConfig
import dev.tether.core.InternalTetherApi
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.MessageListener
import dev.tether.core.MessageTooLargeException
import dev.tether.core.WebSocketConnection
import dev.tether.core.WsMessage
import dev.tether.core.netty.NettyLink
import dev.tether.core.netty.frameDecoder
import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufUtil
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInboundHandlerAdapter
import io.netty.channel.embedded.EmbeddedChannel
import io.netty.handler.codec.http.DefaultHttpHeaders
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketFrame
import io.netty.util.ReferenceCountUtil
import java.io.ByteArrayOutputStream
import java.io.IOException
import java.time.Duration
import java.util.concurrent.TimeUnit

/**
 * One run of [NettyLinkFuzzTest]: builds the link as the dialer does after a completed upgrade, plays the input's
 * operations ([step]) against it and against a model of what RFC 6455 and the connection's documentation promise,
 * and checks, at the end ([run]):
 * * every message delivered is the bytes of the frames it was made of, text or binary as its first frame said, in
 *   order, nothing lost and nothing after the end; whole binary messages reach a buffer listener in their buffer,
 *   every other message as an array;
 * * every ping is answered with its payload while the connection is open; the keepalive pings every interval and
 *   expires when a pong does not answer it in time;
 * * the connection's end is the typed error the model expects (`ConnectionException`, a `TetherException`): the
 *   peer's close with its code and reason (echoed), `MessageTooLargeException` (1009) for a message over the limit,
 *   `KeepAliveExpiredException` (1001), the channel's own failure; no other exception is thrown or swallowed into it;
 * * every buffer handed over (the test's and the decoder's) is released exactly once, including lent buffers the
 *   listener kept, which keep their bytes until it releases them.
 *
 * On the wire path, input the decoder may refuse (junk, reserved bits or opcodes, frames out of order, bad close
 * bodies) makes the model uncertain from there on: what was promised before it must still hold, and the end may then
 * be any `ConnectionException` caused by the decoder's refusal.
 */
@OptIn(InternalTetherApi::class)
internal class LinkRun(input: ByteArray) {
    private val ops = FuzzInput(input)
    private val setup = ops.next()
    private var consumer = setup and 3
    private val onWire = setup and 4 != 0
    private val keepAlive = setup and 8 != 0
    private val maxBytes = 8L shl ((setup shr 4) and 7)

    private val alloc = TrackingAllocator()
    private val channel = EmbeddedChannel()
    private val config = DialerConfig("ws://127.0.0.1:9/fuzz") {
        maxMessageBytes(maxBytes)
        pingInterval(if (keepAlive) Duration.ofSeconds(1) else Duration.ZERO)
        pongTimeout(Duration.ofSeconds(1))
    }
    private val connection = WebSocketConnection(config, null)

    /** What the consumer got, in order. */
    private val received = ArrayList<Delivered>()

    /** Lent buffers the listener kept past its call, with the bytes they held then. */
    private val kept = ArrayDeque<Pair<ByteBuf, ByteArray>>()
    private var keepsBuffers = consumer == 3

    /** What the listeners saw that is wrong (they must not throw: the connection would log and drop it). */
    private val problems = ArrayList<String>()

    private val listener = MessageListener { message ->
        received += when (message) {
            is WsMessage.Text -> Delivered(true, false, message.utf8)
            is WsMessage.Binary -> Delivered(false, false, message.bytes)
        }
    }

    private val bufferListener = BinaryBufferListener { content ->
        if (content.refCnt() <= 0) problems += "message ${received.size} was lent in a released buffer"
        val bytes = ByteBufUtil.getBytes(content)
        received += Delivered(false, true, bytes)
        if (keepsBuffers) {
            kept += when (received.size % 3) {
                0 -> content.retain()
                1 -> content.retainedSlice()
                else -> content.readRetainedSlice(content.readableBytes())
            } to bytes
        }
    }

    /** The frame bytes not yet written (wire path): frames held to arrive in one read with the next ones. */
    private val wire = ByteArrayOutputStream()
    private val failure = IOException("fuzzed channel failure")

    /** What the link's frame handling threw (see [Watched]). */
    private val thrown = ArrayList<Throwable>()

    // ---- the model -------------------------------------------------------------------------------------------------

    private val expected = ArrayList<Delivered>()
    private val expectedPongs = ArrayList<ByteArray>()
    private val pongs = ArrayList<ByteArray>()
    private val closes = ArrayList<Pair<Int, String>>()
    private var expectedEnd: End? = null

    /** Something the decoder may refuse was sent: from here on the model predicts nothing. */
    private var uncertain = false

    /** The fragmented message in progress (null: none), and whether it is text. */
    private var partial: ByteArrayOutputStream? = null
    private var partialText = false

    /** A buffer listener takes whole binary messages. */
    private var lends = consumer >= 2

    private var pingsExpected = 0
    private var pingsSent = 0
    private var awaitingPong = false
    private var lastPing: ByteArray? = null

    private val ended: Boolean get() = expectedEnd != null

    fun run() {
        try {
            start()
            while (ops.hasMore()) {
                step()
                settle()
            }
            flushWire(0)
            settle()
            while (readIncoming()) Unit
            channel.finishAndReleaseAll()
            while (readIncoming()) Unit
            check()
        } finally {
            runCatching { channel.finishAndReleaseAll() }
            // The link's close timer would keep the channel (and this run) reachable from its loop.
            channel.advanceTimeBy(1, TimeUnit.MINUTES)
            channel.runScheduledPendingTasks()
            for ((buffer, _) in kept) ReferenceCountUtil.safeRelease(buffer)
        }
        alloc.checkAllReleased()
    }

    /** The pipeline after the upgrade, as the dialer leaves it: frame decoder (wire path), then the link. */
    private fun start() {
        channel.freezeTime()
        channel.config().setAllocator(alloc)
        if (onWire) channel.pipeline().addLast("ws-decoder", frameDecoder(config))
        val link = NettyLink(channel, DefaultHttpHeaders(), config, connection)
        connection.attach(link)
        when (consumer) {
            1 -> connection.listen(listener)
            2, 3 -> connection.listen(listener, bufferListener)
        }
        channel.pipeline().addLast("ws", Watched(link))
        link.start()
    }

    /**
     * One operation, `op % 10`:
     * 0. a data frame: flags (`& 1` text, `& 2` more to come, `& 4` size x8, `& 8` continuation opcode on the wire,
     *    `& 16` masked, `& 32` held for the next read), a buffer kind, a size;
     * 1. a ping: flags, kind, size (`& 0x7f`, over 125 refused on the wire);
     * 2. a pong: flags (`& 1` answering the last keepalive ping), kind, else a size;
     * 3. a close frame: flags (`% 4` empty, a code, a code and reason, one byte; `& 4` a code the decoder refuses,
     *    `& 8` a reason that is not UTF-8), kind, code index, reason size;
     * 4. a second passes (the keepalive's timers);
     * 5. the consumer reads up to `next % 32 + 1` messages of `incoming`, or releases up to `next % 4 + 1` kept
     *    buffers;
     * 6. an `incoming` consumer switches to a listener (`& 1` with buffers, `& 2` keeping some);
     * 7. the channel fails;
     * 8. on the wire, something the decoder refuses (`% 4`: junk bytes, reserved bits, a reserved opcode, a
     *    fragmented control frame); else as 9;
     * 9. a whole message in pieces: flags (`& 1` text, `>> 1 & 3` continuations, `& 8` size x8), kind, size.
     */
    private fun step() {
        when (ops.next() % 10) {
            0 -> dataFrame()

            1 -> ping()

            2 -> pong()

            3 -> close()

            4 -> {
                flushWire(0)
                tick()
            }

            5 -> consume(ops.next())

            6 -> switchToListener(ops.next())

            7 -> {
                flushWire(0)
                if (channel.isOpen) channel.pipeline().fireExceptionCaught(failure)
                if (!ended && !uncertain) expectedEnd = End.Failed
            }

            8 -> if (onWire) refused() else fragmented()

            else -> fragmented()
        }
    }

    private fun dataFrame() {
        val flags = ops.next()
        val kind = ops.next()
        val text = flags and 1 != 0
        val fin = flags and 2 == 0
        val bytes = payload(ops.next() * (if (flags and 4 != 0) 8 else 1))
        if (onWire) {
            val continuation = flags and 8 != 0
            if (continuation != (partial != null)) uncertain = true
            encode(fin, 0, dataOpcode(continuation, text), bytes, flags and 16 != 0)
            if (flags and 32 == 0) flushWire(kind)
            data(text, fin, bytes)
        } else {
            data(text, fin, decodedFrame(text, fin, bytes, kind))
        }
    }

    private fun fragmented() {
        val flags = ops.next()
        val kind = ops.next()
        val text = flags and 1 != 0
        val continuations = 1 + ((flags shr 1) and 3)
        val bytes = payload(ops.next() * (if (flags and 8 != 0) 8 else 1))
        val cuts = (0..continuations + 1).map { it * bytes.size / (continuations + 1) }
        for (i in 0..continuations) {
            var piece = bytes.copyOfRange(cuts[i], cuts[i + 1])
            val fin = i == continuations
            if (onWire) {
                encode(fin, 0, dataOpcode(partial != null, text), piece, false)
                flushWire(kind + i)
            } else {
                piece = decodedFrame(text, fin, piece, kind + i)
            }
            data(text, fin, piece)
        }
    }

    /**
     * Writes a data frame as the decoder hands it on (in order, each within the limit: [bytes] cut to it) in a
     * buffer of [kind]; returns the bytes it carries.
     */
    private fun decodedFrame(text: Boolean, fin: Boolean, bytes: ByteArray, kind: Int): ByteArray {
        val carried = if (bytes.size > maxBytes) bytes.copyOf(maxBytes.toInt()) else bytes
        val content = alloc.wrap(carried, kind)
        write(
            when {
                partial != null -> ContinuationWebSocketFrame(fin, 0, content)
                text -> TextWebSocketFrame(fin, 0, content)
                else -> BinaryWebSocketFrame(fin, 0, content)
            },
        )
        return carried
    }

    /** The model of one data frame the link reads. */
    private fun data(text: Boolean, fin: Boolean, bytes: ByteArray) {
        if (ended || uncertain) return
        // Only on the wire: the decoder bounds every frame at the message limit.
        if (bytes.size > maxBytes) return end(End.TooLarge)
        val held = partial
        if (held == null && fin) return expect(Delivered(text, lends && !text, bytes))
        if ((held?.size() ?: 0) + bytes.size > maxBytes) return end(End.TooLarge)
        val parts = held ?: ByteArrayOutputStream().also {
            partial = it
            partialText = text
        }
        parts.write(bytes)
        if (!fin) return
        partial = null
        expect(Delivered(partialText, false, parts.toByteArray()))
    }

    private fun expect(message: Delivered) {
        // Everything, even past `incoming`'s queue when the connection ends meanwhile: `incoming` closes only behind
        // the backlog (it once closed first and dropped it: HostilePeerSpec).
        expected += message
    }

    private fun ping() {
        val flags = ops.next()
        val kind = ops.next()
        val bytes = controlPayload(payload(ops.next() and 0x7f))
        if (onWire) {
            if (bytes.size > 125) uncertain = true
            encode(true, 0, 9, bytes, flags and 16 != 0)
            if (flags and 32 == 0) flushWire(kind)
        } else {
            write(PingWebSocketFrame(alloc.wrap(bytes, kind)))
        }
        if (control(bytes)) expectedPongs += bytes
    }

    private fun pong() {
        val flags = ops.next()
        val kind = ops.next()
        val answer = lastPing
        val bytes = if (flags and 1 != 0 && answer != null) answer else controlPayload(payload(ops.next() % 126))
        if (onWire) {
            encode(true, 0, 10, bytes, flags and 16 != 0)
            if (flags and 32 == 0) flushWire(kind)
        } else {
            write(PongWebSocketFrame(alloc.wrap(bytes, kind)))
        }
        if (control(bytes) && awaitingPong && bytes.contentEquals(answer)) awaitingPong = false
    }

    private fun close() {
        val flags = ops.next()
        val kind = ops.next()
        val shape = flags % 4
        val code = if (onWire && flags and 4 != 0) {
            uncertain = true
            REFUSED_CODES[ops.next() % REFUSED_CODES.size]
        } else {
            CODES[ops.next() % CODES.size]
        }
        // Only on the wire can a frame outgrow the limit (the decoder refuses it).
        val reasonSize = (ops.next() % 24).let { if (onWire) it else minOf(it, maxBytes.toInt() - 2) }
        val reason = ByteArray(reasonSize) { ('a' + ops.next() % 26).code.toByte() }
        if (onWire && flags and 8 != 0 && reasonSize > 0) {
            reason[0] = 0xff.toByte()
            uncertain = true
        }
        val body = ByteArrayOutputStream()
        when (shape) {
            0 -> Unit

            1 -> body.write(byteArrayOf((code shr 8).toByte(), code.toByte()))

            2 -> body.write(byteArrayOf((code shr 8).toByte(), code.toByte()) + reason)

            else -> if (onWire) {
                uncertain = true
                body.write(code)
            } else {
                body.write(byteArrayOf((code shr 8).toByte(), code.toByte()))
            }
        }
        val bytes = body.toByteArray()
        if (onWire) {
            encode(true, 0, 8, bytes, flags and 16 != 0)
            if (flags and 32 == 0) flushWire(kind)
        } else {
            write(CloseWebSocketFrame(true, 0, alloc.wrap(bytes, kind)))
        }
        if (!control(bytes)) return
        val closeCode = if (bytes.size >= 2) code else null
        val closeReason = if (shape == 2) reason.decodeToString() else ""
        end(End.Closed(closeCode, closeReason))
    }

    /**
     * The payload of a control frame the decoder hands on: on the frame path, within the limit (the decoder bounds
     * every frame, control frames too); on the wire, as it is.
     */
    private fun controlPayload(bytes: ByteArray): ByteArray =
        if (onWire || bytes.size <= maxBytes) bytes else bytes.copyOf(maxBytes.toInt())

    /**
     * The model of a control frame of [payload]: true when the link reads it (the connection open, the model certain).
     * A frame over the limit (on the wire only) ends the connection instead.
     */
    private fun control(payload: ByteArray): Boolean {
        if (ended || uncertain) return false
        if (payload.size > maxBytes) end(End.TooLarge)
        return !ended
    }

    /** Frames the decoder refuses (the model predicts nothing after them). */
    private fun refused() {
        val what = ops.next()
        val kind = ops.next()
        uncertain = true
        when (what % 4) {
            0 -> wire.write(ops.take(ops.next() % 16))

            1 -> encode(true, 1 + (what shr 2) % 7, 2, payload(ops.next() % 16), false)

            2 -> {
                val opcode = RESERVED_OPCODES[(what shr 2) % RESERVED_OPCODES.size]
                encode(true, 0, opcode, payload(ops.next() % 16), false)
            }

            else -> encode(false, 0, 9, payload(ops.next() % 16), false)
        }
        flushWire(kind)
    }

    /** A second passes: the keepalive pings when due, and expires when its ping went unanswered. */
    private fun tick() {
        channel.advanceTimeBy(1, TimeUnit.SECONDS)
        channel.runScheduledPendingTasks()
        if (!keepAlive || ended || uncertain) return
        if (awaitingPong) {
            end(End.KeepAliveExpired)
        } else {
            awaitingPong = true
            pingsExpected++
        }
    }

    private fun consume(count: Int) {
        if (consumer == 0) {
            repeat(count % 32 + 1) { if (!readIncoming()) return }
        } else {
            repeat(count % 4 + 1) {
                val (buffer, bytes) = kept.removeFirstOrNull() ?: return
                if (!ByteBufUtil.getBytes(buffer).contentEquals(bytes)) problems += "a kept buffer's bytes changed"
                buffer.release()
            }
        }
    }

    private fun switchToListener(flags: Int) {
        if (consumer != 0) return
        val withBuffers = flags and 1 != 0
        val switched = if (withBuffers) {
            connection.listen(listener, bufferListener)
        } else {
            connection.listen(listener)
        }
        if (!switched) return
        consumer = if (withBuffers) 2 else 1
        lends = withBuffers
        keepsBuffers = withBuffers && flags and 2 != 0
    }

    private fun readIncoming(): Boolean {
        if (consumer != 0) return false
        val message = connection.incoming.tryReceive().getOrNull() ?: return false
        listener.onMessage(message)
        return true
    }

    private fun end(end: End) {
        expectedEnd = end
        partial = null
    }

    // ---- the peer --------------------------------------------------------------------------------------------------

    private fun write(frame: WebSocketFrame) {
        // A closed channel reads nothing more: the frame is ours to release.
        if (channel.isOpen) channel.writeInbound(frame) else frame.release()
    }

    /** Appends one frame, as a server writes it (unmasked unless [masked]: the decoder tolerates both). */
    private fun encode(fin: Boolean, rsv: Int, opcode: Int, payload: ByteArray, masked: Boolean) {
        wire.write((if (fin) 0x80 else 0) or (rsv shl 4) or opcode)
        val maskBit = if (masked) 0x80 else 0
        if (payload.size < 126) {
            wire.write(maskBit or payload.size)
        } else {
            wire.write(maskBit or 126)
            wire.write(payload.size shr 8)
            wire.write(payload.size and 0xff)
        }
        if (!masked) return wire.write(payload)
        val key = byteArrayOf(0x37, 0xfa.toByte(), 0x21, 0x3d)
        wire.write(key)
        wire.write(ByteArray(payload.size) { (payload[it].toInt() xor key[it and 3].toInt()).toByte() })
    }

    private fun dataOpcode(continuation: Boolean, text: Boolean): Int = when {
        continuation -> 0
        text -> 1
        else -> 2
    }

    /** Writes the held frame bytes as reads, cut in two where [kind] says, each in a buffer of that kind. */
    private fun flushWire(kind: Int) {
        val bytes = wire.toByteArray()
        wire.reset()
        if (bytes.isEmpty()) return
        val cut = (kind shr 3) % (bytes.size + 1)
        for (piece in listOf(bytes.copyOfRange(0, cut), bytes.copyOfRange(cut, bytes.size))) {
            if (piece.isEmpty()) continue
            if (channel.isOpen) channel.writeInbound(alloc.wrap(piece, kind)) else return
        }
    }

    /** Runs what the link left for the loop and takes what it wrote. */
    private fun settle() {
        channel.runPendingTasks()
        while (true) {
            val out = channel.readOutbound<Any>() ?: break
            when (out) {
                is PongWebSocketFrame -> pongs += ByteBufUtil.getBytes(out.content())

                is PingWebSocketFrame -> {
                    pingsSent++
                    lastPing = ByteBufUtil.getBytes(out.content())
                }

                is CloseWebSocketFrame -> closes += out.statusCode() to out.reasonText()

                // The decoder's answer to bytes it refuses after the peer's close (nothing to say: the close is sent).
                is ByteBuf -> if (!onWire || out.isReadable) problems += "the link wrote $out"

                else -> problems += "the link wrote $out"
            }
            ReferenceCountUtil.release(out)
        }
    }

    /** [size] bytes: the input's next few, then a pattern (large messages from small inputs). */
    private fun payload(size: Int): ByteArray {
        val head = ops.take(minOf(size, 8))
        return ByteArray(size) { if (it < head.size) head[it] else (it * 31 + size).toByte() }
    }

    // ---- the checks ------------------------------------------------------------------------------------------------

    private fun check() {
        check(problems.isEmpty()) { problems.joinToString("; ") }
        check(thrown.isEmpty()) { "the link threw ${thrown.first()}".also { thrown.first().printStackTrace() } }
        val cause = checkNotNull(connection.closedFuture().getNow(null)) { "not ended after its channel closed" }
        // After input the decoder may refuse, more may have come than the model expects; after the backlog was
        // dropped, less.
        check(agrees(received, expected, more = uncertain, fewer = false) { a, b -> a.sameAs(b) }) {
            "expected ${expected.size} messages $expected, got ${received.size} $received"
        }
        check(agrees(pongs, expectedPongs, more = uncertain, fewer = false) { a, b -> a.contentEquals(b) }) {
            "expected pongs ${expectedPongs.map { it.size }}, got ${pongs.map { it.size }}"
        }
        if (uncertain) {
            val reason = cause.cause
            check(reason == null || reason === failure || reason is CorruptedWebSocketFrameException) {
                "the connection ended with an unexpected cause: $cause"
            }
            return
        }
        check(pingsSent == pingsExpected) { "expected $pingsExpected keepalive pings, the link sent $pingsSent" }
        when (val end = expectedEnd) {
            null -> check(cause is ConnectionClosedException && cause.code == null && cause.cause == null) {
                "expected the channel's end, got $cause"
            }

            is End.Closed -> check(
                cause is ConnectionClosedException && cause.code == end.code && cause.reason == end.reason &&
                    cause.cause == null,
            ) { "expected the peer's close ${end.code} '${end.reason}', got $cause" }

            End.TooLarge -> check(cause is MessageTooLargeException && cause.limitBytes == maxBytes) {
                "expected MessageTooLargeException($maxBytes), got $cause"
            }

            End.KeepAliveExpired -> check(cause is KeepAliveExpiredException) { "expected keepalive expiry: $cause" }

            End.Failed -> check(cause is ConnectionClosedException && cause.cause === failure) {
                "expected the channel's failure, got $cause"
            }
        }
        val expectedClose = when (val end = expectedEnd) {
            is End.Closed -> listOf((end.code ?: 1000) to end.reason)
            End.TooLarge -> listOf(1009 to (closes.firstOrNull()?.second ?: ""))
            End.KeepAliveExpired -> listOf(1001 to "ping failed")
            else -> emptyList()
        }
        check(closes == expectedClose) { "expected close frames $expectedClose, the link wrote $closes" }
    }

    /**
     * The link in its place in the pipeline, seeing everything it sees, and noting what its `channelRead` throws:
     * Netty would hand that to the link's own `exceptionCaught` (as this does), which folds it into the connection's
     * end, or nowhere once the connection has ended. The link handles every frame itself; anything thrown is a bug.
     */
    private inner class Watched(private val link: NettyLink) : ChannelInboundHandlerAdapter() {
        override fun channelRead(ctx: ChannelHandlerContext, msg: Any) {
            try {
                link.channelRead(ctx, msg)
            } catch (e: Exception) {
                thrown += e
                link.exceptionCaught(ctx, e)
            }
        }

        override fun channelWritabilityChanged(ctx: ChannelHandlerContext) = link.channelWritabilityChanged(ctx)

        override fun channelInactive(ctx: ChannelHandlerContext) = link.channelInactive(ctx)

        @Suppress("OVERRIDE_DEPRECATION")
        override fun exceptionCaught(ctx: ChannelHandlerContext, cause: Throwable) = link.exceptionCaught(ctx, cause)
    }

    /** [actual] and [wanted] agree as far as both go; [actual] may be longer when [more], shorter when [fewer]. */
    private fun <T> agrees(actual: List<T>, wanted: List<T>, more: Boolean, fewer: Boolean, same: (T, T) -> Boolean) =
        (more || actual.size <= wanted.size) &&
            (fewer || actual.size >= wanted.size) &&
            (0 until minOf(actual.size, wanted.size)).all { same(actual[it], wanted[it]) }

    /** One message as the consumer got it (or the model expects it). */
    private class Delivered(val text: Boolean, val lent: Boolean, val bytes: ByteArray) {
        fun sameAs(other: Delivered): Boolean =
            text == other.text && lent == other.lent && bytes.contentEquals(other.bytes)

        override fun toString(): String =
            (if (text) "text" else "binary") + (if (lent) " lent" else "") + " ${bytes.size} B"
    }

    /** How the model expects the connection to end. */
    private sealed interface End {
        data class Closed(val code: Int?, val reason: String) : End

        data object TooLarge : End

        data object KeepAliveExpired : End

        data object Failed : End
    }

    private companion object {
        /** Close codes the decoder accepts. */
        val CODES = intArrayOf(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999)

        /** Close codes RFC 6455 forbids on the wire (the decoder may refuse them). */
        val REFUSED_CODES = intArrayOf(0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535)

        val RESERVED_OPCODES = intArrayOf(3, 4, 5, 6, 7, 11, 12, 13, 14, 15)
    }
}
