package dev.tether.cli

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainAll
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import picocli.CommandLine
import java.io.PrintWriter
import java.io.StringWriter

/** Every command of the tree, as the argument path that reaches it from `tether`. */
private fun commandPaths(line: CommandLine, path: List<String> = emptyList()): List<List<String>> =
    listOf(path) + line.subcommands.flatMap { (name, sub) -> commandPaths(sub, path + name) }

private class Run(val exit: Int, val out: String, val err: String)

private fun run(vararg args: String): Run {
    val out = StringWriter()
    val err = StringWriter()
    val line = CommandLine(TetherCommand()).setOut(PrintWriter(out)).setErr(PrintWriter(err))
    val exit = line.execute(*args)
    return Run(exit, out.toString(), err.toString())
}

class CommandTreeSpec : FunSpec({
    val paths = commandPaths(CommandLine(TetherCommand()))

    test("the walk finds the whole tree, so a new subcommand is covered without editing this test") {
        paths.map { it.joinToString(" ") } shouldContainAll listOf(
            "", "demo", "serve", "serve broker", "serve mux", "serve proxy", "serve router", "serve relay", "tunnel",
            "relay",
            "wamp", "wamp call", "wamp publish", "wamp subscribe", "wamp register", "wamp sessions",
        )
    }

    test("every command declares the standard help options and the shared version provider") {
        fun check(line: CommandLine) {
            val spec = line.commandSpec
            withClue(spec.qualifiedName()) {
                spec.mixinStandardHelpOptions() shouldBe true
                spec.versionProvider().shouldBeInstanceOf<TetherVersion>()
            }
            line.subcommands.values.forEach(::check)
        }
        check(CommandLine(TetherCommand()))
    }

    test("every command answers --help with exit 0 and its usage on standard output, required options or not") {
        for (path in paths) {
            val r = run(*(path + "--help").toTypedArray())
            withClue("tether ${path.joinToString(" ")} --help: ${r.err}") {
                r.exit shouldBe 0
                r.err shouldBe ""
                r.out shouldStartWith "Usage: tether"
                r.out shouldContain (listOf("tether") + path).joinToString(" ")
                r.out shouldContain "--version"
            }
        }
    }

    test("every command answers --version with exit 0 and the one version text") {
        val expected = TetherVersion().version.single()
        expected shouldStartWith "tether "
        (expected == "tether unknown") shouldBe false // Maven filtered the version in
        for (path in paths) {
            val r = run(*(path + "--version").toTypedArray())
            withClue("tether ${path.joinToString(" ")} --version: ${r.err}") {
                r.exit shouldBe 0
                r.err shouldBe ""
                r.out.trim() shouldBe expected
            }
        }
    }

    test("-h and -V are the short forms") {
        run("relay", "-h").exit shouldBe 0
        run("serve", "mux", "-V").out.trim() shouldBe TetherVersion().version.single()
    }

    test("a missing required option is still an error when no help is asked for") {
        val r = run("relay", "--url", "rel://127.0.0.1:1")
        r.exit shouldBe 2
        r.err shouldContain "Missing required options"
        val wamp = run("wamp", "call", "com.example.add")
        wamp.exit shouldBe 2
        wamp.err shouldContain "Missing required option: '--url=URL'"
    }
})
