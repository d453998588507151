package dev.tether.cli

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import picocli.CommandLine
import java.io.ByteArrayOutputStream
import java.io.PrintStream

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
        text shouldContain "every demo section completed"
    }

    test("--help lists the commands") {
        val out = java.io.StringWriter()
        val cmd = CommandLine(TetherCommand()).setOut(java.io.PrintWriter(out))
        cmd.execute("--help") shouldBe 0
        out.toString() shouldContain "demo"
        out.toString() shouldContain "serve"
    }
})
