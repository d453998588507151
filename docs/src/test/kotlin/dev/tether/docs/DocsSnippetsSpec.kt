package dev.tether.docs

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldNotBeEmpty
import io.kotest.matchers.shouldBe
import java.io.File

/**
 * Keeps the guide and the compiled examples identical.
 *
 * A Markdown page quotes source code like this:
 * ````
 * <!-- snippet: JavaQuickstart.java#connect -->
 * ```java
 * ...the lines between `// docs:start connect` and `// docs:end connect` in JavaQuickstart.java, dedented...
 * ```
 * ````
 * The file is found by name anywhere under `src/` (names are unique); nested region markers are left out of the
 * quoted text. Tests run with the docs module as working directory.
 */
class DocsSnippetsSpec : FunSpec({
    val moduleDir = File(".").canonicalFile
    // Written by the benchmarks' owner: quoted snippets on it are checked, but it may show other code, and the
    // index may link it before it exists.
    val foreignPages = setOf("performance.md")
    val pages = moduleDir.listFiles { f -> f.isFile && f.name.endsWith(".md") }!!.sortedBy { it.name }
    val sources = File(moduleDir, "src").walkTopDown()
        .filter { it.isFile && (it.name.endsWith(".java") || it.name.endsWith(".kt")) }
        .toList()

    test("the guide has its pages and every source file name is unique") {
        pages.map { it.name }.toSet().containsAll(
            listOf(
                "README.md",
                "getting-started-java.md",
                "getting-started-kotlin.md",
                "wsclient.md",
                "testkit.md",
                "backoff.md",
            ),
        ) shouldBe true
        sources.groupBy { it.name }.filterValues { it.size > 1 }.keys.shouldBeEmpty()
    }

    test("every region in the sources is well formed") {
        val problems = sources.flatMap { Regions.problems(it.name, it.readLines()) }
        problems.shouldBeEmpty()
    }

    test("every quoted snippet equals its region in the compiled sources") {
        val problems = mutableListOf<String>()
        var quoted = 0
        for (page in pages) {
            for (snippet in Snippets.parse(page.name, page.readLines())) {
                quoted++
                val file = sources.singleOrNull { it.name == snippet.file }
                if (file == null) {
                    problems += "${snippet.where}: no source file named ${snippet.file} under src/"
                    continue
                }
                val expectedFence = if (snippet.file.endsWith(".java")) "java" else "kotlin"
                if (snippet.language != expectedFence) {
                    problems += "${snippet.where}: fence is '${snippet.language}', " +
                        "expected '$expectedFence' for ${snippet.file}"
                }
                val region = Regions.extract(file.readLines(), snippet.region)
                if (region == null) {
                    problems += "${snippet.where}: ${snippet.file} has no region '${snippet.region}'"
                } else if (region != snippet.body) {
                    problems += "${snippet.where}: differs from ${snippet.file}#${snippet.region}\n" +
                        Snippets.firstDifference(region, snippet.body)
                }
            }
        }
        problems.shouldBeEmpty()
        (quoted > 0) shouldBe true
    }

    test("every Java and Kotlin code block in the guide is a quoted snippet") {
        val unquoted = pages.filter { it.name !in foreignPages }
            .flatMap { page -> Snippets.unquotedCodeBlocks(page.name, page.readLines()) }
        unquoted.shouldBeEmpty()
    }

    test("every region in the sources is quoted by some page") {
        val used = pages.flatMap { page ->
            Snippets.parse(page.name, page.readLines()).map { "${it.file}#${it.region}" }
        }.toSet()
        val defined = sources.flatMap { file -> Regions.names(file.readLines()).map { "${file.name}#$it" } }
        defined.shouldNotBeEmpty()
        defined.filter { it !in used }.shouldBeEmpty()
    }

    test("relative links resolve, anchors name real headings, and the index links every page") {
        val broken = mutableListOf<String>()
        for (page in pages) {
            for (m in Regex("""\]\(([^)\s]+)\)""").findAll(page.readText())) {
                val target = m.groupValues[1]
                if ("://" in target || target.startsWith("mailto:")) continue
                val file = target.substringBefore('#')
                val anchor = target.substringAfter('#', "")
                if (file in foreignPages) continue
                val resolved = if (file.isEmpty()) page else File(page.parentFile, file)
                if (!resolved.exists()) {
                    broken += "${page.name} links to missing $file"
                } else if (anchor.isNotEmpty() &&
                    resolved.name.endsWith(".md") &&
                    anchor !in Snippets.anchors(resolved.readLines())
                ) {
                    broken += "${page.name} links to #$anchor, which is not a heading of ${resolved.name}"
                }
            }
        }
        broken.shouldBeEmpty()
        val index = File(moduleDir, "README.md").readText()
        pages.map { it.name }.filter { it != "README.md" && "]($it)" !in index }.shouldBeEmpty()
    }

    test("Maven coordinates in the guide name real Tether artifacts at the project version") {
        val parentPom = File(moduleDir, "../pom.xml").readText()
        val version = Regex("""<artifactId>tether-parent</artifactId>\s*<version>([^<]+)</version>""")
            .find(parentPom)!!.groupValues[1]
        val artifacts = Regex("""<groupId>dev\.tether</groupId><artifactId>(tether-[a-z-]+)</artifactId>""")
            .findAll(parentPom).map { it.groupValues[1] }.toSet()
        val problems = mutableListOf<String>()
        for (page in pages) {
            val text = page.readText()
            Regex("""<groupId>dev\.tether</groupId>\s*<artifactId>([^<]+)</artifactId>\s*<version>([^<]+)</version>""")
                .findAll(text).forEach { m ->
                    if (m.groupValues[1] !in artifacts) problems += "${page.name}: unknown artifact ${m.groupValues[1]}"
                    if (m.groupValues[2] != version) {
                        problems += "${page.name}: ${m.groupValues[1]} at ${m.groupValues[2]}, project is $version"
                    }
                }
            Regex("""dev\.tether:(tether-[a-z-]+):([0-9A-Za-z.-]+)""").findAll(text).forEach { m ->
                if (m.groupValues[1] !in artifacts) problems += "${page.name}: unknown artifact ${m.groupValues[1]}"
                if (m.groupValues[2] != version) {
                    problems += "${page.name}: ${m.groupValues[1]} at ${m.groupValues[2]}, project is $version"
                }
            }
        }
        problems.shouldBeEmpty()
    }
})

/** One fenced block of a page that quotes a source region. */
internal data class Snippet(
    val where: String,
    val file: String,
    val region: String,
    val language: String,
    val body: List<String>,
)

/** Finds the quoted blocks of a Markdown page. */
internal object Snippets {
    private val marker = Regex("""^<!--\s*snippet:\s*([A-Za-z0-9_.-]+)#([A-Za-z0-9_-]+)\s*-->\s*$""")
    private val fence = Regex("""^```([A-Za-z0-9_+-]*)\s*$""")

    fun parse(page: String, lines: List<String>): List<Snippet> {
        val out = mutableListOf<Snippet>()
        var i = 0
        while (i < lines.size) {
            val m = marker.matchEntire(lines[i])
            if (m == null) {
                i++
                continue
            }
            val where = "$page:${i + 1}"
            val open = lines.getOrNull(i + 1)?.let { fence.matchEntire(it) }
            require(open != null) { "$where: a snippet marker must be followed directly by a code fence" }
            val close = (i + 2 until lines.size).firstOrNull { lines[it].trimEnd() == "```" }
            require(close != null) { "$where: the code fence is not closed" }
            out += Snippet(where, m.groupValues[1], m.groupValues[2], open.groupValues[1], lines.subList(i + 2, close))
            i = close + 1
        }
        return out
    }

    /** Java and Kotlin fences not directly preceded by a snippet marker. */
    fun unquotedCodeBlocks(page: String, lines: List<String>): List<String> {
        val out = mutableListOf<String>()
        var inBlock = false
        for ((i, line) in lines.withIndex()) {
            val m = fence.matchEntire(line) ?: continue
            if (inBlock) {
                inBlock = false
                continue
            }
            inBlock = true
            val lang = m.groupValues[1]
            val quoted = i > 0 && marker.matchEntire(lines[i - 1]) != null
            if ((lang == "java" || lang == "kotlin" || lang == "kt") && !quoted) {
                out += "$page:${i + 1}: a $lang block without a snippet marker (quote compiled code instead)"
            }
        }
        return out
    }

    /** GitHub's anchors for the headings of a page (outside code blocks). */
    fun anchors(lines: List<String>): Set<String> {
        val out = mutableSetOf<String>()
        var inBlock = false
        for (line in lines) {
            if (fence.matchEntire(line) != null) inBlock = !inBlock
            if (inBlock || !line.startsWith("#")) continue
            val text = line.trimStart('#').trim()
            out += text.lowercase()
                .filter { it.isLetterOrDigit() || it == ' ' || it == '-' || it == '_' }
                .replace(' ', '-')
        }
        return out
    }

    fun firstDifference(expected: List<String>, actual: List<String>): String {
        val n = maxOf(expected.size, actual.size)
        for (k in 0 until n) {
            val e = expected.getOrNull(k)
            val a = actual.getOrNull(k)
            if (e != a) return "  line ${k + 1}:\n    source: ${e ?: "<none>"}\n    page:   ${a ?: "<none>"}"
        }
        return "  (no difference)"
    }
}

/** Reads `// docs:start NAME` / `// docs:end NAME` regions of a source file. */
internal object Regions {
    private val start = Regex("""^\s*//\s*docs:start\s+([A-Za-z0-9_-]+)\s*$""")
    private val end = Regex("""^\s*//\s*docs:end\s+([A-Za-z0-9_-]+)\s*$""")

    fun names(lines: List<String>): List<String> = lines.mapNotNull { start.matchEntire(it)?.groupValues?.get(1) }

    /** The lines of [name] without nested markers, with their common indentation removed; null when absent. */
    fun extract(lines: List<String>, name: String): List<String>? {
        val from = lines.indexOfFirst { start.matchEntire(it)?.groupValues?.get(1) == name }
        if (from < 0) return null
        val to = (from + 1 until lines.size).firstOrNull { end.matchEntire(lines[it])?.groupValues?.get(1) == name }
            ?: return null
        val body = lines.subList(from + 1, to).filter { start.matchEntire(it) == null && end.matchEntire(it) == null }
        val indent = body.filter { it.isNotBlank() }.minOfOrNull { line -> line.length - line.trimStart().length } ?: 0
        return body.map { if (it.isBlank()) "" else it.substring(indent).trimEnd() }
    }

    /** Unbalanced, duplicated or empty regions. */
    fun problems(file: String, lines: List<String>): List<String> {
        val out = mutableListOf<String>()
        val open = mutableListOf<String>()
        val seen = mutableSetOf<String>()
        for ((i, line) in lines.withIndex()) {
            start.matchEntire(line)?.let { m ->
                val name = m.groupValues[1]
                if (!seen.add(name)) out += "$file:${i + 1}: region '$name' is defined twice"
                open += name
            }
            end.matchEntire(line)?.let { m ->
                val name = m.groupValues[1]
                if (name !in open) out += "$file:${i + 1}: docs:end $name without docs:start" else open.remove(name)
            }
        }
        open.forEach { out += "$file: region '$it' is never closed" }
        seen.filter { extract(lines, it).orEmpty().all(String::isBlank) }
            .forEach { out += "$file: region '$it' is empty" }
        return out
    }
}
