package dev.tether.docs

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.core.WebSocketTransport
import dev.tether.core.WsMessage
import dev.tether.testkit.FakeBroker
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldStartWith
import io.ktor.client.HttpClient
import io.ktor.client.engine.cio.CIO
import io.ktor.client.plugins.websocket.WebSockets
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.time.Duration.Companion.seconds

/** The examples of transport.md, run against the fake broker. */
class TransportExamplesSpec : FunSpec({
    val broker = FakeBroker.start()
    afterSpec { broker.close() }

    test("choose a transport") {
        // docs:start choose
        val netty = DialerConfig(broker.url) { transport(WebSocketTransport.netty()) } // the default
        val ktor = DialerConfig(broker.url) { transport(WebSocketTransport.ktor()) } // Ktor's CIO client

        // Your own Ktor client (engine, proxy, plugins): Tether uses it and never closes it.
        val mine = HttpClient(CIO) { install(WebSockets) }
        val yours = DialerConfig(broker.url) { transport(WebSocketTransport.ktor(mine)) }
        // docs:end choose
        for (config in listOf(netty, ktor, yours)) {
            WebSocketDialer(config.toBuilder().token(broker.token).build()).use { dialer ->
                val connection = dialer.dial()
                connection.send(Envelope.request("echo", "{}").encode())
                withTimeout(10.seconds) { connection.incoming.receive() as WsMessage.Text }
                connection.close()
            }
        }
        mine.close()
    }

    test("latency-critical code on the client's I/O thread") {
        WsClient(WsClientConfig(broker.url, EnvelopeHandler { }) { authToken(broker.token) }).use { client ->
            client.start()
            // docs:start dispatcher
            // Short, non-blocking work only: while it runs, the connection is not read.
            val replies = withContext(client.dispatcher) {
                List(100) { client.request(Envelope.request("echo", "{\"n\":$it}")).payload }
            }
            // docs:end dispatcher
            replies.size shouldBe 100
            withContext(client.dispatcher) { Thread.currentThread().name } shouldStartWith "tether-io"
        }
    }

    test("where a handler runs") {
        val seen = java.util.concurrent.LinkedBlockingQueue<String>()
        val handlers = java.util.concurrent.Executors.newSingleThreadExecutor { r -> Thread(r, "my-handlers") }
        // docs:start handler
        val config = WsClientConfig(broker.url, EnvelopeHandler { seen.add(Thread.currentThread().name) }) {
            authToken(broker.token)
            handlerExecutor(handlers) // default: a library thread where the handler may block
        }
        // docs:end handler
        WsClient(config).use { client ->
            client.start()
            val registration = """{"name":"docs","session_id":"s","provider":"p","context_mode":"thread"}"""
            client.request(Envelope.request("register", registration))
            broker.turnAsync("docs", "{}", Duration.ofSeconds(10))
            val thread = withTimeout(10.seconds) {
                kotlinx.coroutines.runInterruptible { seen.poll(10, java.util.concurrent.TimeUnit.SECONDS) }
            }!!
            thread.substringBefore(" @") shouldBe "my-handlers"
        }
        handlers.shutdownNow()
    }
})
