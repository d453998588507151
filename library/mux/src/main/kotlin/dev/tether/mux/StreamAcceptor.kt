package dev.tether.mux

import dev.tether.core.InternalTetherApi

/**
 * Tether-internal: takes the streams a [MuxSession] accepts inline ([MuxSession.acceptInline]). Called on the
 * transport's reader (a connection's I/O thread), once per stream, already ACKed; it must return at once and never
 * block.
 */
@InternalTetherApi
public fun interface StreamAcceptor {
    /** [stream] was opened by the peer and accepted. */
    public fun accepted(stream: Stream)
}
