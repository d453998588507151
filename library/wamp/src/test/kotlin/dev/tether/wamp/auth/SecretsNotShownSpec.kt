package dev.tether.wamp.auth

import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SessionJoin
import dev.tether.wamp.message.Authenticate
import dev.tether.wamp.message.Challenge
import dev.tether.wamp.message.Hello
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain

/**
 * Tickets, secrets, seeds and signatures never show in `toString()` or in an error message (docs/security.md,
 * "Where they never appear").
 */
class SecretsNotShownSpec : FunSpec({
    val ticket = "tkt-Zq8rW3vY"
    val secret = "crasecret-9fK2"
    val seedHex = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510"

    test("AUTHENTICATE shows the length of its signature, never the signature (for a ticket, the ticket)") {
        val answer = AuthHandler.ticket(ticket).authenticate(Challenge("ticket", emptyMap()))
        answer.signature shouldBe ticket
        answer.toString() shouldNotContain ticket
        answer.toString() shouldContain "${ticket.length} characters"
        Authenticate(ticket, mapOf("k" to "v")).toString() shouldBe
            "Authenticate(signature=<${ticket.length} characters, not shown>, extra={k=v})"
    }

    test("the auth handlers, a config holding them, the cryptosign key and the HELLO they make show no secret") {
        val key = CryptosignKey.fromSeedHex(seedHex)
        val handlers = listOf(AuthHandler.ticket(ticket), AuthHandler.wampCra(secret), AuthHandler.cryptosign(key))
        val config = SessionConfig("realm1") {
            authHandler("ticket", handlers[0])
            authHandler("wampcra", handlers[1])
            authHandler("cryptosign", handlers[2])
        }
        val shown = handlers.map { it.toString() } + config.toString() + key.toString() +
            Hello("realm1", SessionJoin.helloDetails(config)).toString()
        for (text in shown) {
            withClue(text) {
                text shouldNotContain ticket
                text shouldNotContain secret
                text shouldNotContain seedHex
                text shouldNotContain seedHex.substring(0, 16)
            }
        }
        key.toString() shouldContain key.publicKeyHex
    }

    test("a malformed cryptosign seed is refused without quoting it, not even its one wrong character") {
        val wrongCharacter = seedHex.substring(0, 20) + "Q" + seedHex.substring(21)
        val badCharacter = shouldThrow<IllegalArgumentException> { CryptosignKey.fromSeedHex(wrongCharacter) }
        badCharacter.message!! shouldContain "character 21"
        badCharacter.message!! shouldNotContain "Q"
        badCharacter.message!! shouldNotContain seedHex.substring(0, 8)

        val short = shouldThrow<IllegalArgumentException> { CryptosignKey.fromSeedHex(seedHex.dropLast(3)) }
        short.message!! shouldContain "61"
        short.message!! shouldNotContain seedHex.substring(0, 8)

        // A full-width digit is a digit to Character.digit, but not hex to the key: refused, and not quoted.
        val fullWidth = seedHex.substring(0, 63) + "\uFF15"
        val notHex = shouldThrow<IllegalArgumentException> { CryptosignKey.fromSeedHex(fullWidth) }
        notHex.message!! shouldNotContain "\uFF15"
    }
})
