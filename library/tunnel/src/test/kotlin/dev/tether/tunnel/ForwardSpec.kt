package dev.tether.tunnel

import dev.tether.core.WebSocketTransport
import dev.tether.mux.MuxSession
import dev.tether.tunnel.TestProxy.Companion.readExactly
import dev.tether.tunnel.TestProxy.Companion.readToEnd
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeLessThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.net.Socket
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.Duration.Companion.seconds

/** Byte counts the pipe reports through [PipeProbe], and the most the client ever held in each direction. */
private class Probe {
    val threads: MutableSet<String> = ConcurrentHashMap.newKeySet()
    val steps = ConcurrentHashMap<String, AtomicLong>()
    val originWaits = AtomicInteger()
    private val heldDown = AtomicLong() // read from the origin's socket, not yet written into the stream
    private val heldUp = AtomicLong() // read from the stream, not yet taken by the origin's socket
    val maxHeldDown = AtomicLong()
    val maxHeldUp = AtomicLong()

    fun install() {
        PipeProbe.onStep = { step, n ->
            threads += Thread.currentThread().name.substringBefore(" @") // without the coroutine debug suffix
            steps.computeIfAbsent(step) { AtomicLong() }.addAndGet(n.toLong())
            when (step) {
                "socket read" -> maxHeldDown.accumulateAndGet(heldDown.addAndGet(n.toLong()), ::maxOf)
                "stream write" -> heldDown.addAndGet(-n.toLong())
                "stream read" -> maxHeldUp.accumulateAndGet(heldUp.addAndGet(n.toLong()), ::maxOf)
                "origin write" -> heldUp.addAndGet(-n.toLong())
                "origin write waits" -> originWaits.incrementAndGet()
            }
        }
    }

    fun total(step: String): Long = steps[step]?.get() ?: 0
}

private suspend fun <T> probing(block: suspend (Probe) -> T): T {
    val probe = Probe()
    probe.install()
    try {
        return block(probe)
    } finally {
        PipeProbe.onStep = null
    }
}

/** A tunnel client on [transport] registered with a [TestProxy], running `forward(origin)` while [block] runs. */
private suspend fun withForward(
    transport: WebSocketTransport,
    origin: String,
    block: suspend CoroutineScope.(TunnelClient, MuxSession) -> Unit,
) {
    TestProxy().use { proxy ->
        val client = TunnelClient(proxy.config(), TunnelClient.defaultMuxConfig(), transport).connect()
        try {
            val session = proxy.nextSession()
            coroutineScope {
                val forwarding = launch { client.forward(origin) }
                block(client, session)
                forwarding.cancel()
            }
        } finally {
            client.closeAndJoin()
        }
    }
}

/** Waits (bounded) for [condition], checking every few milliseconds. */
private suspend fun eventually(what: String, condition: () -> Boolean) {
    try {
        withTimeout(10.seconds) { while (!condition()) delay(5) }
    } catch (e: Exception) {
        throw AssertionError("timed out waiting for $what", e)
    }
}

private fun pattern(size: Int): ByteArray = ByteArray(size) { (it * 31 + 7).toByte() }

/**
 * TunnelClient.forward: every viewer stream piped to a fresh origin connection, on the Netty transport with the
 * origin's socket on the tunnel connection's I/O thread (no thread hand-off), on Ktor through blocking sockets;
 * half-closes both ways, flow control end to end (the client never holds more than a read in either direction),
 * 502 for an origin that cannot be reached.
 */
class ForwardSpec : FunSpec({
    for ((name, transport) in TestProxy.transports) {
        context("forward on $name") {
            test(
                "a request and its answer cross byte-exact; the proxy's FIN reaches the origin as EOF, the origin's " +
                    "close comes back as FIN",
            ) {
                RawOrigin().use { origin ->
                    withForward(transport, origin.url) { client, session ->
                        probing { probe ->
                            val stream = session.open()
                            val request = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
                            stream.write(request.toByteArray())
                            val answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                            val served = async(Dispatchers.IO) {
                                origin.accept().use { s ->
                                    val head = RawOrigin.readHead(s.getInputStream())
                                    s.getOutputStream().write(answer.toByteArray())
                                    s.getOutputStream().flush()
                                    head to s.getInputStream().readAllBytes() // ends at the proxy's FIN
                                }
                            }
                            String(withTimeout(10.seconds) { readExactly(stream, answer.length) }) shouldBe answer
                            stream.close()
                            val (head, after) = withTimeout(10.seconds) { served.await() }
                            head shouldBe request
                            after.size shouldBe 0
                            withTimeout(10.seconds) { readToEnd(stream) }.size shouldBe 0 // the origin closed: FIN
                            if (name == "netty") {
                                // Every step ran on the one I/O thread of the tunnel's connection.
                                val io = withContext(client.dispatcher) {
                                    Thread.currentThread().name.substringBefore(" @")
                                }
                                io shouldStartWith "tether-io-"
                                probe.threads shouldBe setOf(io)
                                probe.total("stream read") shouldBe request.length.toLong()
                                probe.total("stream write") shouldBe answer.length.toLong()
                            }
                        }
                    }
                }
            }

            test(
                "half-close towards the origin: the origin answers after the proxy's FIN and its close ends the " +
                    "stream",
            ) {
                RawOrigin().use { origin ->
                    withForward(transport, origin.url) { _, session ->
                        val stream = session.open()
                        stream.write("ping".toByteArray())
                        stream.close() // FIN: the request is complete
                        val heard = async(Dispatchers.IO) {
                            origin.accept().use { s ->
                                val got = s.getInputStream().readAllBytes() // EOF: the FIN arrived as a half-close
                                s.getOutputStream().write("pong after ${String(got)}".toByteArray()) // still writable
                                s.shutdownOutput()
                                String(got)
                            }
                        }
                        withTimeout(10.seconds) { heard.await() } shouldBe "ping"
                        String(withTimeout(10.seconds) { readToEnd(stream) }) shouldBe "pong after ping"
                    }
                }
            }

            test("half-close from the origin: its EOF becomes FIN while the proxy may still write to it") {
                RawOrigin().use { origin ->
                    withForward(transport, origin.url) { _, session ->
                        val stream = session.open()
                        val socket = withContext(Dispatchers.IO) {
                            origin.accept().also { s ->
                                s.getOutputStream().write("early".toByteArray())
                                s.shutdownOutput()
                            }
                        }
                        socket.use { s ->
                            // then the client's FIN
                            String(withTimeout(10.seconds) { readToEnd(stream) }) shouldBe "early"
                            stream.write("late".toByteArray())
                            stream.close()
                            String(withContext(Dispatchers.IO) { s.getInputStream().readAllBytes() }) shouldBe "late"
                        }
                    }
                }
            }

            test(
                "an origin that cannot be reached: the viewer is answered 502 and FIN at once, and the rest of its " +
                    "request is drained",
            ) {
                val port = RawOrigin.deadPort()
                withForward(transport, "http://127.0.0.1:$port") { _, session ->
                    val stream = session.open()
                    // More than the window: the client must take it all, or a real proxy would wait for credit for
                    // ever.
                    val body = pattern(64 * 1024)
                    stream.write("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.size}\r\n\r\n".toByteArray())
                    stream.write(body)
                    val answer = String(withTimeout(10.seconds) { readToEnd(stream) }, Charsets.ISO_8859_1)
                    answer shouldStartWith "HTTP/1.1 502 Bad Gateway\r\n"
                    answer shouldContain "127.0.0.1:$port"
                    stream.close()
                }
            }

            test("a slow viewer: the client reads the origin no faster than the stream's window lets it pass on") {
                RawOrigin().use { origin ->
                    withForward(transport, origin.url) { _, session ->
                        probing { probe ->
                            val total = 8 shl 20
                            val data = pattern(total)
                            val stream = session.open()
                            val allRead = java.util.concurrent.CountDownLatch(1)
                            val writer = async(Dispatchers.IO) {
                                origin.accept().use { s ->
                                    s.sendBufferSize = 64 * 1024
                                    s.getOutputStream().write(data)
                                    // FIN only once everything was read: once the peer has closed, an epoll socket
                                    // reads what the kernel still holds at once (to find the end), which is not the
                                    // flow control measured here.
                                    allRead.await(60, java.util.concurrent.TimeUnit.SECONDS)
                                    s.shutdownOutput()
                                    s.getInputStream().readAllBytes() // until the proxy's FIN
                                }
                            }
                            // The proxy reads nothing yet: the client fills the 4 KiB window and must then stop.
                            eventually("the window to fill") { stream.bufferedBytes >= 4096 }
                            withTimeout(30.seconds) { readExactly(stream, total) }.contentEquals(data) shouldBe true
                            allRead.countDown()
                            withTimeout(10.seconds) { readToEnd(stream) }.size shouldBe 0
                            stream.close()
                            withTimeout(10.seconds) { writer.await() }
                            if (name == "netty") {
                                probe.total("socket read") shouldBe total.toLong()
                                // At most one socket read (Netty's buffer, 64 KiB at most) waits for the window.
                                probe.maxHeldDown.get() shouldBeLessThanOrEqual 64L * 1024
                            }
                        }
                    }
                }
            }

            test(
                "a slow origin: the stream's bytes are taken (and credited) no faster than the origin's socket takes " +
                    "them",
            ) {
                RawOrigin().use { origin ->
                    withForward(transport, origin.url) { _, session ->
                        probing { probe ->
                            val total = 8 shl 20
                            val data = pattern(total)
                            val stream = session.open()
                            val accepted = async(Dispatchers.IO) {
                                origin.accept().apply { receiveBufferSize = 64 * 1024 }
                            }
                            val sent = AtomicLong()
                            // A request head first: the client looks for it (Expect) and holds bytes until its end.
                            val head = "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: $total\r\n\r\n".toByteArray()
                            val writer = launch {
                                stream.write(head)
                                var at = 0
                                while (at < total) {
                                    val n = minOf(64 * 1024, total - at)
                                    stream.write(data, at, n)
                                    at += n
                                    sent.set(at.toLong())
                                }
                                stream.close()
                            }
                            val socket: Socket = withTimeout(10.seconds) { accepted.await() }
                            socket.use { s ->
                                if (name == "netty") {
                                    // The origin reads nothing: its socket fills, the client waits for it and stops
                                    // crediting the stream, so the proxy's window runs dry.
                                    eventually("the client to wait for the origin") { probe.originWaits.get() > 0 }
                                    eventually("the proxy's window to run dry") { stream.sendWindow == 0L }
                                }
                                writer.isCompleted shouldBe false
                                val got = withContext(Dispatchers.IO) { s.getInputStream().readAllBytes() }
                                got.size shouldBe head.size + total
                                got.copyOfRange(0, head.size).contentEquals(head) shouldBe true
                                got.copyOfRange(head.size, got.size).contentEquals(data) shouldBe true
                                s.close()
                            }
                            withTimeout(10.seconds) { writer.join() }
                            if (name == "netty") {
                                probe.total("origin write") shouldBe (head.size + total).toLong()
                                // One stream read at a time waits for the origin's socket.
                                probe.maxHeldUp.get() shouldBeLessThanOrEqual 16L * 1024
                            }
                        }
                    }
                }
            }

            test("64 viewers at once each get their own answer; the client keeps serving after a reconnect") {
                RawOrigin().use { origin ->
                    TestProxy().use { proxy ->
                        val client = TunnelClient(proxy.config(), TunnelClient.defaultMuxConfig(), transport).connect()
                        try {
                            coroutineScope {
                                val forwarding = launch { client.forward(origin.url) }
                                val originDone = launch(Dispatchers.IO) {
                                    repeat(2 * 64) {
                                        val s = origin.accept()
                                        Thread({
                                            s.use {
                                                runCatching {
                                                    val head = RawOrigin.readHead(it.getInputStream())
                                                    val path = head.substringAfter(' ').substringBefore(' ')
                                                    it.getOutputStream().write("answer for $path".toByteArray())
                                                    it.shutdownOutput()
                                                    it.getInputStream().readAllBytes()
                                                }
                                            }
                                        }, "origin-$it").apply { isDaemon = true }.start()
                                    }
                                }
                                for (round in 1..2) {
                                    val session = proxy.nextSession()
                                    val answers = (0 until 64).map { i ->
                                        async {
                                            val stream = session.open()
                                            stream.write("GET /v$round-$i HTTP/1.1\r\nHost: h\r\n\r\n".toByteArray())
                                            String(withTimeout(20.seconds) { readToEnd(stream) })
                                                .also { stream.close() }
                                        }
                                    }.map { it.await() }
                                    answers shouldBe (0 until 64).map { "answer for /v$round-$it" }
                                    if (round == 1) session.close() // the client registers again; forward goes on
                                }
                                withTimeout(20.seconds) { originDone.join() }
                                forwarding.cancel()
                            }
                        } finally {
                            client.closeAndJoin()
                        }
                    }
                }
            }

            test(
                "while no forward runs, viewer streams wait for accept(); a forward started later takes those " +
                    "already waiting",
            ) {
                RawOrigin().use { origin ->
                    TestProxy().use { proxy ->
                        val client = TunnelClient(proxy.config(), TunnelClient.defaultMuxConfig(), transport).connect()
                        try {
                            val session = proxy.nextSession()
                            coroutineScope {
                                val early = async { session.open() } // accepted only once someone takes it
                                val taken = withTimeout(10.seconds) { client.accept() }
                                early.await().id shouldBe taken.id
                                taken.close()
                                val waiting = async { session.open() }
                                eventually("the SYN to queue") { client.session!!.streamCount >= 2 }
                                val forwarding = launch { client.forward(origin.url) }
                                val stream = withTimeout(10.seconds) { waiting.await() }
                                val s = withTimeout(10.seconds) { origin.accept() }
                                s.use {
                                    stream.write("hi".toByteArray())
                                    stream.close()
                                    val got = withContext(Dispatchers.IO) { it.getInputStream().readAllBytes() }
                                    String(got) shouldBe "hi"
                                }
                                withTimeout(10.seconds) { readToEnd(stream) }.size shouldBe 0
                                forwarding.cancel()
                            }
                        } finally {
                            client.closeAndJoin()
                        }
                    }
                }
            }
        }
    }

    test("the origin's address: IP literals need no lookup, names are looked up once and reused") {
        val literal = OriginAddress.parse("http://127.0.0.1:8080")
        literal.resolve().address.hostAddress shouldBe "127.0.0.1"
        OriginAddress.parse("[::1]:81").resolve().port shouldBe 81
        val named = OriginAddress.parse("localhost:9")
        val first = named.resolve()
        first.isUnresolved shouldBe false
        (named.resolve() === first) shouldBe true
    }
})
