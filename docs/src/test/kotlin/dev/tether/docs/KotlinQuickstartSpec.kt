package dev.tether.docs

import dev.tether.testkit.FakeBroker
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** Runs the Kotlin quick start against the fake broker; the first test is quoted in getting-started-kotlin.md. */
class KotlinQuickstartSpec : FunSpec({

    // docs:start test
    test("the agent registers and answers turns") {
        FakeBroker.start().use { broker ->
            val agent = KotlinQuickstart(broker.url, broker.token, "agent-1")
            val running = launch { agent.run() }
            withTimeout(10.seconds) { agent.registrations.first { it == 1 } }
            broker.registeredNames() shouldContain "agent-1"

            // The fake broker sends a server-initiated "turn" request and waits for the answer.
            val answer = broker.turn("agent-1", """{"text":"hi"}""", timeout = 10.seconds)
            answer.kind shouldBe "turn.result"
            answer.payload shouldBe """{"text":"echo: hi"}"""

            running.cancelAndJoin() // cancelling run() closes the client
        }
    }
    // docs:end test

    test("the agent registers again after a drop") {
        FakeBroker.start().use { broker ->
            val agent = KotlinQuickstart(broker.url, broker.token, "agent-2")
            val running = launch { agent.run() }
            withTimeout(10.seconds) { agent.registrations.first { it == 1 } }
            withTimeout(10.seconds) { broker.awaitUpgrades(1) }
            broker.faults.dropAll() shouldBe 1
            withTimeout(10.seconds) { agent.registrations.first { it == 2 } }
            broker.acceptedUpgrades() shouldBe 2
            val answer = broker.turn("agent-2", """{"text":"again"}""", timeout = 10.seconds)
            answer.payload shouldBe """{"text":"echo: again"}"""
            running.cancelAndJoin()
        }
    }

    test("cancelling run closes the connection and the registration goes with it") {
        FakeBroker.start().use { broker ->
            val agent = KotlinQuickstart(broker.url, broker.token, "agent-3")
            val running = launch { agent.run() }
            withTimeout(10.seconds) { agent.registrations.first { it == 1 } }
            running.cancelAndJoin()
            withTimeout(10.seconds) { while (broker.connectionCount.value != 0) delay(5) }
            broker.registeredNames() shouldBe emptySet()
        }
    }
})
