package dev.tether.cli

import picocli.CommandLine.IVersionProvider
import java.util.Properties

/**
 * The `--version` text of every command: `tether <version>`, the version Maven filtered into `version.properties`
 * (the project version in the POM is the one place it is written).
 */
class TetherVersion : IVersionProvider {
    override fun getVersion(): Array<String> = arrayOf("tether $VERSION")

    companion object {
        /** The project version, or `unknown` when the resource is missing (not built by Maven). */
        val VERSION: String by lazy {
            val props = Properties()
            TetherVersion::class.java.getResourceAsStream("version.properties")?.use { props.load(it) }
            props.getProperty("version")?.takeIf { it.isNotBlank() && !it.startsWith("\${") } ?: "unknown"
        }
    }
}
