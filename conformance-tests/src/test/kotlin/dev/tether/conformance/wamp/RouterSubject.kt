package dev.tether.conformance.wamp

import dev.tether.conformance.External
import dev.tether.core.HandshakeRejectedException
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import dev.tether.testkit.wamp.FakeWampRouterTls
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.auth.CryptosignKey
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.serializer.Serialization
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.ConcurrentHashMap
import kotlin.time.Duration.Companion.seconds

/**
 * The router a WAMP conformance suite runs against: the testkit [FakeWampRouter] (WebSocket, RawSocket TCP and Unix)
 * by default, or an external router with `-Dtether.conformance.wamp.url=ws://host:port/` (or tcp://, unix://; a
 * comma-separated list covers several transports in one run) and `-Dtether.conformance.wamp.realm=realm1`.
 *
 * The auth cases join `-Dtether.conformance.wamp.auth.realm` (default: the anonymous realm), each with its own
 * properties: `.ticket.authid` + `.ticket`, `.cra.authid` + `.cra.secret`, `.cra.salted.authid` +
 * `.cra.salted.secret` (the salt, iterations and key length come from the router's CHALLENGE) and
 * `.cryptosign.authid` + `.cryptosign.seed` (the ed25519 seed in hex); a method whose properties are missing is
 * skipped with the names to set.
 *
 * [router] is null for an external router: cases that need fault control or router-side configuration run
 * against the testkit only. Serializers the router refuses ([refusal]) and features its WELCOME does not announce
 * ([lacksFeature]) are skipped with the reason, not failed.
 */
class RouterSubject private constructor(
    val realm: String,
    /** Transport name (`ws`, `wss`, `tcp`, `tcps`, `unix`) -> URL. */
    val urls: Map<String, String>,
    val router: FakeWampRouter?,
    private val tempDir: Path?,
    /** TLS transport name (`wss`, `tcps`) -> URL; the testkit router's use [FakeWampRouterTls.trustManager]. */
    val tlsUrls: Map<String, String> = emptyMap(),
    /** The realm where the auth cases apply (closed to anonymous sessions on the testkit router). */
    val authRealm: String = realm,
) : AutoCloseable {
    val isFake: Boolean get() = router != null

    /** The URL of the cases that are not about the transport. */
    val firstUrl: String get() = urls.values.first()

    /**
     * The serialization of the cases that are not about serialization: JSON, or against an external router the
     * first one it offers at [firstUrl].
     */
    val preferred: Serialization by lazy {
        Serialization.entries.firstOrNull { refusal(firstUrl, it) == null } ?: Serialization.JSON
    }

    /**
     * [wanted] if the router offers it at [url], else the first serialization it does offer there: for cases that
     * mix serializations but are about something else (concurrency, progress).
     */
    fun serializationFor(url: String, wanted: Serialization): Serialization = if (refusal(url, wanted) == null) {
        wanted
    } else {
        Serialization.entries.firstOrNull {
            refusal(url, it) == null
        } ?: wanted
    }

    /** A session config for [realm] (the anonymous one by default) with [preferred] and a 5 s response timeout. */
    fun config(realm: String = this.realm, block: SessionConfig.Builder.() -> Unit = {}): SessionConfig =
        SessionConfig(realm) {
            responseTimeout(5.seconds)
            serialization(preferred)
            block()
        }

    /**
     * Auth settings (authid to handler) for each method; a case whose settings are missing says so in
     * [AuthCase.missing].
     */
    val authCases: List<AuthCase> = if (router != null) {
        listOf(
            AuthCase("ticket", "ticketuser", AuthHandler.ticket("ticket-1"), AuthHandler.ticket("ticket-2")),
            AuthCase("wampcra", "crauser", AuthHandler.wampCra("crasecret"), AuthHandler.wampCra("wrong")),
            AuthCase("wampcra salted", "saltuser", AuthHandler.wampCra("saltsecret"), AuthHandler.wampCra("crasecret")),
            AuthCase(
                "cryptosign",
                "csuser",
                AuthHandler.cryptosign(CS_KEY),
                AuthHandler.cryptosign(CryptosignKey.generate()),
            ),
        )
    } else {
        listOf(
            externalCase("ticket", "ticket.authid", "ticket") {
                AuthHandler.ticket(it) to AuthHandler.ticket("wrong-ticket")
            },
            externalCase("wampcra", "cra.authid", "cra.secret") {
                AuthHandler.wampCra(it) to AuthHandler.wampCra("wrong-secret")
            },
            externalCase("wampcra salted", "cra.salted.authid", "cra.salted.secret") {
                AuthHandler.wampCra(it) to AuthHandler.wampCra("wrong-secret")
            },
            externalCase("cryptosign", "cryptosign.authid", "cryptosign.seed") {
                AuthHandler.cryptosign(
                    CryptosignKey.fromSeedHex(it),
                ) to AuthHandler.cryptosign(CryptosignKey.generate())
            },
        )
    }

    /**
     * One auth method: [authId] joins with [good] and is refused with [bad]. [missing] is why the case cannot run
     * (the properties to set), with the other fields empty.
     */
    class AuthCase(
        val name: String,
        val authId: String,
        val good: AuthHandler,
        val bad: AuthHandler,
        val missing: String? = null,
    ) {
        val method: String get() = name.substringBefore(' ')

        /** True for the salted WAMP-CRA case: the router's CHALLENGE must carry a salt. */
        val salted: Boolean get() = name.endsWith("salted")
    }

    /**
     * Why the router does not offer [serialization] at [url], or null if it does (always null for the testkit
     * router). A refusal is what routers answer for a serializer they lack: a WebSocket upgrade without the
     * subprotocol (or refused), or RawSocket handshake error 1. When no serializer connects at all the URL is
     * wrong or the router down: that is not a refusal, and the cases run and fail with the real error.
     */
    fun refusal(url: String, serialization: Serialization): String? {
        if (isFake) return null
        val outcomes = probes.computeIfAbsent(url) { probeSerializers(it) }
        val error = outcomes[serialization] ?: return null
        if (outcomes.values.all { it != null }) return null
        return when {
            error is RawSocketHandshakeException && error.errorCode == 1 ->
                "the router refuses the RawSocket serializer $serialization at $url (handshake error 1: serializer " +
                    "unsupported)"

            error is ProtocolViolationException && error.message.orEmpty().contains("subprotocol") ->
                "the router does not offer the WebSocket subprotocol ${serialization.subprotocol} at $url " +
                    "(${error.message})"

            error is HandshakeRejectedException ->
                "the router refuses the WebSocket subprotocol ${serialization.subprotocol} at $url " +
                    "(HTTP ${error.status})"

            else -> null
        }
    }

    /**
     * Why the case cannot use [feature] of [role] (`dealer`, `broker`): against an external router, when its WELCOME
     * does not announce it; null otherwise (and when no session could be joined to ask: the case then fails with
     * the real error).
     */
    fun lacksFeature(role: String, feature: String): String? {
        if (isFake) return null
        val roles = welcomeRoles ?: return null
        val features = (roles[role] as? Map<*, *>)?.get("features") as? Map<*, *>
        return if (features?.get(
                feature,
            ) == true
        ) {
            null
        } else {
            "the router's WELCOME does not announce the $role feature $feature"
        }
    }

    /** The `roles` of the external router's WELCOME to an anonymous session on [firstUrl]. */
    private val welcomeRoles: Map<*, *>? by lazy {
        runCatching {
            runBlocking(Dispatchers.IO) {
                withTimeout(15.seconds) {
                    WampSession.connect(firstUrl, config()).use { it.realmDetails["roles"] as? Map<*, *> }
                }
            }
        }.getOrNull()
    }

    private val probes = ConcurrentHashMap<String, Map<Serialization, Throwable?>>()

    /** Joins the anonymous realm at [url] with each serialization: null where the router spoke WAMP with it. */
    private fun probeSerializers(url: String): Map<Serialization, Throwable?> =
        Serialization.entries.associateWith { ser ->
            runCatching {
                runBlocking(Dispatchers.IO) {
                    withTimeout(15.seconds) {
                        WampSession.connect(
                            url,
                            SessionConfig(realm) {
                                responseTimeout(5.seconds)
                                serialization(ser)
                            },
                        ).use { }
                    }
                }
            }.exceptionOrNull().takeUnless { it is AbortException } // an ABORT is WAMP too: the serializer works
        }

    override fun close() {
        router?.close()
        tempDir?.let { d ->
            Files.list(d).use { s -> s.forEach { Files.deleteIfExists(it) } }
            Files.deleteIfExists(d)
        }
    }

    companion object {
        private fun prop(name: String): String? =
            System.getProperty("tether.conformance.wamp.$name")?.takeIf { it.isNotBlank() }

        val external: String? = prop("url")

        val CS_KEY: CryptosignKey = CryptosignKey.fromSeedHex(
            "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
        )

        /** A case that needs the testkit router: skipped against an external router with "needs [what]". */
        fun needsFake(what: String = "the testkit router's fault controls") = External.needsFake(external == null, what)

        /**
         * The external auth case [name] from the properties [authIdProp] and [secretProp] (secrets are never printed).
         */
        private fun externalCase(
            name: String,
            authIdProp: String,
            secretProp: String,
            handlers: (String) -> Pair<AuthHandler, AuthHandler>,
        ): AuthCase {
            val authId = prop(authIdProp)
            val secret = prop(secretProp)
            if (authId == null || secret == null) {
                val none = AuthHandler { error("not configured") }
                val unset = listOf(authIdProp, secretProp).filter {
                    prop(it) == null
                }.joinToString(" and ") { "-Dtether.conformance.wamp.$it" }
                return AuthCase(name, "", none, none, "needs $unset (a $name user on the external router)")
            }
            val (good, bad) = handlers(secret)
            return AuthCase(name, authId, good, bad)
        }

        fun open(options: FakeWampRouterConfig.Builder.() -> Unit = {}): RouterSubject {
            val given = external
            if (given != null) {
                val urls = given.split(',').map { it.trim() }.filter { it.isNotEmpty() }.associateBy { url ->
                    when (val scheme = url.substringBefore("://").lowercase()) {
                        "http" -> "ws"
                        "https" -> "wss"
                        else -> scheme
                    }
                }
                val realm = prop("realm") ?: "realm1"
                return RouterSubject(realm, urls, null, null, authRealm = prop("auth.realm") ?: realm)
            }
            val dir = Files.createTempDirectory("wamp-conf")
            val router = FakeWampRouter.start(
                FakeWampRouterConfig {
                    realm("realm1")
                    realm("authrealm", anonymous = false)
                    ticketUser("ticketuser", "ticket-1")
                    craUser("crauser", "crasecret")
                    saltedCraUser("saltuser", "saltsecret", "salt123")
                    cryptosignUser("csuser", CS_KEY.publicKeyHex)
                    unixSocket(dir.resolve("r.sock").toString())
                    tls()
                    options()
                },
            )
            return RouterSubject(
                "realm1",
                mapOf("ws" to router.wsUrl, "tcp" to router.tcpUrl, "unix" to router.unixUrl!!),
                router,
                dir,
                mapOf("wss" to router.wssUrl!!, "tcps" to router.tcpsUrl!!),
                authRealm = "authrealm",
            )
        }
    }
}
