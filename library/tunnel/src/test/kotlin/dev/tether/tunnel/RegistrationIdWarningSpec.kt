package dev.tether.tunnel

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.embeddedServer
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocket
import org.slf4j.event.EventRecordingLogger
import org.slf4j.event.Level
import org.slf4j.event.SubstituteLoggingEvent
import org.slf4j.helpers.MessageFormatter
import org.slf4j.helpers.SubstituteLogger
import java.time.Duration
import java.util.concurrent.ConcurrentLinkedQueue

/**
 * An id with `-` registered on a webhooktunnel-flavoured proxy is logged once as a WARN naming what breaks
 * (specs/webhooktunnel.md §10: WebSocket viewer paths on proxies before the 2019 fix). The registrations are real
 * WebSocket upgrades against a local server standing in for the proxy; the events are the ones Registration logs.
 */
class RegistrationIdWarningSpec : FunSpec({
    val proxy = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
        install(WebSockets)
        routing { webSocket("/") { closeReason.await() } }
    }.start(wait = false)
    afterSpec { proxy.stop(0, 500) }
    val port = kotlinx.coroutines.runBlocking { proxy.engine.resolvedConnectors().first().port }

    /** Registers [id] [times] times (a first registration and reconnects) and returns the WARN events logged. */
    suspend fun warningsFor(id: String, flavour: TunnelFlavour, times: Int = 1): List<SubstituteLoggingEvent> {
        val events = ConcurrentLinkedQueue<SubstituteLoggingEvent>()
        val log = EventRecordingLogger(SubstituteLogger(Registration::class.java.name, events, false), events)
        val config = TunnelConfig(id, "http://127.0.0.1:$port") {
            flavour(flavour)
            token(TunnelTokens.testToken(id))
        }
        Registration(config, Duration.ofSeconds(20), log = log).use { registration ->
            repeat(times) { registration.register().connection.close(1000, "done") }
        }
        return events.filter { it.level == Level.WARN }
    }

    fun SubstituteLoggingEvent.text(): String = MessageFormatter.basicArrayFormat(message, argumentArray)

    test(
        "an id with '-' on a webhooktunnel proxy: one WARN naming the broken WebSocket viewer path, not one per " +
            "reconnect",
    ) {
        val warnings = warningsFor("ab-cd", TunnelFlavour.WEBHOOKTUNNEL, times = 2)
        warnings shouldHaveSize 1
        val text = warnings.single().text()
        text shouldContain "\"ab-cd\" contains '-'"
        text shouldContain "WebSocket viewers get a broken path (/ab-cd/ws reaches the origin as /-cd/ws)"
        text shouldContain "before the 2019 fix"
    }

    test("an id starting with '-' keeps its whole path: the proxy's regex does not match it at all") {
        warningsFor("-ab", TunnelFlavour.WEBHOOKTUNNEL).single().text() shouldContain
            "/-ab/ws reaches the origin as /-ab/ws"
    }

    test("ids of letters, digits and '_' and websocktunnel ids with '-' log no warning") {
        warningsFor("abc_123", TunnelFlavour.WEBHOOKTUNNEL).shouldBeEmpty()
        warningsFor("ab-cd", TunnelFlavour.WEBSOCKTUNNEL).shouldBeEmpty()
    }

    test("the warning is decided by the id and the flavour alone") {
        fun config(id: String, flavour: TunnelFlavour) = TunnelConfig(id, "http://127.0.0.1:1") {
            flavour(flavour)
            token("t")
        }
        Registration.brokenViewerPathWarning(config("Tunnel_1", TunnelFlavour.WEBHOOKTUNNEL)) shouldBe null
        Registration.brokenViewerPathWarning(config("a.b", TunnelFlavour.WEBHOOKTUNNEL))!! shouldContain "contains '.'"
        Registration.brokenViewerPathWarning(config("a-b", TunnelFlavour.WEBSOCKTUNNEL)) shouldBe null
    }
})
