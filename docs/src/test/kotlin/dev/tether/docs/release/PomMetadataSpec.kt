package dev.tether.docs.release

import dev.tether.docs.release.PublishedModule.Companion.child
import dev.tether.docs.release.PublishedModule.Companion.pom
import dev.tether.docs.release.PublishedModule.Companion.text
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldNotBeBlank
import io.kotest.matchers.string.shouldStartWith
import org.w3c.dom.Element
import java.io.File

/**
 * What a repository such as Maven Central requires of every published POM: name, description, url, license, SCM,
 * developers (plus the issue tracker). The modules inherit it from the root POM; the BOM has no parent and repeats
 * it, so the two must not drift apart. Tests run with the docs module as working directory.
 */
class PomMetadataSpec : FunSpec({
    val root = File("..").canonicalFile
    val rootPom = pom(File(root, "pom.xml"))
    val metadata = listOf("url", "inceptionYear", "organization", "licenses", "developers", "scm", "issueManagement")

    /** [text] with each `${property}` replaced by this POM's own <properties> value (tether.project.url). */
    fun Element.resolve(text: String): String = Regex("""\$\{([\w.-]+)}""").replace(text) { match ->
        child("properties")?.child(match.groupValues[1])?.textContent?.trim() ?: match.value
    }

    /** An element's text content with whitespace runs collapsed: the same metadata however it is indented. */
    fun Element.normalized(name: String): String =
        resolve(child(name)?.textContent?.trim()?.replace(Regex("\\s+"), " ") ?: "")

    test("the root POM declares the published metadata") {
        rootPom.resolve(rootPom.text("url")) shouldStartWith "https://"
        val license = rootPom.child("licenses")!!.child("license")!!
        license.text("name") shouldBe "Apache-2.0"
        license.text("url") shouldBe "https://www.apache.org/licenses/LICENSE-2.0.txt"
        val scm = rootPom.child("scm")!!
        for (field in listOf("connection", "developerConnection", "url")) scm.text(field).shouldNotBeBlank()
        rootPom.child("developers")!!.child("developer")!!.text("name").shouldNotBeBlank()
        rootPom.resolve(rootPom.child("issueManagement")!!.text("url")) shouldStartWith "https://"
        // modules inherit the project's addresses as they are, not with their artifactId appended
        rootPom.getAttribute("child.project.url.inherit.append.path") shouldBe "false"
        for (field in listOf("connection", "developerConnection", "url")) {
            scm.getAttribute("child.scm.$field.inherit.append.path") shouldBe "false"
        }
    }

    test("the BOM carries the same metadata as the root POM") {
        val bom = pom(File(root, "bom/pom.xml"))
        bom.text("description").shouldNotBeBlank()
        for (element in metadata) {
            val expected = rootPom.normalized(element)
            expected.shouldNotBeBlank()
            bom.normalized(element) shouldBe expected
        }
    }

    test("every published module has its own name and description") {
        val modules = PublishedModule.under(root)
        modules.map { it.artifactId } shouldContain "tether-core"
        for (module in modules) {
            val modulePom = pom(File(module.dir, "pom.xml"))
            modulePom.text("name").shouldNotBeBlank()
            modulePom.text("description").shouldNotBeBlank()
            modulePom.text("description") shouldNotBe rootPom.text("description")
        }
    }
})
