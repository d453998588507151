package dev.tether.cli

import dev.tether.relay.RelayClient
import dev.tether.testkit.relay.FakeRelayServer
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import picocli.CommandLine
import java.io.OutputStream
import java.io.PipedInputStream
import java.io.PipedOutputStream
import java.io.PrintStream
import kotlin.time.Duration.Companion.seconds

/** Standard output that publishes everything written so far, so a test can await a text. */
private class Captured : OutputStream() {
    val text = MutableStateFlow("")
    @Synchronized override fun write(b: Int) { text.value += b.toChar() }
    @Synchronized override fun write(b: ByteArray, off: Int, len: Int) { text.value += String(b, off, len) }
}

class RelayCommandSpec : FunSpec({
    test("tether relay pipes standard input to the peer and the peer's messages to standard output") {
        FakeRelayServer.start().use { relay ->
            RelayClient(relay.url, relay.tokenStore(), "bob-key").use { bob ->
                bob.connect()
                val typing = PipedOutputStream()
                val stdin = PipedInputStream(typing)
                val stdout = Captured()
                val (oldIn, oldOut) = System.`in` to System.out
                System.setIn(stdin)
                System.setOut(PrintStream(stdout, true))
                try {
                    val exit = async(Dispatchers.IO) {
                        CommandLine(TetherCommand()).execute("relay", "--url", relay.url, "--secret", relay.secret, "--id", "alice-key", "--peer", "bob-key")
                    }
                    val conn = withTimeout(20.seconds) { bob.openConn("alice-key") }
                    typing.write("hello bob\n".toByteArray())
                    typing.flush()
                    withTimeout(10.seconds) { conn.read() }.decodeToString() shouldBe "hello bob\n"
                    conn.write("hello alice\n".toByteArray())
                    withTimeout(10.seconds) { stdout.text.first { it.contains("hello alice") } }
                    typing.close() // end of input ends the command
                    withTimeout(20.seconds) { exit.await() } shouldBe 0
                } finally {
                    System.setIn(oldIn)
                    System.setOut(oldOut)
                }
            }
        }
    }
})
