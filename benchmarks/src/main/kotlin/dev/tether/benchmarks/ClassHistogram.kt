package dev.tether.benchmarks

import java.lang.management.ManagementFactory
import javax.management.ObjectName

/**
 * Live-object class histogram of this JVM, taken in-process through HotSpot's DiagnosticCommand MBean (the same as
 * `jcmd PID GC.class_histogram`; it runs a full GC first). Null when the JVM does not offer it.
 */
internal object ClassHistogram {
    data class Entry(val instances: Long, val bytes: Long)

    private val line = Regex("""^\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+)""")

    fun take(): Map<String, Entry>? = runCatching {
        val text = ManagementFactory.getPlatformMBeanServer().invoke(
            ObjectName("com.sun.management:type=DiagnosticCommand"),
            "gcClassHistogram",
            arrayOf<Any>(arrayOf<String>()),
            arrayOf(Array<String>::class.java.name),
        ) as String
        text.lineSequence().mapNotNull { line.find(it) }
            .associate { m -> m.groupValues[3] to Entry(m.groupValues[1].toLong(), m.groupValues[2].toLong()) }
    }.getOrNull()

    /** Classes whose live bytes grew most from [before] to [after], per [per] units (e.g. pending requests). */
    fun growth(
        before: Map<String, Entry>,
        after: Map<String, Entry>,
        per: Int,
        top: Int,
    ): List<Triple<String, Double, Double>> = after.map { (name, a) ->
        val b = before[name] ?: Entry(0, 0)
        Triple(name, (a.instances - b.instances).toDouble() / per, (a.bytes - b.bytes).toDouble() / per)
    }.filter { it.third > 0 }.sortedByDescending { it.third }.take(top)
}
