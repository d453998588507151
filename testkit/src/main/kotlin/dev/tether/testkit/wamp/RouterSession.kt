@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.testkit.wamp

import dev.tether.testkit.secretMatches
import dev.tether.wamp.auth.CryptosignKey
import dev.tether.wamp.auth.WampCra
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.message.Abort
import dev.tether.wamp.message.Authenticate
import dev.tether.wamp.message.Challenge
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.transport.Peer
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.security.SecureRandom
import java.time.OffsetDateTime
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import java.util.Base64
import java.util.HexFormat
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.toKotlinDuration

/** One client connection to the router: joins it to a realm, then feeds its messages to the [RouterRealm]. */
internal class RouterSession(
    private val router: FakeWampRouter,
    val peer: Peer,
) {
    private val log = LoggerFactory.getLogger(RouterSession::class.java)
    private val outbound = Channel<Message>(Channel.UNLIMITED)

    // Messages waiting for the writer: EVENTs beyond config.outboundQueueSize are dropped (as nexus's 64-message
    // queue), every other message still waits, so a session is never sent half a conversation.
    private val queued = AtomicInteger()
    private val closed = AtomicBoolean(false)
    private val saidGoodbye = AtomicBoolean(false)

    var id: Long = 0
        private set
    var authId: String = ""
        private set
    var authRole: String = "anonymous"
        private set
    var authMethod: String = "anonymous"
        private set
    var realm: RouterRealm? = null
        private set
    var helloDetails: Map<String, Any?> = emptyMap()
        private set

    /** True when this client's HELLO announced [feature] for [role] (`roles.<role>.features.<feature>`). */
    fun announces(role: String, feature: String): Boolean {
        val roles = helloDetails["roles"] as? Map<*, *> ?: return false
        val features = (roles[role] as? Map<*, *>)?.get("features") as? Map<*, *> ?: return false
        return features[feature] == true
    }

    /** True when this client's callee announced call_canceling: only then does the router interrupt its handlers. */
    fun cancels(): Boolean = announces("callee", "call_canceling")

    /**
     * Queues [m] for this client; never blocks the router. An EVENT that finds [FakeWampRouterConfig.outboundQueueSize]
     * messages waiting is dropped, counted ([FakeWampRouter.eventStats]) and logged, as nexus does for a blocked
     * subscriber; any other message is queued regardless.
     */
    fun send(m: Message) {
        if (m is EventMessage && queued.get() >= router.config.outboundQueueSize) {
            val drops = router.eventDrops.dropped(id)
            // The first and then every thousandth at warn: a flood to a stuck subscriber must not flood the log.
            if (drops % DROPS_PER_WARNING == 1L) {
                log.warn("router: Dropped EVENT to session {}: blocked ({} dropped so far)", id, drops)
            } else {
                log.debug("router: Dropped EVENT to session {}: blocked ({} dropped so far)", id, drops)
            }
            return
        }
        queued.incrementAndGet()
        if (!outbound.trySend(m).isSuccess) queued.decrementAndGet()
    }

    /**
     * Sends [goodbye] and closes the connection once it is written, without waiting for the client's reply (the
     * meta API's kill, as nexus's EndRecv): the session has already left its realm.
     */
    fun expel(goodbye: Goodbye) {
        sayGoodbye(goodbye)
        outbound.close()
    }

    /**
     * Sends [goodbye] unless this side already said GOODBYE: the client's GOODBYE after the router's (shutdown) is
     * the reply that ends the session, and is not answered again.
     */
    fun sayGoodbye(goodbye: Goodbye) {
        if (saidGoodbye.compareAndSet(false, true)) send(goodbye)
    }

    /** Runs the connection until it ends; called in its own coroutine. */
    suspend fun run(scope: CoroutineScope) {
        val writer = scope.launch {
            try {
                for (m in outbound) {
                    queued.decrementAndGet()
                    val d = router.faults.latency
                    if (!d.isZero) delay(d.toKotlinDuration())
                    try {
                        peer.send(m)
                    } catch (e: MessageTooLongException) {
                        // As nexus: a message over the client's announced limit is dropped, the session stays.
                        log.warn("router: dropped a message to session {}: {}", id, e.message)
                    }
                }
            } catch (e: Exception) {
                if (e is kotlinx.coroutines.CancellationException) throw e
                log.debug("router: send to session {} failed: {}", id, e.message)
            } finally {
                terminate()
            }
        }
        try {
            val realm = join() ?: return
            this.realm = realm
            while (true) {
                val m = peer.receive()
                if (router.faults.isMuted) continue
                if (!realm.handle(this, m)) break
            }
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException) throw e
            log.debug("router: session {} ended: {}", id, e.message)
        } finally {
            realm?.leave(this)
            outbound.close()
            withContext(NonCancellable) { withTimeoutOrNull(1_000) { writer.join() } }
            terminate()
        }
    }

    /**
     * Closes the connection at once, without GOODBYE (the drop fault). True when this call closed it; false when an
     * earlier call had (the session stays listed until its coroutine has finished).
     */
    suspend fun terminate(): Boolean {
        if (!closed.compareAndSet(false, true)) return false
        outbound.close()
        withContext(NonCancellable) { runCatching { peer.close() } }
        return true
    }

    /**
     * Set before the ABORT goes out: from the client's view this connection is over, though it may not be closed yet.
     */
    @Volatile
    var refused: Boolean = false
        private set

    private fun abort(reason: String, message: String): RouterRealm? {
        refused = true
        send(Abort(mapOf("message" to message), reason))
        return null
    }

    private suspend fun join(): RouterRealm? {
        val hello = withTimeoutOrNull(router.config.helloTimeout.toKotlinDuration()) { peer.receive() }
            ?: return abort(
                "wamp.error.protocol_violation",
                "no HELLO within ${router.config.helloTimeout.toMillis()} ms",
            )
        if (hello !is Hello) return abort("wamp.error.protocol_violation", "expected HELLO")
        router.faults.takeRefusal()?.let { return abort(it, "join refused by the router's fault controls") }
        helloDetails = hello.details
        val realm = router.realm(hello.realm) ?: return abort("wamp.error.no_such_realm", "no realm ${hello.realm}")
        id = router.newSessionId()
        val requestedId = hello.details["authid"] as? String
        val methods = (hello.details["authmethods"] as? List<*>)?.filterIsInstance<String>() ?: emptyList()
        val user = requestedId?.let { router.user(it) }

        val outcome: Pair<String, RouterUser?> = when {
            user != null && user is RouterUser.Ticket && "ticket" in methods -> authenticateTicket(user)

            user != null && user is RouterUser.Cra && "wampcra" in methods -> authenticateCra(user)

            user != null && user is RouterUser.Cryptosign && "cryptosign" in methods -> authenticateCryptosign(
                user,
                hello,
            )

            (methods.isEmpty() || "anonymous" in methods) && realm.anonymous -> "anonymous" to null

            else -> return abort(
                "wamp.error.authentication_failed",
                if (methods.isEmpty()) {
                    "anonymous access denied"
                } else {
                    "no usable auth method for ${requestedId ?: "(no authid)"}"
                },
            )
        }
        val (method, authenticated) = outcome
        if (method == FAILED) return null
        authMethod = method
        authId = authenticated?.authId ?: (requestedId ?: java.lang.Long.toHexString(id))
        authRole = authenticated?.authRole ?: "anonymous"
        realm.join(this)
        send(
            Welcome(
                id,
                mapOf(
                    "authid" to authId,
                    "authrole" to authRole,
                    "authmethod" to authMethod,
                    "authprovider" to "static",
                    "roles" to mapOf(
                        "broker" to mapOf(
                            "features" to mapOf(
                                "publisher_exclusion" to true,
                                "publisher_identification" to true,
                                "subscriber_blackwhite_listing" to true,
                                "pattern_based_subscription" to true,
                                "payload_passthru_mode" to true,
                                "event_history" to true,
                                "session_meta_api" to router.config.metaApi,
                                "subscription_meta_api" to router.config.metaApi,
                            ),
                        ),
                        "dealer" to mapOf(
                            "features" to mapOf(
                                "call_canceling" to true, "call_timeout" to true, "caller_identification" to true,
                                "pattern_based_registration" to true, "shared_registration" to true,
                                "session_meta_api" to router.config.metaApi,
                                "registration_meta_api" to router.config.metaApi,
                                "testament_meta_api" to router.config.metaApi, "progressive_call_results" to true,
                                "progressive_call_invocations" to true,
                                "payload_passthru_mode" to true,
                            ),
                        ),
                    ),
                ),
            ),
        )
        return realm
    }

    private suspend fun challenge(ch: Challenge): Authenticate? {
        send(ch)
        val m = withTimeoutOrNull(router.config.helloTimeout.toKotlinDuration()) { peer.receive() }
        if (m !is Authenticate) {
            abort("wamp.error.authentication_failed", "expected AUTHENTICATE")
            return null
        }
        return m
    }

    private fun fail(message: String): Pair<String, RouterUser?> {
        abort("wamp.error.authentication_failed", message)
        return FAILED to null
    }

    private suspend fun authenticateTicket(user: RouterUser.Ticket): Pair<String, RouterUser?> {
        val auth = challenge(Challenge("ticket", emptyMap())) ?: return FAILED to null
        // Look the user up again: credentials may have rotated while the challenge was out.
        val current = router.user(user.authId) as? RouterUser.Ticket ?: return fail("unknown user")
        return if (secretMatches(auth.signature, current.ticket)) "ticket" to current else fail("invalid ticket")
    }

    private suspend fun authenticateCra(user: RouterUser.Cra): Pair<String, RouterUser?> {
        val nonce = Base64.getEncoder().encodeToString(ByteArray(16).also { random.nextBytes(it) })
        val timestamp = OffsetDateTime.now(ZoneOffset.UTC).format(ISO8601)
        val text = WampCra.challengeString(nonce, "static", user.authId, timestamp, user.authRole, "wampcra", id)
        val extra = LinkedHashMap<String, Any?>()
        extra["challenge"] = text
        if (user.salt != null) {
            extra["salt"] =
                user.salt
            extra["keylen"] = user.keyLength.toLong()
            extra["iterations"] = user.iterations.toLong()
        }
        val auth = challenge(Challenge("wampcra", extra)) ?: return FAILED to null
        val current = router.user(user.authId) as? RouterUser.Cra ?: return fail("unknown user")
        return if (current == user && WampCra.verify(auth.signature, text, current.key)) {
            "wampcra" to current
        } else {
            fail("invalid signature")
        }
    }

    private suspend fun authenticateCryptosign(user: RouterUser.Cryptosign, hello: Hello): Pair<String, RouterUser?> {
        val pubkey = (hello.details["authextra"] as? Map<*, *>)?.get("pubkey") as? String
        if (pubkey == null || !pubkey.equals(user.publicKeyHex, ignoreCase = true)) return fail("unknown public key")
        val challengeHex = HexFormat.of().formatHex(ByteArray(32).also { random.nextBytes(it) })
        val auth = challenge(Challenge("cryptosign", mapOf("challenge" to challengeHex))) ?: return FAILED to null
        val current = router.user(user.authId) as? RouterUser.Cryptosign ?: return fail("unknown user")
        return if (CryptosignKey.verify(auth.signature, current.publicKeyHex, challengeHex)) {
            "cryptosign" to current
        } else {
            fail("invalid signature")
        }
    }

    /** Handles GOODBYE from the client: answer and end. */
    fun goodbye() {
        sayGoodbye(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
    }

    private companion object {
        const val FAILED = "\u0000failed"
        const val DROPS_PER_WARNING = 1000L
        val random = SecureRandom()
        val ISO8601: DateTimeFormatter = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'")
    }
}
