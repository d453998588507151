package dev.tether.conformance.wsclient

import dev.tether.core.AuthenticationFailedException
import dev.tether.core.ConnectionEvent
import dev.tether.core.DialFailedException
import dev.tether.core.DialTimeoutException
import dev.tether.core.DialerConfig
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.TokenProvider
import dev.tether.core.WebSocketDialer
import dev.tether.wsclient.InitialConnectException
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.throwables.shouldThrowExactly
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeLessThan
import io.kotest.matchers.nulls.shouldBeNull
import io.kotest.matchers.nulls.shouldNotBeNull
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContainIgnoringCase
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import mockwebserver3.MockResponse
import mockwebserver3.MockWebServer
import mockwebserver3.RecordedRequest
import okhttp3.Response
import okhttp3.WebSocket
import okhttp3.WebSocketListener
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.util.Base64
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource

/**
 * The opening handshake as a server sees it, with okhttp's MockWebServer standing in for the broker: what the dialer
 * sends, and how every kind of refusal maps onto the typed errors of dev.tether.core.
 */
class HandshakeSpec : FunSpec({

    fun mockServer(): MockWebServer = MockWebServer().apply { start(InetAddress.getByName("127.0.0.1"), 0) }

    fun MockWebServer.wsUrl(): String = "ws://127.0.0.1:$port/connect"

    fun MockWebServer.takeRecorded(): RecordedRequest =
        takeRequest(10, TimeUnit.SECONDS) ?: error("the server received no request within 10 s")

    /**
     * A 101 answer. The server side does nothing but what [whenOpen] says, and answers the client's close (okhttp
     * leaves that to the listener; without it MockWebServer cannot shut down).
     */
    fun upgrade(whenOpen: (WebSocket) -> Unit = {}): MockResponse = MockResponse.Builder()
        .webSocketUpgrade(object : WebSocketListener() {
            override fun onOpen(webSocket: WebSocket, response: Response) = whenOpen(webSocket)
            override fun onClosing(webSocket: WebSocket, code: Int, reason: String) {
                webSocket.close(code, reason)
            }
        })
        .build()

    fun refusal(code: Int, vararg headers: Pair<String, String>): MockResponse = MockResponse.Builder()
        .code(code)
        .body("unauthorized\n")
        .apply { for ((k, v) in headers) addHeader(k, v) }
        .build()

    test("the upgrade request carries the bearer token, the configured headers and the WebSocket upgrade headers") {
        mockServer().use { server ->
            server.enqueue(upgrade())
            val config = DialerConfig(server.wsUrl()) {
                token("t-1")
                header("X-Tenant", "blue")
                header("X-Trace", "abc-123")
            }
            WebSocketDialer(config).use { dialer ->
                val connection = dialer.dial()
                connection.isOpen shouldBe true
                val request = server.takeRecorded()
                request.method shouldBe "GET"
                request.target shouldBe "/connect"
                val headers = request.headers
                headers["Authorization"] shouldBe "Bearer t-1"
                headers["X-Tenant"] shouldBe "blue"
                headers["X-Trace"] shouldBe "abc-123"
                headers["Upgrade"]!! shouldContainIgnoringCase "websocket"
                headers["Connection"]!! shouldContainIgnoringCase "upgrade"
                headers["Sec-WebSocket-Version"] shouldBe "13"
                Base64.getDecoder().decode(headers["Sec-WebSocket-Key"]!!).size shouldBe 16
                connection.close(1000, "client shutdown")
            }
        }
    }

    test("without a token or provider no Authorization header is sent") {
        mockServer().use { server ->
            server.enqueue(upgrade())
            WebSocketDialer(DialerConfig(server.wsUrl())).use { dialer ->
                dialer.dial().close(1000, "client shutdown")
                server.takeRecorded().headers["Authorization"].shouldBeNull()
            }
        }
    }

    test("401 and 403 are AuthenticationFailedException with the status") {
        mockServer().use { server ->
            server.enqueue(refusal(401))
            server.enqueue(refusal(403))
            WebSocketDialer(DialerConfig(server.wsUrl()) { token("bad") }).use { dialer ->
                shouldThrow<AuthenticationFailedException> { dialer.dial() }.status shouldBe 401
                shouldThrow<AuthenticationFailedException> { dialer.dial() }.status shouldBe 403
            }
        }
    }

    test("503 with Retry-After is a HandshakeRejectedException carrying the status and the delay") {
        mockServer().use { server ->
            server.enqueue(refusal(503, "Retry-After" to "7"))
            WebSocketDialer(DialerConfig(server.wsUrl())).use { dialer ->
                val e = shouldThrowExactly<HandshakeRejectedException> { dialer.dial() }
                e.status shouldBe 503
                e.retryAfterSeconds shouldBe 7L
                e.url shouldBe server.wsUrl()
            }
        }
    }

    test("a 200 answer instead of 101 is a HandshakeRejectedException(200) without a delay") {
        mockServer().use { server ->
            server.enqueue(MockResponse.Builder().code(200).body("hello\n").build())
            WebSocketDialer(DialerConfig(server.wsUrl())).use { dialer ->
                val e = shouldThrowExactly<HandshakeRejectedException> { dialer.dial() }
                e.status shouldBe 200
                e.retryAfterSeconds.shouldBeNull()
            }
        }
    }

    test("a server that accepts TCP and never answers is a DialTimeoutException within the dial timeout") {
        // A bound socket that never calls accept(): the kernel completes the TCP handshake, nothing answers.
        ServerSocket(0, 50, InetAddress.getByName("127.0.0.1")).use { silent ->
            val config = DialerConfig("ws://127.0.0.1:${silent.localPort}/connect") { dialTimeout(300.milliseconds) }
            WebSocketDialer(config).use { dialer ->
                val started = TimeSource.Monotonic.markNow()
                val e = shouldThrow<DialTimeoutException> { dialer.dial() }
                started.elapsedNow().inWholeMilliseconds shouldBeLessThan 5_000L
                e.timeoutMillis shouldBe 300L
            }
        }
    }

    test("a refused connection is a DialFailedException") {
        val port = ServerSocket().use {
            it.bind(InetSocketAddress("127.0.0.1", 0))
            it.localPort
        }
        WebSocketDialer(DialerConfig("ws://127.0.0.1:$port/connect")).use { dialer ->
            val e = shouldThrow<DialFailedException> { dialer.dial() }
            e.cause.shouldNotBeNull()
        }
    }

    test("an http:// URL is dialled as ws://") {
        mockServer().use { server ->
            server.enqueue(upgrade())
            WebSocketDialer(DialerConfig("http://127.0.0.1:${server.port}/connect")).use { dialer ->
                dialer.dial().close(1000, "client shutdown")
                server.takeRecorded().headers["Upgrade"]!! shouldContainIgnoringCase "websocket"
            }
        }
    }

    test(
        "FailFirstConnect with a 401 fails connect with InitialConnectException caused by " +
            "AuthenticationFailedException",
    ) {
        mockServer().use { server ->
            server.enqueue(refusal(401))
            val client = WsClient(
                WsClientConfig(server.wsUrl(), Inbox()) {
                    authToken("bad")
                    failFirstConnect(true)
                },
            )
            client.use {
                val e = withTimeout(10.seconds) { shouldThrow<InitialConnectException> { client.connect() } }
                val cause = e.cause.shouldBeInstanceOf<AuthenticationFailedException>()
                cause.status shouldBe 401
            }
        }
    }

    test("the dialer asks the token provider before every dial") {
        mockServer().use { server ->
            server.enqueue(upgrade())
            server.enqueue(upgrade())
            val calls = AtomicInteger()
            val provider = TokenProvider { "tok-${calls.incrementAndGet()}" }
            val config = DialerConfig(server.wsUrl()) { tokenProvider(provider) }
            WebSocketDialer(config).use { dialer ->
                dialer.dial().close(1000, "client shutdown")
                dialer.dial().close(1000, "client shutdown")
            }
            calls.get() shouldBe 2
            server.takeRecorded().headers["Authorization"] shouldBe "Bearer tok-1"
            server.takeRecorded().headers["Authorization"] shouldBe "Bearer tok-2"
        }
    }

    test("the client asks the token provider again when it reconnects after the server closes") {
        mockServer().use { server ->
            // The first connection is closed by the server at once; the second stays up.
            server.enqueue(upgrade { it.close(1000, "connection ended") })
            server.enqueue(upgrade())
            val calls = AtomicInteger()
            val provider = TokenProvider { "tok-${calls.incrementAndGet()}" }
            val callsWhenReconnected = fastClient(server.wsUrl(), "static") { tokenProvider(provider) }.use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    events.await<ConnectionEvent.Connected>()
                    events.await<ConnectionEvent.Disconnected>()
                    events.await<ConnectionEvent.Connected>()
                    coroutineContext.cancelChildrenQuietly()
                    calls.get()
                }
            }
            callsWhenReconnected shouldBe 2
            server.takeRecorded().headers["Authorization"] shouldBe "Bearer tok-1"
            server.takeRecorded().headers["Authorization"] shouldBe "Bearer tok-2"
        }
    }
})
