package dev.tether.benchmarks.scale

import dev.tether.benchmarks.PeerServer
import dev.tether.core.InternalTetherApi
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxSession
import dev.tether.mux.Stream
import io.netty.channel.Channel
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * A wsmux echo server on 127.0.0.1 (ephemeral port): `/mux` runs `MuxSession.server` over the benchmark's Netty
 * WebSocket server ([PeerServer]), accepts every stream inline as its SYN arrives and writes back whatever it reads
 * until the client's FIN. Each stream's loop is an unconfined coroutine, so an echo runs on the connection's event
 * loop without a dispatch per frame (as [dev.tether.benchmarks.MuxPeer] does for its transfers).
 */
@OptIn(InternalTetherApi::class)
internal class MuxEchoServer(private val config: MuxConfig) : AutoCloseable {
    private val streams = CoroutineScope(SupervisorJob() + Dispatchers.Unconfined)
    private val server = PeerServer("scale-mux", mapOf(PATH to ::serveSession))

    val url: String = "ws://127.0.0.1:${server.port}$PATH"

    private fun serveSession(channel: Channel) {
        MuxSession.server(channel, config).acceptInline { stream -> streams.launch { echo(stream) } }
    }

    private suspend fun echo(stream: Stream) {
        val buffer = ByteArray(config.streamBufferSize)
        try {
            while (true) {
                val n = stream.read(buffer)
                if (n < 0) break
                stream.write(buffer, 0, n)
            }
            stream.close()
        } catch (_: MuxException) {
            // the client's session ended (closed at the end of the load, or lost: the client counts that)
        }
    }

    override fun close() {
        server.close()
        streams.cancel()
    }

    companion object {
        const val PATH: String = "/mux"
    }
}
