package dev.tether.core

import org.slf4j.LoggerFactory

/** A [TransportObserver] as the transport calls it: sizes worked out once, and its exceptions kept from the socket. */
internal class ObserverCalls(private val observer: TransportObserver) {
    fun connected() = guard { observer.connected() }

    fun dialFailed(cause: ConnectionException) = guard { observer.dialFailed(cause) }

    fun closed(cause: ConnectionException) = guard { observer.closed(cause) }

    fun received(message: WsMessage) = receivedBytes(
        when (message) {
            is WsMessage.Text -> message.utf8.size
            is WsMessage.Binary -> message.bytes.size
        },
    )

    fun receivedBytes(size: Int) = guard { observer.messageReceived(size) }

    fun sent(frame: OutFrame) = guard {
        observer.messageSent(
            when (frame) {
                is OutFrame.Text -> frame.utf8.size
                is OutFrame.Binary -> frame.bytes.size
                is OutFrame.BinaryParts -> frame.size
            },
        )
    }

    fun pong(roundTripNanos: Long) = guard { observer.pongReceived(roundTripNanos) }

    private inline fun guard(block: () -> Unit) {
        try {
            block()
        } catch (e: Exception) {
            log.debug("transport observer threw; ignored", e)
        }
    }

    companion object {
        private val log = LoggerFactory.getLogger(ObserverCalls::class.java)
    }
}
