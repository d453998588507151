package dev.tether.docs

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import dev.tether.mux.MuxSessionClosedException
import dev.tether.mux.ReadTimeoutException
import dev.tether.mux.Stream
import dev.tether.mux.WriteTimeoutException
import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.mux.StreamBehaviour
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream
import java.time.Duration
import kotlin.time.Duration.Companion.seconds

/** The Kotlin examples of mux.md, each run against the testkit's FakeMuxServer. */
class MuxExamplesSpec : FunSpec({

    /** Reads [stream] until the peer's FIN. */
    suspend fun readToEnd(stream: Stream): ByteArray {
        val out = ByteArrayOutputStream()
        val buffer = ByteArray(1024)
        while (true) {
            val n = stream.read(buffer)
            if (n < 0) break
            out.write(buffer, 0, n)
        }
        return out.toByteArray()
    }

    test("quick start: one stream echoed by the fake") {
        withTimeout(10.seconds) {
            // docs:start quickstart
            FakeMuxServer.start().use { fake ->
                // a wsmux server that echoes every stream
                WebSocketDialer(DialerConfig(fake.url)).use { dialer ->
                    val session = MuxSession.client(dialer.dial()) // client session: odd stream ids
                    val stream = session.open() // SYN, then waits for the peer's ACK
                    stream.write("hello, wsmux".toByteArray())
                    stream.close() // half-close: sends FIN, reading goes on

                    val echoed = ByteArrayOutputStream()
                    val buffer = ByteArray(1024)
                    while (true) {
                        val n = stream.read(buffer) // -1 once the peer's FIN arrived
                        if (n < 0) break
                        echoed.write(buffer, 0, n)
                    }
                    echoed.toString(Charsets.UTF_8) shouldBe "hello, wsmux"
                    session.close()
                }
            }
            // docs:end quickstart
        }
    }

    test("many streams share one connection, each with its own window") {
        FakeMuxServer.start().use { fake ->
            WebSocketDialer(DialerConfig(fake.url)).use { dialer ->
                val session = MuxSession.client(dialer.dial())
                withTimeout(10.seconds) {
                    val payloads = (1..5).map { i -> ByteArray(10_000) { (it * i).toByte() } }
                    val streams = payloads.map { session.open() }
                    streams.map { it.id } shouldBe listOf(1L, 3L, 5L, 7L, 9L)
                    val writers = streams.zip(payloads).map { (s, p) ->
                        launch {
                            s.write(p)
                            s.close()
                        }
                    }
                    for ((s, p) in streams.zip(payloads)) readToEnd(s).contentEquals(p) shouldBe true
                    writers.forEach { it.join() }
                }
                fake.overrunsSeen() shouldBe 0
                session.close()
            }
        }
    }

    test("configuration") {
        // docs:start config
        val config = MuxConfig {
            keepAliveInterval(Duration.ofSeconds(20)) // ping period and pong bound on Ktor sessions; ZERO = off
            streamAcceptDeadline(Duration.ofSeconds(30)) // how long open() waits for the peer's ACK
            streamBufferSize(4096) // receive window per stream, announced in our ACKs
            autoTuneMaxWindow(256 * 1024) // let busy streams grow their window up to 256 KiB
            closeCallback { println("session ended") } // runs once, on a library thread
        }
        // docs:end config
        config.streamBufferSize shouldBe 4096
        config.autoTuneMaxWindow shouldBe 256 * 1024
        MuxConfig.DEFAULT.streamBufferSize shouldBe 1024
        MuxConfig.DEFAULT.keepAliveInterval shouldBe Duration.ofSeconds(20)
        MuxConfig.DEFAULT.streamAcceptDeadline shouldBe Duration.ofSeconds(30)
    }

    test("flow control and timeouts against a peer that never reads") {
        withTimeout(10.seconds) {
            // docs:start flow-control
            FakeMuxServer.start { behaviour(StreamBehaviour.STALL) }.use { fake ->
                // accepts, never reads or writes
                WebSocketDialer(DialerConfig(fake.url)).use { dialer ->
                    val session = MuxSession.client(dialer.dial())
                    val stream = session.open()
                    stream.sendWindow shouldBe 4096L // the peer's ACK granted its 4096-byte capacity
                    stream.write(ByteArray(4096)) // fits: returns once sent
                    stream.sendWindow shouldBe 0L // the next write waits for credit...

                    stream.writeTimeout = Duration.ofMillis(100) // ...at most this long per write
                    shouldThrow<WriteTimeoutException> { stream.write(byteArrayOf(1)) }

                    stream.readTimeout = Duration.ofMillis(100) // like Socket.setSoTimeout
                    shouldThrow<ReadTimeoutException> { stream.read(ByteArray(16)) }
                    session.close()
                }
            }
            // docs:end flow-control
        }
    }

    test("a stream opened by the server arrives through accept") {
        FakeMuxServer.start().use { fake ->
            WebSocketDialer(DialerConfig(fake.url)).use { dialer ->
                withTimeout(10.seconds) {
                    // docs:start accept
                    val session = MuxSession.client(dialer.dial())
                    fake.awaitSessions(1)
                    launch {
                        // the server side opens a stream (even id)
                        val out = fake.sessions().first().open()
                        out.write("pushed by the server".toByteArray())
                        out.close()
                    }
                    val incoming = session.accept() // ACKs it with our streamBufferSize
                    incoming.id shouldBe 0L
                    readToEnd(incoming).decodeToString() shouldBe "pushed by the server"
                    // docs:end accept
                    session.close()
                }
            }
        }
    }

    test("a dropped connection fails the session and its streams") {
        FakeMuxServer.start { behaviour(StreamBehaviour.STALL) }.use { fake ->
            WebSocketDialer(DialerConfig(fake.url)).use { dialer ->
                withTimeout(10.seconds) {
                    // docs:start session-drop
                    val session = MuxSession.client(dialer.dial())
                    val stream = session.open()
                    fake.faults.dropAll() // the network goes away

                    val reason = session.awaitClosed() // why the session ended
                    reason.shouldBeInstanceOf<MuxSessionClosedException>()
                    shouldThrow<MuxSessionClosedException> { stream.read(ByteArray(16)) } // no FIN came: fails loudly
                    shouldThrow<MuxSessionClosedException> { session.open() } // a session is not reusable
                    // docs:end session-drop
                }
            }
        }
    }
})
