package dev.tether.cli

import dev.tether.tunnel.TunnelFlavour
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import picocli.CommandLine

class ServeProxySpec : FunSpec({
    fun parse(vararg args: String): ServeProxy = ServeProxy().also { CommandLine(it).parseArgs(*args) }

    test("tether serve proxy: the defaults are a path-style webhooktunnel proxy accepting test-secret tokens") {
        val options = parse().options()
        options.flavour shouldBe TunnelFlavour.WEBHOOKTUNNEL
        options.secretA shouldBe "test-secret"
        options.domainStyle shouldBe false
        options.urlPrefix shouldBe null
    }

    test("tether serve proxy: the proxy generations' settings map to the fake's options") {
        parse("--hostname", "tunnel.test", "--domain-style").options().let {
            it.hostname shouldBe "tunnel.test"
            it.domainStyle shouldBe true
        }
        val websocktunnel =
            parse("--websocktunnel", "--url-prefix", "https://t.example/", "--audience", "aud-1", "--secret-a", "s1")
        websocktunnel.options().let {
            it.flavour shouldBe TunnelFlavour.WEBSOCKTUNNEL
            it.urlPrefix shouldBe "https://t.example/"
            it.audience shouldBe "aud-1"
            it.secretA shouldBe "s1"
        }
    }

    test("tether serve proxy: combinations no real proxy has are refused") {
        shouldThrow<IllegalArgumentException> { parse("--websocktunnel", "--domain-style").options() }
        shouldThrow<IllegalArgumentException> { parse("--audience", "a").options() }
    }
})
