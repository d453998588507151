package dev.tether.core

import io.netty.buffer.ByteBuf

/**
 * Takes whole binary messages in the Netty buffer they were read into, so that a protocol that keeps their bytes
 * (wsmux buffers a DAT until its stream is read) copies them once, into the reader's array, instead of first into a
 * message array. Called like a [MessageListener]: in order, inline on the event loop, never blocking.
 *
 * The buffer is lent for the call only: `retain()` whatever is kept past it, and release that later.
 */
@InternalTetherApi
public fun interface BinaryBufferListener {
    /** One whole binary message; [content]'s readable bytes are the payload. */
    public fun onBinary(content: ByteBuf)
}
