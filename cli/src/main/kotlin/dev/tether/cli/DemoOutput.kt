package dev.tether.cli

import java.io.PrintStream
import java.time.Duration
import java.time.Instant

/** Readable, timestamped demo output: sections, steps and results. */
class DemoOutput(private val out: PrintStream, private val started: Instant = Instant.now()) {
    fun section(title: String) {
        out.println()
        out.println("== $title ${"=".repeat((72 - title.length).coerceAtLeast(3))}")
    }

    fun step(text: String) = line("  ", text)

    fun ok(text: String) = line("  ✔ ", text)

    fun event(text: String) = line("  · ", text)

    private fun line(prefix: String, text: String) {
        val t = Duration.between(started, Instant.now()).toMillis()
        out.println(String.format("%6d ms %s%s", t, prefix, text))
    }
}
