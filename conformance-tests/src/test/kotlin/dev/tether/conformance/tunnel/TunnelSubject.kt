package dev.tether.conformance.tunnel

import dev.tether.conformance.External
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.testkit.tunnel.FakeTunnelProxyConfig
import dev.tether.tunnel.TunnelFlavour
import java.net.URI
import java.util.UUID

/**
 * The proxy a tunnel case runs against: the testkit fake by default, or an external webhooktunnel/websocktunnel
 * proxy when `-Dtether.conformance.tunnel.proxy=URL` and `-Dtether.conformance.tunnel.secret=S` are set (optional:
 * `.secretB=S2` for the secret-B row, `.flavour=websocktunnel`). [fake] is null for an external proxy: cases that
 * need fault control run against the fake only (skipped with the reason there), and fake-only counters are not
 * asserted.
 */
class TunnelSubject private constructor(
    val url: String,
    val secretA: String,
    val secretB: String?,
    val flavour: TunnelFlavour,
    val fake: FakeTunnelProxy?,
) : AutoCloseable {
    private val uri = URI(url)

    /** The port registrations and raw requests go to. */
    val port: Int = if (uri.port > 0) {
        uri.port
    } else if (uri.scheme == "https") {
        443
    } else {
        80
    }

    /** The host raw requests go to. */
    val host: String = uri.host

    /**
     * Checks the public URL the proxy announced for [id]: exactly the fake's, or (external proxies put their own
     * host name in it) a URL naming the id.
     */
    fun isClientUrlOf(publicUrl: String, id: String): Boolean =
        fake?.let { publicUrl == it.clientUrl(id) } ?: (publicUrl.startsWith("http") && publicUrl.contains(id))

    override fun close() {
        fake?.close()
    }

    companion object {
        val external: String? = System.getProperty("tether.conformance.tunnel.proxy")?.takeIf { it.isNotBlank() }
        val fakeOnly: Boolean = external == null

        /**
         * The external proxy's generation (`-Dtether.conformance.tunnel.flavour=websocktunnel`; webhooktunnel
         * otherwise).
         */
        val externalFlavour: TunnelFlavour =
            if (System.getProperty("tether.conformance.tunnel.flavour").equals("websocktunnel", ignoreCase = true)) {
                TunnelFlavour.WEBSOCKTUNNEL
            } else {
                TunnelFlavour.WEBHOOKTUNNEL
            }

        /** A case that needs the fake: skipped against an external proxy with "needs [what]". */
        fun needsFake(what: String = "the fake's fault controls") = External.needsFake(fakeOnly, what)

        fun open(options: FakeTunnelProxyConfig.Builder.() -> Unit = {}): TunnelSubject {
            val url = external
            return if (url != null) {
                TunnelSubject(
                    url.trimEnd('/'),
                    requireNotNull(System.getProperty("tether.conformance.tunnel.secret")) {
                        "set -Dtether.conformance.tunnel.secret"
                    },
                    System.getProperty("tether.conformance.tunnel.secretB")?.takeIf { it.isNotBlank() },
                    externalFlavour,
                    null,
                )
            } else {
                val fake = FakeTunnelProxy.start(options)
                TunnelSubject(
                    fake.url,
                    fake.currentSecrets.first,
                    fake.currentSecrets.second,
                    fake.config.flavour,
                    fake,
                )
            }
        }

        /**
         * Tunnel ids unique per run against an external proxy (the last registration of an id wins there). For a
         * webhooktunnel proxy they use only `[a-z0-9]`: proxies before the 2019 fix break the WebSocket viewer path
         * of an id with `-` (specs/webhooktunnel.md §10), and domain-style proxies put the id in a host name.
         */
        fun id(name: String): String = when {
            external == null -> name
            externalFlavour == TunnelFlavour.WEBHOOKTUNNEL -> webhooktunnelId(name, UUID.randomUUID())
            else -> "$name-" + UUID.randomUUID().toString().take(8)
        }

        /** [name] without the characters outside `[a-z0-9]`, then 8 hex digits of [unique]. */
        internal fun webhooktunnelId(name: String, unique: UUID): String =
            name.lowercase().filter { it in 'a'..'z' || it in '0'..'9' } + unique.toString().replace("-", "").take(8)
    }
}
