@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.relay

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import java.time.Instant

/** Every vector of specs/relay-test-vectors.txt, byte for byte, in both directions. */
class CodecVectorSpec : FunSpec({
    fun hex(s: String): ByteArray = s.chunked(2).map { it.toInt(16).toByte() }.toByteArray()
    fun ByteArray.hex(): String = joinToString("") { "%02x".format(it) }

    val peerA = PeerId.of("peerA")
    val peerB = PeerId.of("peerB")
    val token = AuthToken.fromSecret("testsecret", Instant.ofEpochSecond(2_000_000_000))

    context("HashID") {
        data class V(val key: String, val hex: String, val text: String)
        listOf(
            V(
                "peerA",
                "7368612d82537b90695efd18234a9c071737b4fcf96dae56bb3fdb4f1127fc902368e0d8",
                "sha-glN7kGle/RgjSpwHFze0/Pltrla7P9tPESf8kCNo4Ng=",
            ),
            V(
                "peerB",
                "7368612d127990c241b2b1fa81b89d6d24dcf30bf10d90d3f34a27021561d109fe4aca63",
                "sha-EnmQwkGysfqBuJ1tJNzzC/ENkNPzSicCFWHRCf5KymM=",
            ),
            V(
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "7368612d51643eac9777b63a7b268174d1fd4276daedec9bc9ea0bc6e5abf69047bc54f6",
                "sha-UWQ+rJd3tjp7JoF00f1Cdtrt7JvJ6gvG5av2kEe8VPY=",
            ),
        ).forEach { v ->
            test("HashID(\"${v.key.take(8)}…\")") {
                val id = PeerId.of(v.key)
                id.toByteArray().hex() shouldBe v.hex
                id.toString() shouldBe v.text
                PeerId.parse(v.text) shouldBe id
                PeerId.fromBytes(hex(v.hex)) shouldBe id
            }
        }
    }

    context("token") {
        test("HMAC key is SHA-256 of the secret") {
            AuthToken.hmacKey("testsecret").hex() shouldBe
                "59953998e54a579be74c1b7344cd55c64981451b066a35c9d7baf5497f16d865"
        }
        test("signature, management form and wire form") {
            token.payload shouldBe "2000000000"
            token.signature.hex() shouldBe "a00af5ef85902d078a580b5d799e486f9fb41d613b5a922dd81c1a1576b2fbf2"
            AuthToken.signatureBase64(token) shouldBe "oAr174WQLQeKWAtdeZ5Ib5+0HWE7WpIt2BwaFXay+/I="
            val wire = token.toWire()
            wire.size shouldBe 43
            wire.hex() shouldBe "01a00af5ef85902d078a580b5d799e486f9fb41d613b5a922dd81c1a1576b2fbf232303030303030303030"
        }
        test("built from management's payload and signature") {
            val fromMgmt = AuthToken.fromManagement("2000000000", "oAr174WQLQeKWAtdeZ5Ib5+0HWE7WpIt2BwaFXay+/I=")
            fromMgmt.toWire().hex() shouldBe token.toWire().hex()
            fromMgmt.expiresAt shouldBe Instant.ofEpochSecond(2_000_000_000)
        }
        test("server validation accepts the vector and refuses tampering, a wrong secret and expiry") {
            val wire = token.toWire()
            AuthToken.verify(wire, "testsecret", Instant.ofEpochSecond(1_900_000_000)) shouldBe AuthToken.Verdict.VALID
            AuthToken.verify(wire, "other", Instant.ofEpochSecond(1_900_000_000)) shouldBe
                AuthToken.Verdict.INVALID_SIGNATURE
            AuthToken.verify(wire, "testsecret", Instant.ofEpochSecond(2_000_000_001)) shouldBe
                AuthToken.Verdict.EXPIRED
            AuthToken.verify(wire, "testsecret", Instant.ofEpochSecond(2_000_000_000)) shouldBe AuthToken.Verdict.VALID
            val tampered = wire.copyOf().also { it[it.size - 1] = '1'.code.toByte() }
            AuthToken.verify(tampered, "testsecret", Instant.ofEpochSecond(1)) shouldBe
                AuthToken.Verdict.INVALID_SIGNATURE
            val badAlgo = wire.copyOf().also { it[0] = 2 }
            AuthToken.verify(badAlgo, "testsecret") shouldBe AuthToken.Verdict.MALFORMED
            AuthToken.verify(wire.copyOf(1 + 32 + 9), "testsecret") shouldBe AuthToken.Verdict.MALFORMED
        }
        test("bad management input is a typed error") {
            shouldThrow<InvalidTokenException> { AuthToken.fromManagement("2000000000", "not base64!") }
            shouldThrow<InvalidTokenException> { AuthToken.fromManagement("2000000000", "AAAA") }
            shouldThrow<InvalidTokenException> {
                AuthToken.fromManagement("", "oAr174WQLQeKWAtdeZ5Ib5+0HWE7WpIt2BwaFXay+/I=")
            }
        }
        test("TokenStore: null update is a no-op, a new token replaces the old") {
            val store = TokenStore(token)
            store.update(null)
            store.token() shouldBe token
            val next = AuthToken.fromSecret("testsecret", Instant.ofEpochSecond(2_100_000_000))
            store.update(next)
            store.token() shouldBe next
            shouldThrow<InvalidTokenException> { store.update("2000000000", "%%%") }
            store.token() shouldBe next
        }
    }

    context("messages") {
        val auth = "01062112a4427368612d82537b90695efd18234a9c071737b4fcf96dae56bb3fdb4f1127fc902368e0d8" +
            "01a00af5ef85902d078a580b5d799e486f9fb41d613b5a922dd81c1a1576b2fbf232303030303030303030"
        test("Auth from peerA (85 bytes)") {
            val bytes = Auth(peerA, token.toWire()).encode()
            bytes.size shouldBe 85
            bytes.hex() shouldBe auth
            val back = RelayMessage.decode(hex(auth)).shouldBeInstanceOf<Auth>()
            back.peerId shouldBe peerA
            back.token.hex() shouldBe token.toWire().hex()
        }
        test("AuthResponse (30 bytes)") {
            val v = "010772656c733a2f2f72656c61792e6578616d706c652e636f6d3a343433"
            AuthResponse("rels://relay.example.com:443").encode().hex() shouldBe v
            RelayMessage.decode(hex(v)).shouldBeInstanceOf<AuthResponse>().instanceUrl shouldBe
                "rels://relay.example.com:443"
        }
        test("Transport as sent by A and as delivered to B after the id rewrite") {
            val sent = "01037368612d127990c241b2b1fa81b89d6d24dcf30bf10d90d3f34a27021561d109fe4aca6368656c6c6f"
            val delivered = "01037368612d82537b90695efd18234a9c071737b4fcf96dae56bb3fdb4f1127fc902368e0d868656c6c6f"
            val bytes = Transport(peerB, "hello".encodeToByteArray()).encode()
            bytes.size shouldBe 43
            bytes.hex() shouldBe sent
            Transport.peerIdOf(bytes) shouldBe peerB
            Transport.rewritePeerId(bytes, peerA)
            bytes.hex() shouldBe delivered
            val back = RelayMessage.decode(hex(delivered)).shouldBeInstanceOf<Transport>()
            back.peerId shouldBe peerA
            back.payload.decodeToString() shouldBe "hello"
        }
        test("Subscribe, Unsubscribe, PeersOnline, PeersWentOffline") {
            val sub = "01087368612d127990c241b2b1fa81b89d6d24dcf30bf10d90d3f34a27021561d109fe4aca63"
            val unsub = "01097368612d127990c241b2b1fa81b89d6d24dcf30bf10d90d3f34a27021561d109fe4aca63"
            val online = "010a7368612d127990c241b2b1fa81b89d6d24dcf30bf10d90d3f34a27021561d109fe4aca63" +
                "7368612d82537b90695efd18234a9c071737b4fcf96dae56bb3fdb4f1127fc902368e0d8"
            val offline = "010b7368612d127990c241b2b1fa81b89d6d24dcf30bf10d90d3f34a27021561d109fe4aca63"
            PeerStateMessage.SubscribePeerState(listOf(peerB)).encode().hex() shouldBe sub
            PeerStateMessage.SubscribePeerState(listOf(peerB)).encode().size shouldBe 38
            PeerStateMessage.UnsubscribePeerState(listOf(peerB)).encode().hex() shouldBe unsub
            PeerStateMessage.PeersOnline(listOf(peerB, peerA)).encode().hex() shouldBe online
            PeerStateMessage.PeersOnline(listOf(peerB, peerA)).encode().size shouldBe 74
            PeerStateMessage.PeersWentOffline(listOf(peerB)).encode().hex() shouldBe offline
            RelayMessage.decode(hex(sub)).shouldBeInstanceOf<PeerStateMessage.SubscribePeerState>()
                .peerIds shouldContainExactly listOf(peerB)
            RelayMessage.decode(hex(unsub)).shouldBeInstanceOf<PeerStateMessage.UnsubscribePeerState>()
                .peerIds shouldContainExactly listOf(peerB)
            RelayMessage.decode(hex(online)).shouldBeInstanceOf<PeerStateMessage.PeersOnline>()
                .peerIds shouldContainExactly listOf(peerB, peerA)
            RelayMessage.decode(hex(offline)).shouldBeInstanceOf<PeerStateMessage.PeersWentOffline>()
                .peerIds shouldContainExactly listOf(peerB)
        }
        test("Close and HealthCheck") {
            RelayMessage.Close.encode().hex() shouldBe "0104"
            RelayMessage.HealthCheck.encode().hex() shouldBe "0105"
            RelayMessage.decode(hex("0104")) shouldBe RelayMessage.Close
            RelayMessage.decode(hex("0105")) shouldBe RelayMessage.HealthCheck
        }
        test("chunking: 500 ids -> 3 messages of 8786, 8786 and 434 bytes") {
            val ids = (0 until 500).map { PeerId.of("peer-$it") }
            val chunks = PeerStateMessage.SubscribePeerState(ids).encodeChunks()
            chunks.map { it.size } shouldContainExactly listOf(8786, 8786, 434)
            chunks.flatMap { (RelayMessage.decode(it) as PeerStateMessage).peerIds } shouldContainExactly ids
            RelayProtocol.MAX_PEERS_PER_MESSAGE shouldBe 244
            shouldThrow<IllegalStateException> { PeerStateMessage.PeersOnline(ids).encode() }
            PeerStateMessage.PeersOnline(ids.take(244)).encode().size shouldBe 8786
        }
    }

    context("limits and bad input") {
        test("payload limit is 8782 bytes; one more is refused with a typed error") {
            RelayProtocol.MAX_PAYLOAD_SIZE shouldBe 8782
            Transport.encode(peerB, ByteArray(8782)).size shouldBe RelayProtocol.MAX_MESSAGE_SIZE
            val e = shouldThrow<PayloadTooLargeException> { Transport.encode(peerB, ByteArray(8783)) }
            e.size shouldBe 8783
            e.message shouldContain "8782"
        }
        test("Auth is at most 212 bytes: a 170-byte token fits, 171 does not") {
            Auth(peerA, ByteArray(170)).encode().size shouldBe 212
            shouldThrow<InvalidTokenException> { Auth(peerA, ByteArray(171)).encode() }
            shouldThrow<MalformedRelayMessageException> {
                RelayMessage.decode(Auth(peerA, ByteArray(170)).encode() + byteArrayOf(0))
            }
        }
        test("AuthResponse over 8192 bytes is refused; an empty one too") {
            val big = byteArrayOf(1, 7) + ByteArray(8191) { 'a'.code.toByte() }
            shouldThrow<MalformedRelayMessageException> { RelayMessage.decode(big) }
            RelayMessage.decode(big.copyOf(8192)).shouldBeInstanceOf<AuthResponse>()
            shouldThrow<MalformedRelayMessageException> { RelayMessage.decode(byteArrayOf(1, 7)) }
        }
        test("bad version, unknown types, short bodies and bad id lists are MalformedRelayMessageException") {
            listOf(
                byteArrayOf(), byteArrayOf(1), byteArrayOf(2, 4), byteArrayOf(1, 0), byteArrayOf(1, 1),
                byteArrayOf(1, 2), byteArrayOf(1, 12),
                byteArrayOf(1, 3, 0x73), hex("0108") + ByteArray(35), hex("010a") + ByteArray(36),
                hex("0106") + ByteArray(40), hex("01062112a443") + peerA.toByteArray(),
            ).forEach { bad -> shouldThrow<MalformedRelayMessageException> { RelayMessage.decode(bad) } }
        }
        test("relay URLs map to ws(s)://host[:port]/relay") {
            RelayClient.toWebSocketUrl("rels://relay.example.com:443") shouldBe "wss://relay.example.com:443/relay"
            RelayClient.toWebSocketUrl("rel://127.0.0.1:33080/some/path") shouldBe "ws://127.0.0.1:33080/relay"
            RelayClient.toWebSocketUrl("rel://host") shouldBe "ws://host/relay"
            shouldThrow<IllegalArgumentException> { RelayClient.toWebSocketUrl("ws://host/relay") }
            shouldThrow<IllegalArgumentException> { RelayClient.toWebSocketUrl("rel:///nohost") }
        }
    }
})
