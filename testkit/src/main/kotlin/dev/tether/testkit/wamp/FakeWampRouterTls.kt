package dev.tether.testkit.wamp

import java.security.KeyStore
import javax.net.ssl.KeyManagerFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509TrustManager

/**
 * The certificate a TLS-enabled [FakeWampRouter] presents: self-signed, for `127.0.0.1` and `localhost` (subject
 * alternative names), valid until 2126. It is a test fixture shipped in the testkit jar, private key included:
 * never trust it outside tests.
 *
 * ```
 * SessionConfig("realm1") { trustManager(FakeWampRouterTls.trustManager) }
 * ```
 */
public object FakeWampRouterTls {
    private const val RESOURCE = "router-tls.p12"
    private val password = "tether-testkit".toCharArray()

    /** The PKCS#12 key store holding the router's key and certificate. */
    @JvmStatic
    public fun keyStore(): KeyStore = KeyStore.getInstance("PKCS12").apply {
        val stream =
            FakeWampRouterTls::class.java.getResourceAsStream(RESOURCE)
                ?: error("testkit resource $RESOURCE is missing")
        stream.use { load(it, password) }
    }

    /** A trust manager that trusts exactly the router's certificate: give it to `SessionConfig.trustManager`. */
    @JvmStatic
    public val trustManager: X509TrustManager by lazy {
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(keyStore()) }
            .trustManagers.filterIsInstance<X509TrustManager>().first()
    }

    private fun keyManagers() = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm())
        .apply { init(keyStore(), password) }
        .keyManagers

    /**
     * A client TLS context that presents the router's own certificate as the client certificate and trusts the
     * router: what a router with [FakeWampRouterConfig.tlsClientAuth] accepts. Give it to `SessionConfig.sslContext`.
     */
    @JvmStatic
    public fun clientSslContext(): SSLContext =
        SSLContext.getInstance("TLS").apply { init(keyManagers(), arrayOf(trustManager), null) }

    /** Presents the router certificate; trusts it as a client certificate when client authentication is on. */
    internal val serverContext: SSLContext by lazy {
        SSLContext.getInstance("TLS").apply { init(keyManagers(), arrayOf(trustManager), null) }
    }
}
