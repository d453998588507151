package dev.tether.tunnel

import dev.tether.core.ConnectionState
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.matchers.types.shouldBeSameInstanceAs
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import java.net.InetAddress
import java.net.ServerSocket
import java.util.concurrent.CompletionException
import kotlin.concurrent.thread
import kotlin.time.Duration.Companion.seconds

/** A proxy that answers every registration with [status]: the client must not retry a 4xx. */
private class RefusingProxy(status: Int) : AutoCloseable {
    private val socket = ServerSocket(0, 8, InetAddress.getLoopbackAddress())
    val url: String = "http://127.0.0.1:${socket.localPort}"
    private val acceptor = thread(isDaemon = true, name = "refusing-proxy") {
        while (!socket.isClosed) {
            val conn = runCatching { socket.accept() }.getOrNull() ?: break
            conn.use {
                val input = it.getInputStream().bufferedReader(Charsets.ISO_8859_1)
                while (input.readLine()?.isNotEmpty() == true) Unit
                it.getOutputStream().write("HTTP/1.1 $status Refused\r\nContent-Length: 0\r\n\r\n".toByteArray())
            }
        }
    }

    override fun close() {
        socket.close()
        acceptor.join(5_000)
    }
}

class TunnelClientLifecycleSpec : FunSpec({
    test("the constructor does no I/O; connect registers and returns the same client") {
        TestProxy().use { proxy ->
            val client = TunnelClient(proxy.config())
            try {
                client.state.value shouldBe ConnectionState.IDLE
                client.session shouldBe null
                client.isConnected shouldBe false
                client.connect() shouldBeSameInstanceAs client
                proxy.nextSession().isOpen shouldBe true
                client.state.value shouldBe ConnectionState.CONNECTED
                client.isConnected shouldBe true
                // Idempotent: a second connect waits for the same registration, and registers nothing new.
                client.connect() shouldBeSameInstanceAs client
            } finally {
                client.closeAndJoin()
            }
        }
    }

    test("a refused registration fails connect with the typed error; the client ends with that reason") {
        RefusingProxy(409).use { proxy ->
            val client = TunnelClient(TunnelConfig("t1", proxy.url) { token(TunnelTokens.testToken("t1")) })
            val e = withTimeout(10.seconds) { shouldThrow<RetryFailedException> { client.connect() } }
            e.status shouldBe 409
            client.awaitClosed() shouldBeSameInstanceAs e
            client.closedFuture().getNow(null) shouldBeSameInstanceAs e
            client.state.value shouldBe ConnectionState.CLOSED
            // Every later call fails at once with the same reason; closing again is harmless.
            shouldThrow<RetryFailedException> { client.accept() } shouldBeSameInstanceAs e
            shouldThrow<CompletionException> { client.connectAsync().join() }.cause shouldBeSameInstanceAs e
            client.closeAndJoin()
            client.awaitClosed() shouldBeSameInstanceAs e
        }
    }

    test("awaitClosed waits for close and returns TunnelClosedException; a waiting accept fails at once") {
        TestProxy().use { proxy ->
            val client = TunnelClient(proxy.config()).connect()
            coroutineScope {
                val ended = async(start = CoroutineStart.UNDISPATCHED) { client.awaitClosed() }
                val accepting = async(start = CoroutineStart.UNDISPATCHED) { runCatching { client.accept() } }
                ended.isCompleted shouldBe false
                accepting.isCompleted shouldBe false
                client.closeAndJoin()
                ended.await().shouldBeInstanceOf<TunnelClosedException>()
                accepting.await().exceptionOrNull().shouldBeInstanceOf<TunnelClosedException>()
            }
            client.session!!.isOpen shouldBe false
        }
    }

    test("close before connect: connect fails with TunnelClosedException and registers nothing") {
        TestProxy().use { proxy ->
            val client = TunnelClient(proxy.config())
            client.close()
            shouldThrow<TunnelClosedException> { client.connect() }
            client.awaitClosed().shouldBeInstanceOf<TunnelClosedException>()
            client.session shouldBe null
        }
    }
})
