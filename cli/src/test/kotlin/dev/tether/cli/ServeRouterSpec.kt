package dev.tether.cli

import dev.tether.testkit.wamp.RouterUser
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import picocli.CommandLine

class ServeRouterSpec : FunSpec({
    fun parse(vararg args: String): ServeRouter = ServeRouter().also { CommandLine(it).parseArgs(*args) }

    test(
        "tether serve router: the defaults are realm1 open to anonymous sessions on ephemeral ports, no TLS, no users",
    ) {
        val options = parse().options()
        options.realms shouldBe mapOf("realm1" to true)
        options.webSocketPort shouldBe 0
        options.rawSocketPort shouldBe 0
        options.unixSocketPath shouldBe null
        options.tls shouldBe false
        options.users shouldBe emptyList()
    }

    test("tether serve router: realm, ports, Unix socket and TLS flags map to the router's options") {
        val options = parse(
            "--realm", "conf", "--no-anonymous", "--port", "18080", "--rawsocket-port", "18081",
            "--unix", "/tmp/r.sock", "--tls",
        ).options()
        options.realms shouldBe mapOf("conf" to false)
        options.webSocketPort shouldBe 18080
        options.rawSocketPort shouldBe 18081
        options.unixSocketPath shouldBe "/tmp/r.sock"
        options.tls shouldBe true
    }

    test("tether serve router: --ticket and --cra add users for the conformance suite's auth cases") {
        val options = parse(
            "--ticket",
            "ticketuser:ticket-1",
            "--cra",
            "crauser:cra:secret",
            "--ticket",
            "t2:x",
        ).options()
        options.users shouldBe listOf(
            RouterUser.Ticket("ticketuser", "ticket-1"),
            RouterUser.Ticket("t2", "x"),
            RouterUser.Cra("crauser", "cra:secret"),
        )
    }

    test("tether serve router: a credential without USER:SECRET or a port out of range is refused") {
        shouldThrow<IllegalArgumentException> { parse("--ticket", "nosecret").options() }
        shouldThrow<IllegalArgumentException> { parse("--cra", ":secret").options() }
        shouldThrow<IllegalArgumentException> { parse("--port", "70000").options() }
    }

    test(
        "tether serve router: --cra-salted, --cryptosign and --auth-realm cover the other two auth methods and their " +
            "realm",
    ) {
        val seed = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
        val options = parse(
            "--cra-salted",
            "saltuser:saltsecret:salt123",
            "--cryptosign",
            "csuser:$seed",
            "--auth-realm",
            "authrealm",
        ).options()
        options.realms shouldBe mapOf("realm1" to true, "authrealm" to false)
        options.users shouldBe listOf(
            RouterUser.Cra("saltuser", "saltsecret", salt = "salt123"),
            RouterUser.Cryptosign("csuser", dev.tether.wamp.auth.CryptosignKey.fromSeedHex(seed).publicKeyHex),
        )
        shouldThrow<IllegalArgumentException> { parse("--cra-salted", "saltuser:nosalt").options() }
        shouldThrow<IllegalArgumentException> { parse("--cryptosign", "csuser:not-hex").options() }
    }
})
