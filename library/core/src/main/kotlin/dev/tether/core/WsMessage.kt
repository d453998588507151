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
