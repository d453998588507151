package dev.tether.wamp

import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.ChallengeRefusedException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.message.Abort
import dev.tether.wamp.message.Authenticate
import dev.tether.wamp.message.Challenge
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.transport.WampTransport
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlin.time.toKotlinDuration

/**
 * Joining a realm over a connected transport: HELLO with the client's roles and authentication methods, at most
 * one CHALLENGE answered by the configured [dev.tether.wamp.auth.AuthHandler], then WELCOME (or ABORT).
 */
internal object SessionJoin {
    /**
     * Runs the join over [peer], bounded by [SessionConfig.responseTimeout], and returns the router's WELCOME.
     * Closes [peer] when joining fails, whatever the reason.
     */
    suspend fun join(peer: WampTransport, config: SessionConfig): Welcome {
        try {
            return withTimeout(config.responseTimeout.toKotlinDuration()) { handshake(peer, config) }
        } catch (e: TimeoutCancellationException) {
            withContext(NonCancellable) { runCatching { peer.close() } }
            throw ResponseTimeoutException("HELLO to realm ${config.realm}", config.responseTimeout.toMillis())
        } catch (e: Throwable) {
            withContext(NonCancellable) { runCatching { peer.close() } }
            throw e
        }
    }

    /** HELLO details: the caller's, plus the client's roles and the auth methods and extra of its handlers. */
    fun helloDetails(config: SessionConfig): Map<String, Any?> {
        val details = LinkedHashMap<String, Any?>(WampValues.normalizeMap(config.helloDetails))
        details.putIfAbsent("roles", Roles.CLIENT)
        if (config.authHandlers.isNotEmpty()) {
            details.putIfAbsent("authmethods", config.authHandlers.keys.toList())
            val extra = LinkedHashMap<String, Any?>()
            (details["authextra"] as? Map<*, *>)?.let { extra.putAll(WampValues.normalizeMap(it)) }
            for (h in config.authHandlers.values) for ((k, v) in h.helloAuthExtra()) extra.putIfAbsent(k, v)
            if (extra.isNotEmpty()) details["authextra"] = extra
        }
        return details
    }

    private suspend fun handshake(peer: WampTransport, config: SessionConfig): Welcome {
        peer.send(Hello(config.realm, helloDetails(config)))
        var authenticated = false
        while (true) {
            when (val m = peer.receive()) {
                is Welcome -> return m

                is Abort -> throw AbortException(m.reason, m.details)

                is Challenge -> {
                    val handler = config.authHandlers[m.authMethod]
                    if (handler == null || authenticated) {
                        val why =
                            if (handler == null) "no handler for auth method ${m.authMethod}" else "second CHALLENGE"
                        abort(peer, why, "wamp.error.authentication_failed")
                        throw AbortException("wamp.error.authentication_failed", mapOf("message" to why))
                    }
                    authenticated = true
                    // Signing (PBKDF2 in particular) is CPU work: off the I/O path, and interrupted when the join's
                    // timeout passes or the caller gives up.
                    val answer: Authenticate = try {
                        runInterruptible(Dispatchers.Default) { handler.authenticate(m) }
                    } catch (e: ChallengeRefusedException) {
                        abort(peer, e.message ?: "challenge refused", "wamp.error.authentication_failed")
                        throw e
                    }
                    peer.send(answer)
                }

                else -> {
                    val why = "unexpected ${MessageCodes.nameOf(m.code)} before WELCOME"
                    abort(peer, why, "wamp.error.protocol_violation")
                    throw ProtocolViolationException(why)
                }
            }
        }
    }

    private suspend fun abort(peer: WampTransport, why: String, reason: String) {
        runCatching { peer.send(Abort(mapOf("message" to why), reason)) }
    }
}
