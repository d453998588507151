package dev.tether.testkit.tunnel

import dev.tether.mux.MuxConfig
import dev.tether.tunnel.TunnelFlavour
import java.time.Clock
import java.time.Duration

/**
 * Settings of a [FakeTunnelProxy]: webhooktunnel by default, with secrets "test-secret" and "test-secret-b", path
 * style routing and an ephemeral port. Build one with [builder] (Java) or `FakeTunnelProxyConfig { ... }` (Kotlin).
 */
public class FakeTunnelProxyConfig private constructor(b: Builder) {
    /** TASKCLUSTER_PROXY_SECRET_A; default "test-secret" (what `TunnelTokens.testToken` signs with). */
    public val secretA: String = b.secretA

    /** TASKCLUSTER_PROXY_SECRET_B. */
    public val secretB: String = b.secretB

    /** HOSTNAME for client URLs; default `127.0.0.1:PORT`. */
    public val hostname: String? = b.hostname

    /** Header names (webhooktunnel or websocktunnel). */
    public val flavour: TunnelFlavour = b.flavour

    /** The proxy's session settings: StreamBufferSize 4096, keepalive 20 s, accept deadline 30 s by default. */
    public val muxConfig: MuxConfig = b.muxConfig

    /** The clock used to check `exp` and `nbf`. */
    public val clock: Clock = b.clock

    /** Domain-style viewer routing and client URLs `http://<id>.HOSTNAME` (webhooktunnel only). */
    public val domainStyle: Boolean = b.domainStyle

    /** websocktunnel's URL_PREFIX for client URLs; default the proxy's own `http://127.0.0.1:PORT`. */
    public val urlPrefix: String? = b.urlPrefix

    /** websocktunnel's AUDIENCE: when set, tokens must carry it in `aud`. */
    public val audience: String? = b.audience

    /** The port to listen on; 0: one the system picks. */
    public val port: Int = b.port

    /** Builder of [FakeTunnelProxyConfig]; every setter returns it. */
    public class Builder internal constructor() {
        internal var secretA = "test-secret"
        internal var secretB = "test-secret-b"
        internal var hostname: String? = null
        internal var flavour = TunnelFlavour.WEBHOOKTUNNEL
        internal var muxConfig = MuxConfig {
            streamBufferSize(4096)
            peerCapacity(4096)
            keepAliveInterval(Duration.ofSeconds(20))
        }
        internal var clock: Clock = Clock.systemUTC()
        internal var domainStyle = false
        internal var urlPrefix: String? = null
        internal var audience: String? = null
        internal var port = 0

        /** Both signing secrets. */
        public fun secrets(secretA: String, secretB: String): Builder = apply {
            this.secretA = secretA
            this.secretB = secretB
        }

        /** HOSTNAME in client URLs. */
        public fun hostname(hostname: String): Builder = apply { this.hostname = hostname }

        /** Header names. */
        public fun flavour(flavour: TunnelFlavour): Builder = apply { this.flavour = flavour }

        /** Session settings. */
        public fun muxConfig(config: MuxConfig): Builder = apply { this.muxConfig = config }

        /** The clock for token times. */
        public fun clock(clock: Clock): Builder = apply { this.clock = clock }

        /**
         * Domain-style routing as the real proxy does with TLS configured (this fake serves plain HTTP, so its
         * client URLs are `http://<id>.HOSTNAME`); set [hostname] to a name that has subdomains.
         */
        public fun domainStyle(enabled: Boolean): Builder = apply { domainStyle = enabled }

        /** websocktunnel's URL_PREFIX. */
        public fun urlPrefix(prefix: String): Builder = apply { urlPrefix = prefix }

        /** websocktunnel's AUDIENCE. */
        public fun audience(audience: String): Builder = apply { this.audience = audience }

        /** The port to listen on (default 0: one the system picks; tests should keep that). */
        public fun port(value: Int): Builder = apply {
            require(value in 0..65535) { "not a port: $value" }
            port = value
        }

        /** The config; fails on settings the chosen flavour does not have. */
        public fun build(): FakeTunnelProxyConfig {
            require(secretA.isNotEmpty() && secretB.isNotEmpty()) { "whproxy: missing secrets" }
            require(!(domainStyle && flavour == TunnelFlavour.WEBSOCKTUNNEL)) { "websocktunnel has no domain mode" }
            require(urlPrefix == null || flavour == TunnelFlavour.WEBSOCKTUNNEL) {
                "a URL prefix is a websocktunnel setting"
            }
            require(audience == null || flavour == TunnelFlavour.WEBSOCKTUNNEL) {
                "an audience is a websocktunnel setting"
            }
            return FakeTunnelProxyConfig(this)
        }
    }

    /** Builder and defaults. */
    public companion object {
        /** The default config: webhooktunnel, the test secrets. */
        @JvmField
        public val DEFAULT: FakeTunnelProxyConfig = Builder().build()

        /** A builder starting from the defaults. */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `FakeTunnelProxyConfig { secrets("a", "b") }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): FakeTunnelProxyConfig = Builder().apply(block).build()
    }
}
