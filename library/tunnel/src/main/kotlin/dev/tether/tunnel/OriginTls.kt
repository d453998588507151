package dev.tether.tunnel

import io.netty.util.NetUtil
import java.net.Socket
import javax.net.ssl.SNIHostName
import javax.net.ssl.SSLContext
import javax.net.ssl.SSLEngine
import javax.net.ssl.SSLParameters
import javax.net.ssl.SSLSocket

/**
 * TLS towards `https` origins of [TunnelClient.forward]: the JDK provider with the JVM's trust store, or the trust
 * the configuration gives ([TunnelConfig.originSslContext], [TunnelConfig.originTrustManager]). Verification is
 * always on: the chain against the trust, and the host name against the certificate (`HTTPS` endpoint
 * identification); the host name is also sent as SNI.
 */
internal class OriginTls(private val context: SSLContext) {
    /** A client engine for one connection to [host]:[port]. */
    fun engine(host: String, port: Int): SSLEngine = context.createSSLEngine(host, port).apply {
        useClientMode = true
        sslParameters = verifying(sslParameters, host)
    }

    /** [plain], already connected to [host]:[port], wrapped in a client TLS socket (the handshake not yet run). */
    fun wrap(plain: Socket, host: String, port: Int): SSLSocket =
        (context.socketFactory.createSocket(plain, host, port, true) as SSLSocket).apply {
            useClientMode = true
            sslParameters = verifying(sslParameters, host)
        }

    private fun verifying(params: SSLParameters, host: String): SSLParameters = params.apply {
        endpointIdentificationAlgorithm = "HTTPS"
        // SNI carries names only (RFC 6066); an IP literal is checked against the certificate's IP entries.
        if (!NetUtil.isValidIpV4Address(host) && !NetUtil.isValidIpV6Address(host)) {
            runCatching { SNIHostName(host) }.getOrNull()?.let { serverNames = listOf(it) }
        }
    }

    companion object {
        /** The trust of [config]: its TLS context, else its trust manager, else the JVM's default. */
        fun of(config: TunnelConfig): OriginTls {
            config.originSslContext?.let { return OriginTls(it) }
            val trust = config.originTrustManager ?: return OriginTls(SSLContext.getDefault())
            return OriginTls(SSLContext.getInstance("TLS").apply { init(null, arrayOf(trust), null) })
        }
    }
}
