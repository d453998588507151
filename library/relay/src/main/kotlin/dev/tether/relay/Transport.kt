@file:OptIn(InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.InternalTetherApi

/**
 * Transport (type 3): data for a peer. From a client, [peerId] is the destination; the server rewrites it in place
 * to the source before forwarding. [payload] is at most [RelayProtocol.MAX_PAYLOAD_SIZE] bytes when sent.
 */
@InternalTetherApi
public class Transport(public val peerId: PeerId, payload: ByteArray) : RelayMessage() {
    private val data = payload

    /** The payload (not copied: do not modify). */
    public val payload: ByteArray get() = data

    override val type: Int get() = RelayProtocol.TYPE_TRANSPORT

    override fun encode(): ByteArray = encode(peerId, data)

    override fun toString(): String = "Transport($peerId, ${data.size} bytes)"

    /** Encoding without building a message. */
    public companion object {
        private const val ID_OFFSET = RelayProtocol.HEADER_SIZE
        private const val PAYLOAD_OFFSET = RelayProtocol.HEADER_SIZE + RelayProtocol.PEER_ID_SIZE

        /** Encodes without building a message object. Throws [PayloadTooLargeException] above 8782 bytes. */
        @JvmStatic
        public fun encode(peerId: PeerId, payload: ByteArray): ByteArray {
            if (payload.size > RelayProtocol.MAX_PAYLOAD_SIZE) throw PayloadTooLargeException(payload.size)
            val out = header(payload.size)
            peerId.writeTo(out, ID_OFFSET)
            System.arraycopy(payload, 0, out, PAYLOAD_OFFSET, payload.size)
            return out
        }

        /** Rewrites the peer id of an encoded Transport in place (what the server does before forwarding). */
        @JvmStatic
        public fun rewritePeerId(encoded: ByteArray, peerId: PeerId) {
            if (encoded.size < PAYLOAD_OFFSET) throw MalformedRelayMessageException("transport message too short")
            peerId.writeTo(encoded, ID_OFFSET)
        }

        /** The peer id of an encoded Transport. */
        @JvmStatic
        public fun peerIdOf(encoded: ByteArray): PeerId = PeerId.fromBytes(encoded, ID_OFFSET)

        internal fun read(bytes: ByteArray): Transport {
            if (bytes.size < PAYLOAD_OFFSET) {
                throw MalformedRelayMessageException("transport message of ${bytes.size} bytes has no peer id")
            }
            return Transport(PeerId.fromBytes(bytes, ID_OFFSET), bytes.copyOfRange(PAYLOAD_OFFSET, bytes.size))
        }

        private fun header(payloadSize: Int): ByteArray =
            RelayMessage.header(RelayProtocol.TYPE_TRANSPORT, RelayProtocol.PEER_ID_SIZE + payloadSize)
    }
}
