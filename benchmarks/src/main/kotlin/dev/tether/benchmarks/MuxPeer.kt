package dev.tether.benchmarks

import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxFrame
import dev.tether.mux.Session
import dev.tether.mux.Stream
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.embeddedServer
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import io.ktor.websocket.Frame
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.concurrent.atomic.AtomicLong

/**
 * The benchmark's wsmux peer on 127.0.0.1 (ephemeral port), Ktor CIO like [LoopbackServer]:
 * * `/mux` runs a wsmux server session with [config] (both ends of a measured stream use the same window). Each
 *   stream starts with a [HEADER_BYTES]-byte command from the client: `U` then the message size (int32 LE) and
 *   a total (int64 LE) is an upload, read and counted into [receivedBytes]; `D` is a download: the peer writes the
 *   total in writes of the message size, then FIN.
 * * `/mux-ack` keeps no state at all: it answers every SYN with an ACK of [MuxConfig.streamBufferSize] credit and
 *   drops everything else, so that in the idle-stream heap figure only the client's streams grow.
 *
 * FakeMuxServer is not used for throughput: it passes every frame through a fault filter (one more coroutine hop
 * per frame) and cannot auto-tune, and its source computes every byte; the peer here is as cheap as the raw sink
 * and source it is compared with.
 */
internal class MuxPeer(private val config: MuxConfig, private val readBytes: Int = 0) : AutoCloseable {
    private val received = AtomicLong()

    private val server: EmbeddedServer<*, *> = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
        install(WebSockets) { maxFrameSize = 2L shl 20 }
        routing {
            webSocketRaw("/mux") {
                val session = Session.server(this, config)
                val acceptor = launch {
                    while (true) {
                        val stream = try {
                            session.accept()
                        } catch (_: MuxException) {
                            break
                        }
                        launch { serve(stream) }
                    }
                }
                try {
                    session.awaitClosed()
                } finally {
                    acceptor.cancel()
                }
            }
            webSocketRaw("/mux-ack") {
                for (frame in incoming) {
                    when (frame) {
                        is Frame.Binary -> if (frame.data.isNotEmpty() && frame.data[0].toInt() == SYN) {
                            val id = ByteBuffer.wrap(frame.data, 1, 4).order(ByteOrder.LITTLE_ENDIAN).int
                            outgoing.send(Frame.Binary(true, MuxFrame.Ack(id, config.streamBufferSize.toLong()).encode()))
                        }
                        is Frame.Ping -> outgoing.send(Frame.Pong(frame.data))
                        is Frame.Close -> return@webSocketRaw
                        else -> Unit
                    }
                }
            }
        }
    }.start(wait = false)

    val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }

    fun url(path: String): String = "ws://127.0.0.1:$port$path"

    /** Bytes read from upload streams since start. */
    fun receivedBytes(): Long = received.get()

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
        server.stop(0, 1_000)
    }

    companion object {
        const val HEADER_BYTES = 13
        private const val SYN = 0x01

        /** The command a client writes first on a stream (see the class comment). */
        fun command(upload: Boolean, messageBytes: Int, totalBytes: Long): ByteArray =
            ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .put((if (upload) 'U' else 'D').code.toByte()).putInt(messageBytes).putLong(totalBytes).array()

        /** What a reader limited to [limit] bytes per read (0: no limit) asks for when it [wants] that many. */
        fun readLength(limit: Int, wants: Int): Int = if (limit > 0) minOf(limit, wants) else wants
    }
}
