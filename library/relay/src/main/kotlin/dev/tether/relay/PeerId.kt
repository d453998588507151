package dev.tether.relay

import java.security.MessageDigest
import java.util.Base64

/**
 * A peer's identity on the relay: `"sha-" || SHA-256(UTF-8 peer key)`, 36 bytes on the wire. netbird's peer key is
 * the WireGuard public key in base64. [toString] gives the printable form `sha-` + base64(hash) (48 chars).
 * Immutable; equality is by value.
 */
public class PeerId private constructor(private val bytes: ByteArray) {
    /** A copy of the 36 wire bytes. */
    public fun toByteArray(): ByteArray = bytes.copyOf()

    internal fun writeTo(target: ByteArray, offset: Int) {
        System.arraycopy(bytes, 0, target, offset, RelayProtocol.PEER_ID_SIZE)
    }

    override fun equals(other: Any?): Boolean = other is PeerId && bytes.contentEquals(other.bytes)

    override fun hashCode(): Int = bytes.contentHashCode()

    /** `sha-` followed by the standard base64 of the hash. */
    override fun toString(): String = PREFIX_TEXT +
        Base64.getEncoder().encodeToString(bytes.copyOfRange(RelayProtocol.PEER_ID_PREFIX_SIZE, bytes.size))

    /** Making and reading peer ids. */
    public companion object {
        private const val PREFIX_TEXT = "sha-"
        private val PREFIX = PREFIX_TEXT.encodeToByteArray()

        /** Hashes [peerKey] (upstream HashID). */
        @JvmStatic
        public fun of(peerKey: String): PeerId {
            val hash = MessageDigest.getInstance("SHA-256").digest(peerKey.encodeToByteArray())
            return PeerId(PREFIX + hash)
        }

        /** Reads a wire id; throws [MalformedRelayMessageException] unless it is 36 bytes starting with `sha-`. */
        @JvmStatic
        public fun fromBytes(bytes: ByteArray): PeerId = fromBytes(bytes, 0)

        internal fun fromBytes(source: ByteArray, offset: Int): PeerId {
            if (source.size - offset < RelayProtocol.PEER_ID_SIZE) {
                throw MalformedRelayMessageException(
                    "peer id needs ${RelayProtocol.PEER_ID_SIZE} bytes, got ${source.size - offset}",
                )
            }
            val id = source.copyOfRange(offset, offset + RelayProtocol.PEER_ID_SIZE)
            for (i in PREFIX.indices) {
                if (id[i] != PREFIX[i]) throw MalformedRelayMessageException("peer id does not start with \"sha-\"")
            }
            return PeerId(id)
        }

        /** Parses the printable form (`sha-` + base64 of 32 bytes). */
        @JvmStatic
        public fun parse(text: String): PeerId {
            require(text.startsWith(PREFIX_TEXT)) { "a printable peer id starts with sha-: $text" }
            val hash = try {
                Base64.getDecoder().decode(text.substring(PREFIX_TEXT.length))
            } catch (e: IllegalArgumentException) {
                throw IllegalArgumentException("not base64 after sha-: $text", e)
            }
            require(hash.size == 32) { "a peer id hash is 32 bytes, got ${hash.size}" }
            return PeerId(PREFIX + hash)
        }
    }
}
