@file:OptIn(InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.InternalTetherApi

/**
 * Auth (type 6), the first client message: magic `21 12 A4 42`, the client's own [peerId], then the [token] bytes
 * ([AuthToken.toWire]). The whole message is at most [RelayProtocol.MAX_AUTH_SIZE] bytes.
 */
@InternalTetherApi
public class Auth(public val peerId: PeerId, token: ByteArray) : RelayMessage() {
    private val tokenBytes = token

    /** The raw token bytes (not copied). */
    public val token: ByteArray get() = tokenBytes

    override val type: Int get() = RelayProtocol.TYPE_AUTH

    /** Throws [InvalidTokenException] when the message would exceed 212 bytes. */
    override fun encode(): ByteArray {
        if (tokenBytes.size > RelayProtocol.MAX_TOKEN_SIZE) throw tokenTooLarge(tokenBytes.size)
        val magic = RelayProtocol.AUTH_MAGIC
        val out = header(type, magic.size + RelayProtocol.PEER_ID_SIZE + tokenBytes.size)
        var at = RelayProtocol.HEADER_SIZE
        System.arraycopy(magic, 0, out, at, magic.size)
        at += magic.size
        peerId.writeTo(out, at)
        at += RelayProtocol.PEER_ID_SIZE
        System.arraycopy(tokenBytes, 0, out, at, tokenBytes.size)
        return out
    }

    override fun toString(): String = "Auth($peerId)"

    internal companion object {
        fun read(bytes: ByteArray): Auth {
            if (bytes.size > RelayProtocol.MAX_AUTH_SIZE) {
                throw MalformedRelayMessageException(
                    "auth message of ${bytes.size} bytes exceeds ${RelayProtocol.MAX_AUTH_SIZE}",
                )
            }
            val magic = RelayProtocol.AUTH_MAGIC
            val idAt = RelayProtocol.HEADER_SIZE + magic.size
            if (bytes.size < idAt + RelayProtocol.PEER_ID_SIZE) {
                throw MalformedRelayMessageException("auth message too short")
            }
            for (i in magic.indices) {
                if (bytes[RelayProtocol.HEADER_SIZE + i] != magic[i]) {
                    throw MalformedRelayMessageException("auth magic mismatch")
                }
            }
            val id = PeerId.fromBytes(bytes, idAt)
            return Auth(id, bytes.copyOfRange(idAt + RelayProtocol.PEER_ID_SIZE, bytes.size))
        }
    }
}

/**
 * AuthResponse (type 7): the server's [instanceUrl] (UTF-8, at least one byte), e.g.
 * `rels://relay.example.com:443`.
 */
@InternalTetherApi
public class AuthResponse(public val instanceUrl: String) : RelayMessage() {
    init {
        require(instanceUrl.isNotEmpty()) { "the instance URL must not be empty" }
    }

    override val type: Int get() = RelayProtocol.TYPE_AUTH_RESPONSE

    override fun encode(): ByteArray {
        val url = instanceUrl.encodeToByteArray()
        val out = header(type, url.size)
        System.arraycopy(url, 0, out, RelayProtocol.HEADER_SIZE, url.size)
        return out
    }

    override fun toString(): String = "AuthResponse($instanceUrl)"

    internal companion object {
        fun read(bytes: ByteArray): AuthResponse {
            if (bytes.size > RelayProtocol.MAX_AUTH_RESPONSE_SIZE) {
                throw MalformedRelayMessageException(
                    "auth response of ${bytes.size} bytes exceeds ${RelayProtocol.MAX_AUTH_RESPONSE_SIZE}",
                )
            }
            if (bytes.size <= RelayProtocol.HEADER_SIZE) {
                throw MalformedRelayMessageException("auth response without an instance URL")
            }
            return AuthResponse(bytes.copyOfRange(RelayProtocol.HEADER_SIZE, bytes.size).decodeToString())
        }
    }
}

/** The error for a token of [size] bytes, beyond what an Auth message carries. */
internal fun tokenTooLarge(size: Int): InvalidTokenException = InvalidTokenException(
    "a token of $size bytes exceeds the ${RelayProtocol.MAX_TOKEN_SIZE}-byte limit of the Auth message",
)
