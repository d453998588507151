package dev.tether.wamp.auth

import java.security.MessageDigest
import java.util.Base64
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/**
 * WAMP challenge-response authentication (WAMP-CRA), as nexus signs and verifies it.
 *
 * signature = base64(HMAC-SHA256(key, challenge)); key = the secret's UTF-8 bytes, or for a salted challenge the
 * ASCII bytes of base64(PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen)).
 */
public object WampCra {
    /** Iterations a salted challenge implies when it names none. */
    public const val DEFAULT_ITERATIONS: Int = 1000

    /** Derived key length in bytes a salted challenge implies when it names none. */
    public const val DEFAULT_KEY_LENGTH: Int = 32

    /** The signature for [challenge] with [key]: standard base64 of HMAC-SHA256. */
    @JvmStatic
    public fun sign(key: ByteArray, challenge: String): String {
        val mac = Mac.getInstance("HmacSHA256")
        mac.init(if (key.isEmpty()) EmptyKey else SecretKeySpec(key, "HmacSHA256"))
        return Base64.getEncoder().encodeToString(mac.doFinal(challenge.toByteArray(Charsets.UTF_8)))
    }

    /**
     * The derived key string for a salted challenge: base64(PBKDF2-HMAC-SHA256(secret, salt, iterations,
     * keyLength)).
     */
    @JvmStatic
    @JvmOverloads
    public fun deriveKey(
        secret: String,
        salt: String,
        iterations: Int = DEFAULT_ITERATIONS,
        keyLength: Int = DEFAULT_KEY_LENGTH,
    ): String = Base64.getEncoder().encodeToString(
        pbkdf2(secret.toByteArray(Charsets.UTF_8), salt.toByteArray(Charsets.UTF_8), iterations, keyLength),
    )

    /**
     * The AUTHENTICATE signature for a CHALLENGE whose extra is [extra] (`challenge`, and `salt`, `iterations`,
     * `keylen` when salted). An extra without a challenge string signs the empty string, which the router refuses.
     */
    @JvmStatic
    public fun respond(secret: String, extra: Map<String, Any?>): String {
        val challenge = extra["challenge"] as? String ?: ""
        val salt = extra["salt"] as? String
        val key = if (salt.isNullOrEmpty()) {
            secret.toByteArray(Charsets.UTF_8)
        } else {
            val iterations = (extra["iterations"] as? Number)?.toInt()?.takeIf { it > 0 } ?: DEFAULT_ITERATIONS
            val keyLength = (extra["keylen"] as? Number)?.toInt()?.takeIf { it > 0 } ?: DEFAULT_KEY_LENGTH
            deriveKey(secret, salt, iterations, keyLength).toByteArray(Charsets.US_ASCII)
        }
        return sign(key, challenge)
    }

    /** True if [signature] is the right one for [challenge] under [key]; compares in constant time. */
    @JvmStatic
    public fun verify(signature: String, challenge: String, key: ByteArray): Boolean = MessageDigest.isEqual(
        sign(key, challenge).toByteArray(Charsets.US_ASCII),
        signature.toByteArray(Charsets.UTF_8),
    )

    /**
     * The challenge string a router issues, in nexus's exact format (spacing included) so that clients sign the
     * same bytes nexus would have sent.
     */
    @JvmStatic
    public fun challengeString(
        nonce: String,
        authProvider: String,
        authId: String,
        timestamp: String,
        authRole: String,
        authMethod: String,
        session: Long,
    ): String = "{ \"nonce\":\"$nonce\", \"authprovider\":\"$authProvider\", \"authid\":\"$authId\", " +
        "\"timestamp\":\"$timestamp\", \"authrole\":\"$authRole\", \"authmethod\":\"$authMethod\", " +
        "\"session\":$session }"

    internal fun pbkdf2(password: ByteArray, salt: ByteArray, iterations: Int, keyLength: Int): ByteArray {
        require(iterations > 0 && keyLength > 0) { "iterations and key length must be positive" }
        val mac = Mac.getInstance("HmacSHA256")
        mac.init(if (password.isEmpty()) EmptyKey else SecretKeySpec(password, "HmacSHA256"))
        val out = ByteArray(keyLength)
        var block = 1
        var offset = 0
        while (offset < keyLength) {
            mac.update(salt)
            mac.update(
                byteArrayOf(
                    (block ushr 24).toByte(),
                    (block ushr 16).toByte(),
                    (block ushr 8).toByte(),
                    block.toByte(),
                ),
            )
            var u = mac.doFinal()
            val t = u.copyOf()
            repeat(iterations - 1) {
                u = mac.doFinal(u)
                for (i in t.indices) t[i] = (t[i].toInt() xor u[i].toInt()).toByte()
            }
            val n = minOf(t.size, keyLength - offset)
            System.arraycopy(t, 0, out, offset, n)
            offset += n
            block++
        }
        return out
    }

    // SecretKeySpec refuses an empty key, but HMAC with an empty key is well defined (and what Go computes).
    private object EmptyKey : javax.crypto.SecretKey {
        private fun readResolve(): Any = EmptyKey
        override fun getAlgorithm(): String = "HmacSHA256"
        override fun getFormat(): String = "RAW"
        override fun getEncoded(): ByteArray = ByteArray(0)
    }
}
