package dev.tether.conformance.soak

import io.kotest.core.spec.style.FunSpec
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.seconds

/**
 * The soak under faults (issue 16, docs/soak.md): each client against its testkit fake for `tether.soak.duration`
 * (4 s here by default; `-Dtether.soak.duration=10m` for a long run) while random faults, seeded and printed, break
 * the fake. A test fails when an invariant breaks: an operation with no outcome or two, an untyped failure, a stream
 * or batch that came back wrong, no recovery within the client's backoff bound, or threads, memory or the client
 * object left behind after close. The table of every client is printed after the spec and written to
 * `target/tether-soak-report.txt`.
 */
class SoakSpec : FunSpec({
    val settings = SoakSettings.fromSystemProperties()
    val results = CopyOnWriteArrayList<SoakResult>()
    afterSpec { SoakReport.publish(settings, results) }

    val targets: List<Pair<String, () -> SoakTarget>> = listOf(
        "wsclient" to ::WsClientSoakTarget,
        "mux" to ::MuxSoakTarget,
        "relay" to ::RelaySoakTarget,
        "wamp" to ::WampSoakTarget,
    )
    for ((key, create) in targets.filter { it.first in settings.clients }) {
        test("$key: every operation gets one typed outcome and the client recovers and leaks nothing under faults")
            .config(timeout = settings.duration * 2 + 120.seconds) {
                println("soak $key: seed ${settings.seed}, ${settings.duration}")
                val result = SoakRunner(settings).run(create)
                results += result
                if (!result.passed) throw AssertionError(SoakReport.render(settings, listOf(result)))
            }
    }
})
