package dev.tether.core.ktor

import java.net.InetAddress
import java.security.KeyStore
import java.security.cert.CertificateException
import java.security.cert.X509Certificate
import javax.naming.ldap.LdapName
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509TrustManager

/**
 * [delegate]'s chain check, then a check that the server's certificate names [host], as the JDK's HTTPS endpoint
 * identification does on the Netty transport. Ktor's TLS client checks the name too, but lets a certificate through
 * that has no subject alternative name of the host's kind (a certificate for `elsewhere.test` passes for
 * `127.0.0.1`), so this check is ours: an IP address must be an IP entry of the certificate; a host name must match
 * a DNS entry (a `*` only as the whole leftmost label, standing for one label), or the subject's CN when there is
 * no DNS entry.
 */
internal class HostnameCheckingTrustManager(
    private val delegate: X509TrustManager,
    private val host: String,
) : X509TrustManager {
    override fun checkServerTrusted(chain: Array<X509Certificate>, authType: String) {
        delegate.checkServerTrusted(chain, authType)
        val certificate = chain.firstOrNull() ?: throw CertificateException("the server sent no certificate")
        if (!names(certificate, host)) {
            throw CertificateException("the server's certificate does not name $host")
        }
    }

    override fun checkClientTrusted(chain: Array<X509Certificate>, authType: String) =
        delegate.checkClientTrusted(chain, authType)

    override fun getAcceptedIssuers(): Array<X509Certificate> = delegate.acceptedIssuers

    companion object {
        private const val SAN_DNS = 2
        private const val SAN_IP = 7

        /** The JVM's trust store, as a trust manager. */
        fun jvmDefault(): X509TrustManager =
            TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply {
                init(null as KeyStore?)
            }.trustManagers.filterIsInstance<X509TrustManager>().first()

        /** Whether [certificate] names [host] (an IP literal, brackets allowed, or a DNS name). */
        fun names(certificate: X509Certificate, host: String): Boolean {
            val sans = certificate.subjectAlternativeNames.orEmpty().mapNotNull { entry ->
                val type = entry.getOrNull(0) as? Int ?: return@mapNotNull null
                val value = entry.getOrNull(1) as? String ?: return@mapNotNull null
                type to value
            }
            val bare = host.removePrefix("[").removeSuffix("]")
            ipLiteral(bare)?.let { ip ->
                return sans.any { (type, value) -> type == SAN_IP && ipLiteral(value)?.contentEquals(ip) == true }
            }
            val dns = sans.filter { it.first == SAN_DNS }.map { it.second }
            val candidates = dns.ifEmpty { listOfNotNull(commonName(certificate)) }
            return candidates.any { matches(it, bare) }
        }

        /** The address bytes of an IPv4 or IPv6 literal, or null for a host name (never a DNS lookup). */
        private fun ipLiteral(text: String): ByteArray? {
            val ipv4 = text.matches(Regex("""\d{1,3}(\.\d{1,3}){3}"""))
            val ipv6 = ':' in text && text.all { it.isLetterOrDigit() || it == ':' || it == '.' || it == '%' }
            if (!ipv4 && !ipv6) return null
            return runCatching { InetAddress.getByName(text).address }.getOrNull()
        }

        private fun matches(pattern: String, host: String): Boolean {
            val p = pattern.lowercase().trimEnd('.')
            val h = host.lowercase().trimEnd('.')
            if (!p.startsWith("*.")) return p == h
            // A wildcard stands for exactly one leftmost label, and never for a whole registered domain's label.
            val suffix = p.substring(1)
            val label = h.substringBefore('.', "")
            return label.isNotEmpty() && h == label + suffix && suffix.count { it == '.' } >= 2
        }

        private fun commonName(certificate: X509Certificate): String? = runCatching {
            LdapName(certificate.subjectX500Principal.name).rdns.lastOrNull { it.type.equals("CN", true) }
                ?.value?.toString()
        }.getOrNull()
    }
}
