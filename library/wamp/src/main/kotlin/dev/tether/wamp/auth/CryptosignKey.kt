package dev.tether.wamp.auth

import java.security.KeyFactory
import java.security.KeyPairGenerator
import java.security.PrivateKey
import java.security.SecureRandom
import java.security.Signature
import java.security.spec.NamedParameterSpec
import java.security.spec.X509EncodedKeySpec
import java.util.HexFormat

/**
 * An Ed25519 key for WAMP-cryptosign, built from its 32-byte seed with the JDK's own EdDSA (JDK 15+).
 *
 * The AUTHENTICATE signature is hex(ed25519 signature (64 bytes) || challenge (32 bytes)). The seed is secret:
 * [toString] never shows it.
 */
public class CryptosignKey private constructor(seed: ByteArray) {
    private val privateKey: PrivateKey
    private val publicKey: ByteArray

    init {
        require(seed.size == SEED_LENGTH) { "an Ed25519 seed is $SEED_LENGTH bytes, got ${seed.size}" }
        // The JDK derives the key pair from the 32 bytes its generator draws: hand it the seed as those bytes.
        val generator = KeyPairGenerator.getInstance("Ed25519")
        generator.initialize(NamedParameterSpec.ED25519, SeedRandom(seed.copyOf()))
        val pair = generator.generateKeyPair()
        privateKey = pair.private
        publicKey = pair.public.encoded.copyOfRange(X509_PREFIX.size, X509_PREFIX.size + PUBLIC_KEY_LENGTH)
    }

    /** The raw 32-byte public key. */
    public val publicKeyBytes: ByteArray get() = publicKey.copyOf()

    /** The public key as lowercase hex, as sent in HELLO `authextra.pubkey`. */
    public val publicKeyHex: String get() = HEX.formatHex(publicKey)

    /** The 64-byte Ed25519 signature of [message]. */
    public fun sign(message: ByteArray): ByteArray {
        val s = Signature.getInstance("Ed25519")
        s.initSign(privateKey)
        s.update(message)
        return s.sign()
    }

    /**
     * The AUTHENTICATE signature for a challenge given as hex (as in CHALLENGE `extra.challenge`): hex of the
     * signature followed by the challenge bytes. Throws IllegalArgumentException if [challengeHex] is not hex.
     */
    public fun respond(challengeHex: String): String {
        val challenge = HEX.parseHex(challengeHex)
        return HEX.formatHex(sign(challenge) + challenge)
    }

    override fun toString(): String = "CryptosignKey(public=$publicKeyHex)"

    /** Key sizes, key generation and loading, signature verification. */
    public companion object {
        /** Seed length in bytes. */
        public const val SEED_LENGTH: Int = 32

        /** Public key length in bytes. */
        public const val PUBLIC_KEY_LENGTH: Int = 32

        /** Signature length in bytes. */
        public const val SIGNATURE_LENGTH: Int = 64

        private val HEX = HexFormat.of()

        // DER prefix of an X.509 SubjectPublicKeyInfo for Ed25519 (OID 1.3.101.112), followed by the 32 raw bytes.
        private val X509_PREFIX = HEX.parseHex("302a300506032b6570032100")

        /** The key whose seed is [seed] (32 bytes). */
        @JvmStatic
        public fun fromSeed(seed: ByteArray): CryptosignKey = CryptosignKey(seed)

        /**
         * The key whose seed is [seedHex] (64 hex characters). Throws IllegalArgumentException for anything else; its
         * message never quotes the seed, not even one wrong character of it.
         */
        @JvmStatic
        public fun fromSeedHex(seedHex: String): CryptosignKey {
            require(seedHex.length == 2 * SEED_LENGTH) {
                "a cryptosign seed is ${2 * SEED_LENGTH} hex characters, got ${seedHex.length} (not shown)"
            }
            val bad = seedHex.indexOfFirst { it !in '0'..'9' && it !in 'a'..'f' && it !in 'A'..'F' }
            require(bad < 0) { "a cryptosign seed is hex; character ${bad + 1} of the seed is not (not shown)" }
            return CryptosignKey(HEX.parseHex(seedHex))
        }

        /** A fresh random key. */
        @JvmStatic
        public fun generate(): CryptosignKey = CryptosignKey(
            ByteArray(SEED_LENGTH).also {
                SecureRandom().nextBytes(it)
            },
        )

        /**
         * Router side: true if [signatureHex] (hex of signature || signed message, either case) is a valid Ed25519
         * signature by [publicKeyHex] over exactly [expectedChallengeHex]. Unlike nexus, the signed bytes must be
         * the challenge that was issued.
         */
        @JvmStatic
        public fun verify(signatureHex: String, publicKeyHex: String, expectedChallengeHex: String): Boolean {
            val signed = runCatching { HEX.parseHex(signatureHex.lowercase()) }.getOrNull() ?: return false
            val expected = runCatching { HEX.parseHex(expectedChallengeHex.lowercase()) }.getOrNull() ?: return false
            val pub = runCatching { HEX.parseHex(publicKeyHex.lowercase()) }.getOrNull() ?: return false
            if (signed.size != SIGNATURE_LENGTH + expected.size || pub.size != PUBLIC_KEY_LENGTH) return false
            val message = signed.copyOfRange(SIGNATURE_LENGTH, signed.size)
            if (!message.contentEquals(expected)) return false
            return runCatching {
                val key = KeyFactory.getInstance("Ed25519").generatePublic(X509EncodedKeySpec(X509_PREFIX + pub))
                val s = Signature.getInstance("Ed25519")
                s.initVerify(key)
                s.update(message)
                s.verify(signed, 0, SIGNATURE_LENGTH)
            }.getOrDefault(false)
        }
    }

    private class SeedRandom(private val seed: ByteArray) : SecureRandom() {
        override fun nextBytes(bytes: ByteArray) {
            System.arraycopy(seed, 0, bytes, 0, minOf(seed.size, bytes.size))
        }
    }
}
