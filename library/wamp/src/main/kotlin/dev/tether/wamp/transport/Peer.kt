@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.InternalTetherApi
import dev.tether.wamp.WampTransport
import dev.tether.wamp.message.Message
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ClosedReceiveChannelException
import kotlinx.coroutines.channels.ClosedSendChannelException
import dev.tether.core.ConnectionClosedException

/**
 * A message pipe to one WAMP peer: a WebSocket, a RawSocket, or an in-process link; the library's own
 * [WampTransport]s. One coroutine reads with [receive]; [send] may be called concurrently; both throw
 * [ConnectionClosedException] once the pipe is closed. Shared by the client session and the testkit router.
 */
@InternalTetherApi
public interface Peer : WampTransport

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
