package dev.tether.testkit.wamp

import dev.tether.wamp.auth.WampCra

/** One user the router can authenticate. */
public sealed interface RouterUser {
    /** The authid the client sends in HELLO. */
    public val authId: String

    /** The authrole the router grants. */
    public val authRole: String

    /** Ticket authentication: the client must send [ticket]. [toString] leaves the ticket out. */
    public data class Ticket(
        override val authId: String,
        val ticket: String,
        override val authRole: String = "user",
    ) : RouterUser {
        // The ticket is a credential: a test log that prints the user must not print it.
        override fun toString(): String = "Ticket(authId=$authId, authRole=$authRole)"
    }

    /**
     * WAMP-CRA. With [salt] the router keeps only the derived key (as nexus's key store does) and sends salt,
     * iterations and keylen in the CHALLENGE. [toString] leaves the secret out.
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
