package dev.tether.docs

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactlyInAnyOrder
import io.kotest.matchers.shouldBe
import org.w3c.dom.Element
import java.io.File
import javax.xml.parsers.DocumentBuilderFactory

/**
 * The BOM (`bom/pom.xml`) lists every library artifact a user may depend on, each at the build's own version, and
 * nothing else: a module added to `library/` without a BOM entry, or a version bumped in one place only, fails here.
 * Tests run with the docs module as working directory.
 */
class BomSpec : FunSpec({
    val root = File("..").canonicalFile

    fun pom(file: File): Element = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file).documentElement

    fun Element.child(name: String): Element? = (0 until childNodes.length).map { childNodes.item(it) }
        .filterIsInstance<Element>()
        .firstOrNull { it.tagName == name }

    fun Element.text(name: String): String = child(name)?.textContent?.trim() ?: ""

    test("the BOM manages every library module and the testkit at the build's version") {
        val rootPom = pom(File(root, "pom.xml"))
        val version = rootPom.text("version")
        val libraries = File(root, "library").listFiles()!!
            // the command line is an application, not a library
            .filter { File(it, "pom.xml").isFile && it.name != "cli" }
            .map { pom(File(it, "pom.xml")).text("artifactId") } + pom(File(root, "testkit/pom.xml")).text("artifactId")

        val bom = pom(File(root, "bom/pom.xml"))
        bom.text("version") shouldBe version
        bom.text("packaging") shouldBe "pom"
        bom.child("parent") shouldBe null
        val managed = bom.child("dependencyManagement")!!.child("dependencies")!!.getElementsByTagName("dependency")
        val entries = (0 until managed.length).map { managed.item(it) as Element }
        entries.forEach { e ->
            e.text("groupId") shouldBe "dev.tether"
            e.text("version") shouldBe "\${project.version}"
        }
        entries.map { it.text("artifactId") } shouldContainExactlyInAnyOrder libraries
    }
})
