@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.conformance.relay

import dev.tether.relay.Auth
import dev.tether.relay.AuthResponse
import dev.tether.relay.AuthToken
import dev.tether.relay.PeerId
import dev.tether.relay.PeerStateMessage
import dev.tether.relay.RelayMessage
import dev.tether.relay.Transport
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import java.time.Instant

/** The published vectors (specs/relay-test-vectors.txt) as the conformance baseline every implementation shares. */
class RelayCodecConformanceSpec : FunSpec({
    fun ByteArray.hex(): String = joinToString("") { "%02x".format(it) }
    val a = PeerId.of("peerA")
    val b = PeerId.of("peerB")
    val token = AuthToken.fromManagement("2000000000", "oAr174WQLQeKWAtdeZ5Ib5+0HWE7WpIt2BwaFXay+/I=")

    test("peer ids") {
        a.toString() shouldBe "sha-glN7kGle/RgjSpwHFze0/Pltrla7P9tPESf8kCNo4Ng="
        b.toString() shouldBe "sha-EnmQwkGysfqBuJ1tJNzzC/ENkNPzSicCFWHRCf5KymM="
        PeerId.of("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").toByteArray().hex() shouldBe
            "7368612d51643eac9777b63a7b268174d1fd4276daedec9bc9ea0bc6e5abf69047bc54f6"
    }

    test("token from secret equals token from management") {
        AuthToken.fromSecret("testsecret", Instant.ofEpochSecond(2_000_000_000)).toWire().hex() shouldBe
            token.toWire().hex()
        token.toWire().hex() shouldBe
            "01a00af5ef85902d078a580b5d799e486f9fb41d613b5a922dd81c1a1576b2fbf232303030303030303030"
    }

    test("every message type") {
        Auth(a, token.toWire()).encode().hex() shouldBe
            "01062112a4427368612d82537b90695efd18234a9c071737b4fcf96dae56bb3fdb4f1127fc902368e0d8" +
            "01a00af5ef85902d078a580b5d799e486f9fb41d613b5a922dd81c1a1576b2fbf232303030303030303030"
        AuthResponse("rels://relay.example.com:443").encode().hex() shouldBe
            "010772656c733a2f2f72656c61792e6578616d706c652e636f6d3a343433"
        val sent = Transport(b, "hello".encodeToByteArray()).encode()
        sent.hex() shouldBe "01037368612d127990c241b2b1fa81b89d6d24dcf30bf10d90d3f34a27021561d109fe4aca6368656c6c6f"
        Transport.rewritePeerId(sent, a)
        sent.hex() shouldBe "01037368612d82537b90695efd18234a9c071737b4fcf96dae56bb3fdb4f1127fc902368e0d868656c6c6f"
        val idB = "7368612d127990c241b2b1fa81b89d6d24dcf30bf10d90d3f34a27021561d109fe4aca63"
        PeerStateMessage.SubscribePeerState(listOf(b)).encode().hex() shouldBe "0108$idB"
        PeerStateMessage.UnsubscribePeerState(listOf(b)).encode().hex() shouldBe "0109$idB"
        PeerStateMessage.PeersOnline(listOf(b, a)).encode().hex() shouldBe
            "010a${idB}7368612d82537b90695efd18234a9c071737b4fcf96dae56bb3fdb4f1127fc902368e0d8"
        PeerStateMessage.PeersWentOffline(listOf(b)).encode().hex() shouldBe "010b$idB"
        RelayMessage.Close.encode().hex() shouldBe "0104"
        RelayMessage.HealthCheck.encode().hex() shouldBe "0105"
    }

    test("chunking: 500 ids -> 8786, 8786, 434 bytes") {
        PeerStateMessage.PeersOnline((0 until 500).map { PeerId.of("p$it") }).encodeChunks()
            .map { it.size } shouldBe listOf(8786, 8786, 434)
    }
})
