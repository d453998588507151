package dev.tether.conformance.tunnel

import dev.tether.conformance.External
import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.RetryConfig
import dev.tether.core.backoff.RetryTimedOutException
import dev.tether.mux.MuxConfig
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.tunnel.RetryFailedException
import dev.tether.tunnel.TunnelAuthFailedException
import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelClosedException
import dev.tether.tunnel.TunnelConfig
import dev.tether.tunnel.TunnelFlavour
import dev.tether.tunnel.TunnelHandler
import dev.tether.tunnel.TunnelResponse
import dev.tether.tunnel.TunnelTokens
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldMatch
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Clock
import java.time.Duration
import java.time.Instant
import java.time.ZoneOffset
import java.util.UUID
import kotlin.random.Random
import kotlin.time.Duration.Companion.seconds

/** Quick retries so that failure cases end in well under a second of real time. */
val fastRetry = RetryConfig(
    initialDelay = kotlin.time.Duration.parse("20ms"),
    maxDelay = kotlin.time.Duration.parse("100ms"),
    maxElapsedTime = kotlin.time.Duration.parse("2s"),
)

/** The id most cases register (unique per run against an external proxy). */
val tunnel1: String = TunnelSubject.id("tunnel-1")

fun tunnelConfig(
    proxy: TunnelSubject,
    id: String = tunnel1,
    block: TunnelConfig.Builder.() -> Unit = {},
): TunnelConfig = TunnelConfig(id, proxy.url) {
    flavour(proxy.flavour)
    tokenGenerator(TunnelTokens.generator(proxy.secretA))
    retry(fastRetry)
    block()
}

/** HTTP/1.1 only: the JDK client would otherwise offer an h2c upgrade on every request. */
val http: HttpClient =
    HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build()

suspend fun get(url: String): HttpResponse<ByteArray> = http.sendAsync(
    HttpRequest.newBuilder(URI(url)).timeout(Duration.ofSeconds(30)).GET().build(),
    HttpResponse.BodyHandlers.ofByteArray(),
).await()

suspend fun post(url: String, body: ByteArray): HttpResponse<ByteArray> = http.sendAsync(
    HttpRequest.newBuilder(URI(url)).timeout(Duration.ofSeconds(60))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
    HttpResponse.BodyHandlers.ofByteArray(),
).await()

/** Echoes method, target, original path and body back (in process). */
val echoHandler = TunnelHandler { request ->
    TunnelResponse(
        200,
        request.body,
        mapOf(
            "X-Method" to request.method,
            "X-Target" to request.target,
            "X-Original-Path" to (request.originalPath ?: ""),
        ),
    )
}

class TunnelConformanceSpec : FunSpec({

    test("registration (spec §9, §11): a good token registers and the client URL header becomes the public URL") {
        TunnelSubject.open().use { proxy ->
            TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                proxy.isClientUrlOf(client.url, tunnel1) shouldBe true
                proxy.fake?.awaitRegistrations(1, 10.seconds) // the 101 reaches the client before the proxy records it
                proxy.fake?.isRegistered(tunnel1)?.shouldBe(true)
            }
        }
    }

    test(
        "tunnel ids (spec §10): against a webhooktunnel proxy the suite registers ids of [a-z0-9] only ('-' breaks " +
            "WebSocket viewer paths there)",
    ) {
        val word = Regex("[a-z0-9]+")
        for (name in listOf("tunnel-1", "b-side", "T_1")) {
            val id = TunnelSubject.webhooktunnelId(name, UUID.randomUUID())
            id shouldMatch word
            id shouldStartWith name.lowercase().filter { it.isLetterOrDigit() }
        }
        TunnelSubject.webhooktunnelId("x", UUID.randomUUID()) shouldNotBe
            TunnelSubject.webhooktunnelId("x", UUID.randomUUID())
        val webhooktunnel = TunnelSubject.externalFlavour == TunnelFlavour.WEBHOOKTUNNEL
        if (TunnelSubject.external != null && webhooktunnel) tunnel1 shouldMatch word
    }

    test("registration (spec §9, §11): a token signed with secret B is accepted too")
        .config(
            enabledOrReasonIf = External.skipIf {
                val hasSecretB = System.getProperty("tether.conformance.tunnel.secretB") != null
                if (TunnelSubject.fakeOnly || hasSecretB) {
                    null
                } else {
                    "needs -Dtether.conformance.tunnel.secretB (the proxy's secret B)"
                }
            },
        ) {
            TunnelSubject.open().use { proxy ->
                val id = TunnelSubject.id("b-side")
                val config = TunnelConfig(id, proxy.url) {
                    flavour(proxy.flavour)
                    token(TunnelTokens.sign(id, proxy.secretB!!, Duration.ofHours(1)))
                }
                TunnelClient(config).connect().use { proxy.isClientUrlOf(it.url, id) shouldBe true }
            }
        }

    test(
        "registration (spec §9, §11): a token with a 60-day lifetime is accepted (the proxy's lifetime check is " +
            "ineffective)",
    ) {
        TunnelSubject.open().use { proxy ->
            val id = TunnelSubject.id("long")
            val config = TunnelConfig(id, proxy.url) {
                flavour(proxy.flavour)
                token(
                    TunnelTokens.sign(
                        id,
                        proxy.secretA,
                        Duration.ofDays(60),
                    ),
                )
            }
            TunnelClient(config).connect().use { proxy.isClientUrlOf(it.url, id) shouldBe true }
        }
    }

    val refused = listOf(
        "a wrong secret" to { id: String, _: TunnelSubject ->
            TunnelTokens.sign(
                id,
                "not-the-secret",
                Duration.ofHours(1),
            )
        },
        "a tid for another id" to { _: String, p: TunnelSubject ->
            TunnelTokens.sign(
                "someone-else",
                p.secretA,
                Duration.ofHours(1),
            )
        },
        "an expired token" to { id: String, p: TunnelSubject ->
            TunnelTokens.sign(
                id,
                p.secretA,
                Duration.ofHours(1),
                Clock.fixed(
                    Instant.now().minus(Duration.ofDays(2)),
                    ZoneOffset.UTC,
                ),
            )
        },
        "a token not valid yet" to { id: String, p: TunnelSubject ->
            TunnelTokens.sign(
                id,
                p.secretA,
                Duration.ofHours(1),
                Clock.fixed(
                    Instant.now().plus(Duration.ofDays(1)),
                    ZoneOffset.UTC,
                ),
            )
        },
        "a token without nbf" to { id: String, p: TunnelSubject ->
            JwtFixtures.sign(
                p.secretA,
                mapOf(
                    "tid" to id,
                    "exp" to Instant.now().epochSecond + 3600,
                ),
            )
        },
        "a token without exp" to { id: String, p: TunnelSubject ->
            JwtFixtures.sign(
                p.secretA,
                mapOf(
                    "tid" to id,
                    "nbf" to Instant.now().epochSecond - 60,
                ),
            )
        },
    )
    for ((what, token) in refused) {
        test("registration (spec §9, §11): $what is refused with 401: TunnelAuthFailedException, no retry") {
            TunnelSubject.open().use { proxy ->
                val id = TunnelSubject.id("t1")
                val config = TunnelConfig(id, proxy.url) {
                    flavour(proxy.flavour)
                    token(
                        token(
                            id,
                            proxy,
                        ),
                    )
                    retry(fastRetry)
                }
                val e = shouldThrow<TunnelAuthFailedException> { TunnelClient(config).connect() }
                e.status shouldBe 401
                proxy.fake?.registrationAttempts?.shouldBe(1)
            }
        }
    }

    test(
        "registration (spec §9, §11): the proxy's own answers: 400 without a Bearer token, 404 without an upgrade, " +
            "504 for an unknown viewer id",
    )
        .config(
            enabledOrReasonIf = External.skipIf {
                val https = TunnelSubject.external?.startsWith("https") == true
                if (https) "sends raw HTTP/1.1 over plain TCP; the proxy is https" else null
            },
        ) {
            TunnelSubject.open().use { proxy ->
                val good = TunnelTokens.sign("raw", proxy.secretA, Duration.ofHours(1))
                val idHeader = proxy.flavour.idHeader
                val upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                val noToken = "GET / HTTP/1.1\r\nHost: x\r\n$idHeader: raw\r\n$upgrade"
                RawHttp.status(proxy.host, proxy.port, noToken) shouldBe 400
                RawHttp.status(
                    proxy.host,
                    proxy.port,
                    "GET / HTTP/1.1\r\nHost: x\r\n$idHeader: raw\r\nAuthorization: Token $good\r\n$upgrade",
                ) shouldBe 400
                RawHttp.status(
                    proxy.host,
                    proxy.port,
                    "GET / HTTP/1.1\r\nHost: x\r\n$idHeader: raw\r\nAuthorization: Bearer $good\r\n\r\n",
                ) shouldBe 404
                // Generation A answers an unknown id with 404, B and C (and the fake) with 504.
                val unknown = get("${proxy.url}/nobody-${Random.nextInt(1_000_000)}/here").statusCode()
                if (proxy.fake != null) unknown shouldBe 504 else (unknown == 404 || unknown == 504) shouldBe true
                get("${proxy.url}/").statusCode() shouldBe 404
            }
        }

    test(
        "registration (spec §9, §11): a refused registration with 5xx is retried until it succeeds; a 4xx other than " +
            "401 is RetryFailedException",
    )
        .config(enabledOrReasonIf = TunnelSubject.needsFake("the fake's fault controls (refuse the next upgrades)")) {
            TunnelSubject.open().use { subject ->
                val proxy = subject.fake!!
                proxy.faults.refuseNext(2, 503)
                TunnelClient(tunnelConfig(subject)).connect().use { proxy.registrationAttempts shouldBe 3 }
                proxy.faults.refuseNext(1, 409)
                shouldThrow<RetryFailedException> {
                    TunnelClient(tunnelConfig(subject, "t2")).connect()
                }.status shouldBe
                    409
            }
        }

    test("registration (spec §9, §11): a proxy that is down ends with RetryTimedOutException after MaxElapsedTime") {
        val port = FakeTunnelProxy.start().use { it.port } // closed: nothing listens there any more
        val config = TunnelConfig("t1", "http://127.0.0.1:$port") {
            tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
            retry(
                RetryConfig(
                    initialDelay = kotlin.time.Duration.parse("10ms"),
                    maxDelay = kotlin.time.Duration.parse("50ms"),
                    maxElapsedTime = kotlin.time.Duration.parse("300ms"),
                ),
            )
        }
        val e = shouldThrow<RetryTimedOutException> { TunnelClient(config).connect() }
        (e.attempts > 1) shouldBe true
    }

    test("registration (spec §9, §11): an expired starting token is renewed by the generator before the first dial") {
        TunnelSubject.open().use { proxy ->
            val id = TunnelSubject.id("t1")
            val expired = TunnelTokens.sign(
                id,
                proxy.secretA,
                Duration.ofHours(1),
                Clock.fixed(Instant.now().minus(Duration.ofDays(2)), ZoneOffset.UTC),
            )
            TunnelClient(
                tunnelConfig(
                    proxy,
                    id,
                ) { token(expired) },
            ).connect().use { proxy.fake?.registrationAttempts?.shouldBe(1) }
        }
    }

    test(
        "serving viewers (spec §10): HTTP GET and POST reach the in-process handler with the forwarded target and " +
            "original path, byte-exact",
    ) {
        TunnelSubject.open().use { proxy ->
            TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                coroutineScope {
                    val serving = launch { client.serve(echoHandler) }
                    val got = get("${client.url}/some/path?q=1")
                    got.statusCode() shouldBe 200
                    got.headers().firstValue("X-Method").get() shouldBe "GET"
                    got.headers().firstValue("X-Target").get() shouldBe "/some/path?q=1"
                    got.headers().firstValue("X-Original-Path").get() shouldBe "/$tunnel1/some/path"
                    for (size in listOf(0, 1, 4095, 4096, 4097, 100_000, 3 shl 20)) {
                        val body = Random(size).nextBytes(size)
                        val echoed = post("${client.url}/upload", body)
                        echoed.statusCode() shouldBe 200
                        echoed.body().contentEquals(body) shouldBe true
                    }
                    serving.cancel()
                }
            }
        }
    }

    test("serving viewers (spec §10): forward pipes HTTP bodies up to 64 MiB byte-exact to a local origin and back") {
        LocalOrigin.start().use { origin ->
            TunnelSubject.open().use { proxy ->
                TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                    coroutineScope {
                        val forwarding = launch { client.forward(origin.url) }
                        get("${client.url}/hello").body().decodeToString() shouldBe "hello from the origin: GET /hello"
                        for (size in listOf(0, 65_537, 64 shl 20)) {
                            val body = Random(size).nextBytes(size)
                            val echoed = post("${client.url}/echo", body)
                            echoed.statusCode() shouldBe 200
                            echoed.body().size shouldBe size
                            echoed.body().contentEquals(body) shouldBe true
                        }
                        forwarding.cancel()
                    }
                }
            }
        }
    }

    test("serving viewers (spec §10): a WebSocket viewer talks to the origin's WebSocket through the tunnel") {
        LocalOrigin.start().use { origin ->
            TunnelSubject.open().use { proxy ->
                TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                    coroutineScope {
                        val forwarding = launch { client.forward(origin.url) }
                        val viewer = WsViewer.open(client.url.replace("http://", "ws://") + "/ws?x=1")
                        viewer.sendText("ping 1")
                        viewer.nextText() shouldBe "echo ping 1 (path /ws?x=1)"
                        viewer.sendText("ping 2")
                        viewer.nextText() shouldBe "echo ping 2 (path /ws?x=1)"
                        viewer.close()
                        forwarding.cancel()
                    }
                }
            }
        }
    }

    test(
        "serving viewers (spec §10): a viewer offering an h2c upgrade (the JDK client's default) is answered over " +
            "HTTP/1.1",
    ) {
        TunnelSubject.open().use { proxy ->
            TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                coroutineScope {
                    val serving = launch { client.serve(echoHandler) }
                    val h2c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()
                    val request = HttpRequest.newBuilder(URI("${client.url}/h2c")).timeout(Duration.ofSeconds(20)).GET()
                        .build()
                    val got = h2c.sendAsync(request, HttpResponse.BodyHandlers.ofString()).await()
                    got.statusCode() shouldBe 200
                    got.headers().firstValue("X-Target").get() shouldBe "/h2c"
                    val posted = h2c.sendAsync(
                        HttpRequest.newBuilder(URI("${client.url}/h2c-post")).timeout(Duration.ofSeconds(20))
                            .POST(HttpRequest.BodyPublishers.ofString("body bytes")).build(),
                        HttpResponse.BodyHandlers.ofString(),
                    ).await()
                    posted.body() shouldBe "body bytes"
                    serving.cancel()
                }
            }
        }
    }

    test(
        "serving viewers (spec §10): 64 concurrent viewers through forward each get their own answer from the origin",
    ) {
        LocalOrigin.start().use { origin ->
            TunnelSubject.open().use { proxy ->
                TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                    coroutineScope {
                        val forwarding = launch { client.forward(origin.url) }
                        val answers = (1..64).map { i ->
                            async(Dispatchers.IO) { post("${client.url}/echo", "viewer $i".toByteArray()) }
                        }.awaitAll()
                        answers.map { it.body().decodeToString() } shouldBe (1..64).map { "viewer $it" }
                        forwarding.cancel()
                    }
                }
            }
        }
    }

    test("serving viewers (spec §10): 64 concurrent viewers each get their own answer") {
        TunnelSubject.open().use { proxy ->
            TunnelClient(tunnelConfig(proxy)).connect().use { client ->
                coroutineScope {
                    val serving = launch { client.serve(echoHandler) }
                    val answers = (1..64).map { i ->
                        async(Dispatchers.IO) { post("${client.url}/v/$i", "viewer $i".toByteArray()) }
                    }.awaitAll()
                    answers.mapIndexed {
                            i,
                            r,
                        ->
                        r.body().decodeToString() to r.headers().firstValue("X-Target").get()
                    } shouldBe
                        (1..64).map { i -> "viewer $i" to "/v/$i" }
                    serving.cancel()
                }
            }
        }
    }

    test(
        "reconnect and close (spec §13, fixed): after the proxy drops the session the client registers again, keeps " +
            "serving and reports the drop",
    )
        .config(enabledOrReasonIf = TunnelSubject.needsFake("the fake's fault controls (drop a client)")) {
            TunnelSubject.open().use { subject ->
                val proxy = subject.fake!!
                TunnelClient(tunnelConfig(subject)).connect().use { client ->
                    coroutineScope {
                        val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
                        val collector = launch(start = CoroutineStart.UNDISPATCHED) {
                            client.events.collect { events.send(it) }
                        }
                        val serving = launch { client.serve(echoHandler) }
                        proxy.faults.drop(tunnel1) shouldBe true
                        withTimeout(10.seconds) {
                            while (events.receive() !is ConnectionEvent.Disconnected) Unit
                            while (events.receive() !is ConnectionEvent.Connected) Unit
                        }
                        proxy.awaitRegistrations(2, 10.seconds)
                        client.url shouldBe proxy.clientUrl(tunnel1)
                        post("${client.url}/again", "after reconnect".toByteArray()).body().decodeToString() shouldBe
                            "after reconnect"
                        serving.cancel()
                        collector.cancel()
                    }
                }
            }
        }

    test(
        "reconnect and close (spec §13, fixed): keepalive expiry (the proxy stops answering pings) is detected and " +
            "the client registers again",
    )
        .config(enabledOrReasonIf = TunnelSubject.needsFake("the fake's fault controls (stop answering pings)")) {
            TunnelSubject.open().use { subject ->
                val proxy = subject.fake!!
                val mux = MuxConfig {
                    streamBufferSize(4096)
                    keepAliveInterval(Duration.ofMillis(200))
                }
                TunnelClient(tunnelConfig(subject), mux).connect().use { client ->
                    coroutineScope {
                        val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
                        val collector = launch(start = CoroutineStart.UNDISPATCHED) {
                            client.events.collect { events.send(it) }
                        }
                        proxy.faults.stopKeepalive(true)
                        val drop = withTimeout(10.seconds) {
                            var e = events.receive()
                            while (e !is ConnectionEvent.Disconnected) e = events.receive()
                            e
                        }
                        drop.cause.shouldBeInstanceOf<dev.tether.mux.MuxKeepAliveExpiredException>()
                        proxy.faults.stopKeepalive(false)
                        proxy.awaitRegistrations(2, 10.seconds)
                        collector.cancel()
                    }
                }
            }
        }

    test(
        "reconnect and close (spec §13, fixed): token rotation: after the proxy rotates its secret the client renews " +
            "its token on reconnect",
    )
        .config(enabledOrReasonIf = TunnelSubject.needsFake("the fake's fault controls (rotate the signing secrets)")) {
            TunnelSubject.open().use { subject ->
                val proxy = subject.fake!!
                var secret = proxy.currentSecrets.first
                val config = TunnelConfig("rot", proxy.url) {
                    tokenGenerator { id -> TunnelTokens.sign(id, secret, Duration.ofHours(1)) }
                    retry(fastRetry)
                }
                TunnelClient(config).connect().use { client ->
                    proxy.awaitRegistrations(1, 10.seconds) // the 101 reaches the client before the proxy records it
                    proxy.rotateCredentials("new-secret-a", "new-secret-b")
                    proxy.isRegistered("rot") shouldBe true // registered clients stay
                    secret = "new-secret-a" // what an auth service would hand out now
                    proxy.faults.drop("rot")
                    proxy.awaitRegistrations(2, 10.seconds)
                    withTimeout(10.seconds) { client.state.first { it == dev.tether.core.ConnectionState.CONNECTED } }
                    proxy.isRegistered("rot") shouldBe true
                }
            }
        }

    test(
        "reconnect and close (spec §13, fixed): a reconnect that runs out of retries fails waiting and later accept " +
            "calls with that error",
    )
        .config(enabledOrReasonIf = TunnelSubject.needsFake("to shut the proxy down (the fake)")) {
            val proxy = TunnelSubject.open()
            val client = TunnelClient(
                tunnelConfig(proxy) {
                    retry(
                        RetryConfig(
                            initialDelay = kotlin.time.Duration.parse("10ms"),
                            maxDelay = kotlin.time.Duration.parse("50ms"),
                            maxElapsedTime = kotlin.time.Duration.parse("300ms"),
                        ),
                    )
                },
            ).connect()
            client.use {
                coroutineScope {
                    val waiting = async { runCatching { client.accept() } }
                    proxy.close() // drops the session and stops listening
                    withTimeout(10.seconds) { waiting.await() }.exceptionOrNull()
                        .shouldBeInstanceOf<RetryTimedOutException>()
                    shouldThrow<RetryTimedOutException> { client.accept() }
                }
            }
        }

    test(
        "reconnect and close (spec §13, fixed): close unblocks a waiting accept at once with TunnelClosedException " +
            "(upstream left it blocked)",
    ) {
        TunnelSubject.open().use { proxy ->
            val client = TunnelClient(tunnelConfig(proxy)).connect()
            coroutineScope {
                val waiting = async { runCatching { client.accept() } }
                withContext(Dispatchers.IO) { client.close() }
                withTimeout(5.seconds) { waiting.await() }.exceptionOrNull().shouldBeInstanceOf<TunnelClosedException>()
                shouldThrow<TunnelClosedException> { client.accept() }
            }
        }
    }
})
