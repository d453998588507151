package dev.tether.conformance.wamp

import dev.tether.testkit.wamp.WampRouter
import dev.tether.testkit.wamp.WampRouterOptions
import dev.tether.testkit.wamp.WampRouterTls
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.auth.CryptosignKey
import java.nio.file.Files
import java.nio.file.Path
import kotlin.time.Duration.Companion.seconds

/**
 * The router a WAMP conformance suite runs against: the testkit [WampRouter] (WebSocket, RawSocket TCP and Unix)
 * by default, or an external router with `-Dtether.conformance.wamp.url=ws://host:port/` (or tcp://, unix://)
 * and `-Dtether.conformance.wamp.realm=realm1`. Optional auth settings for an external router:
 * `.ticket.authid`/`.ticket`, `.cra.authid`/`.cra.secret`. [router] is null for an external router: cases that
 * need fault control or router-side configuration run against the testkit only.
 */
class RouterSubject private constructor(
    val realm: String,
    /** Transport name (`ws`, `tcp`, `unix`) -> URL. */
    val urls: Map<String, String>,
    val router: WampRouter?,
    private val tempDir: Path?,
    /** TLS transport name (`wss`, `tcps`) -> URL; the testkit router's use [WampRouterTls.trustManager]. */
    val tlsUrls: Map<String, String> = emptyMap(),
) : AutoCloseable {
    val isFake: Boolean get() = router != null

    /** The realm where the auth cases apply (closed to anonymous sessions on the testkit router). */
    val authRealm: String get() = if (router != null) "authrealm" else realm

    fun config(block: SessionConfig.Builder.() -> Unit = {}): SessionConfig = SessionConfig(realm) {
        responseTimeout(5.seconds)
        block()
    }

    /** Auth settings (authid to handler) for each method the subject can test; empty entries are skipped. */
    val authCases: List<AuthCase> = if (router != null) {
        listOf(
            AuthCase("ticket", "ticketuser", AuthHandler.ticket("ticket-1"), AuthHandler.ticket("ticket-2")),
            AuthCase("wampcra", "crauser", AuthHandler.wampCra("crasecret"), AuthHandler.wampCra("wrong")),
            AuthCase("wampcra salted", "saltuser", AuthHandler.wampCra("saltsecret"), AuthHandler.wampCra("crasecret")),
            AuthCase("cryptosign", "csuser", AuthHandler.cryptosign(CS_KEY), AuthHandler.cryptosign(CryptosignKey.generate())),
        )
    } else {
        buildList {
            prop("ticket.authid")?.let { id -> add(AuthCase("ticket", id, AuthHandler.ticket(prop("ticket") ?: ""), AuthHandler.ticket("wrong-ticket"))) }
            prop("cra.authid")?.let { id -> add(AuthCase("wampcra", id, AuthHandler.wampCra(prop("cra.secret") ?: ""), AuthHandler.wampCra("wrong-secret"))) }
        }
    }

    class AuthCase(val name: String, val authId: String, val good: AuthHandler, val bad: AuthHandler) {
        val method: String get() = name.substringBefore(' ')
    }

    override fun close() {
        router?.close()
        tempDir?.let { d -> Files.list(d).use { s -> s.forEach { Files.deleteIfExists(it) } }; Files.deleteIfExists(d) }
    }

    companion object {
        private fun prop(name: String): String? = System.getProperty("tether.conformance.wamp.$name")?.takeIf { it.isNotBlank() }

        val external: String? = prop("url")

        val CS_KEY: CryptosignKey = CryptosignKey.fromSeedHex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20")

        fun open(options: WampRouterOptions.Builder.() -> Unit = {}): RouterSubject {
            val url = external
            if (url != null) {
                val scheme = url.substringBefore("://")
                val transport = when (scheme) { "tcp", "tcps" -> "tcp"; "unix" -> "unix"; else -> "ws" }
                return RouterSubject(prop("realm") ?: "realm1", mapOf(transport to url), null, null)
            }
            val dir = Files.createTempDirectory("wamp-conf")
            val router = WampRouter.start(
                WampRouterOptions {
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
                "realm1", mapOf("ws" to router.wsUrl, "tcp" to router.tcpUrl, "unix" to router.unixUrl!!), router, dir,
                mapOf("wss" to router.wssUrl!!, "tcps" to router.tcpsUrl!!),
            )
        }
    }
}
