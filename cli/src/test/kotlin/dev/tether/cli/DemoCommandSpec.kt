package dev.tether.cli

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import picocli.CommandLine
import java.io.ByteArrayOutputStream
import java.io.PrintStream

/** The counts of the demo's `stats of <client>:` block (the lines after it that are not timestamped). */
private fun String.statsOf(client: String): Map<String, Long> {
    val lines = lines()
    val header = lines.indexOfFirst { it.endsWith("≡ stats of $client:") }
    check(header >= 0) { "no stats block for $client in the demo's output" }
    val count = Regex("""^(.+) (\d+)$""")
    return lines.drop(header + 1).takeWhile { it.startsWith(" ".repeat(14)) }
        .flatMap { it.trim().split(" · ") }
        .associate { entry -> count.matchEntire(entry)!!.destructured.let { (name, n) -> name to n.toLong() } }
}

private fun Map<String, Long>.count(name: String): Long = getValue(name)

class DemoCommandSpec : FunSpec({
    test("tether demo runs every section against the embedded fakes and says so") {
        val captured = ByteArrayOutputStream()
        val original = System.out
        val code = try {
            System.setOut(PrintStream(captured, true, Charsets.UTF_8))
            CommandLine(TetherCommand()).execute("demo")
        } finally {
            System.setOut(original)
        }
        val text = captured.toString(Charsets.UTF_8)
        code shouldBe 0
        text shouldContain "register.ack"
        text shouldContain "broker's turn request answered: turn.result"
        text shouldContain "authentication failed (HTTP 401)"
        text shouldContain "reconnected with the rotated token"
        text shouldContain "counted 1 malformed and 1 binary frame(s)"
        text shouldContain "keepalive expiry detected: MuxKeepAliveExpiredException"
        text shouldContain "read them back byte for byte"
        text shouldContain "registered again; public URL still"
        text shouldContain "-> \"hello from the local server: GET /again\""
        text shouldContain "call demo.add(2, 40) over tcp/msgpack -> 42"
        text shouldContain "event received over WebSocket/JSON: \"hello subscribers\""
        text shouldContain "wampcra auth: bob joined realm private"
        for (t in listOf("ws/msgpack", "ws/cbor", "tcp/json", "unix/cbor", "wss/json", "tcps/msgpack")) {
            text shouldContain "call demo.add(2, 40) over $t -> 42"
        }
        text shouldContain "call demo.add(2, 40) in-process (connectLocal, no socket) -> 42"
        text shouldContain "progressive call demo.countdown(3): progress [3, 2, 1], then \"liftoff\""
        text shouldContain "anonymous: joined realm1 as anonymous"
        text shouldContain "ticket auth: alice joined realm private (authmethod ticket)"
        text shouldContain "wampcra salted auth (PBKDF2): dave joined realm private"
        text shouldContain "cryptosign auth (ed25519): carol joined realm private (authmethod cryptosign)"
        text shouldContain "a wrong ticket is refused: ABORT wamp.error.authentication_failed"
        text shouldContain "alice -> bob: \"hello bob\"; bob -> alice: \"hello alice\""
        text shouldContain "alice's manager dialled the foreign relay: foreign relays [rel://127.0.0.1:"
        text shouldContain "alice online there: true"
        text shouldContain "alice -> carol: \"hello carol\"; carol -> alice: \"hello alice, from the foreign relay\""
        text shouldContain "alice's unused foreign relay closed by the manager's cleanup (foreign relays now [])"
        text shouldContain "alice's close listener fired for the home relay; isConnected=false"
        text shouldContain "the guard reconnected alice (Connected event after "
        text shouldContain "alice -> bob: \"hello bob\"; bob -> alice: \"hello alice\" (through the restarted relay)"
        text shouldContain "every demo section completed"
        // Each non-WAMP section ends with its client's counters, and they counted what the section did.
        text.statsOf("the wsclient client").let {
            it.count("connections") shouldBeGreaterThan 2 // the first, after the drop, after the rotation
            it.count("reconnects") shouldBeGreaterThan 1
            it.count("dial failures") shouldBeGreaterThan 0 // the refused token-1
            it.count("messages out") shouldBeGreaterThan 0
            it.count("bytes in") shouldBeGreaterThan 0
            it.count("drops") shouldBeGreaterThan 0
            it.count("malformed frames") shouldBe 1L
            it.count("binary frames") shouldBe 1L
        }
        text.statsOf("the wsmux session").let {
            it.count("streams opened") shouldBe 4L
            it.count("stream bytes out") shouldBe 1_104_106L // 10 + 4096 + 100 000 + 1 000 000
            it.count("stream bytes in") shouldBe 1_104_106L
            it.count("messages out") shouldBeGreaterThan 0
        }
        text.statsOf("the tunnel client").let {
            it.count("registrations") shouldBe 2L
            it.count("tunnel reconnects") shouldBe 1L
            it.count("requests forwarded") shouldBe 2L
            it.count("bytes out") shouldBeGreaterThan 0
        }
        text.statsOf("alice's relay connections").let {
            it.count("connections") shouldBeGreaterThan 2 // home, the foreign relay, home again after the restart
            it.count("messages out") shouldBeGreaterThan 0
            it.count("bytes in") shouldBeGreaterThan 0
        }
    }

    test("--help lists the commands") {
        val out = java.io.StringWriter()
        val cmd = CommandLine(TetherCommand()).setOut(java.io.PrintWriter(out))
        cmd.execute("--help") shouldBe 0
        out.toString() shouldContain "demo"
        out.toString() shouldContain "serve"
        out.toString() shouldContain "tunnel"
    }

    test("serve lists every fake and tunnel validates its arguments before dialling") {
        val fakes = CommandLine(TetherCommand()).subcommands.getValue("serve").subcommands.keys
        fakes shouldBe setOf("broker", "mux", "proxy", "router", "relay")
        val err = java.io.StringWriter()
        val status = CommandLine(TetherCommand()).setErr(java.io.PrintWriter(err))
            .execute("tunnel", "--proxy", "http://127.0.0.1:1", "--id", "x", "--to", "http://127.0.0.1:2")
        status shouldBe 2 // picocli: missing --token or --secret
        err.toString() shouldContain "--token"
    }
})
