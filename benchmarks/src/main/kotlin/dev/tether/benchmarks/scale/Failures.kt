package dev.tether.benchmarks.scale

import dev.tether.core.TetherException
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong

/**
 * Everything that went wrong in one load, counted by phase and exception type (Tether's typed errors by their own
 * names, anything else marked untyped), with the first message of each kind to say what happened.
 */
internal class Failures {
    private val counts = ConcurrentHashMap<String, AtomicLong>()
    private val firstMessage = ConcurrentHashMap<String, String>()

    fun record(phase: String, e: Throwable) {
        val type = e::class.java.simpleName.ifEmpty { e::class.java.name }
        val key = if (e is TetherException) "$phase: $type" else "$phase: $type (untyped)"
        counts.computeIfAbsent(key) { AtomicLong() }.incrementAndGet()
        firstMessage.putIfAbsent(key, e.message ?: e.toString())
    }

    /** A failure that is not an exception: a bound hit, a count that does not add up. */
    fun record(phase: String, what: String, count: Long = 1) {
        val key = "$phase: $what"
        counts.computeIfAbsent(key) { AtomicLong() }.addAndGet(count)
        firstMessage.putIfAbsent(key, what)
    }

    val total: Long get() = counts.values.sumOf { it.get() }

    /** Kind, count and first message, largest count first. */
    fun summary(): List<Triple<String, Long, String>> = counts.entries
        .map { (k, v) -> Triple(k, v.get(), firstMessage[k].orEmpty()) }
        .sortedByDescending { it.second }
}
