package dev.tether.wamp.auth

import dev.tether.wamp.message.Authenticate
import dev.tether.wamp.message.Challenge

/**
 * Answers a router's CHALLENGE for one auth method. The session registers handlers by method name
 * (`ticket`, `wampcra`, `cryptosign`, ...); their names become HELLO `authmethods`.
 *
 * Like nexus's AuthFunc it cannot fail: a handler that cannot sign returns an empty signature and the router
 * refuses the session with ABORT `wamp.error.authentication_failed`.
 */
public fun interface AuthHandler {
    /** The AUTHENTICATE to send for [challenge]. Runs once per session join, off the I/O path. */
    public fun authenticate(challenge: Challenge): Authenticate

    /** Keys this method adds to HELLO `authextra` (cryptosign sends its public key there). */
    public fun helloAuthExtra(): Map<String, Any?> = emptyMap()

    /** The handlers for the authentication methods WAMP defines. */
    public companion object {
        /** Ticket authentication: the signature is the ticket itself. */
        @JvmStatic
        public fun ticket(ticket: String): AuthHandler = AuthHandler { Authenticate(ticket, emptyMap()) }

        /**
         * WAMP-CRA with [secret]: HMAC-SHA256 over the challenge string, with the PBKDF2-derived key when the
         * challenge carries a salt.
         */
        @JvmStatic
        public fun wampCra(secret: String): AuthHandler =
            AuthHandler { ch -> Authenticate(WampCra.respond(secret, ch.extra), emptyMap()) }

        /** WAMP-cryptosign with an Ed25519 [key]; announces the public key in HELLO `authextra.pubkey`. */
        @JvmStatic
        public fun cryptosign(key: CryptosignKey): AuthHandler = object : AuthHandler {
            override fun authenticate(challenge: Challenge): Authenticate {
                val hexChallenge = challenge.extra["challenge"] as? String ?: ""
                return Authenticate(runCatching { key.respond(hexChallenge) }.getOrDefault(""), emptyMap())
            }

            override fun helloAuthExtra(): Map<String, Any?> = mapOf("pubkey" to key.publicKeyHex)
        }
    }
}
