package dev.tether.benchmarks

import dev.tether.core.InternalTetherApi
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxSession
import dev.tether.mux.Stream
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelHandlerContext
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocketFrame
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.concurrent.atomic.AtomicLong

/**
 * The benchmark's wsmux peer on 127.0.0.1 (ephemeral port), on the same Netty server as [LoopbackServer]
 * ([PeerServer]):
 * * `/mux` runs a wsmux server session with [config] (both ends of a measured stream use the same window). Each
 *   stream starts with a [HEADER_BYTES]-byte command from the client: `U` then the message size (int32 LE) and
 *   a total (int64 LE) is an upload, read and counted into [receivedBytes]; `D` is a download: the peer writes the
 *   total in writes of the message size, then FIN. An upload's command is padded to one message (the peer skips the
 *   padding): a 13-byte command would leave every later write 13 bytes off the window's edge, so each would go out
 *   as two DATs and come back as two ACKs, a cost of the benchmark's framing that the raw baseline does not pay.
 * * `/mux-ack` keeps no state at all: it answers every SYN with an ACK of [MuxConfig.streamBufferSize] credit and
 *   drops everything else, so that in the idle-stream heap figure only the client's streams grow.
 *
 * `/mux` is `MuxSession.server` over the Netty channel (internal API): frames reach the session inline on the
 * connection's event loop, streams are accepted inline as their SYN arrives, and each stream's reads and writes run
 * in an unconfined coroutine, so a DAT or an ACK resumes the stream's reader or writer right there on the loop, with
 * no dispatch per frame. A writer waiting for room in the socket resumes when it drains.
 *
 * FakeMuxServer is not used for throughput: it passes every frame through a fault filter (one more coroutine hop
 * per frame) and cannot auto-tune, and its source computes every byte; the peer here is as cheap as the raw sink
 * and source it is compared with.
 */
@OptIn(InternalTetherApi::class)
internal class MuxPeer(private val config: MuxConfig, private val readBytes: Int = 0) : AutoCloseable {
    private val received = AtomicLong()
    private val streams = CoroutineScope(SupervisorJob() + Dispatchers.Unconfined)

    private val server =
        PeerServer("mux-peer", mapOf("/mux" to ::serveSession, "/mux-ack" to PeerServer.handler { AckOnly() }))

    val port: Int = server.port

    fun url(path: String): String = "ws://127.0.0.1:$port$path"

    /** Bytes read from upload streams since start. */
    fun receivedBytes(): Long = received.get()

    /** On the connection's event loop, right after the handshake: no frame has been read yet. */
    private fun serveSession(channel: Channel) {
        MuxSession.server(channel, config).acceptInline { stream -> streams.launch { serve(stream) } }
    }

    private suspend fun serve(stream: Stream) {
        try {
            val head = ByteArray(HEADER_BYTES)
            var got = 0
            while (got < head.size) {
                val n = stream.read(head, got, head.size - got)
                if (n < 0) return
                got += n
            }
            val b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN)
            val kind = b.get().toInt().toChar()
            val size = b.int
            val total = b.long
            val buffer = ByteArray(size) { (it % 251).toByte() }
            if (kind == 'U') {
                var padding = size - HEADER_BYTES
                while (padding > 0) {
                    val n = stream.read(buffer, 0, minOf(padding, buffer.size))
                    if (n < 0) return
                    padding -= n
                }
                while (true) {
                    val n = stream.read(buffer, 0, readLength(readBytes, buffer.size))
                    if (n < 0) break
                    received.addAndGet(n.toLong())
                }
            } else {
                var sent = 0L
                while (sent < total) {
                    val n = minOf(size.toLong(), total - sent).toInt()
                    stream.write(buffer, 0, n)
                    sent += n
                }
            }
            stream.close()
        } catch (_: MuxException) {
            // the client ended the round (session closed)
        }
    }

    override fun close() {
        server.close()
        streams.cancel()
    }

    /** `/mux-ack`: an ACK for every SYN, built from the SYN's stream id (little-endian after the type byte). */
    private inner class AckOnly : PeerEndpoint() {
        override fun onMessage(ctx: ChannelHandlerContext, frame: WebSocketFrame) {
            val data = frame.content()
            if (frame !is BinaryWebSocketFrame || data.readableBytes() < 5 || data.getByte(
                    data.readerIndex(),
                ).toInt() != SYN
            ) {
                return
            }
            val id = data.getIntLE(data.readerIndex() + 1)
            reply(
                ctx,
                BinaryWebSocketFrame(
                    Unpooled.wrappedBuffer(MuxFrame.Ack(id, config.streamBufferSize.toLong()).encode()),
                ),
            )
        }
    }

    companion object {
        const val HEADER_BYTES = 13
        private const val SYN = 0x01

        /** The command a client writes first on a stream, an upload's padded to one message (see the class comment). */
        fun command(upload: Boolean, messageBytes: Int, totalBytes: Long): ByteArray =
            ByteBuffer.allocate(if (upload) maxOf(HEADER_BYTES, messageBytes) else HEADER_BYTES)
                .order(ByteOrder.LITTLE_ENDIAN)
                .put((if (upload) 'U' else 'D').code.toByte()).putInt(messageBytes).putLong(totalBytes).array()

        /** What a reader limited to [limit] bytes per read (0: no limit) asks for when it [wants] that many. */
        fun readLength(limit: Int, wants: Int): Int = if (limit > 0) minOf(limit, wants) else wants
    }
}
