package dev.tether.core

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.shouldBe
import mockwebserver3.MockResponse
import mockwebserver3.MockWebServer
import okhttp3.WebSocketListener
import java.io.File
import java.net.InetAddress
import java.security.KeyStore
import java.time.Duration
import java.util.concurrent.TimeUnit
import javax.net.ssl.KeyManagerFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509TrustManager

/** TLS verification is on by default: an untrusted certificate fails the dial; a configured trust manager passes. */
class TlsSpec : FunSpec({
    val password = "changeit".toCharArray()

    fun selfSignedKeyStore(dir: File, san: String = "ip:127.0.0.1,dns:localhost"): KeyStore {
        val file = File(dir, "server.p12")
        val keytool = File(System.getProperty("java.home"), "bin/keytool").path
        val process = ProcessBuilder(
            keytool, "-genkeypair", "-alias", "tether", "-keyalg", "RSA", "-keysize", "2048",
            "-dname", "CN=127.0.0.1", "-ext", "SAN=$san", "-validity", "2",
            "-storetype", "PKCS12", "-keystore", file.path, "-storepass", "changeit", "-keypass", "changeit",
        ).redirectErrorStream(true).start()
        process.waitFor(60, TimeUnit.SECONDS) shouldBe true
        process.exitValue() shouldBe 0
        return KeyStore.getInstance("PKCS12").apply { file.inputStream().use { load(it, password) } }
    }

    fun keyManagers(keyStore: KeyStore) = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm()).apply {
        init(keyStore, password)
    }.keyManagers
    fun trustManager(keyStore: KeyStore) =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(keyStore) }
            .trustManagers.filterIsInstance<X509TrustManager>().first()

    fun tlsServer(keyStore: KeyStore, clientCertificates: Boolean = false): MockWebServer {
        val trust = if (clientCertificates) arrayOf(trustManager(keyStore)) else null
        val context = SSLContext.getInstance("TLSv1.2").apply { init(keyManagers(keyStore), trust, null) }
        return MockWebServer().apply {
            useHttps(context.socketFactory)
            if (clientCertificates) requireClientAuth()
            enqueue(
                MockResponse.Builder().webSocketUpgrade(object : WebSocketListener() {
                    override fun onClosing(webSocket: okhttp3.WebSocket, code: Int, reason: String) {
                        webSocket.close(code, reason)
                    }
                }).build(),
            )
            start(InetAddress.getByName("127.0.0.1"), 0)
        }
    }

    for ((name, stack) in listOf("netty" to WebSocketTransport.netty(), "ktor" to WebSocketTransport.ktor())) {
        context(name) {
            test("a wss dial to a server with an untrusted certificate fails") {
                tlsServer(selfSignedKeyStore(tempdir())).use { server ->
                    WebSocketDialer(
                        DialerConfig("wss://127.0.0.1:${server.port}/ws") {
                            dialTimeout(Duration.ofSeconds(10))
                            transport(stack)
                        },
                    ).use { d ->
                        shouldThrow<DialFailedException> { d.dial() }
                    }
                }
            }

            test("a wss dial succeeds when the certificate is trusted through the configured trust manager") {
                val keyStore = selfSignedKeyStore(tempdir())
                val trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply {
                    init(keyStore)
                }
                    .trustManagers.filterIsInstance<X509TrustManager>().first()
                tlsServer(keyStore).use { server ->
                    WebSocketDialer(
                        DialerConfig("wss://127.0.0.1:${server.port}/ws") {
                            trustManager(trust)
                            transport(stack)
                        },
                    ).use { d ->
                        val conn = d.dial()
                        conn.isOpen shouldBe true
                        conn.close()
                    }
                }
            }
        }
    }

    test("netty: a client certificate from DialerConfig.sslContext is presented to a server that requires one") {
        val keyStore = selfSignedKeyStore(tempdir())
        val withCertificate = SSLContext.getInstance("TLS").apply {
            init(keyManagers(keyStore), arrayOf(trustManager(keyStore)), null)
        }
        tlsServer(keyStore, clientCertificates = true).use { server ->
            WebSocketDialer(
                DialerConfig("wss://127.0.0.1:${server.port}/ws") {
                    sslContext(withCertificate)
                },
            ).use { d ->
                val conn = d.dial()
                conn.isOpen shouldBe true
                conn.close()
            }
        }
        tlsServer(keyStore, clientCertificates = true).use { server ->
            val trustOnly = SSLContext.getInstance("TLS").apply { init(null, arrayOf(trustManager(keyStore)), null) }
            WebSocketDialer(DialerConfig("wss://127.0.0.1:${server.port}/ws") { sslContext(trustOnly) }).use { d ->
                shouldThrow<ConnectionException> { d.dial() }
            }
        }
    }

    test("netty: the certificate must name the host dialled (hostname verification is on)") {
        // Trusted, but issued for another name only.
        val keyStore = selfSignedKeyStore(tempdir(), san = "dns:elsewhere.test")
        tlsServer(keyStore).use { server ->
            WebSocketDialer(
                DialerConfig("wss://127.0.0.1:${server.port}/ws") {
                    trustManager(trustManager(keyStore))
                },
            ).use { d ->
                val e = shouldThrow<DialFailedException> { d.dial() }
                generateSequence<Throwable>(e) {
                    it.cause
                }.any { it is javax.net.ssl.SSLHandshakeException } shouldBe true
            }
        }
    }

    test("ktor: the certificate must name the host dialled (Ktor's TLS client checks the name it is given)") {
        val keyStore = selfSignedKeyStore(tempdir(), san = "dns:elsewhere.test")
        tlsServer(keyStore).use { server ->
            WebSocketDialer(
                DialerConfig("wss://127.0.0.1:${server.port}/ws") {
                    trustManager(trustManager(keyStore))
                    transport(WebSocketTransport.ktor())
                },
            ).use { d -> shouldThrow<DialFailedException> { d.dial() } }
        }
    }
})
