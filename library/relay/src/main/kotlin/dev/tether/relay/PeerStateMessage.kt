@file:OptIn(InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.InternalTetherApi

/**
 * The peer-state family (types 8-11): a body of N × 36-byte peer ids. [SubscribePeerState] and
 * [UnsubscribePeerState] go to the server; [PeersOnline] and [PeersWentOffline] come from it. One message holds at
 * most 244 ids; [encodeChunks] splits longer lists.
 */
@InternalTetherApi
public sealed class PeerStateMessage(public val peerIds: List<PeerId>) : RelayMessage() {
    /**
     * The wire bytes of this message when it has at most 244 ids.
     * @throws IllegalStateException for a longer list: use [encodeChunks]
     */
    override fun encode(): ByteArray {
        check(peerIds.size <= RelayProtocol.MAX_PEERS_PER_MESSAGE) {
            "${peerIds.size} peer ids do not fit one message (max ${RelayProtocol.MAX_PEERS_PER_MESSAGE}); " +
                "use encodeChunks()"
        }
        return encodeIds(type, peerIds)
    }

    /** One or more messages of at most 244 ids each (500 ids → 244, 244, 12). */
    public fun encodeChunks(): List<ByteArray> {
        if (peerIds.isEmpty()) return listOf(encodeIds(type, peerIds))
        return peerIds.chunked(RelayProtocol.MAX_PEERS_PER_MESSAGE).map { encodeIds(type, it) }
    }

    override fun toString(): String = "${this::class.simpleName}(${peerIds.size} ids)"

    /** Ask to hear when the listed peers come online or go offline. */
    public class SubscribePeerState(peerIds: List<PeerId>) : PeerStateMessage(peerIds) {
        override val type: Int get() = RelayProtocol.TYPE_SUBSCRIBE_PEER_STATE
    }

    /** Withdraw interest in the listed peers. */
    public class UnsubscribePeerState(peerIds: List<PeerId>) : PeerStateMessage(peerIds) {
        override val type: Int get() = RelayProtocol.TYPE_UNSUBSCRIBE_PEER_STATE
    }

    /** The listed peers are online. */
    public class PeersOnline(peerIds: List<PeerId>) : PeerStateMessage(peerIds) {
        override val type: Int get() = RelayProtocol.TYPE_PEERS_ONLINE
    }

    /** The listed peers went offline. */
    public class PeersWentOffline(peerIds: List<PeerId>) : PeerStateMessage(peerIds) {
        override val type: Int get() = RelayProtocol.TYPE_PEERS_WENT_OFFLINE
    }

    internal companion object {
        fun encodeIds(type: Int, ids: List<PeerId>): ByteArray {
            val out = header(type, ids.size * RelayProtocol.PEER_ID_SIZE)
            ids.forEachIndexed { i, id -> id.writeTo(out, RelayProtocol.HEADER_SIZE + i * RelayProtocol.PEER_ID_SIZE) }
            return out
        }

        fun read(bytes: ByteArray): PeerStateMessage {
            val body = bytes.size - RelayProtocol.HEADER_SIZE
            if (body % RelayProtocol.PEER_ID_SIZE != 0) {
                throw MalformedRelayMessageException(
                    "peer-state body of $body bytes is not a multiple of ${RelayProtocol.PEER_ID_SIZE}",
                )
            }
            val ids = (0 until body / RelayProtocol.PEER_ID_SIZE).map {
                PeerId.fromBytes(bytes, RelayProtocol.HEADER_SIZE + it * RelayProtocol.PEER_ID_SIZE)
            }
            return when (val type = bytes[1].toInt() and 0xff) {
                RelayProtocol.TYPE_SUBSCRIBE_PEER_STATE -> SubscribePeerState(ids)
                RelayProtocol.TYPE_UNSUBSCRIBE_PEER_STATE -> UnsubscribePeerState(ids)
                RelayProtocol.TYPE_PEERS_ONLINE -> PeersOnline(ids)
                RelayProtocol.TYPE_PEERS_WENT_OFFLINE -> PeersWentOffline(ids)
                else -> throw MalformedRelayMessageException("type $type is not a peer-state message")
            }
        }
    }
}
