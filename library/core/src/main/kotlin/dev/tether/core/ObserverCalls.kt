package dev.tether.core

import org.slf4j.LoggerFactory

/** A [TransportObserver] as the transport calls it: sizes worked out once, and its exceptions kept from the socket. */
internal class ObserverCalls(private val observer: TransportObserver) {
    fun connected() = guard { observer.connected() }

    fun dialFailed(cause: ConnectionException) = guard { observer.dialFailed(cause) }

    fun closed(cause: ConnectionException) = guard { observer.closed(cause) }

    fun received(message: WsMessage) = guard {
        observer.messageReceived(
            when (message) {
                is WsMessage.Text -> utf8Length(message.text)
                is WsMessage.Binary -> message.bytes.size
            },
        )
    }

    fun sent(frame: OutFrame) = guard {
        observer.messageSent(
            when (frame) {
                is OutFrame.Text -> utf8Length(frame.text)
                is OutFrame.Binary -> frame.bytes.size
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

        /** The UTF-8 length of [s] without encoding it (a lone surrogate counts 3, as the encoder's `?` would be 1). */
        fun utf8Length(s: String): Int {
            var n = 0
            var i = 0
            while (i < s.length) {
                val c = s[i]
                when {
                    c.code < 0x80 -> n += 1

                    c.code < 0x800 -> n += 2

                    Character.isHighSurrogate(c) && i + 1 < s.length && Character.isLowSurrogate(s[i + 1]) -> {
                        n += 4
                        i++
                    }

                    else -> n += 3
                }
                i++
            }
            return n
        }
    }
}
