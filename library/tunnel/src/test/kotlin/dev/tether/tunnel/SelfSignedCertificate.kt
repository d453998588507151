package dev.tether.tunnel

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.io.ByteArrayOutputStream
import java.io.IOException
import java.math.BigInteger
import java.net.InetAddress
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.Signature
import java.security.cert.CertificateFactory
import java.security.cert.X509Certificate
import java.security.spec.ECGenParameterSpec
import java.time.ZoneOffset
import java.time.ZonedDateTime
import java.time.format.DateTimeFormatter
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import javax.net.ssl.KeyManagerFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.SSLServerSocket
import javax.net.ssl.SSLSocket
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509TrustManager
import kotlin.concurrent.thread

/**
 * A self-signed certificate made in the test with JDK code only (an EC P-256 key, SHA256withECDSA, the DER written
 * here), naming [dnsNames] and [ipAddresses] in its subjectAltName; and what a TLS server and a client that trusts
 * it need.
 */
class SelfSignedCertificate(val dnsNames: List<String>, val ipAddresses: List<String> = emptyList()) {
    private val keys: KeyPair = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }
        .generateKeyPair()

    val certificate: X509Certificate = CertificateFactory.getInstance("X.509")
        .generateCertificate(encode().inputStream()) as X509Certificate

    /** A trust manager that trusts this certificate only. */
    fun trustManager(): X509TrustManager {
        val store = KeyStore.getInstance("PKCS12").apply {
            load(null, null)
            setCertificateEntry("origin", certificate)
        }
        val factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(store) }
        return factory.trustManagers.filterIsInstance<X509TrustManager>().single()
    }

    /** A server context presenting this certificate. */
    fun serverContext(): SSLContext {
        val password = "test".toCharArray()
        val store = KeyStore.getInstance("PKCS12").apply {
            load(null, null)
            setKeyEntry("origin", keys.private, password, arrayOf(certificate))
        }
        val keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm())
            .apply { init(store, password) }.keyManagers
        return SSLContext.getInstance("TLS").apply { init(keyManagers, null, null) }
    }

    private fun encode(): ByteArray {
        val ecdsaWithSha256 = seq(oid(1, 2, 840, 10045, 4, 3, 2))
        val name = seq(set(seq(oid(2, 5, 4, 3), tlv(0x0C, "tether test origin".toByteArray()))))
        val now = ZonedDateTime.now(ZoneOffset.UTC)
        val validity = seq(utcTime(now.minusDays(1)), utcTime(now.plusDays(7)))
        val altNames = dnsNames.map { tlv(0x82, it.toByteArray()) } +
            ipAddresses.map { tlv(0x87, InetAddress.getByName(it).address) }
        val subjectAltName = seq(oid(2, 5, 29, 17), tlv(0x04, seq(*altNames.toTypedArray())))
        val tbs = seq(
            tlv(0xA0, integer(BigInteger.TWO)), // v3
            integer(BigInteger.valueOf(System.nanoTime()).abs()),
            ecdsaWithSha256,
            name,
            validity,
            name,
            keys.public.encoded, // SubjectPublicKeyInfo, DER already
            tlv(0xA3, seq(subjectAltName)),
        )
        val signature = Signature.getInstance("SHA256withECDSA").run {
            initSign(keys.private)
            update(tbs)
            sign()
        }
        return seq(tbs, ecdsaWithSha256, tlv(0x03, byteArrayOf(0) + signature))
    }

    private companion object {
        fun tlv(tag: Int, content: ByteArray): ByteArray {
            val out = ByteArrayOutputStream()
            out.write(tag)
            val n = content.size
            when {
                n < 0x80 -> out.write(n)
                n < 0x100 -> out.write(byteArrayOf(0x81.toByte(), n.toByte()))
                else -> out.write(byteArrayOf(0x82.toByte(), (n shr 8).toByte(), n.toByte()))
            }
            out.write(content)
            return out.toByteArray()
        }

        fun seq(vararg parts: ByteArray) = tlv(0x30, parts.fold(ByteArray(0)) { a, b -> a + b })

        fun set(vararg parts: ByteArray) = tlv(0x31, parts.fold(ByteArray(0)) { a, b -> a + b })

        fun integer(value: BigInteger) = tlv(0x02, value.toByteArray())

        fun utcTime(t: ZonedDateTime) =
            tlv(0x17, t.format(DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'")).toByteArray())

        fun oid(vararg arcs: Long): ByteArray {
            val out = ByteArrayOutputStream()
            out.write((arcs[0] * 40 + arcs[1]).toInt())
            for (arc in arcs.drop(2)) {
                val groups = ArrayList<Int>()
                var v = arc
                do {
                    groups.add((v and 0x7F).toInt())
                    v = v shr 7
                } while (v > 0)
                for (i in groups.indices.reversed()) out.write(groups[i] or if (i > 0) 0x80 else 0)
            }
            return tlv(0x06, out.toByteArray())
        }
    }
}

/**
 * A TLS origin on 127.0.0.1:0 presenting [certificate]: a thread accepts and completes each handshake (counting
 * the ones the client broke off in [handshakeFailures]); the test takes the connections with [accept].
 */
class TlsOrigin(certificate: SelfSignedCertificate) : AutoCloseable {
    private val server = certificate.serverContext().serverSocketFactory
        .createServerSocket(0, 50, InetAddress.getByName("127.0.0.1")) as SSLServerSocket
    private val connections = LinkedBlockingQueue<SSLSocket>()
    val port: Int = server.localPort
    val handshakeFailures = AtomicInteger()

    private val acceptor = thread(isDaemon = true, name = "tls-origin-$port") {
        while (true) {
            val socket = try {
                server.accept() as SSLSocket
            } catch (e: IOException) {
                break // closed
            }
            try {
                socket.soTimeout = 10_000
                socket.startHandshake()
                connections.add(socket)
            } catch (e: IOException) {
                handshakeFailures.incrementAndGet()
                socket.close()
            }
        }
    }

    /** The next connection whose handshake succeeded (bounded wait); reads on it time out after 10 s. */
    suspend fun accept(): SSLSocket = withContext(Dispatchers.IO) {
        connections.poll(10, TimeUnit.SECONDS) ?: error("no TLS connection within 10 s")
    }

    override fun close() {
        server.close()
        acceptor.join(5_000)
        while (true) connections.poll()?.close() ?: break
    }
}
