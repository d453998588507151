package dev.tether.conformance.soak

import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * How long and how hard a soak runs, read from system properties (docs/soak.md):
 * * `tether.soak.duration`: time per client, in Kotlin's duration syntax (`3s`, `10m`, `1h 30m`) or ISO-8601
 *   (`PT10M`); 4 s by default, which keeps the four clients of a `mvn verify` run under a minute;
 * * `tether.soak.seed`: the seed of every random choice (fault kinds, gaps, holds, payloads); a fresh one by
 *   default, printed so that a failing run can be repeated;
 * * `tether.soak.workers`: operations in flight per client (4);
 * * `tether.soak.clients`: a comma-separated subset of `wsclient`, `mux`, `relay`, `wamp` (all by default).
 */
internal data class SoakSettings(
    val duration: Duration,
    val seed: Long,
    val workers: Int,
    val clients: Set<String>,
) {
    companion object {
        val CLIENTS: List<String> = listOf("wsclient", "mux", "relay", "wamp")

        fun fromSystemProperties(): SoakSettings {
            val durationText = property("tether.soak.duration")
            val duration = durationText?.let {
                Duration.parseOrNull(it) ?: Duration.parseIsoStringOrNull(it)
                    ?: throw IllegalArgumentException("tether.soak.duration=$it is not a duration (try 30s or 10m)")
            } ?: 4.seconds
            require(duration.isPositive()) { "tether.soak.duration must be positive, was $durationText" }
            val seed = property("tether.soak.seed")?.let {
                it.toLongOrNull() ?: throw IllegalArgumentException("tether.soak.seed=$it is not a number")
            } ?: System.nanoTime()
            val workers = property("tether.soak.workers")?.toIntOrNull()?.takeIf { it > 0 } ?: 4
            val clients = property("tether.soak.clients")
                ?.split(',')
                ?.map { it.trim().lowercase() }
                ?.filter { it.isNotEmpty() }
                ?.toSet()
                ?: CLIENTS.toSet()
            val unknown = clients - CLIENTS.toSet()
            require(unknown.isEmpty()) { "tether.soak.clients: unknown $unknown; choose among $CLIENTS" }
            return SoakSettings(duration, seed, workers, clients)
        }

        private fun property(name: String): String? = System.getProperty(name)?.takeIf { it.isNotBlank() }
    }
}
