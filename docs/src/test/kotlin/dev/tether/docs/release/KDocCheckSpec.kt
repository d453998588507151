package dev.tether.docs.release

import io.kotest.assertions.fail
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import java.io.File

/**
 * No new public declaration without KDoc. Explicit API mode makes every public declaration of a published module
 * say `public`, so the sources show them all; each must follow a KDoc comment (annotations between are fine), or,
 * for a property, be named by an `@property` of its class's KDoc. Declarations that predate the rule are listed in
 * `src/test/resources/kdoc-baseline.txt`: the list may only shrink. `-Dtether.kdoc.update=true` rewrites it.
 */
class KDocCheckSpec : FunSpec({
    val root = File("..").canonicalFile
    val baselineFile = File("src/test/resources/kdoc-baseline.txt")
    val update = System.getProperty("tether.kdoc.update") == "true"

    test("the scanner finds undocumented declarations and accepts KDoc, annotations and @property") {
        val source = """
            /** A thing. @property size how big */
            public class Thing(public val size: Int) {
                /** Documented. */
                @JvmStatic
                public fun documented(): Int = 1
                public fun bare(): Int = 2
                public val size2: Int = 3
                override fun toString(): String = ""
            }
        """.trimIndent()
        KDocScanner.undocumented("Thing.kt", source) shouldContainExactly listOf(
            "Thing.kt: public fun bare(): Int = 2",
            "Thing.kt: public val size2: Int = 3",
        )
    }

    test("every public declaration of the published modules has KDoc, apart from the shrinking baseline") {
        val found = PublishedModule.under(root).flatMap { module ->
            File(module.dir, "src/main/kotlin").walkTopDown().filter { it.extension == "kt" }.sorted().flatMap { file ->
                KDocScanner.undocumented(file.relativeTo(root).path, file.readText())
            }
        }
        if (update) {
            baselineFile.parentFile.mkdirs()
            baselineFile.writeText(found.joinToString("\n", postfix = "\n"))
            println("KDoc baseline written: ${found.size} entries")
            return@test
        }
        val baseline = baselineFile.takeIf { it.isFile }?.readLines()?.filter { it.isNotBlank() }.orEmpty().toSet()
        val added = found.filter { it !in baseline }
        if (added.isNotEmpty()) {
            fail(
                "Public declarations without KDoc (write one; the baseline only lists older ones):\n" +
                    added.joinToString("\n") { "  $it" },
            )
        }
        // A fixed entry must leave the baseline, so that it cannot come back undocumented.
        (baseline - found.toSet()).sorted() shouldBe emptyList()
    }
})

/** Finds `public` declarations with no KDoc in one Kotlin source file. */
object KDocScanner {
    private val modifiers = listOf(
        "final", "open", "abstract", "sealed", "data", "inline", "value", "suspend", "operator", "infix", "const",
        "lateinit", "enum", "annotation", "inner", "companion", "tailrec", "external",
    ).joinToString("|")
    private val kinds = "fun|val|var|class|interface|object|constructor|typealias"
    private val declaration = Regex("""^\s*public\s+(?:(?:$modifiers)\s+)*($kinds)\b""")
    private val propertyName = Regex("""\b(?:val|var)\s+(?:`([^`]+)`|(\w+))""")
    private val propertyTag = Regex("""@property\s+(\w+)""")

    fun undocumented(path: String, source: String): List<String> {
        val lines = source.lines()
        val documentedProperties = propertyTag.findAll(source).map { it.groupValues[1] }.toSet()
        return lines.indices.filter { i ->
            val line = lines[i]
            // A companion object is a container: its members carry the documentation.
            if (!declaration.containsMatchIn(line) || "companion object" in line) return@filter false
            val name = propertyName.find(line)?.let { it.groupValues[1].ifEmpty { it.groupValues[2] } }
            if (name != null && name in documentedProperties) return@filter false
            var j = i - 1
            while (j >= 0 && lines[j].trim().startsWith("@")) j--
            !(j >= 0 && lines[j].trim().endsWith("*/"))
        }.map { "$path: ${lines[it].trim()}" }
    }
}
