package dev.tether.docs.release

/**
 * What changed between two API dumps ([ApiDumper]), per class: a class removed or added, its header changed
 * (visibility, modality, supertypes), members removed (`-`) and added (`+`). A changed member shows as its old line
 * removed and its new line added. Empty when the dumps describe the same API.
 */
object ApiDiff {
    fun between(expected: String, actual: String): List<String> {
        val before = parse(expected)
        val after = parse(actual)
        val report = mutableListOf<String>()
        for (name in (before.keys + after.keys).sorted()) {
            val old = before[name]
            val new = after[name]
            when {
                new == null -> report += "- ${old!!.header} (class removed)"

                old == null -> report += "+ ${new.header} (class added)"

                else -> {
                    val lines = mutableListOf<String>()
                    if (old.header != new.header) {
                        lines += "  - ${old.header}"
                        lines += "  + ${new.header}"
                    }
                    old.members.filterNot { it in new.members }.forEach { lines += "  - $it" }
                    new.members.filterNot { it in old.members }.forEach { lines += "  + $it" }
                    if (lines.isNotEmpty()) report += listOf(name) + lines
                }
            }
        }
        return report
    }

    private class Block(val header: String, val members: List<String>)

    private fun parse(dump: String): Map<String, Block> {
        val blocks = linkedMapOf<String, Block>()
        var header: String? = null
        val members = mutableListOf<String>()
        for (raw in dump.lineSequence()) {
            val line = raw.trimEnd()
            when {
                line.isEmpty() -> Unit

                line.endsWith("{") && header == null -> header = line.removeSuffix("{").trimEnd()

                line == "}" && header != null -> {
                    blocks[className(header)] = Block(header, members.toList())
                    header = null
                    members.clear()
                }

                header != null -> members += line.trim()

                else -> throw IllegalArgumentException("not an API dump line: '$line'")
            }
        }
        require(header == null) { "API dump ends inside the block of '$header'" }
        return blocks
    }

    /** The class name is the word after the kind in a header (`public final class a/b/C : a/b/D`). */
    private fun className(header: String): String {
        val words = header.substringBefore(" : ").split(' ')
        return words.last()
    }
}
