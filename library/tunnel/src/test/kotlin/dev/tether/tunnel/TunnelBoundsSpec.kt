package dev.tether.tunnel

import dev.tether.core.ConnectionEvent
import dev.tether.mux.MuxException
import dev.tether.mux.StreamRefusedException
import dev.tether.tunnel.TestProxy.Companion.readToEnd
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.time.Duration
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The tunnel's bounds on what viewers hold: viewer streams at once (TunnelConfig.maxStreams, refused as wsmux
 * refuses a stream) and the time serve waits for a request head (TunnelConfig.requestHeadTimeout, answered 408) and
 * then for its body (TunnelConfig.requestBodyTimeout, answered 408);
 * and TunnelClient.stats() counting both, with the rest of a client's life.
 */
class TunnelBoundsSpec : FunSpec({
    test("defaults: 1 000 viewer streams, 30 s for a request head, 60 s for its body; all validated") {
        val config = TunnelConfig("t", "ws://127.0.0.1:1") { token("x") }
        config.maxStreams shouldBe 1_000
        config.requestHeadTimeout shouldBe Duration.ofSeconds(30)
        config.requestBodyTimeout shouldBe Duration.ofSeconds(60)
        config.toBuilder().requestBodyTimeout(5.seconds).build().requestBodyTimeout shouldBe Duration.ofSeconds(5)
        shouldThrow<IllegalArgumentException> {
            TunnelConfig("t", "ws://127.0.0.1:1") { token("x").requestBodyTimeout(Duration.ofSeconds(-1)) }
        }
        config.toBuilder().maxStreams(7).build().maxStreams shouldBe 7
        shouldThrow<IllegalArgumentException> { TunnelConfig("t", "ws://127.0.0.1:1") { token("x").maxStreams(0) } }
        shouldThrow<IllegalArgumentException> {
            TunnelConfig("t", "ws://127.0.0.1:1") { token("x").requestHeadTimeout(Duration.ZERO) }
        }
    }

    for ((name, transport) in TestProxy.transports) {
        context("on $name") {
            test("serve: a viewer that does not finish its request head in time gets 408, then FIN") {
                TestProxy().use { proxy ->
                    val config = proxy.config { requestHeadTimeout(200.milliseconds) }
                    val client = TunnelClient(config, TunnelClient.defaultMuxConfig(), transport).connect()
                    try {
                        val session = proxy.nextSession()
                        coroutineScope {
                            val serving = launch { client.serve(TunnelHandler { TunnelResponse.text("never") }) }
                            val stream = session.open()
                            stream.write("GET /slow HTTP/1.1\r\nHost: h\r\n".toByteArray()) // no blank line
                            val answer = String(withTimeout(10.seconds) { readToEnd(stream) }, Charsets.ISO_8859_1)
                            answer shouldStartWith "HTTP/1.1 408 Request Timeout\r\n"
                            answer shouldContain "Connection: close\r\n"
                            answer shouldContain "within 200 ms"
                            client.stats().requestHeadTimeouts shouldBe 1
                            client.stats().requestsAnswered shouldBe 0
                            serving.cancel()
                        }
                    } finally {
                        client.closeAndJoin()
                    }
                }
            }

            test("serve: a viewer that trickles its body past requestBodyTimeout gets 408, then FIN") {
                TestProxy().use { proxy ->
                    val config = proxy.config { requestBodyTimeout(300.milliseconds) }
                    val client = TunnelClient(config, TunnelClient.defaultMuxConfig(), transport).connect()
                    try {
                        val session = proxy.nextSession()
                        coroutineScope {
                            val serving = launch { client.serve(TunnelHandler { TunnelResponse.text("never") }) }
                            val stream = session.open()
                            stream.write("POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n".toByteArray())
                            // A byte every 20 ms keeps the stream busy: only a bound on the whole body cuts it off.
                            val trickle = launch {
                                try {
                                    repeat(999) {
                                        stream.write(byteArrayOf('x'.code.toByte()))
                                        delay(20)
                                    }
                                } catch (e: MuxException) {
                                    // the client may have reset the stream after its answer: the trickle ends
                                }
                            }
                            val answer = String(withTimeout(10.seconds) { readToEnd(stream) }, Charsets.ISO_8859_1)
                            trickle.cancel()
                            answer shouldStartWith "HTTP/1.1 408 Request Timeout\r\n"
                            answer shouldContain "the request body did not arrive within 300 ms"
                            client.stats().requestBodyTimeouts shouldBe 1
                            client.stats().requestHeadTimeouts shouldBe 0
                            client.stats().requestsAnswered shouldBe 0
                            serving.cancel()
                        }
                    } finally {
                        client.closeAndJoin()
                    }
                }
            }

            test("serve: a body sent in parts within requestBodyTimeout is served whole") {
                TestProxy().use { proxy ->
                    val config = proxy.config { requestBodyTimeout(10.seconds) }
                    val client = TunnelClient(config, TunnelClient.defaultMuxConfig(), transport).connect()
                    try {
                        val session = proxy.nextSession()
                        coroutineScope {
                            val handler = TunnelHandler { TunnelResponse.text("got ${String(it.body)}") }
                            val serving = launch { client.serve(handler) }
                            val stream = session.open()
                            val head = "POST /ok HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            stream.write(head.toByteArray())
                            stream.write("5\r\nhello\r\n".toByteArray())
                            stream.write("6\r\n world\r\n0\r\n\r\n".toByteArray())
                            val answer = String(withTimeout(10.seconds) { readToEnd(stream) }, Charsets.ISO_8859_1)
                            answer shouldStartWith "HTTP/1.1 200 OK\r\n"
                            answer shouldContain "got hello world"
                            client.stats().requestBodyTimeouts shouldBe 0
                            client.stats().requestsAnswered shouldBe 1
                            serving.cancel()
                        }
                    } finally {
                        client.closeAndJoin()
                    }
                }
            }

            test("viewer streams over maxStreams are refused with FIN, counted, and taken again once one ends") {
                TestProxy().use { proxy ->
                    // The client's MuxConfig says 50; TunnelConfig.maxStreams is the one that holds.
                    val mux = TunnelClient.defaultMuxConfig().toBuilder().maxStreams(50).build()
                    val client = TunnelClient(proxy.config { maxStreams(1) }, mux, transport).connect()
                    val release = CountDownLatch(1)
                    val handler = TunnelHandler {
                        check(release.await(10, TimeUnit.SECONDS)) { "never released" }
                        TunnelResponse.text("done")
                    }
                    try {
                        val session = proxy.nextSession()
                        coroutineScope {
                            val serving = launch { client.serve(handler) }
                            val first = session.open()
                            first.write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n".toByteArray())
                            shouldThrow<StreamRefusedException> { withTimeout(10.seconds) { session.open() } }
                            client.stats().viewersRefused shouldBe 1
                            client.stats().viewersActive shouldBe 1
                            release.countDown()
                            val answer = async { String(withTimeout(10.seconds) { readToEnd(first) }) }
                            answer.await() shouldContain "done"
                            first.close() // the proxy's FIN: the stream is closed both ways, its place is free
                            val again = withTimeout(10.seconds) { session.open() }
                            again.write("GET /b HTTP/1.1\r\nHost: h\r\n\r\n".toByteArray())
                            String(withTimeout(10.seconds) { readToEnd(again) }) shouldContain "done"
                            client.stats().viewersServed shouldBe 2
                            client.stats().requestsAnswered shouldBe 2
                            serving.cancel()
                        }
                    } finally {
                        client.closeAndJoin()
                    }
                }
            }
        }
    }

    test("stats: registrations and reconnects, viewers served, requests forwarded, an unreachable origin") {
        TestProxy().use { proxy ->
            RawOrigin().use { origin ->
                val client = TunnelClient(proxy.config()).connect()
                try {
                    client.stats().registrations shouldBe 1
                    client.stats().reconnects shouldBe 0
                    val reconnected = async(start = CoroutineStart.UNDISPATCHED) {
                        client.events.filterIsInstance<ConnectionEvent.Connected>().first()
                    }
                    proxy.nextSession().close()
                    val session = proxy.nextSession()
                    withTimeout(10.seconds) { reconnected.await() }
                    client.stats().registrations shouldBe 2
                    client.stats().reconnects shouldBe 1
                    coroutineScope {
                        val forwarding = launch { client.forward(origin.url) }
                        val stream = session.open()
                        stream.write("ping".toByteArray())
                        stream.close()
                        origin.accept().use { s ->
                            withContext(Dispatchers.IO) {
                                s.getInputStream().readAllBytes() // to the proxy's FIN
                                s.getOutputStream().write("pong".toByteArray())
                            }
                        }
                        String(withTimeout(10.seconds) { readToEnd(stream) }) shouldBe "pong"
                        forwarding.cancelAndJoin() // gone before the next forward takes streams
                    }
                    coroutineScope {
                        val dead = launch { client.forward("http://127.0.0.1:${RawOrigin.deadPort()}") }
                        val stream = session.open()
                        stream.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n".toByteArray())
                        String(withTimeout(10.seconds) { readToEnd(stream) }) shouldStartWith "HTTP/1.1 502"
                        dead.cancelAndJoin()
                    }
                    val stats = client.stats()
                    stats.viewersServed shouldBe 2
                    stats.requestsForwarded shouldBe 1
                    stats.originUnreachable shouldBe 1
                    stats.viewersRefused shouldBe 0
                } finally {
                    client.closeAndJoin()
                }
            }
        }
    }
})
