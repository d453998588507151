package dev.tether.docs

import com.sun.net.httpserver.HttpServer
import dev.tether.core.ConnectionState
import dev.tether.core.backoff.RetryConfig
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.tunnel.TunnelAuthFailedException
import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelClosedException
import dev.tether.tunnel.TunnelConfig
import dev.tether.tunnel.TunnelHandler
import dev.tether.tunnel.TunnelResponse
import dev.tether.tunnel.TunnelTokenGenerator
import dev.tether.tunnel.TunnelTokens
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.net.InetSocketAddress
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicReference
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** The Kotlin examples of tunnel.md, each run against the testkit's FakeTunnelProxy. */
class TunnelExamplesSpec : FunSpec({

    // HTTP/1.1: the JDK client's default h2c upgrade attempt is not something a webhook proxy forwards.
    val viewer = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()

    /** A viewer's GET of [url]: status and body. */
    suspend fun get(url: String): Pair<Int, String> {
        val response = viewer.sendAsync(HttpRequest.newBuilder(URI(url)).build(), HttpResponse.BodyHandlers.ofString())
            .await()
        return response.statusCode() to response.body()
    }

    test("quick start: answer viewer requests in process") {
        withTimeout(20.seconds) {
            // docs:start quickstart
            FakeTunnelProxy.start().use { proxy ->
                // accepts tokens signed with "test-secret"
                val config = TunnelConfig("my-tunnel", proxy.url) {
                    tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                }
                val tunnel = TunnelClient(config).connect() // registers; throws if the proxy refuses
                tunnel.url shouldBe "${proxy.url}/my-tunnel" // the public URL the proxy announced

                val serving = launch {
                    tunnel.serve(
                        TunnelHandler { request -> TunnelResponse.text("hello ${request.method} ${request.target}") },
                    )
                }
                // A viewer somewhere on the internet:
                val (status, body) = get("${tunnel.url}/greet?name=ada")
                status shouldBe 200
                body shouldBe "hello GET /greet?name=ada" // the tunnel id is stripped from the path

                tunnel.close() // serve() returns, the session is gone
                serving.join()
            }
            // docs:end quickstart
        }
    }

    test("forward every viewer request to a local HTTP server") {
        withTimeout(20.seconds) {
            FakeTunnelProxy.start().use { proxy ->
                // docs:start forward
                // Your existing local server (here the JDK's, on an ephemeral port):
                val origin = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
                origin.createContext("/") { exchange ->
                    val answer = "origin saw ${exchange.requestMethod} ${exchange.requestURI}".toByteArray()
                    exchange.sendResponseHeaders(200, answer.size.toLong())
                    exchange.responseBody.use { it.write(answer) }
                }
                origin.start()

                val tunnel = TunnelClient(
                    TunnelConfig("my-app", proxy.url) {
                        tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                    },
                ).connect()
                // one TCP connection per stream
                val forwarding = launch { tunnel.forward("127.0.0.1:${origin.address.port}") }

                get("${tunnel.url}/api/items?page=2") shouldBe (200 to "origin saw GET /api/items?page=2")

                tunnel.close()
                forwarding.join()
                origin.stop(0)
                // docs:end forward
            }
        }
    }

    test(
        "the handler runs on the executor you choose; a handler that never blocks may run on the tunnel's I/O thread",
    ) {
        withTimeout(20.seconds) {
            FakeTunnelProxy.start().use { proxy ->
                /** Stands for your handler's work; it says which thread it ran on. */
                fun lookUp(path: String) = "$path on ${Thread.currentThread().name.substringBefore(" @")}"
                // docs:start handler-executor
                val handlers = Executors.newFixedThreadPool(4) // yours: the handler may block there
                val tunnel = TunnelClient(
                    TunnelConfig("threads", proxy.url) {
                        tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                        handlerExecutor(handlers) // default: a library thread where it may block
                    },
                ).connect()
                val serving = launch {
                    tunnel.serve(TunnelHandler { request -> TunnelResponse.text(lookUp(request.path)) })
                }
                // docs:end handler-executor
                val (status, body) = get("${tunnel.url}/user/1")
                status shouldBe 200
                body.startsWith("/user/1 on pool-") shouldBe true
                serving.cancelAndJoin()
                // docs:start handler-executor-inline
                // Short, non-blocking answers only: on the tunnel's I/O thread (no hand-off; nothing else moves
                // meanwhile).
                val inline = launch {
                    tunnel.serve(TunnelHandler { TunnelResponse.text("pong") }, handlerExecutor = tunnel.executor)
                }
                // docs:end handler-executor-inline
                get("${tunnel.url}/ping") shouldBe (200 to "pong")
                inline.cancel()
                tunnel.close()
                handlers.shutdown()
            }
        }
    }

    test("a dropped tunnel registers again and keeps serving") {
        withTimeout(20.seconds) {
            FakeTunnelProxy.start().use { proxy ->
                val tunnel = TunnelClient(
                    TunnelConfig("sturdy", proxy.url) {
                        tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                    },
                ).connect()
                val serving = launch { tunnel.serve(TunnelHandler { TunnelResponse.text("still here") }) }
                proxy.awaitRegistrations(1, 10.seconds)
                // docs:start reconnect
                proxy.faults.drop("sturdy") shouldBe true // the proxy loses the session (a deploy, a network blip)
                proxy.awaitRegistrations(2, 10.seconds) // the client registered again by itself
                // re-announced after every registration:
                tunnel.urls.first { it.isNotEmpty() } shouldBe "${proxy.url}/sturdy"
                get("${tunnel.url}/") shouldBe (200 to "still here")
                // docs:end reconnect
                tunnel.close()
                serving.join()
                shouldThrow<TunnelClosedException> { tunnel.accept() }
            }
        }
    }

    test("a generator that reads the current secret survives a secret rotation") {
        withTimeout(20.seconds) {
            FakeTunnelProxy.start().use { proxy ->
                // docs:start rotation
                val secret = AtomicReference(TunnelTokens.TEST_SECRET) // e.g. refreshed from your secret store
                val config = TunnelConfig("rotating", proxy.url) {
                    tokenGenerator(
                        TunnelTokenGenerator { id -> TunnelTokens.sign(id, secret.get(), Duration.ofHours(1)) },
                    )
                    retry(RetryConfig(initialDelay = 50.milliseconds, maxElapsedTime = 10.seconds))
                }
                val tunnel = TunnelClient(config).connect()
                proxy.awaitRegistrations(1, 10.seconds)

                proxy.rotateCredentials("new-secret-a", "new-secret-b") // old tokens now get 401 at registration
                secret.set("new-secret-a")
                proxy.faults.drop("rotating") shouldBe true
                // The held token is refused with 401; the client asks the generator once more and registers.
                proxy.awaitRegistrations(2, 10.seconds)
                // docs:end rotation
                tunnel.state.first { it == ConnectionState.CONNECTED }
                proxy.isRegistered("rotating") shouldBe true
                tunnel.close()
            }
        }
    }

    test("a refused token fails connect with TunnelAuthFailedException") {
        FakeTunnelProxy.start().use { proxy ->
            withTimeout(20.seconds) {
                // docs:start auth-failed
                val config = TunnelConfig("my-tunnel", proxy.url) {
                    token(TunnelTokens.sign("my-tunnel", "not-the-proxy-secret", Duration.ofHours(1)))
                }
                val e = shouldThrow<TunnelAuthFailedException> { TunnelClient(config).connect() }
                e.status shouldBe 401 // not retried: fix the secret or the tid claim
                // docs:end auth-failed
            }
            proxy.registrations.value shouldBe 0
        }
    }
})
