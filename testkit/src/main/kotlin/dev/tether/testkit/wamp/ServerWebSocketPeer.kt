@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.testkit.wamp

import dev.tether.core.ConnectionClosedException
import dev.tether.wamp.message.Message
import dev.tether.wamp.serializer.Serializer
import dev.tether.wamp.transport.Peer
import io.ktor.websocket.CloseReason
import io.ktor.websocket.DefaultWebSocketSession
import io.ktor.websocket.Frame
import io.ktor.websocket.close
import io.ktor.websocket.readBytes

/** The router's end of a WebSocket: one WAMP message per frame, text for JSON and binary otherwise. */
internal class ServerWebSocketPeer(
    private val ws: DefaultWebSocketSession,
    private val serializer: Serializer,
    override val description: String,
) : Peer {
    override suspend fun send(message: Message) {
        val bytes = serializer.encode(message)
        try {
            val frame = if (serializer.serialization.isText) {
                Frame.Text(String(bytes, Charsets.UTF_8))
            } else {
                Frame.Binary(true, bytes)
            }
            ws.send(frame)
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException) throw e
            throw ConnectionClosedException(null, "WebSocket closed", e)
        }
    }

    override suspend fun receive(): Message {
        while (true) {
            val frame =
                ws.incoming.receiveCatching().getOrNull() ?: throw ConnectionClosedException(null, "WebSocket closed")
            when (frame) {
                is Frame.Text, is Frame.Binary -> return serializer.decode(frame.readBytes())
                else -> Unit
            }
        }
    }

    override suspend fun close() {
        runCatching { ws.close(CloseReason(CloseReason.Codes.NORMAL, "goodbye")) }
    }
}
