package dev.tether.relay

import java.security.MessageDigest
import java.time.Clock
import java.time.Duration
import java.time.Instant
import java.util.Base64
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/**
 * The relay auth token (HMAC v2): [payload] is the expiry in decimal Unix seconds, [signature] the raw
 * HMAC-SHA256 of the payload under the key SHA-256(relay secret). On the wire (appended to Auth) it is
 * `0x01 || signature (32 bytes) || payload ASCII` ([toWire]).
 *
 * Build it from what management sends ([fromManagement]) or, when you hold the relay secret, with [fromSecret].
 * `toString` never shows the signature.
 */
public class AuthToken private constructor(public val payload: String, private val sig: ByteArray) {
    /** A copy of the raw 32-byte signature. */
    public val signature: ByteArray get() = sig.copyOf()

    /**
     * The expiry the payload states, or null when it is not a number or lies beyond what [Instant] can hold (the
     * payload comes from management as it is; a far-future expiry is not a time we can represent).
     */
    public val expiresAt: Instant?
        get() = payload.toLongOrNull()?.takeIf { it in INSTANT_SECONDS }?.let { Instant.ofEpochSecond(it) }

    /** The bytes that follow the peer id in an Auth message. */
    public fun toWire(): ByteArray {
        val p = payload.encodeToByteArray()
        val out = ByteArray(1 + sig.size + p.size)
        out[0] = RelayProtocol.TOKEN_ALGO_HMAC_SHA256
        System.arraycopy(sig, 0, out, 1, sig.size)
        System.arraycopy(p, 0, out, 1 + sig.size, p.size)
        return out
    }

    override fun toString(): String = "AuthToken(expires=$payload)"

    /** Why [verify] refused a token. */
    public enum class Verdict {
        /** Valid and not expired. */
        VALID,

        /** Unknown algorithm byte, or too short. */
        MALFORMED,

        /** The HMAC does not match (wrong secret or tampered payload). */
        INVALID_SIGNATURE,

        /** The payload is not a Unix time. */
        INVALID_PAYLOAD,

        /** The expiry is in the past. */
        EXPIRED,
    }

    /** Making, reading and checking tokens. */
    public companion object {
        private val INSTANT_SECONDS = Instant.MIN.epochSecond..Instant.MAX.epochSecond

        /**
         * The token from management's `tokenPayload` and base64 `tokenSignature` (upstream TokenStore.UpdateToken).
         * @throws InvalidTokenException when the signature is not base64 of 32 bytes or the payload is empty
         */
        @JvmStatic
        public fun fromManagement(payload: String, signatureBase64: String): AuthToken {
            if (payload.isEmpty()) throw InvalidTokenException("empty payload")
            val sig = try {
                Base64.getDecoder().decode(signatureBase64)
            } catch (e: IllegalArgumentException) {
                throw InvalidTokenException("signature is not base64", e)
            }
            if (sig.size != RelayProtocol.TOKEN_SIGNATURE_SIZE) {
                throw InvalidTokenException(
                    "signature must be ${RelayProtocol.TOKEN_SIGNATURE_SIZE} bytes, got ${sig.size}",
                )
            }
            return AuthToken(payload, sig)
        }

        /** Signs [expiresAt] with [secret], as netbird management does. */
        @JvmStatic
        public fun fromSecret(secret: String, expiresAt: Instant): AuthToken {
            val payload = expiresAt.epochSecond.toString()
            return AuthToken(payload, hmac(secret, payload.encodeToByteArray()))
        }

        /** A token signed with [secret] that expires [ttl] from now (default 12 h, the management TTL). */
        @JvmStatic
        @JvmOverloads
        public fun generate(
            secret: String,
            ttl: Duration = Duration.ofMillis(RelayProtocol.TOKEN_TTL_MILLIS),
            clock: Clock = Clock.systemUTC(),
        ): AuthToken = fromSecret(secret, clock.instant().plus(ttl))

        /** The base64 signature management would send beside [AuthToken.payload]. */
        @JvmStatic
        public fun signatureBase64(token: AuthToken): String = Base64.getEncoder().encodeToString(token.sig)

        /**
         * Server-side validation of wire token bytes against [secret] at [now]: algorithm, length, constant-time
         * HMAC comparison, then expiry.
         */
        @JvmStatic
        @JvmOverloads
        public fun verify(wire: ByteArray, secret: String, now: Instant = Instant.now()): Verdict {
            if (wire.isEmpty() || wire[0] != RelayProtocol.TOKEN_ALGO_HMAC_SHA256) return Verdict.MALFORMED
            val sigEnd = 1 + RelayProtocol.TOKEN_SIGNATURE_SIZE
            if (wire.size < sigEnd + RelayProtocol.TOKEN_MIN_PAYLOAD_SIZE) return Verdict.MALFORMED
            val sig = wire.copyOfRange(1, sigEnd)
            val payload = wire.copyOfRange(sigEnd, wire.size)
            if (!MessageDigest.isEqual(sig, hmac(secret, payload))) return Verdict.INVALID_SIGNATURE
            val expiry = payload.decodeToString().toLongOrNull() ?: return Verdict.INVALID_PAYLOAD
            return if (now.epochSecond > expiry) Verdict.EXPIRED else Verdict.VALID
        }

        /** The HMAC key for [secret]: SHA-256 of its UTF-8 bytes (the raw secret is never the key). */
        @JvmStatic
        public fun hmacKey(secret: String): ByteArray =
            MessageDigest.getInstance("SHA-256").digest(secret.encodeToByteArray())

        private fun hmac(secret: String, data: ByteArray): ByteArray {
            val mac = Mac.getInstance("HmacSHA256")
            mac.init(SecretKeySpec(hmacKey(secret), "HmacSHA256"))
            return mac.doFinal(data)
        }
    }
}

/**
 * Holds the token that future handshakes use (upstream auth.TokenStore). [update] replaces it; sessions already
 * established are never re-authenticated. Thread-safe.
 */
public class TokenStore @JvmOverloads constructor(initial: AuthToken? = null) {
    @Volatile private var current: AuthToken? = initial

    /** The token the next handshake sends, or null when none was set yet. */
    public fun token(): AuthToken? = current

    /** Replaces the token for future handshakes; null is ignored (upstream no-op). */
    public fun update(token: AuthToken?) {
        if (token != null) current = token
    }

    /** Replaces the token from management's payload and base64 signature. */
    public fun update(payload: String, signatureBase64: String) {
        update(AuthToken.fromManagement(payload, signatureBase64))
    }
}
