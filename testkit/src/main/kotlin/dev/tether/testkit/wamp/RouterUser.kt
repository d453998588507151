package dev.tether.testkit.wamp

import dev.tether.wamp.auth.WampCra

/** One user the router can authenticate. */
public sealed interface RouterUser {
    /** The authid the client sends in HELLO. */
    public val authId: String

    /** The authrole the router grants. */
    public val authRole: String

    /** Ticket authentication: the client must send [ticket]. */
    public data class Ticket(
        override val authId: String,
        val ticket: String,
        override val authRole: String = "user",
    ) : RouterUser

    /**
     * WAMP-CRA. With [salt] the router keeps only the derived key (as nexus's key store does) and sends salt,
     * iterations and keylen in the CHALLENGE.
     */
    public data class Cra(
        override val authId: String,
        val secret: String,
        override val authRole: String = "user",
        val salt: String? = null,
        val iterations: Int = WampCra.DEFAULT_ITERATIONS,
        val keyLength: Int = WampCra.DEFAULT_KEY_LENGTH,
    ) : RouterUser {
        internal val key: ByteArray
            get() =
                if (salt == null) {
                    secret.toByteArray()
                } else {
                    WampCra.deriveKey(secret, salt, iterations, keyLength).toByteArray()
                }

        override fun toString(): String = "Cra(authId=$authId, authRole=$authRole, salted=${salt != null})"
    }

    /** WAMP-cryptosign with an Ed25519 public key (64 hex characters). */
    public data class Cryptosign(
        override val authId: String,
        val publicKeyHex: String,
        override val authRole: String = "user",
    ) : RouterUser
}
