package dev.tether.core

import io.netty.buffer.ByteBuf
import java.io.ByteArrayOutputStream

/**
 * Joins the fragments of inbound WebSocket messages (a peer may split any message; gorilla splits everything
 * larger than its 4 KiB write buffer) and bounds the whole message at [maxBytes]. One per connection, used by its
 * reader only.
 */
@InternalTetherApi
public class MessageAssembler(private val maxBytes: Long) {
    private var parts: ByteArrayOutputStream? = null
    private var partsAreText = false

    /** True while a fragmented message is incomplete. */
    public val inMessage: Boolean get() = parts != null

    /**
     * Adds one data frame: [isText] says what a first frame starts (ignored for continuations), [fin] ends the
     * message. Returns the whole message once [fin] arrives, else null.
     * @throws MessageTooLargeException when the message grows past [maxBytes].
     */
    public fun add(isText: Boolean, fin: Boolean, data: ByteArray): WsMessage? {
        val held = parts
        if ((held?.size() ?: 0).toLong() + data.size > maxBytes) throw MessageTooLargeException(maxBytes)
        if (held == null && fin) return message(isText, data)
        val buffer = held ?: ByteArrayOutputStream(maxOf(data.size * 2, 256)).also {
            parts = it
            partsAreText = isText
        }
        buffer.write(data)
        if (!fin) return null
        parts = null
        return message(partsAreText, buffer.toByteArray())
    }

    /**
     * For a Netty reader: when a data frame is a whole binary message on its own (not [isText], [fin], and no
     * fragmented message in progress), hands its [content] to [lend] as it was read, lent for the call (see
     * [BinaryBufferListener]), and returns true. Otherwise returns false: the frame's bytes are for [add].
     */
    public inline fun lendWholeBinary(
        isText: Boolean,
        fin: Boolean,
        content: ByteBuf,
        lend: (ByteBuf) -> Unit,
    ): Boolean {
        if (isText || !fin || inMessage) return false
        lend(content)
        return true
    }

    private fun message(text: Boolean, data: ByteArray): WsMessage =
        if (text) WsMessage.Text.ofUtf8(data) else WsMessage.Binary(data)
}
