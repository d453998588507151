@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.ConnectionClosedException
import dev.tether.core.InternalTetherApi
import dev.tether.wamp.message.Message
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ClosedReceiveChannelException
import kotlinx.coroutines.channels.ClosedSendChannelException

/**
 * A message pipe to one WAMP peer: a WebSocket, a RawSocket, or an in-process link; the library's own
 * [WampTransport]s. One coroutine reads with [receive]; [send] may be called concurrently; both throw
 * [ConnectionClosedException] once the pipe is closed. Shared by the client session and the testkit router.
 *
 * A peer that reads its socket on an I/O thread can push instead ([listen]): the session then does its
 * per-message work on that thread, with no hand-off to a reader coroutine.
 */
@InternalTetherApi
public interface Peer : WampTransport {
    /**
     * Switches this peer to push delivery: from now on every inbound message goes to [listener] on the transport's
     * I/O thread, in order, starting with those already received but not yet taken by [receive]; then the reason the
     * connection ended, once. [receive] must not be called afterwards. Returns false, changing nothing, when this
     * peer cannot push (the default): the caller keeps calling [receive].
     */
    public fun listen(listener: PeerListener): Boolean = false

    /** The I/O thread that reads this peer, as a dispatcher; null when it has none (a reader coroutine reads it). */
    public val dispatcher: CoroutineDispatcher? get() = null
}

/**
 * Receives a pushing [Peer]'s inbound traffic on its I/O thread ([Peer.listen]). Both methods must return quickly
 * and never block or run user code: while they run, the socket is not read.
 */
@InternalTetherApi
public interface PeerListener {
    /** One decoded inbound message. */
    public fun onMessage(message: Message)

    /**
     * The connection ended or can no longer be read, once; no message follows. [cause] is a
     * `dev.tether.core.ConnectionException` when the connection is gone (closed, keepalive expired), or a
     * [dev.tether.wamp.error.WampException] when the peer broke the protocol: an undecodable message (the connection is
     * still open so that an ABORT can be sent; close it afterwards) or a message over the receive limit
     * ([dev.tether.wamp.error.MessageTooLongException]; the connection is closed already).
     */
    public fun onEnd(cause: Exception)
}

/**
 * Two in-process peers joined back to back: what one sends the other receives, with no serialization. Used by
 * `connectLocal` and by tests that play the router.
 */
@InternalTetherApi
public class LocalPeer private constructor(
    private val inbox: Channel<Message>,
    private val outbox: Channel<Message>,
    override val description: String,
) : Peer {
    override suspend fun send(message: Message) {
        try {
            outbox.send(message)
        } catch (e: ClosedSendChannelException) {
            throw ConnectionClosedException(null, "local peer closed", e)
        }
    }

    override suspend fun receive(): Message = try {
        inbox.receive()
    } catch (e: ClosedReceiveChannelException) {
        throw ConnectionClosedException(null, "local peer closed", e)
    }

    override suspend fun close() {
        outbox.close()
        inbox.close()
    }

    /** Connected pairs. */
    public companion object {
        /** A connected pair; the first is conventionally the client end. [capacity] bounds each direction. */
        @JvmStatic
        @JvmOverloads
        public fun pair(capacity: Int = 256): Pair<LocalPeer, LocalPeer> {
            val a = Channel<Message>(capacity)
            val b = Channel<Message>(capacity)
            return LocalPeer(a, b, "local client") to LocalPeer(b, a, "local router")
        }
    }
}
