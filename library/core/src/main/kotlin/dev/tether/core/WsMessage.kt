package dev.tether.core

/** One complete WebSocket data message, fragments already joined. */
public sealed class WsMessage {
    /**
     * A text message. One that came from the network keeps its frame's UTF-8 bytes and decodes them only when [text]
     * is first read, so a protocol that parses bytes (WAMP's JSON) never builds the string at all.
     */
    public class Text private constructor(
        @Volatile private var decoded: String?,
        @Volatile private var encoded: ByteArray?,
    ) : WsMessage() {
        /** A text message holding [text]. */
        public constructor(text: String) : this(text, null)

        /** The text (decoded from the frame's UTF-8 on first use). */
        public val text: String get() = decoded ?: encoded!!.decodeToString().also { decoded = it }

        /** The text as UTF-8: the frame's own bytes for an inbound message (not a copy: do not modify them). */
        public val utf8: ByteArray get() = encoded ?: decoded!!.encodeToByteArray().also { encoded = it }

        override fun toString(): String = encoded?.let { "Text(${it.size} bytes)" } ?: "Text(${decoded!!.length} chars)"

        public companion object {
            /** A text message from its UTF-8 bytes (which the message then owns: do not modify them). */
            @JvmStatic
            public fun ofUtf8(utf8: ByteArray): Text = Text(null, utf8)
        }
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
    /** Called once per inbound message, in order, on the connection's I/O thread. */
    public fun onMessage(message: WsMessage)
}
