package dev.tether.wamp.auth

import dev.tether.wamp.message.Authenticate
import dev.tether.wamp.message.Challenge

/**
 * Answers a router's CHALLENGE for one auth method. The session registers handlers by method name
 * (`ticket`, `wampcra`, `cryptosign`, ...); their names become HELLO `authmethods`.
 *
 * Like nexus's AuthFunc it does not fail for a bad challenge: a handler that cannot sign returns an empty signature
 * and the router refuses the session with ABORT `wamp.error.authentication_failed`. A handler that will not answer
 * (a challenge over its limits) throws [dev.tether.wamp.error.ChallengeRefusedException]: the client aborts the join
 * and the caller gets that error. Handlers run off the I/O thread, interruptibly: a join that times out stops them.
 */
public fun interface AuthHandler {
    /**
     * The AUTHENTICATE to send for [challenge]. Runs once per session join, off the I/O path; the join's timeout
     * interrupts the thread.
     */
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
         * challenge carries a salt. The router picks the PBKDF2 cost: a challenge asking for more than
         * [maxIterations] iterations (default [WampCra.MAX_ITERATIONS]) or a key over [maxKeyLength] bytes (default
         * [WampCra.MAX_KEY_LENGTH]) is not answered, and joining fails with
         * [dev.tether.wamp.error.ChallengeRefusedException].
         */
        @JvmStatic
        @JvmOverloads
        public fun wampCra(
            secret: String,
            maxIterations: Int = WampCra.MAX_ITERATIONS,
            maxKeyLength: Int = WampCra.MAX_KEY_LENGTH,
        ): AuthHandler {
            require(maxIterations >= 1 && maxKeyLength >= 1) { "the WAMP-CRA caps must be positive" }
            return AuthHandler { ch ->
                Authenticate(WampCra.respond(secret, ch.extra, maxIterations, maxKeyLength), emptyMap())
            }
        }

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
