package dev.tether.testkit.wamp

import dev.tether.core.ConnectionException
import dev.tether.core.DialFailedException
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.serializer.Serialization
import dev.tether.wamp.transport.SocketDialer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.withTimeout
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.seconds

/**
 * SessionConfig's transport hooks against the real router: a client certificate from a caller's SSLContext (wss
 * and tcps), the custom socket dial (tcp and tcps), and fixed router ports.
 */
class SessionTransportOptionsSpec : FunSpec({
    val router = FakeWampRouter.start(FakeWampRouterConfig { tlsClientAuth() })
    afterSpec { router.close() }

    test(
        "sslContext: a router that requires a client certificate accepts the one from the caller's SSLContext, " +
            "over wss and tcps",
    ) {
        withTimeout(20.seconds) {
            for (url in listOf(router.wssUrl!!, router.tcpsUrl!!, router.wssUrl!!.replace("wss://", "https://"))) {
                for (ser in listOf(Serialization.JSON, Serialization.MSGPACK)) {
                    val config =
                        SessionConfig("realm1") {
                            sslContext(FakeWampRouterTls.clientSslContext())
                            serialization(ser)
                        }
                    WampSession.connect(url, config).use { s ->
                        s.call("wamp.session.count").args shouldBe listOf(1L)
                    }
                }
            }
        }
    }

    test("sslContext: without a client certificate the router refuses the TLS connection") {
        withTimeout(20.seconds) {
            // Trusting the router is not enough when it wants the client's certificate.
            // (The default TLS stack may notice only at the dial timeout: keep it short.)
            for (url in listOf(router.wssUrl!!, router.tcpsUrl!!)) {
                shouldThrow<ConnectionException> {
                    WampSession.connect(
                        url,
                        SessionConfig("realm1") {
                            trustManager(FakeWampRouterTls.trustManager)
                            dialTimeout(2.seconds)
                        },
                    )
                }
            }
        }
    }

    test("socketDialer: tcp and tcps connections are opened by the caller's dial function, once per connect") {
        withTimeout(20.seconds) {
            val dialled = CopyOnWriteArrayList<String>()
            val dialer = SocketDialer { host, port, timeout ->
                dialled += "$host:$port"
                Socket().apply { connect(InetSocketAddress(host, port), timeout.toMillis().toInt()) }
            }
            WampSession.connect(router.tcpUrl, SessionConfig("realm1") { socketDialer(dialer) }).use { s ->
                s.call("wamp.session.count").args shouldBe listOf(1L)
            }
            WampSession.connect(
                router.tcpsUrl!!,
                SessionConfig("realm1") {
                    socketDialer(dialer)
                    sslContext(FakeWampRouterTls.clientSslContext())
                },
            ).use { s ->
                s.call("wamp.session.count").args shouldBe listOf(1L)
            }
            dialled shouldBe listOf(
                "127.0.0.1:${router.rawSocketPort}",
                "127.0.0.1:${router.url("tcps").substringAfterLast(':')}",
            )
        }
    }

    test("socketDialer: a failing dial is a DialFailedException carrying the dialer's exception") {
        withTimeout(10.seconds) {
            val e = shouldThrow<DialFailedException> {
                WampSession.connect(
                    router.tcpUrl,
                    SessionConfig("realm1") { socketDialer { _, _, _ -> throw java.io.IOException("proxy refused") } },
                )
            }
            e.cause!!.message shouldBe "proxy refused"
        }
    }

    test("ports: a router started on fixed ports serves ws and tcp there") {
        withTimeout(20.seconds) {
            // Ports the OS just handed out and released: free unless another process grabs one in between, in
            // which case the start fails to bind and the test takes two new ones.
            var wsPort = 0
            var rawPort = 0
            val router = (1..5).firstNotNullOf {
                ServerSocket(0).use { a ->
                    ServerSocket(0).use { b ->
                        wsPort = a.localPort
                        rawPort = b.localPort
                    }
                }
                try {
                    FakeWampRouter.start(FakeWampRouterConfig { ports(wsPort, rawPort) })
                } catch (e: Exception) {
                    if (generateSequence<Throwable>(e) { it.cause }.none { it is java.net.BindException }) throw e
                    null
                }
            }
            router.use { fixed ->
                fixed.wsUrl shouldBe "ws://127.0.0.1:$wsPort/"
                fixed.tcpUrl shouldBe "tcp://127.0.0.1:$rawPort"
                WampSession.connect(fixed.wsUrl, SessionConfig("realm1")).use { it.isOpen shouldBe true }
                WampSession.connect(fixed.tcpUrl, SessionConfig("realm1")).use { it.isOpen shouldBe true }
            }
        }
    }
})
