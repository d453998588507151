package dev.tether.docs

// docs:start kotest-extension
import dev.tether.testkit.kotest.FakeBrokerListener
import io.kotest.core.extensions.install
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContain
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

class KotestExtensionSpec : FunSpec({
    // One broker for the whole spec, started now with these options and stopped after the last test.
    val broker = install(FakeBrokerListener()) { tokens("spec-token") }

    test("the agent registers under its name") {
        val agent = KotlinQuickstart(broker.url, broker.token, "spec-agent")
        val running = launch { agent.run() }
        withTimeout(10.seconds) { agent.registrations.first { it == 1 } }
        broker.registeredNames() shouldContain "spec-agent"
        running.cancelAndJoin()
    }

    test("the same broker serves every test of the spec") {
        broker.token shouldBe "spec-token"
        (broker.acceptedUpgrades() >= 1) shouldBe true // it saw the first test's agent
    }
})
// docs:end kotest-extension
