package dev.tether.conformance.tunnel

import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.testkit.tunnel.FakeTunnelProxyConfig
import dev.tether.tunnel.RetryFailedException
import dev.tether.tunnel.TunnelAuthFailedException
import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelConfig
import dev.tether.tunnel.TunnelFlavour
import dev.tether.tunnel.TunnelTokens
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import java.time.Duration
import java.time.Instant

/**
 * The proxy generations of specs/webhooktunnel.md §10 and §12 that a client meets: domain-style routing
 * (webhooktunnel with TLS) and websocktunnel (renamed headers, URL_PREFIX, id check, audience, load-balancer
 * heartbeat). These need the fake's settings, so they run against the fake only.
 */
class TunnelProxyGenerationsSpec : FunSpec({
    fun websocktunnel(id: String, proxy: FakeTunnelProxy, block: TunnelConfig.Builder.() -> Unit = {}) =
        TunnelConfig(id, proxy.url) {
            flavour(TunnelFlavour.WEBSOCKTUNNEL)
            tokenGenerator(TunnelTokens.generator(proxy.currentSecrets.first))
            retry(fastRetry)
            block()
        }

    test(
        "websocktunnel: renamed headers, the client URL is URL_PREFIX/id, the original path arrives under its new " +
            "name",
    ) {
        val proxied = FakeTunnelProxy.start {
            flavour(TunnelFlavour.WEBSOCKTUNNEL)
            urlPrefix("https://tunnel.example.com/")
        }
        proxied.use { proxy ->
            TunnelClient(websocktunnel("ws_1.a~b%20", proxy)).connect().use { client ->
                client.url shouldBe "https://tunnel.example.com/ws_1.a~b%20"
                coroutineScope {
                    val serving = launch { client.serve(echoHandler) }
                    val got = get("${proxy.url}/ws_1.a~b%20/some/path?q=1")
                    got.statusCode() shouldBe 200
                    got.headers().firstValue("X-Target").get() shouldBe "/some/path?q=1"
                    got.headers().firstValue("X-Original-Path").get() shouldBe "/ws_1.a~b%20/some/path"
                    serving.cancel()
                }
            }
        }
    }

    test("websocktunnel: an id outside [a-zA-Z0-9_~.%-] is refused with 400 by the proxy and up front by the client") {
        FakeTunnelProxy.start { flavour(TunnelFlavour.WEBSOCKTUNNEL) }.use { proxy ->
            val token = TunnelTokens.sign("bad:id", proxy.currentSecrets.first, Duration.ofHours(1))
            RawHttp.status(
                "127.0.0.1",
                proxy.port,
                "GET / HTTP/1.1\r\nHost: x\r\nX-Websocktunnel-Id: bad:id\r\nAuthorization: Bearer $token\r\n" +
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            ) shouldBe 400
            shouldThrow<IllegalArgumentException> {
                websocktunnel(
                    "bad:id",
                    proxy,
                )
            }.message!!.contains("bad:id") shouldBe true
        }
    }

    test(
        "websocktunnel: /__lbheartbeat__ answers 200; a webhooktunnel-flavoured client gets RetryFailed 404, not a " +
            "hang",
    ) {
        FakeTunnelProxy.start { flavour(TunnelFlavour.WEBSOCKTUNNEL) }.use { proxy ->
            get("${proxy.url}/__lbheartbeat__").statusCode() shouldBe 200
            val wrong = TunnelConfig(
                "w1",
                proxy.url,
            ) {
                tokenGenerator(TunnelTokens.generator(proxy.currentSecrets.first))
                retry(fastRetry)
            }
            shouldThrow<RetryFailedException> { TunnelClient(wrong).connect() }.status shouldBe 404
        }
    }

    test("websocktunnel: with an AUDIENCE configured, tokens must carry it in aud") {
        FakeTunnelProxy.start {
            flavour(TunnelFlavour.WEBSOCKTUNNEL)
            audience("websocktunnel-test")
        }.use { proxy ->
            val secret = proxy.currentSecrets.first
            val now = Instant.now().epochSecond
            fun jwt(aud: String?) = JwtFixtures.sign(
                secret,
                buildMap {
                    put("tid", "aud1")
                    put("nbf", now - 60)
                    put("exp", now + 3600)
                    if (aud != null) put("aud", aud)
                },
            )
            shouldThrow<TunnelAuthFailedException> {
                TunnelClient(
                    websocktunnel(
                        "aud1",
                        proxy,
                    ) { token(jwt(null)) }.withoutGenerator(),
                ).connect()
            }
            shouldThrow<TunnelAuthFailedException> {
                TunnelClient(
                    websocktunnel(
                        "aud1",
                        proxy,
                    ) { token(jwt("someone-else")) }.withoutGenerator(),
                ).connect()
            }
            TunnelClient(
                websocktunnel(
                    "aud1",
                    proxy,
                ) { token(jwt("websocktunnel-test")) }.withoutGenerator(),
            ).connect().use {
                it.url shouldBe proxy.clientUrl("aud1")
            }
        }
    }

    test(
        "domain style (webhooktunnel with TLS): client URL http://<id>.HOSTNAME, the id from the Host's first label, " +
            "the whole URI forwarded",
    ) {
        FakeTunnelProxy.start {
            hostname("tunnel.test")
            domainStyle(true)
        }.use { proxy ->
            val config = TunnelConfig(
                "dom1",
                proxy.url,
            ) {
                tokenGenerator(TunnelTokens.generator(proxy.currentSecrets.first))
                retry(fastRetry)
            }
            TunnelClient(config).connect().use { client ->
                client.url shouldBe "http://dom1.tunnel.test"
                coroutineScope {
                    val serving = launch { client.serve(echoHandler) }
                    val request = "GET /some/path?q=1 HTTP/1.1\r\nHost: dom1.tunnel.test:${proxy.port}\r\n" +
                        "Connection: close\r\n\r\n"
                    val (status, headers) = RawHttp.head("127.0.0.1", proxy.port, request)
                    status shouldBe 200
                    headers["x-target"] shouldBe "/some/path?q=1"
                    headers["x-original-path"] shouldBe "/some/path"
                    // A Host starting with HOSTNAME is still path style; any other host is 404.
                    val (pathStatus, pathHeaders) = RawHttp.head(
                        "127.0.0.1",
                        proxy.port,
                        "GET /dom1/p HTTP/1.1\r\nHost: tunnel.test\r\nConnection: close\r\n\r\n",
                    )
                    pathStatus shouldBe 200
                    pathHeaders["x-target"] shouldBe "/p"
                    RawHttp.status(
                        "127.0.0.1",
                        proxy.port,
                        "GET /dom1/p HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n",
                    ) shouldBe 404
                    serving.cancel()
                }
            }
        }
    }

    test("the fake refuses settings no real proxy generation has") {
        shouldThrow<IllegalArgumentException> {
            FakeTunnelProxyConfig.builder().flavour(TunnelFlavour.WEBSOCKTUNNEL).domainStyle(true).build()
        }
        shouldThrow<IllegalArgumentException> { FakeTunnelProxyConfig.builder().urlPrefix("https://x").build() }
    }
})

/** A copy of this configuration that keeps its token and has no generator (so a 401 is final at once). */
private fun TunnelConfig.withoutGenerator(): TunnelConfig {
    val b = TunnelConfig.builder().id(id).proxyUrl(proxyUrl).retry(retry).flavour(flavour)
    token?.let { b.token(it) }
    return b.build()
}
