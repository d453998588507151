package dev.tether.docs.release

import io.kotest.assertions.fail
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactlyInAnyOrder
import java.io.File

/**
 * The binary-compatibility check: the public API compiled from each published module must equal the dump
 * committed in `<module>/api/<artifactId>.api`, so a change to the public API (an accidental break, or an addition)
 * is a visible, reviewed change to that file. With `-Dtether.api.update=true` the dumps are rewritten from the
 * compiled classes instead (docs/releasing.md has the command). Tests run with the docs module as working directory.
 */
class ApiCheckSpec : FunSpec({
    val root = File("..").canonicalFile
    val update = System.getProperty("tether.api.update") == "true"
    val modules = PublishedModule.under(root)
    val classPath = PublishedModule.testClassPath()

    test("the published modules are exactly the artifacts of the BOM") {
        val bom = PublishedModule.pom(File(root, "bom/pom.xml"))
        val managed = bom.getElementsByTagName("dependency")
        val bomArtifacts = (0 until managed.length).map {
            (managed.item(it) as org.w3c.dom.Element).getElementsByTagName("artifactId").item(0).textContent.trim()
        }
        modules.map { it.artifactId } shouldContainExactlyInAnyOrder bomArtifacts
    }

    test("only published modules have an API dump") {
        val dumps = (File(root, "library").listFiles().orEmpty().toList() + File(root, "testkit"))
            .flatMap { File(it, "api").listFiles { f: File -> f.name.endsWith(".api") }.orEmpty().toList() }
            .map { it.canonicalFile }
        if (!update) dumps shouldContainExactlyInAnyOrder modules.map { it.apiDump }
    }

    test("no two public types of Tether share a simple name, so no file needs an import alias") {
        val byName = modules
            .flatMap { module -> publicTypes(ApiDumper().dump(module.classFiles(classPath))) }
            .groupBy { it.substringAfterLast('/') }
            .filterValues { it.size > 1 }
        // While dumps are being rewritten the names may be mid-rename; the check runs on every plain build.
        if (byName.isNotEmpty() && !update) {
            fail(
                "Public types that share a simple name (rename one of each):\n" +
                    byName.entries.joinToString("\n") { (name, types) -> "  $name: ${types.joinToString()}" },
            )
        }
    }

    modules.forEach { module ->
        test("$module: the compiled public API matches ${module.apiDump.relativeTo(root)}") {
            val actual = ApiDumper().dump(module.classFiles(classPath))
            if (update) {
                module.apiDump.parentFile.mkdirs()
                module.apiDump.writeText(actual)
                println("API dump written: ${module.apiDump}")
                return@test
            }
            if (!module.apiDump.isFile) {
                fail("$module has no API dump ${module.apiDump.relativeTo(root)}: create it with $UPDATE_COMMAND")
            }
            val diff = ApiDiff.between(module.apiDump.readText(), actual)
            if (diff.isNotEmpty()) {
                fail(
                    "The public API of $module differs from ${module.apiDump.relativeTo(root)} " +
                        "(- in the dump only, + compiled only):\n" + diff.joinToString("\n") { "  $it" } +
                        "\nAn unintended change breaks users: undo it. An intended one: regenerate the dump with\n  " +
                        UPDATE_COMMAND +
                        "\nand commit it with the change (and a CHANGELOG line when it removes or changes a member).",
                )
            }
        }
    }
}) {
    companion object {
        private val typeLine = Regex("""^public .*\b(?:class|interface) ([\w/$]+)""")

        /** The top-level types (nested ones have a `$`) a dump declares, as `package/path/Name`. */
        fun publicTypes(dump: String): List<String> =
            dump.lines().mapNotNull { typeLine.find(it)?.groupValues?.get(1) }.filter { '$' !in it }

        const val UPDATE_COMMAND = "mvn -B -Dtether.api.update=true -Dtether.javadoc.skip=true -Dtest=ApiCheckSpec " +
            "-Dsurefire.failIfNoSpecifiedTests=false -pl docs -am verify"
    }
}
