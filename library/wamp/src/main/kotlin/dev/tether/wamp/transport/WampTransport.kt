package dev.tether.wamp.transport

import dev.tether.wamp.message.Message
import kotlinx.coroutines.future.await
import java.util.concurrent.CompletableFuture

/**
 * A connected message pipe to a WAMP router that you bring yourself (the peer of nexus's NewClient): your own WebSocket
 * library, a connection through infrastructure [dev.tether.wamp.WampSession.connect] does not know, or a test double.
 * [dev.tether.wamp.WampSession.join] runs HELLO and authentication over it. Serialization is the transport's business:
 * it moves [Message] objects.
 *
 * One coroutine calls [receive] at a time; [send] may be called concurrently. When the connection ends,
 * [receive] and [send] throw `dev.tether.core.ConnectionClosedException`. Java implementations use
 * [AsyncWampTransport] and [fromAsync].
 */
public interface WampTransport {
    /** Sends one message. */
    public suspend fun send(message: Message)

    /** The next message from the router. */
    public suspend fun receive(): Message

    /** Closes the connection; idempotent. A blocked [receive] then fails. */
    public suspend fun close()

    /** A short description for logs (transport and address, never credentials). */
    public val description: String

    /** Adapters from other transport shapes. */
    public companion object {
        /** Adapts a future-based transport (Java) to a [WampTransport]. */
        @JvmStatic
        public fun fromAsync(transport: AsyncWampTransport): WampTransport = object : WampTransport {
            override suspend fun send(message: Message) {
                transport.send(message).await()
            }

            override suspend fun receive(): Message = transport.receive().await()

            override suspend fun close() {
                transport.close().await()
            }

            override val description: String get() = transport.description

            override fun toString(): String = description
        }
    }
}

/**
 * The Java shape of a [WampTransport]: each operation returns a future. Fail a future with
 * `dev.tether.core.ConnectionClosedException` when the connection has ended. Wrap with [WampTransport.fromAsync].
 */
public interface AsyncWampTransport {
    /** Sends one message; completes once it is handed to the connection. */
    public fun send(message: Message): CompletableFuture<Void?>

    /** Completes with the next message from the router. */
    public fun receive(): CompletableFuture<Message>

    /** Closes the connection; idempotent. */
    public fun close(): CompletableFuture<Void?>

    /** A short description for logs. */
    public val description: String
}
