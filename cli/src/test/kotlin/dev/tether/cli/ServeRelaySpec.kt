package dev.tether.cli

import dev.tether.relay.RelayProtocol
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldStartWith
import picocli.CommandLine
import java.time.Duration

class ServeRelaySpec : FunSpec({
    fun parse(vararg args: String): ServeRelay = ServeRelay().also { CommandLine(it).parseArgs(*args) }

    test("tether serve relay: the defaults are an ephemeral port, a random secret and upstream's health timers") {
        val options = parse().options()
        options.port shouldBe 0
        options.secret shouldStartWith "secret-"
        options.instanceUrl shouldBe null
        options.healthCheckInterval shouldBe Duration.ofMillis(RelayProtocol.HEALTH_CHECK_INTERVAL_MILLIS)
        options.healthCheckTimeout shouldBe Duration.ofMillis(RelayProtocol.SERVER_HEALTH_TIMEOUT_MILLIS)
    }

    test(
        "tether serve relay: flags set the port, secret, instance URL and health timers, so an external run can " +
            "name them",
    ) {
        val options = parse(
            "--port", "40123", "--secret", "s3cret", "--instance-url", "rels://relay.example:443",
            "--health-interval", "2", "--health-timeout", "5",
        ).options()
        options.port shouldBe 40123
        options.secret shouldBe "s3cret"
        options.instanceUrl shouldBe "rels://relay.example:443"
        options.healthCheckInterval shouldBe Duration.ofSeconds(2)
        options.healthCheckTimeout shouldBe Duration.ofSeconds(5)
    }

    test("tether serve relay: a port outside 0-65535 or a non-positive timer is refused") {
        shouldThrow<IllegalArgumentException> { parse("--port", "70000").options() }
        shouldThrow<IllegalArgumentException> { parse("--health-interval", "0").options() }
    }
})
