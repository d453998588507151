package dev.tether.cli

import dev.tether.core.backoff.GuardBackoff
import dev.tether.relay.AuthToken
import dev.tether.relay.ManagerConfig
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayConn
import dev.tether.relay.TokenStore
import dev.tether.testkit.relay.FakeRelayServer
import io.kotest.assertions.fail
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import picocli.CommandLine
import java.io.InputStream
import java.io.InterruptedIOException
import java.io.OutputStream
import java.io.PrintStream
import java.util.concurrent.LinkedBlockingQueue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** Output that publishes everything written so far, so a test can await a text. */
private class Captured : OutputStream() {
    val text = MutableStateFlow("")

    @Synchronized override fun write(b: Int) {
        text.value += b.toChar()
    }

    @Synchronized override fun write(b: ByteArray, off: Int, len: Int) {
        text.value += String(b, off, len)
    }

    suspend fun await(part: String) {
        withTimeoutOrNull(20.seconds) { text.first { it.contains(part) } }
            ?: fail("waited 20 s for \"$part\"; got:\n${text.value}")
    }
}

/** Standard input as a terminal gives it: one read per typed line, blocking until the next one, -1 after [end]. */
private class Keyboard : InputStream() {
    private val lines = LinkedBlockingQueue<ByteArray>()

    fun type(text: String) = lines.put(text.encodeToByteArray())

    fun end() = lines.put(EOF)

    override fun read(): Int = throw UnsupportedOperationException("the command reads blocks")

    override fun read(b: ByteArray, off: Int, len: Int): Int {
        val line = try {
            lines.take()
        } catch (e: InterruptedException) {
            throw InterruptedIOException("interrupted")
        }
        if (line === EOF) {
            lines.put(EOF)
            return -1
        }
        require(line.size <= len)
        line.copyInto(b, off)
        return line.size
    }

    private companion object {
        val EOF = ByteArray(0)
    }
}

/** `tether relay --id alice-key --peer bob-key` run in-process, with a quick guard. */
private class Alice(url: String, secret: String, vararg extra: String) {
    val keyboard = Keyboard()
    val out = Captured()
    val err = Captured()
    private val command = RelayCommand(keyboard, out, PrintStream(err, true)).apply {
        managerConfig = ManagerConfig {
            quickReconnectDelay(20.milliseconds)
            backoff(GuardBackoff(initialInterval = 20.milliseconds, maxInterval = 200.milliseconds))
        }
    }
    private val args = arrayOf("--url", url, "--secret", secret, "--id", "alice-key", "--peer", "bob-key", *extra)

    /** Awaits [part] on standard output; a timeout shows standard error too. */
    suspend fun awaitOut(part: String) {
        withTimeoutOrNull(20.seconds) { out.text.first { it.contains(part) } }
            ?: fail(
                "waited 20 s for \"$part\" on standard output; got:\n${out.text.value}\n" +
                    "standard error:\n${err.text.value}",
            )
    }

    fun start(scope: kotlinx.coroutines.CoroutineScope): Deferred<Int> =
        scope.async(Dispatchers.IO) { CommandLine(command).execute(*args) }
}

private suspend fun RelayConn.readText(): String = withTimeout(20.seconds) { read() }.decodeToString()

/**
 * Bob, a plain relay client: [openConn] connects a new client (a client has one session) and opens his side;
 * [awaitEnded] returns when that client's session ends.
 */
private class Bob(private val url: String, private val secret: String) : AutoCloseable {
    @Volatile private var client: RelayClient? = null

    suspend fun openConn(): RelayConn = withTimeout(20.seconds) {
        client?.closeAndJoin()
        val fresh = RelayClient(url, TokenStore(AuthToken.generate(secret)), "bob-key")
        client = fresh
        fresh.connect()
        fresh.openConn("alice-key")
    }

    suspend fun awaitEnded() = withTimeout(20.seconds) { client!!.awaitClosed() }

    override fun close() {
        client?.close()
    }
}

class RelayCommandSpec : FunSpec({
    test("tether relay pipes standard input to the peer and the peer's messages to standard output") {
        FakeRelayServer.start().use { relay ->
            Bob(relay.url, relay.secret).use { bob ->
                coroutineScope {
                    val alice = Alice(relay.url, relay.secret)
                    val exit = alice.start(this)
                    val conn = bob.openConn()
                    alice.keyboard.type("hello bob\n")
                    conn.readText() shouldBe "hello bob\n"
                    conn.write("hello alice\n".toByteArray())
                    alice.awaitOut("hello alice")
                    alice.keyboard.end() // end of input ends the command
                    withTimeout(20.seconds) { exit.await() } shouldBe 0
                }
            }
        }
    }

    test(
        "tether relay survives a relay restart: it waits for the relay and the peer, holds what is typed meanwhile, " +
            "and pipes again",
    ) {
        val first = FakeRelayServer.start()
        val port = first.port
        val secret = first.secret
        Bob(first.url, secret).use { bob ->
            coroutineScope {
                val alice = Alice(first.url, secret)
                val exit = alice.start(this)
                var conn = bob.openConn()
                alice.keyboard.type("before\n")
                conn.readText() shouldBe "before\n"
                conn.write("reply before\n".toByteArray())
                alice.awaitOut("reply before\n")

                first.close() // the relay goes down: Close to every peer
                bob.awaitEnded()
                alice.err.await("lost bob-key")
                alice.err.await("waiting for the relay ${first.url} to come back")
                alice.keyboard.type("while away\n")
                alice.err.await("holding 11 bytes (1 line)")

                FakeRelayServer.start {
                    port(port)
                    secret(secret)
                }.use { second ->
                    // the relay is back, same address
                    conn = bob.openConn()
                    conn.readText() shouldBe "while away\n" // the held line, sent once bob-key was back
                    alice.err.await("relay ${second.url} is back")
                    alice.err.await("connected to bob-key again; sending the 11 bytes (1 line) held")
                    alice.keyboard.type("after restart\n")
                    conn.readText() shouldBe "after restart\n"
                    conn.write("reply after restart\n".toByteArray())
                    alice.awaitOut("reply after restart\n")
                    alice.keyboard.end()
                    withTimeout(20.seconds) { exit.await() } shouldBe 0
                }
                alice.out.text.value shouldBe "reply before\nreply after restart\n"
            }
        }
    }

    test(
        "tether relay waits for a peer that went offline; input that ends while the peer is away with nothing held " +
            "ends the command",
    ) {
        FakeRelayServer.start().use { relay ->
            coroutineScope {
                val alice = Alice(relay.url, relay.secret)
                val exit = alice.start(this)
                Bob(relay.url, relay.secret).use { bob ->
                    bob.openConn().write("first bob\n".toByteArray())
                    alice.awaitOut("first bob\n")
                } // bob's session ends: the relay tells alice he went offline
                alice.err.await("lost bob-key (relay connection closed: the remote peer went offline)")
                alice.keyboard.type("for later\n")
                alice.err.await("bob-key is not connected; holding 10 bytes (1 line) until it is")

                Bob(relay.url, relay.secret).use { bob ->
                    val conn = bob.openConn()
                    conn.readText() shouldBe "for later\n"
                    alice.err.await("connected to bob-key again")
                    conn.write("second bob\n".toByteArray())
                    alice.awaitOut("second bob\n")
                }
                alice.err.await("lost bob-key")
                alice.keyboard.end() // nothing held: no reason to wait for bob-key
                withTimeout(20.seconds) { exit.await() } shouldBe 0
                alice.err.text.value.contains("were not sent") shouldBe false
            }
        }
    }

    test("tether relay --once ends with exit 1 when the relay goes away") {
        FakeRelayServer.start().use { relay ->
            Bob(relay.url, relay.secret).use { bob ->
                coroutineScope {
                    val alice = Alice(relay.url, relay.secret, "--once")
                    val exit = alice.start(this)
                    val conn = bob.openConn()
                    alice.keyboard.type("hello\n")
                    conn.readText() shouldBe "hello\n"
                    relay.faults.dropAll()
                    withTimeout(20.seconds) { exit.await() } shouldBe 1
                    alice.err.text.value shouldContain "tether relay: relay connection closed"
                    alice.err.text.value.contains("waiting for") shouldBe true // only the first wait for bob-key
                    alice.err.text.value.contains("lost bob-key") shouldBe false
                }
            }
        }
    }

    test(
        "tether relay ends with exit 1 when the relay cannot be reached at start, and 2 for a URL that is not a " +
            "relay URL",
    ) {
        val gone = FakeRelayServer.start().also { it.close() }
        coroutineScope {
            val alice = Alice(gone.url, gone.secret)
            withTimeout(30.seconds) { alice.start(this).await() } shouldBe 1
            alice.err.text.value shouldContain "tether relay: no relay server available"

            val bad = Alice("http://127.0.0.1:1", "s")
            withTimeout(10.seconds) { bad.start(this).await() } shouldBe 2
            bad.err.text.value shouldContain "rel:// or rels://"
        }
    }
})
