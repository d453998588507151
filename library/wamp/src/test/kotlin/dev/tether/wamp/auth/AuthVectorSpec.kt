package dev.tether.wamp.auth

import dev.tether.wamp.hex
import dev.tether.wamp.message.Challenge
import dev.tether.wamp.toHex
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import java.security.MessageDigest
import java.util.Base64

/** wamp-test-vectors.txt §1 (WAMP-CRA), §2 (cryptosign) and the captured exchanges of §6. */
class AuthVectorSpec : FunSpec({
    val challenge = WampCra.challengeString(
        Base64.getEncoder().encodeToString(ByteArray(16) { it.toByte() }),
        "static",
        "user1",
        "2026-05-20T10:11:12Z",
        "user",
        "wampcra",
        1234567890123,
    )

    test("CRA.challenge: the router template reproduces nexus's string byte for byte") {
        challenge.toByteArray().toHex() shouldBe "7b20226e6f6e6365223a2241414543417751464267634943516f4c4441304f44773" +
            "d3d222c20226175746870726f7669646572223a22737461746963222c2022617574686964223a227573657231222c202274696d6" +
            "57374616d70223a22323032362d30352d32305431303a31313a31325a222c202261757468726f6c65223a2275736572222c20226" +
            "17574686d6574686f64223a2277616d70637261222c202273657373696f6e223a31323334353637383930313233207d"
    }

    test("CRA.plain: HMAC-SHA256 with the secret as key") {
        WampCra.sign("secret123".toByteArray(), challenge) shouldBe "dOx6hXodyp2rg5yHXVhVKmpkAGJFhqUPQ55F1n8KT1Y="
        Base64.getDecoder().decode(
            WampCra.sign("secret123".toByteArray(), challenge),
        ).toHex() shouldBe "74ec7a857a1dca9dab839c875d58552a6a6400624586a50f439e45d67f0a4f56"
        AuthHandler.wampCra(
            "secret123",
        ).authenticate(
            Challenge("wampcra", mapOf("challenge" to challenge)),
        ).signature shouldBe "dOx6hXodyp2rg5yHXVhVKmpkAGJFhqUPQ55F1n8KT1Y="
        WampCra.verify(
            "dOx6hXodyp2rg5yHXVhVKmpkAGJFhqUPQ55F1n8KT1Y=",
            challenge,
            "secret123".toByteArray(),
        ) shouldBe true
        WampCra.verify(
            "dOx6hXodyp2rg5yHXVhVKmpkAGJFhqUPQ55F1n8KT1Y=",
            challenge,
            "secret124".toByteArray(),
        ) shouldBe false
    }

    test("CRA.salted.iter1000: PBKDF2-derived key string") {
        WampCra.pbkdf2(
            "secret123".toByteArray(),
            "salt123".toByteArray(),
            1000,
            32,
        ).toHex() shouldBe "12eec240b7d1fbf15f6fedbbe40e2cf7fe87fd118a631338b3a20caec34acc2f"
        WampCra.deriveKey("secret123", "salt123", 1000, 32) shouldBe "Eu7CQLfR+/Ffb+275A4s9/6H/RGKYxM4s6IMrsNKzC8="
        WampCra.respond(
            "secret123",
            mapOf("challenge" to challenge, "salt" to "salt123", "iterations" to 1000L, "keylen" to 32L),
        ) shouldBe "+uAhFKgcxqvlAJAf2xYOBlhE0wQExRsumUmNgYT/NxA="
        WampCra.verify(
            "+uAhFKgcxqvlAJAf2xYOBlhE0wQExRsumUmNgYT/NxA=",
            challenge,
            "Eu7CQLfR+/Ffb+275A4s9/6H/RGKYxM4s6IMrsNKzC8=".toByteArray(),
        ) shouldBe true
    }

    test("CRA.salted.iter100") {
        WampCra.pbkdf2(
            "secret123".toByteArray(),
            "salt123".toByteArray(),
            100,
            32,
        ).toHex() shouldBe "0e91c746543a50d50b2653fd27c5a43f0f81a409da65a3d418482deec8f15e0b"
        WampCra.deriveKey("secret123", "salt123", 100, 32) shouldBe "DpHHRlQ6UNULJlP9J8WkPw+BpAnaZaPUGEgt7sjxXgs="
        WampCra.respond(
            "secret123",
            mapOf("challenge" to challenge, "salt" to "salt123", "iterations" to 100L, "keylen" to 32L),
        ) shouldBe "ezncgZTrfMRY+NtnJxE/Q4O4MfkBygEFuB6AzMaY/g4="
    }

    test("CRA.salted.defaults: a salt without iterations/keylen means 1000/32") {
        WampCra.respond(
            "secret123",
            mapOf("challenge" to challenge, "salt" to "salt123"),
        ) shouldBe "+uAhFKgcxqvlAJAf2xYOBlhE0wQExRsumUmNgYT/NxA="
    }

    test("PBKDF2 longer than one block matches RFC 7914 test vector (passwd/salt, c=1, dkLen=64)") {
        WampCra.pbkdf2("passwd".toByteArray(), "salt".toByteArray(), 1, 64).toHex() shouldBe
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845" +
            "b1e30bd509112041d3a19783"
    }

    test("§6 captured exchanges: plain and salted CRA signatures over real router challenges") {
        val plain = "{ \"nonce\":\"YuVE5UtDHV65idh6zJov+Q==\", \"authprovider\":\"static\", \"authid\":\"crauser\"," +
            " \"timestamp\":\"2026-11-22T01:04:17Z\", \"authrole\":\"user\", \"authmethod\":\"wampcra\", \"session\":" +
            "6148666075900376 }"
        AuthHandler.wampCra(
            "crasecret",
        ).authenticate(
            Challenge("wampcra", mapOf("challenge" to plain)),
        ).signature shouldBe "ZeHElJqPOtuol71M5bapVfU3xuS6viti6auWZNA65Lw="
        val salted = "{ \"nonce\":\"WpHKew1A6gz5F1M4Zj8/7Q==\", \"authprovider\":\"static\", \"authid\":\"saltuser\"," +
            " \"timestamp\":\"2026-11-22T01:04:17Z\", \"authrole\":\"user\", \"authmethod\":\"wampcra\", \"session\":" +
            "7834933735956547 }"
        AuthHandler.wampCra(
            "saltsecret",
        ).authenticate(
            Challenge(
                "wampcra",
                mapOf("challenge" to salted, "salt" to "salt123", "keylen" to 32L, "iterations" to 1000L),
            ),
        ).signature shouldBe
            "M76V2iqW77Q6CXQ5+aSyd7pWvFsi0o2uJFPV3eN0hpg="
    }

    val key = CryptosignKey.fromSeedHex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20")
    val csChallenge = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    val csResponse = "4f26bb304a12b6ef7317fd9ca9992ad55882083a59760088326ae7fad0304cb46dd29cf05a4e18184f1a9da4b43bfc6" +
        "1cd73463b0a7fe233377349e177d58f07" + csChallenge

    test("CS: public key, signature and AUTHENTICATE signature from the seed") {
        key.publicKeyHex shouldBe "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"
        key.sign(hex(csChallenge)).toHex() shouldBe csResponse.substring(0, 128)
        key.respond(csChallenge) shouldBe csResponse
        val handler = AuthHandler.cryptosign(key)
        handler.helloAuthExtra() shouldBe mapOf("pubkey" to key.publicKeyHex)
        handler.authenticate(Challenge("cryptosign", mapOf("challenge" to csChallenge))).signature shouldBe csResponse
        key.toString().contains("0102030405") shouldBe false
    }

    test("CS verifier: accepts the response in either case, rejects every broken form nexus rejects") {
        val pub = key.publicKeyHex
        CryptosignKey.verify(csResponse, pub, csChallenge) shouldBe true
        CryptosignKey.verify(csResponse.uppercase(), pub, csChallenge) shouldBe true
        val flipped = "4e" + csResponse.substring(2)
        CryptosignKey.verify(flipped, pub, csChallenge) shouldBe false
        CryptosignKey.verify(csResponse.substring(0, 128), pub, csChallenge) shouldBe false
        CryptosignKey.verify("zz" + csResponse.substring(2), pub, csChallenge) shouldBe false
        CryptosignKey.verify(csResponse.substring(0, 191), pub, csChallenge) shouldBe false
    }

    test("CS verifier: a valid signature over other bytes than the issued challenge fails (nexus defect fixed)") {
        val zeros = "00".repeat(32)
        val other = key.respond(zeros)
        CryptosignKey.verify(other, key.publicKeyHex, zeros) shouldBe true
        CryptosignKey.verify(other, key.publicKeyHex, csChallenge) shouldBe false
    }

    test("§6 captured cryptosign: the seed sha256('rs-wamp-test') gives the user's key and the captured response") {
        val seed = MessageDigest.getInstance("SHA-256").digest("rs-wamp-test".toByteArray())
        val user = CryptosignKey.fromSeed(seed)
        user.publicKeyHex shouldBe "7dafcd8a99fe7c41264bc1a64ae46793a55eb7e31b96b58a7e0b44ed27cff163"
        val ch = "4c8f34bca8e625c514848221d0c4ca6feda9d37b4a7c3a96d5aa0b4112c4f09a"
        user.respond(
            ch,
        ) shouldBe "c42e8bb218c533a692449e721c033b223046792d2f0c6b6f0166fd1835abf86da780347c763b5f248ea8aeb3b64ce59bb" +
            "686eb7f7e1bae16ebc07e48f30cf402$ch"
    }

    test("ticket: the signature is the ticket; a challenge without a string still gets an (empty) answer") {
        AuthHandler.ticket("t0ken").authenticate(Challenge("ticket", emptyMap())).signature shouldBe "t0ken"
        AuthHandler.wampCra(
            "x",
        ).authenticate(Challenge("wampcra", emptyMap())).signature shouldBe WampCra.sign("x".toByteArray(), "")
        AuthHandler.cryptosign(
            key,
        ).authenticate(Challenge("cryptosign", mapOf("challenge" to "nothex"))).signature shouldBe ""
    }
})
