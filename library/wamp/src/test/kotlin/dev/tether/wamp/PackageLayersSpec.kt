package dev.tether.wamp

import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.ints.shouldBeGreaterThan
import io.kotest.matchers.shouldBe
import java.io.File

/**
 * The packages of tether-wamp are layers, each using only the ones below it:
 *
 * ```
 * dev.tether.wamp                  WampSession, WampClient, options, payloads      (top)
 * dev.tether.wamp.transport        WampTransport, SocketDialer, WebSocket and RawSocket peers
 * dev.tether.wamp.serializer, .auth
 * dev.tether.wamp.message, .rawsocket
 * dev.tether.wamp.error            the sealed WampException branch                   (bottom)
 * ```
 *
 * Reads the main sources (tests run in the module directory) and fails on an import, or a fully qualified name in
 * code, that reaches from a package to one in its own layer or above, naming the file and the import.
 */
class PackageLayersSpec : FunSpec({
    val sources = File("src/main/kotlin/dev/tether/wamp")

    test("the main sources are where this spec reads them") {
        sources.isDirectory shouldBe true
        sources.walkTopDown().count { it.name.endsWith(".kt") } shouldBeGreaterThan 30
    }

    test("no package of tether-wamp uses a package above it or beside it") {
        val problems = sources.walkTopDown().filter { it.isFile && it.name.endsWith(".kt") }.sortedBy { it.path }
            .flatMap { PackageLayers.violations(it.relativeTo(sources).path, it.readText()) }
            .toList()
        problems.shouldBeEmpty()
    }

    test("the check reports an upward import, naming the file and the import") {
        val source = """
            package dev.tether.wamp.message

            import dev.tether.wamp.WampSession
            import dev.tether.wamp.error.ProtocolViolationException
            import dev.tether.wamp.transport.Peer as P

            internal val x = 1
        """.trimIndent()
        PackageLayers.violations("message/Bad.kt", source) shouldContainExactly listOf(
            "message/Bad.kt: dev.tether.wamp.message imports dev.tether.wamp.WampSession (layer 4 ≥ its 1)",
            "message/Bad.kt: dev.tether.wamp.message imports dev.tether.wamp.transport.Peer (layer 3 ≥ its 1)",
        )
    }

    test("the check reports a fully qualified upward name in code, but not in comments or strings") {
        val source = """
            package dev.tether.wamp.serializer

            /** See [dev.tether.wamp.WampSession]. */
            internal fun f(): Any = dev.tether.wamp.transport.LocalPeer.pair() // dev.tether.wamp.WampClient
            internal val s = "dev.tether.wamp.WampClient"
        """.trimIndent()
        PackageLayers.violations("serializer/Bad.kt", source) shouldContainExactly listOf(
            "serializer/Bad.kt: dev.tether.wamp.serializer names dev.tether.wamp.transport.LocalPeer " +
                "(layer 3 ≥ its 2)",
        )
    }

    test("a sideways import within one layer is refused, and a new package must be given a layer") {
        val sideways = "package dev.tether.wamp.auth\n\nimport dev.tether.wamp.serializer.Serializer\n"
        PackageLayers.violations("auth/Bad.kt", sideways) shouldContainExactly listOf(
            "auth/Bad.kt: dev.tether.wamp.auth imports dev.tether.wamp.serializer.Serializer (layer 2 ≥ its 2)",
        )
        withClue("unknown package") {
            PackageLayers.violations("extra/New.kt", "package dev.tether.wamp.extra\n") shouldContainExactly listOf(
                "extra/New.kt: package dev.tether.wamp.extra has no layer in PackageLayers.LAYERS",
            )
        }
    }
})

/** The layer rule [PackageLayersSpec] checks, as a function of one source file. */
internal object PackageLayers {
    private const val ROOT = "dev.tether.wamp"

    /** Sub-packages by layer, bottom first; "" is the root package. */
    val LAYERS: List<Set<String>> = listOf(
        setOf("error"),
        setOf("message", "rawsocket"),
        setOf("serializer", "auth"),
        setOf("transport"),
        setOf(""),
    )

    private fun layerOf(subPackage: String): Int? = LAYERS.indexOfFirst { subPackage in it }.takeIf { it >= 0 }

    /** The sub-package of a qualified name under [ROOT]: its lowercase segments before the first class name. */
    private fun subPackageOf(qualified: String): String =
        qualified.removePrefix("$ROOT.").split('.').takeWhile { it.firstOrNull()?.isLowerCase() == true }
            .joinToString(".")

    private val qualifiedName = Regex("""\b${Regex.escape(ROOT)}(?:\.[a-z]\w*)*\.[A-Z]\w*""")

    /** What is wrong with [source] (a file of the main sources at [path]), one line per problem. */
    fun violations(path: String, source: String): List<String> {
        val pkg = Regex("""^package\s+([\w.]+)""", RegexOption.MULTILINE).find(source)?.groupValues?.get(1)
            ?: return listOf("$path: no package line")
        if (pkg != ROOT && !pkg.startsWith("$ROOT.")) return listOf("$path: package $pkg is outside $ROOT")
        val own = if (pkg == ROOT) "" else pkg.removePrefix("$ROOT.")
        val ownLayer = layerOf(own) ?: return listOf("$path: package $pkg has no layer in PackageLayers.LAYERS")
        val problems = mutableListOf<String>()
        fun check(verb: String, name: String) {
            val target = subPackageOf(name)
            if (target == own) return
            val layer = layerOf(target)
            if (layer == null) {
                problems += "$path: $pkg $verb $name, in a package with no layer"
            } else if (layer >= ownLayer) {
                problems += "$path: $pkg $verb $name (layer $layer ≥ its $ownLayer)"
            }
        }
        val imports = Regex("""^import\s+([\w.]+)""", RegexOption.MULTILINE).findAll(source)
            .map { it.groupValues[1] }.filter { it.startsWith("$ROOT.") }.toList()
        imports.forEach { check("imports", it) }
        val code = codeOnly(source).lines().filterNot { it.startsWith("import ") || it.startsWith("package ") }
        code.flatMap { line -> qualifiedName.findAll(line).map { it.value } }.distinct()
            .filter { it !in imports }
            .forEach { check("names", it) }
        return problems
    }

    /** [source] with comments and string literals blanked out, line breaks kept. */
    private fun codeOnly(source: String): String {
        val out = StringBuilder(source.length)
        var i = 0
        while (i < source.length) {
            when {
                source.startsWith("//", i) -> {
                    while (i < source.length && source[i] != '\n') i++
                }

                source.startsWith("/*", i) -> {
                    var depth = 0
                    while (i < source.length) {
                        if (source.startsWith("/*", i)) {
                            depth++
                            i += 2
                        } else if (source.startsWith("*/", i)) {
                            depth--
                            i += 2
                            if (depth == 0) break
                        } else {
                            if (source[i] == '\n') out.append('\n')
                            i++
                        }
                    }
                }

                source.startsWith("\"\"\"", i) -> {
                    val end = source.indexOf("\"\"\"", i + 3).let { if (it < 0) source.length else it + 3 }
                    source.substring(i, end).forEach { if (it == '\n') out.append('\n') }
                    i = end
                }

                source[i] == '"' -> {
                    i++
                    while (i < source.length && source[i] != '"' && source[i] != '\n') {
                        if (source[i] == '\\') i++
                        i++
                    }
                    i++
                }

                else -> {
                    out.append(source[i])
                    i++
                }
            }
        }
        return out.toString()
    }
}
