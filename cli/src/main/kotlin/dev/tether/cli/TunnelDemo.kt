package dev.tether.cli

import com.sun.net.httpserver.HttpServer
import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.RetryConfig
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelConfig
import dev.tether.tunnel.TunnelTokens
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.net.InetSocketAddress
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** A local HTTP server exposed through the embedded fake proxy, fetched, dropped, and fetched again. */
class TunnelDemo : DemoSection {
    override val title: String = "tunnel: a local server exposed through the fake webhook proxy"

    override suspend fun run(out: DemoOutput) {
        val origin = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
            createContext("/") { exchange ->
                val body =
                    "hello from the local server: ${exchange.requestMethod} ${exchange.requestURI}\n".toByteArray()
                exchange.sendResponseHeaders(200, body.size.toLong())
                exchange.responseBody.use { it.write(body) }
            }
            start()
        }
        try {
            FakeTunnelProxy.start().use { proxy ->
                out.step("local server on http://127.0.0.1:${origin.address.port}, fake proxy at ${proxy.url}")
                val traffic = DemoTraffic()
                val config = TunnelConfig("demo-tunnel", proxy.url) {
                    tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                    observer(traffic)
                    retry(
                        RetryConfig(initialDelay = 100.milliseconds, maxDelay = 1.seconds, maxElapsedTime = 30.seconds),
                    )
                }
                TunnelClient(config).connect().use { client ->
                    out.ok("registered; public URL ${client.url}")
                    val http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                    suspend fun fetch(path: String): String = http.sendAsync(
                        HttpRequest.newBuilder(URI(client.url + path)).GET().build(),
                        HttpResponse.BodyHandlers.ofString(),
                    ).await().body().trim()
                    coroutineScope {
                        val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
                        val collector = launch(start = CoroutineStart.UNDISPATCHED) {
                            client.events.collect { events.send(it) }
                        }
                        val forwarding = launch { client.forward("http://127.0.0.1:${origin.address.port}") }
                        out.ok("GET ${client.url}/first -> \"${fetch("/first?x=1")}\"")
                        proxy.faults.drop("demo-tunnel")
                        out.step("the proxy drops the tunnel's session")
                        withTimeout(30.seconds) {
                            while (true) {
                                val e = events.receive()
                                if (e is ConnectionEvent.Disconnected) {
                                    out.event("event: session lost (${e.cause.message})")
                                }
                                if (e is ConnectionEvent.Connected) break
                            }
                        }
                        proxy.awaitRegistrations(2, 30.seconds)
                        out.ok("registered again; public URL still ${client.url}")
                        out.ok("GET ${client.url}/again -> \"${fetch("/again")}\"")
                        forwarding.cancel()
                        collector.cancel()
                    }
                    val stats = client.stats()
                    out.stats(
                        "the tunnel client",
                        traffic.counts() + listOf(
                            "registrations" to stats.registrations,
                            "tunnel reconnects" to stats.reconnects,
                            "viewers" to stats.viewersServed,
                            "requests forwarded" to stats.requestsForwarded,
                            "errors" to stats.originUnreachable + stats.originTlsFailures + stats.badRequests +
                                stats.requestHeadTimeouts + stats.requestBodyTimeouts + stats.handlerErrors +
                                stats.streamErrors,
                        ),
                    )
                }
            }
        } finally {
            origin.stop(0)
        }
    }
}
