package dev.tether.cli

import dev.tether.core.ConnectionException
import dev.tether.core.TransportObserver
import java.io.PrintStream
import java.time.Duration
import java.time.Instant
import java.util.concurrent.atomic.AtomicLong

/** Readable, timestamped demo output: sections, steps, results and a client's counters. */
class DemoOutput(private val out: PrintStream, private val started: Instant = Instant.now()) {
    fun section(title: String) {
        out.println()
        out.println("== $title ${"=".repeat((72 - title.length).coerceAtLeast(3))}")
    }

    fun step(text: String) = line("  ", text)

    fun ok(text: String) = line("  ✔ ", text)

    fun event(text: String) = line("  · ", text)

    /**
     * A client's counters at the end of a section: a `stats of <client>:` line, then the counts as `name value`,
     * [PER_LINE] to a line, in the order given.
     */
    fun stats(client: String, counts: List<Pair<String, Number>>) {
        line("  ≡ ", "stats of $client:")
        for (chunk in counts.chunked(PER_LINE)) {
            out.println(" ".repeat(STATS_INDENT) + chunk.joinToString(" · ") { (name, value) -> "$name $value" })
        }
    }

    private fun line(prefix: String, text: String) {
        val t = Duration.between(started, Instant.now()).toMillis()
        out.println(String.format("%6d ms %s%s", t, prefix, text))
    }

    private companion object {
        /** Counts shown on one line of a stats block (keeps it under 120 columns). */
        const val PER_LINE = 4

        /** Indent of a stats block's counts: under the text of the lines above. */
        const val STATS_INDENT = 14
    }
}

/**
 * Counts what one client's WebSocket connections did (the transport calls it as a [TransportObserver]), for the
 * stats block at the end of a demo section: the counts tether-micrometer's TransportMetrics would report.
 */
class DemoTraffic : TransportObserver {
    private val opened = AtomicLong()
    private val dialFailures = AtomicLong()
    private val messagesIn = AtomicLong()
    private val messagesOut = AtomicLong()
    private val bytesIn = AtomicLong()
    private val bytesOut = AtomicLong()

    override fun connected() {
        opened.incrementAndGet()
    }

    override fun dialFailed(cause: ConnectionException) {
        dialFailures.incrementAndGet()
    }

    override fun messageReceived(bytes: Int) {
        messagesIn.incrementAndGet()
        bytesIn.addAndGet(bytes.toLong())
    }

    override fun messageSent(bytes: Int) {
        messagesOut.incrementAndGet()
        bytesOut.addAndGet(bytes.toLong())
    }

    /** Connections, reconnects (connections after the first), dial failures, messages and bytes both ways. */
    fun counts(): List<Pair<String, Number>> = listOf(
        "connections" to opened.get(),
        "reconnects" to (opened.get() - 1).coerceAtLeast(0),
        "dial failures" to dialFailures.get(),
        "messages in" to messagesIn.get(),
        "messages out" to messagesOut.get(),
        "bytes in" to bytesIn.get(),
        "bytes out" to bytesOut.get(),
    )
}
