package dev.tether.mux.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.mux.MuxException
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxSession
import dev.tether.mux.NettyChannelTransport
import dev.tether.mux.virtualClock
import io.netty.buffer.ByteBufUtil
import io.netty.channel.embedded.EmbeddedChannel
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketFrame
import io.netty.util.IllegalReferenceCountException
import io.netty.util.ReferenceCountUtil
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Timeout
import java.io.ByteArrayOutputStream
import java.io.IOException
import kotlin.time.Duration.Companion.seconds

/**
 * Fuzzes a server (or client) [MuxSession] over [NettyChannelTransport] on an [EmbeddedChannel], fed Netty WebSocket
 * frames as a server pipeline's frame decoder hands them on (docs/fuzzing.md): the operations and checks of
 * [MuxBufferFuzzTest], with every binary message sent whole (lent to the session in its frame's buffer) or
 * fragmented (a binary frame and continuations, joined by the transport), and ping, pong, text, close frames and
 * channel failures between them. The frame bound is 256 bytes, so fragmented messages can outgrow it.
 *
 * Input: as [MuxBufferFuzzTest] (`& 16` in the setup byte: the peer does not answer pings), with `op % 13`, where a
 * message's buffer kind also says how it is cut (`kind >> 6`: 0 whole, else that many continuations) and op 12 is a
 * frame of the peer's own (`next % 7`: 0 text (fin `& 8`), 1 a binary fragment with more to come, 2 the last
 * fragment, each with a kind and `next & 0x3f` bytes; 3 ping, 4 pong (kind, `next & 0x1f` bytes), 5 close (kind, 2
 * to 5 bytes), 6 the channel fails).
 */
class NettyChannelFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(20)
    fun frames(input: ByteArray) = runTest(timeout = 15.seconds) {
        val ops = FuzzOps(input)
        val setup = ops.next()
        val channel = EmbeddedChannel()
        val transport = NettyChannelTransport(channel, MAX_MESSAGE_BYTES)
        val config = fuzzConfig(setup, virtualClock())
        val session = MuxSession(transport, config, setup and 1 != 0, StandardTestDispatcher(testScheduler))
        val run = BufferRun(this, session, ChannelPeer(channel, answerPings = setup and 16 == 0))
        try {
            while (ops.hasMore()) run.step(ops)
            run.finish()
        } finally {
            session.closeAndJoin()
            run.stop()
            channel.finishAndReleaseAll()
        }
    }

    private companion object {
        const val MAX_MESSAGE_BYTES = 256L
    }

    /** The client end: writes frames into the channel as its decoder would, and reads what the session wrote. */
    private class ChannelPeer(private val channel: EmbeddedChannel, private val answerPings: Boolean) : FuzzPeer {
        private val buffers = BufferKinds()

        /** The fragmented message being sent (null: none), and whether it is text. */
        private var pending: ByteArrayOutputStream? = null
        private var pendingText = false

        /** A fragmented message outgrew the bound: the session ended and reads no more. */
        private var tooLarge = false

        override val operations: Int get() = 13

        override fun deliver(message: ByteArray, kind: Int): ByteArray? {
            // A fragmented message in progress: this one is its end.
            if (pending != null) return fragment(false, true, message, kind)
            val continuations = (kind shr 6) and 3
            if (continuations == 0 || message.size < 2) return fragment(false, true, message, kind)
            val cuts = (0..continuations + 1).map { it * message.size / (continuations + 1) }
            var whole: ByteArray? = null
            for (i in 0..continuations) {
                whole = fragment(false, i == continuations, message.copyOfRange(cuts[i], cuts[i + 1]), kind + i)
            }
            return whole
        }

        override fun extra(ops: FuzzOps): ByteArray? {
            val what = ops.next()
            val kind = ops.next()
            when (what % 7) {
                0 -> return fragment(true, what and 8 != 0, ops.take(ops.next() and 0x3f), kind)

                1 -> return fragment(false, false, ops.take(ops.next() and 0x3f), kind)

                2 -> return fragment(false, true, ops.take(ops.next() and 0x3f), kind)

                3 -> write(PingWebSocketFrame(buffers.wrap(ops.take(ops.next() and 0x1f), kind)))

                4 -> write(PongWebSocketFrame(buffers.wrap(ops.take(ops.next() and 0x1f), kind)))

                5 -> write(CloseWebSocketFrame(true, 0, buffers.wrap(ops.take(2 + ops.next() % 4), kind)))

                // Past the transport's handler (gone once the channel closed) the channel would keep it to rethrow.
                else -> if (channel.isOpen) channel.pipeline().fireExceptionCaught(IOException("fuzzed failure"))
            }
            return null
        }

        /**
         * One data frame of [bytes]: a text or binary frame, or a continuation while a fragmented message is in
         * progress. Returns the whole binary message it ends, if any, as the transport sees it.
         */
        private fun fragment(text: Boolean, fin: Boolean, bytes: ByteArray, kind: Int): ByteArray? {
            val content = buffers.wrap(bytes, kind)
            val held = pending
            val frame: WebSocketFrame = when {
                held != null -> ContinuationWebSocketFrame(fin, 0, content)
                text -> TextWebSocketFrame(fin, 0, content)
                else -> BinaryWebSocketFrame(fin, 0, content)
            }
            write(frame)
            if (held == null && fin) return if (text) null else bytes
            val parts = held ?: ByteArrayOutputStream().also {
                pending = it
                pendingText = text
            }
            // The transport bounds what it joins, fragment by fragment.
            if (parts.size() + bytes.size > MAX_MESSAGE_BYTES) tooLarge = true
            parts.write(bytes)
            if (!fin) return null
            pending = null
            return if (pendingText || tooLarge) null else parts.toByteArray()
        }

        private fun write(frame: WebSocketFrame) {
            // A closed channel takes no frames (the transport has ended the session): the frame is ours to release.
            if (channel.isOpen) channel.writeInbound(frame) else frame.release()
        }

        override fun sent(): List<MuxFrame> {
            channel.runPendingTasks()
            val frames = ArrayList<MuxFrame>()
            while (true) {
                val out = channel.readOutbound<Any>() ?: break
                when (out) {
                    is BinaryWebSocketFrame -> runCatching { MuxFrame.decode(ByteBufUtil.getBytes(out.content())) }
                        .getOrNull()?.let { frames += it }

                    is PingWebSocketFrame -> if (answerPings) write(PongWebSocketFrame())
                }
                ReferenceCountUtil.release(out)
            }
            return frames
        }

        override fun drop() {
            channel.close()
            channel.runPendingTasks()
        }

        override fun checkReleased(reason: MuxException) {
            // The transport's handler turns what its channelRead throws into the session's end.
            val causes = generateSequence<Throwable>(reason) { it.cause }
            check(causes.none { it is IllegalReferenceCountException }) { "a buffer was released twice: $reason" }
            channel.finishAndReleaseAll()
            buffers.checkAllReleased()
        }
    }
}
