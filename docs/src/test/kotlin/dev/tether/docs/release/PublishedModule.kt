package dev.tether.docs.release

import org.w3c.dom.Element
import java.io.File
import java.util.zip.ZipFile
import javax.xml.parsers.DocumentBuilderFactory

/**
 * A module whose artifact users depend on: its POM sets `tether.release.skip` to false (sources and javadoc jars),
 * and its public API is pinned by `api/<artifactId>.api` in the module's directory.
 */
class PublishedModule(val dir: File, val artifactId: String, val version: String) {
    val apiDump: File get() = File(dir, "api/$artifactId.api")

    /**
     * The compiled classes of this module that the docs module was built and tested against: the module's jar
     * (reactor build or local repository) or its `target/classes` (a reactor build that stopped before `package`).
     */
    fun classFiles(classPath: List<File>): Sequence<ByteArray> {
        val classesDir = File(dir, "target/classes").canonicalFile
        val entry = classPath.firstOrNull { it.name == "$artifactId-$version.jar" || it.canonicalFile == classesDir }
            ?: throw IllegalStateException("$artifactId is not on the test class path: $classPath")
        return if (entry.isDirectory) {
            entry.walkTopDown()
                .filter {
                    it.isFile && it.name.endsWith(".class") && isApiClass(it.relativeTo(entry).invariantSeparatorsPath)
                }
                .map { it.readBytes() }
                .toList().asSequence()
        } else {
            ZipFile(entry).use { zip ->
                zip.entries().asSequence()
                    .filter { !it.isDirectory && it.name.endsWith(".class") && isApiClass(it.name) }
                    .map { zip.getInputStream(it).use { input -> input.readBytes() } }
                    .toList().asSequence()
            }
        }
    }

    private fun isApiClass(path: String) = !path.startsWith("META-INF/") && path != "module-info.class"

    override fun toString() = artifactId

    companion object {
        /** The library modules (`library/` and `testkit/`) that publish, read from their POMs under [root]. */
        fun under(root: File): List<PublishedModule> {
            val rootPom = pom(File(root, "pom.xml"))
            val version = rootPom.text("version")
            val candidates = File(root, "library").listFiles().orEmpty().toList() + File(root, "testkit")
            return candidates
                .filter { File(it, "pom.xml").isFile }
                .map { it to pom(File(it, "pom.xml")) }
                .filter { (_, pom) -> pom.child("properties")?.text("tether.release.skip") == "false" }
                .map { (dir, pom) -> PublishedModule(dir.canonicalFile, pom.text("artifactId"), version) }
                .sortedBy { it.artifactId }
        }

        /** Surefire's test class path (the forked JVM's `java.class.path` is its own booter jar only in some modes). */
        fun testClassPath(): List<File> =
            (System.getProperty("surefire.test.class.path") ?: System.getProperty("java.class.path"))
                .split(File.pathSeparator).filter { it.isNotBlank() }.map(::File)

        fun pom(file: File): Element =
            DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file).documentElement

        fun Element.child(name: String): Element? = (0 until childNodes.length).map { childNodes.item(it) }
            .filterIsInstance<Element>()
            .firstOrNull { it.tagName == name }

        fun Element.text(name: String): String = child(name)?.textContent?.trim() ?: ""
    }
}
