@file:OptIn(InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.InternalTetherApi

/**
 * One relay protocol message (version 1). [encode] gives the bytes of exactly one binary WebSocket message;
 * [decode] reads one back and throws [MalformedRelayMessageException] for anything the protocol does not allow.
 */
@InternalTetherApi
public sealed class RelayMessage {
    /** The type byte (see [RelayProtocol]). */
    public abstract val type: Int

    /** The wire bytes: version, type, body. */
    public abstract fun encode(): ByteArray

    /** Graceful end of a relay session (`01 04`), sent by either side. */
    public object Close : RelayMessage() {
        override val type: Int get() = RelayProtocol.TYPE_CLOSE
        override fun encode(): ByteArray = header(type, 0)
        override fun toString(): String = "Close"
    }

    /** Health check (`01 05`): the server sends it, the client echoes it. */
    public object HealthCheck : RelayMessage() {
        override val type: Int get() = RelayProtocol.TYPE_HEALTH_CHECK
        override fun encode(): ByteArray = header(type, 0)
        override fun toString(): String = "HealthCheck"
    }

    /** Decoding. */
    public companion object {
        /** Decodes one whole message. */
        @JvmStatic
        public fun decode(bytes: ByteArray): RelayMessage {
            if (bytes.size < RelayProtocol.HEADER_SIZE) {
                throw MalformedRelayMessageException("${bytes.size} bytes is shorter than the header")
            }
            if (bytes[0] != RelayProtocol.VERSION) {
                throw MalformedRelayMessageException("unsupported protocol version ${bytes[0].toInt() and 0xff}")
            }
            return when (val type = bytes[1].toInt() and 0xff) {
                RelayProtocol.TYPE_TRANSPORT -> Transport.read(bytes)

                RelayProtocol.TYPE_CLOSE -> empty(bytes, Close)

                RelayProtocol.TYPE_HEALTH_CHECK -> empty(bytes, HealthCheck)

                RelayProtocol.TYPE_AUTH -> Auth.read(bytes)

                RelayProtocol.TYPE_AUTH_RESPONSE -> AuthResponse.read(bytes)

                RelayProtocol.TYPE_SUBSCRIBE_PEER_STATE,
                RelayProtocol.TYPE_UNSUBSCRIBE_PEER_STATE,
                RelayProtocol.TYPE_PEERS_ONLINE,
                RelayProtocol.TYPE_PEERS_WENT_OFFLINE,
                -> PeerStateMessage.read(bytes)

                else -> throw MalformedRelayMessageException("unknown message type $type")
            }
        }

        private fun empty(bytes: ByteArray, message: RelayMessage): RelayMessage {
            // Upstream ignores trailing bytes on these; so do we, to stay compatible.
            return message
        }

        internal fun header(type: Int, bodySize: Int): ByteArray {
            val out = ByteArray(RelayProtocol.HEADER_SIZE + bodySize)
            out[0] = RelayProtocol.VERSION
            out[1] = type.toByte()
            return out
        }

        /** The type byte of [bytes] without decoding the body, or -1 when too short. */
        internal fun peekType(bytes: ByteArray): Int = if (bytes.size < 2) -1 else bytes[1].toInt() and 0xff
    }
}
