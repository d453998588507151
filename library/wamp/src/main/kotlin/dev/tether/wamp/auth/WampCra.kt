package dev.tether.wamp.auth

import dev.tether.wamp.error.ChallengeRefusedException
import dev.tether.wamp.message.WampValues
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

    /**
     * The most PBKDF2 iterations a router's salted challenge may ask of [respond] by default: ten times what
     * crossbar and nexus issue by default leaves room for stronger settings, while one derivation stays well under a
     * second. The router picks the count, so without a cap it could make a client burn CPU for as long as it likes.
     */
    public const val MAX_ITERATIONS: Int = 100_000

    /** The longest derived key, in bytes, a router's salted challenge may ask of [respond] by default. */
    public const val MAX_KEY_LENGTH: Int = 64

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
     *
     * A salted challenge asking for more than [maxIterations] iterations or a key longer than [maxKeyLength] bytes is
     * refused with [ChallengeRefusedException] before any work is done. The derivation checks the thread's interrupt
     * flag as it goes, so a caller that runs it with `runInterruptible` can cancel it.
     */
    @JvmStatic
    @JvmOverloads
    public fun respond(
        secret: String,
        extra: Map<String, Any?>,
        maxIterations: Int = MAX_ITERATIONS,
        maxKeyLength: Int = MAX_KEY_LENGTH,
    ): String {
        val challenge = extra["challenge"] as? String ?: ""
        val salt = extra["salt"] as? String
        val key = if (salt.isNullOrEmpty()) {
            secret.toByteArray(Charsets.UTF_8)
        } else {
            val iterations = capped(extra["iterations"], DEFAULT_ITERATIONS, maxIterations, "PBKDF2 iterations")
            val keyLength = capped(extra["keylen"], DEFAULT_KEY_LENGTH, maxKeyLength, "a derived key length (bytes)")
            deriveKey(secret, salt, iterations.toInt(), keyLength.toInt()).toByteArray(Charsets.US_ASCII)
        }
        return sign(key, challenge)
    }

    /** The router's [value] for a PBKDF2 parameter, [default] when it names none, refused above [max]. */
    private fun capped(value: Any?, default: Int, max: Int, what: String): Long {
        val asked = WampValues.asLong(value)?.takeIf { it > 0 } ?: return default.toLong()
        if (asked > max) {
            throw ChallengeRefusedException(
                "wampcra",
                "the router's WAMP-CRA challenge asks for $asked $what, over this client's cap of $max " +
                    "(AuthHandler.wampCra's limits); not answered",
            )
        }
        return asked
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
            repeat(iterations - 1) { i ->
                // Cancellable from runInterruptible: the count may be large.
                if (i % INTERRUPT_CHECK_EVERY == 0 && Thread.interrupted()) throw InterruptedException("PBKDF2")
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

    private const val INTERRUPT_CHECK_EVERY = 1024

    // SecretKeySpec refuses an empty key, but HMAC with an empty key is well defined (and what Go computes).
    private object EmptyKey : javax.crypto.SecretKey {
        private fun readResolve(): Any = EmptyKey
        override fun getAlgorithm(): String = "HmacSHA256"
        override fun getFormat(): String = "RAW"
        override fun getEncoded(): ByteArray = ByteArray(0)
    }
}
