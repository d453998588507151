package dev.tether.core

/** One complete WebSocket data message, fragments already joined. */
public sealed class WsMessage {
    /** A text message. */
    public class Text(public val text: String) : WsMessage() {
        override fun toString(): String = "Text(${text.length} chars)"
    }

    /** A binary message. */
    public class Binary(public val bytes: ByteArray) : WsMessage() {
        override fun toString(): String = "Binary(${bytes.size} bytes)"
    }
}

/**
 * Receives a connection's inbound messages in order, instead of [WebSocketConnection.incoming]. It runs inline on the
 * connection's I/O thread (the Netty event loop; Ktor's read coroutine on that transport) and must not block: while it
 * runs, the connection reads nothing (pings included), and neither do the other sockets of that thread.
 */
public fun interface MessageListener {
    public fun onMessage(message: WsMessage)
}
