package dev.tether.cli

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldMatch
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import kotlin.time.Duration.Companion.minutes

/** The WAMP section of `tether demo` on its own: the advanced-profile steps and the stats it ends with. */
class WampDemoSpec : FunSpec({
    test("the WAMP demo cancels a call, matches patterns, shares a registration, survives a drop and prints stats") {
        val captured = ByteArrayOutputStream()
        withTimeout(1.minutes) { WampDemo().run(DemoOutput(PrintStream(captured, true, Charsets.UTF_8))) }
        val text = captured.toString(Charsets.UTF_8)
        text shouldContain "call demo.add(2, 40) over tcp/msgpack -> 42"
        text shouldContain "cancelled call demo.slow (cancel mode killnowait): the callee's handler got the " +
            "INTERRUPT and was cancelled"
        text shouldContain "pattern subscription demo.sensors. (prefix) got an event on " +
            "demo.sensors.kitchen.temperature: 21.5"
        text shouldContain "pattern subscription demo..alarm (wildcard) got an event on demo.garage.alarm: door open"
        text shouldContain "shared registration demo.work (roundrobin over 2 callees): answered by worker-1, " +
            "worker-2, worker-1, worker-2"
        val drop = text.lines().single { "the router dropped WampClient session" in it }
        drop shouldMatch Regex(
            ".*state events: Disconnected \\(WampConnectionLostException, retry in \\d+ ms\\) → " +
                "Connecting\\(1\\) → Connected$",
        )
        text shouldContain "and registered demo.echo again: call -> \"still here\""
        // The callee's session queued demo.news and the two pattern events, and dropped none.
        val stats = text.lines().dropWhile { "stats of WAMP session" !in it }
        stats.isNotEmpty() shouldBe true
        stats[1].trim() shouldBe "events queued 3 · events dropped 0"
    }
})
