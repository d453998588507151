package dev.tether.tunnel

import dev.tether.core.WebSocketTransport
import dev.tether.core.netty.TetherEventLoops
import dev.tether.mux.MuxSession
import dev.tether.tunnel.TestProxy.Companion.readExactly
import dev.tether.tunnel.TestProxy.Companion.readToEnd
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.net.InetSocketAddress
import javax.net.ssl.SSLException
import kotlin.time.Duration.Companion.seconds

/** A tunnel client on [transport] forwarding to [origin] with [configure]d TLS settings while [block] runs. */
private suspend fun withTlsForward(
    transport: WebSocketTransport,
    origin: String,
    configure: TunnelConfig.Builder.() -> Unit,
    block: suspend CoroutineScope.(TunnelClient, MuxSession) -> Unit,
) {
    TestProxy().use { proxy ->
        val client = TunnelClient(proxy.config(block = configure), TunnelClient.defaultMuxConfig(), transport).connect()
        try {
            val session = proxy.nextSession()
            coroutineScope {
                val forwarding = launch { client.forward(origin) }
                block(client, session)
                forwarding.cancel()
            }
        } finally {
            client.closeAndJoin()
        }
    }
}

/** One viewer GET through [session] whose origin fails before answering: the whole answer, until FIN. */
private suspend fun refusedAnswer(session: MuxSession): String = withTimeout(10.seconds) {
    val stream = session.open()
    stream.write("GET /x HTTP/1.1\r\nHost: h\r\n\r\n".toByteArray())
    String(readToEnd(stream), Charsets.ISO_8859_1)
}

/**
 * TunnelClient.forward to an `https` origin: TLS with verification on (the JVM's trust by default, an opt-in trust
 * manager for a self-signed local origin), the host name checked against the certificate, and a failed handshake a
 * typed OriginTlsException that answers the viewer 502 and is counted.
 */
class ForwardTlsSpec : FunSpec({
    val localhost = SelfSignedCertificate(dnsNames = listOf("localhost"))

    for ((name, transport) in TestProxy.transports) {
        context("forward to https on $name") {
            test("a trusted self-signed origin: request and answer cross byte-exact over TLS, both half-closes") {
                TlsOrigin(localhost).use { origin ->
                    val trust: TunnelConfig.Builder.() -> Unit = { originTrustManager(localhost.trustManager()) }
                    withTlsForward(transport, "https://localhost:${origin.port}", trust) { client, session ->
                        val stream = session.open()
                        val request = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
                        stream.write(request.toByteArray())
                        val answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                        val served = async(Dispatchers.IO) {
                            origin.accept().use { s ->
                                val head = RawOrigin.readHead(s.getInputStream())
                                s.getOutputStream().write(answer.toByteArray())
                                s.getOutputStream().flush()
                                head to s.getInputStream().readAllBytes() // ends at the proxy's FIN (close_notify)
                            }
                        }
                        String(withTimeout(10.seconds) { readExactly(stream, answer.length) }) shouldBe answer
                        stream.close()
                        val (head, after) = withTimeout(10.seconds) { served.await() }
                        head shouldBe request
                        after.size shouldBe 0
                        withTimeout(10.seconds) { readToEnd(stream) }.size shouldBe 0 // the origin closed: FIN
                        client.stats().requestsForwarded shouldBe 1
                        client.stats().originTlsFailures shouldBe 0
                    }
                }
            }

            test("an origin whose certificate the JVM does not trust: 502 naming the TLS failure, counted") {
                TlsOrigin(localhost).use { origin ->
                    withTlsForward(transport, "https://localhost:${origin.port}", {}) { client, session ->
                        val answer = refusedAnswer(session)
                        answer shouldStartWith "HTTP/1.1 502 Bad Gateway\r\n"
                        answer shouldContain "TLS with the origin https://localhost:${origin.port} failed"
                        answer shouldContain "originTrustManager"
                        client.stats().originTlsFailures shouldBe 1
                        client.stats().requestsForwarded shouldBe 0
                    }
                }
            }

            test("a trusted certificate that does not name the host dialled fails host name verification: 502") {
                TlsOrigin(localhost).use { origin ->
                    val trust: TunnelConfig.Builder.() -> Unit = { originTrustManager(localhost.trustManager()) }
                    // The certificate names localhost only; 127.0.0.1 is the same socket under another name.
                    withTlsForward(transport, "https://127.0.0.1:${origin.port}", trust) { client, session ->
                        refusedAnswer(session) shouldStartWith "HTTP/1.1 502 Bad Gateway\r\n"
                        client.stats().originTlsFailures shouldBe 1
                    }
                }
            }
        }
    }

    test("the Netty origin connection fails the handshake with the typed OriginTlsException") {
        TlsOrigin(localhost).use { origin ->
            val loop = TetherEventLoops.shared().next()
            val tls = OriginTls(javax.net.ssl.SSLContext.getDefault())
            val failure = shouldThrow<OriginTlsException> {
                withContext(Dispatchers.IO) {
                    withTimeout(15.seconds) {
                        OriginChannel.connect(
                            loop,
                            InetSocketAddress("127.0.0.1", origin.port),
                            tls.engine("localhost", origin.port),
                            "https://localhost:${origin.port}",
                        )
                    }
                }
            }
            failure.origin shouldBe "https://localhost:${origin.port}"
            failure.cause.shouldBeInstanceOf<SSLException>()
        }
    }

    test("an IP literal is matched against the certificate's IP entries; a name is sent as SNI") {
        val byIp = SelfSignedCertificate(dnsNames = listOf("localhost"), ipAddresses = listOf("127.0.0.1"))
        TlsOrigin(byIp).use { origin ->
            val trust: TunnelConfig.Builder.() -> Unit = { originTrustManager(byIp.trustManager()) }
            withTlsForward(WebSocketTransport.netty(), "https://127.0.0.1:${origin.port}", trust) { client, session ->
                val stream = session.open()
                stream.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n".toByteArray())
                val sni = async(Dispatchers.IO) {
                    origin.accept().use { s ->
                        RawOrigin.readHead(s.getInputStream())
                        s.getOutputStream().write("ok".toByteArray())
                        s.getOutputStream().flush()
                        (s.session as javax.net.ssl.ExtendedSSLSession).requestedServerNames
                    }
                }
                String(withTimeout(10.seconds) { readExactly(stream, 2) }) shouldBe "ok"
                withTimeout(10.seconds) { sni.await() }.size shouldBe 0 // no SNI for an IP literal
                client.stats().requestsForwarded shouldBe 1
            }
        }
        val engine = OriginTls(javax.net.ssl.SSLContext.getDefault()).engine("origin.example", 443)
        engine.sslParameters.serverNames.map { (it as javax.net.ssl.SNIHostName).asciiName } shouldBe
            listOf("origin.example")
        engine.sslParameters.endpointIdentificationAlgorithm shouldBe "HTTPS"
    }

    test("https and wss origins are TLS, with 443 as their default port; http, ws and host:port are plain") {
        OriginAddress.parse("https://localhost").let { (it.tls to it.port) shouldBe (true to 443) }
        OriginAddress.parse("wss://localhost:8443").let { (it.tls to it.port) shouldBe (true to 8443) }
        OriginAddress.parse("HTTPS://localhost:1").tls shouldBe true
        OriginAddress.parse("http://localhost:80").tls shouldBe false
        OriginAddress.parse("ws://localhost:80").tls shouldBe false
        OriginAddress.parse("localhost:80").tls shouldBe false
    }
})
