package dev.tether.tunnel

import dev.tether.core.WebSocketTransport
import dev.tether.mux.MuxSession
import dev.tether.tunnel.TestProxy.Companion.readToEnd
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldEndWith
import io.kotest.matchers.string.shouldNotStartWith
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds

/** One viewer GET through [session]; returns the status line and the body. */
private suspend fun get(session: MuxSession, path: String): Pair<String, String> = withTimeout(10.seconds) {
    val stream = session.open()
    stream.write("GET $path HTTP/1.1\r\nHost: h\r\n\r\n".toByteArray())
    val answer = String(readToEnd(stream), Charsets.ISO_8859_1)
    stream.close()
    answer.substringBefore("\r\n") to answer.substringAfter("\r\n\r\n")
}

private val threadName = TunnelHandler { request ->
    TunnelResponse.text("${request.path} on ${Thread.currentThread().name.substringBefore(" @")}")
}

private suspend fun withServe(
    transport: WebSocketTransport,
    configure: TunnelConfig.Builder.() -> Unit = {},
    serve: suspend (TunnelClient) -> Unit,
    block: suspend CoroutineScope.(TunnelClient, MuxSession) -> Unit,
) {
    TestProxy().use { proxy ->
        val client = TunnelClient(proxy.config(block = configure), TunnelClient.defaultMuxConfig(), transport).connect()
        try {
            val session = proxy.nextSession()
            coroutineScope {
                val serving = launch { serve(client) }
                block(client, session)
                serving.cancel()
            }
        } finally {
            client.closeAndJoin()
        }
    }
}

/**
 * TunnelClient.serve: the request is read and answered on the tunnel connection's I/O thread, the handler runs on
 * the handler executor: by default a library thread where it may block, or the configured one, or the client's own
 * I/O thread for a handler that never blocks.
 */
class ServeSpec : FunSpec({
    for ((name, transport) in TestProxy.transports) {
        context("serve on $name") {
            test(
                "by default the handler runs off the I/O threads, where blocking is allowed: a blocked handler " +
                    "stalls no other viewer",
            ) {
                val release = CountDownLatch(1)
                val blocking = TunnelHandler { request ->
                    if (request.path == "/wait") {
                        check(release.await(10, TimeUnit.SECONDS)) { "never released" }
                        TunnelResponse.text("released")
                    } else {
                        release.countDown()
                        TunnelResponse.text("on ${Thread.currentThread().name.substringBefore(" @")}")
                    }
                }
                withServe(transport, serve = { it.serve(blocking) }) { _, session ->
                    val waiting = async { get(session, "/wait") }
                    val (status, body) = get(session, "/go") // answered while /wait's handler is blocked
                    status shouldBe "HTTP/1.1 200 OK"
                    body shouldNotStartWith "on tether-io-"
                    waiting.await() shouldBe ("HTTP/1.1 200 OK" to "released")
                }
            }

            test("TunnelConfig.handlerExecutor: the handler runs there") {
                val count = AtomicInteger()
                val pool = Executors.newFixedThreadPool(2) { r ->
                    Thread(r, "my-handler-${count.incrementAndGet()}").apply { isDaemon = true }
                }
                try {
                    val serve: suspend (TunnelClient) -> Unit = { it.serve(threadName) }
                    withServe(transport, configure = { handlerExecutor(pool) }, serve = serve) { client, session ->
                        client.config.handlerExecutor shouldBe pool
                        get(session, "/a").second shouldStartWith "/a on my-handler-"
                    }
                } finally {
                    pool.shutdownNow()
                }
            }

            test(
                "an executor given to serve wins over the configured one; the client's own executor runs the handler " +
                    "on its I/O thread",
            ) {
                val never = Executor { error("not this one") }
                val serve: suspend (TunnelClient) -> Unit = { it.serve(threadName, handlerExecutor = it.executor) }
                withServe(transport, configure = { handlerExecutor(never) }, serve = serve) { client, session ->
                    val io = withContext(client.dispatcher) { Thread.currentThread().name.substringBefore(" @") }
                    if (name == "netty") {
                        io shouldStartWith "tether-io-"
                        get(session, "/b").second shouldBe "/b on $io"
                    } else {
                        // Ktor: Dispatchers.Default
                        get(session, "/b").second shouldStartWith "/b on DefaultDispatcher-worker-"
                    }
                }
            }
        }
    }

    test("the client's dispatcher is the same I/O thread across reconnects") {
        TestProxy().use { proxy ->
            val client = TunnelClient(proxy.config()).connect()
            try {
                val before = withContext(client.dispatcher) { Thread.currentThread().name.substringBefore(" @") }
                coroutineScope {
                    val serving = launch { client.serve(threadName, handlerExecutor = client.executor) }
                    proxy.nextSession().close()
                    get(proxy.nextSession(), "/after").second shouldEndWith " on $before"
                    serving.cancel()
                }
            } finally {
                client.closeAndJoin()
            }
        }
    }
})
