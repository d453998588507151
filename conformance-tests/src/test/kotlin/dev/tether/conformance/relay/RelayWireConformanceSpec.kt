@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.conformance.relay

import dev.tether.conformance.External
import dev.tether.conformance.relay.RelaySubject.Companion.key
import dev.tether.relay.Auth
import dev.tether.relay.AuthResponse
import dev.tether.relay.AuthToken
import dev.tether.relay.PeerId
import dev.tether.relay.PeerStateMessage
import dev.tether.relay.RelayMessage
import dev.tether.relay.Transport
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.withTimeout
import java.time.Instant

/**
 * The relay's wire behaviour seen from a bare WebSocket (specs/netbird-relay.md §2-§4): the codec vectors on the
 * wire, each handshake failure (the server just closes), id rewriting, subscriptions and health checks.
 */
class RelayWireConformanceSpec : FunSpec({
    fun hex(s: String): ByteArray = s.chunked(2).map { it.toInt(16).toByte() }.toByteArray()

    suspend fun login(
        subject: RelaySubject,
        peerKey: String,
        token: AuthToken = AuthToken.generate(subject.secret),
    ): RawRelaySocket {
        val raw = RawRelaySocket.open(subject)
        raw.send(Auth(PeerId.of(peerKey), token.toWire()).encode())
        RelayMessage.decode(raw.receive()!!).shouldBeInstanceOf<AuthResponse>().instanceUrl.isNotEmpty() shouldBe true
        return raw
    }

    /** Sends [first] as the first message and expects the server to close without answering. */
    suspend fun expectClosedAfter(subject: RelaySubject, first: ByteArray) {
        RawRelaySocket.open(subject).use { raw ->
            raw.send(first)
            raw.receive() shouldBe null
        }
    }

    test("the exact Auth vector of peerA logs in and gets an AuthResponse").config(
        enabledOrReasonIf = External.needsFake(
            RelaySubject.fakeOnly,
            "a relay whose secret is \"testsecret\" (the published vector's)",
        ),
    ) {
        RelaySubject.open { secret("testsecret") }.use { subject ->
            withTimeout(10_000) {
                RawRelaySocket.open(subject).use { raw ->
                    raw.send(
                        hex(
                            "01062112a4427368612d82537b90695efd18234a9c071737b4fcf96dae56bb3fdb4f1127fc902368e0d8" +
                                "01a00af5ef85902d078a580b5d799e486f9fb41d613b5a922dd81c1a1576b2fbf2" +
                                "32303030303030303030",
                        ),
                    )
                    val answer = raw.receive()!!
                    answer[0] shouldBe 1
                    answer[1] shouldBe 7
                    (RelayMessage.decode(answer) as AuthResponse).instanceUrl shouldBe subject.url
                }
            }
        }
    }

    test("handshake failures close the socket without a response") {
        RelaySubject.open().use { subject ->
            withTimeout(20_000) {
                val me = PeerId.of(key("x"))
                val good = AuthToken.generate(subject.secret).toWire()
                expectClosedAfter(subject, Auth(me, AuthToken.generate(subject.secret + "-wrong").toWire()).encode())
                val expired = AuthToken.fromSecret(subject.secret, Instant.now().minusSeconds(60))
                expectClosedAfter(subject, Auth(me, expired.toWire()).encode())
                expectClosedAfter(subject, Auth(me, good).encode().also { it[2] = 0 }) // bad magic
                expectClosedAfter(subject, Auth(me, good).encode().also { it[0] = 2 }) // bad version
                expectClosedAfter(subject, byteArrayOf(1, 1) + ByteArray(40)) // legacy Hello
                expectClosedAfter(subject, Transport(me, byteArrayOf(1)).encode()) // anything else first
                // unknown algorithm
                expectClosedAfter(subject, Auth(me, good.copyOf(good.size - 1).also { it[0] = 9 }).encode())
            }
        }
    }

    test("Transport is forwarded with the id rewritten to the source; unknown destinations are dropped silently") {
        RelaySubject.open().use { subject ->
            withTimeout(10_000) {
                val a = key("A")
                val b = key("B")
                login(subject, a).use { rawA ->
                    login(subject, b).use { rawB ->
                        rawA.send(Transport(PeerId.of(key("nobody")), "lost".encodeToByteArray()).encode())
                        rawA.send(Transport(PeerId.of(b), "hello".encodeToByteArray()).encode())
                        val delivered = rawB.receiveData()!!
                        delivered.toList() shouldBe
                            Transport(PeerId.of(a), "hello".encodeToByteArray()).encode().toList()
                        // Both sessions are still up: a subscription to an online peer is answered at once.
                        rawA.send(PeerStateMessage.SubscribePeerState(listOf(PeerId.of(b))).encode())
                        (RelayMessage.decode(rawA.receiveData()!!) as PeerStateMessage.PeersOnline)
                            .peerIds shouldContainExactly listOf(PeerId.of(b))
                    }
                }
            }
        }
    }

    test("subscriptions: online now, online later, offline when the session ends") {
        RelaySubject.open().use { subject ->
            withTimeout(10_000) {
                val a = key("A")
                val b = key("B")
                login(subject, a).use { rawA ->
                    rawA.send(PeerStateMessage.SubscribePeerState(listOf(PeerId.of(b))).encode())
                    val rawB = login(subject, b)
                    (RelayMessage.decode(rawA.receiveData()!!) as PeerStateMessage.PeersOnline)
                        .peerIds shouldContainExactly listOf(PeerId.of(b))
                    rawB.send(RelayMessage.Close.encode())
                    (RelayMessage.decode(rawA.receiveData()!!) as PeerStateMessage.PeersWentOffline)
                        .peerIds shouldContainExactly listOf(PeerId.of(b))
                    rawB.close()
                }
            }
        }
    }

    test("after the handshake a type the server does not accept closes the session") {
        RelaySubject.open().use { subject ->
            withTimeout(10_000) {
                login(subject, key("A")).use { raw ->
                    raw.send(byteArrayOf(1, 12))
                    raw.receiveData() shouldBe null
                }
            }
        }
    }

    test("the server sends health checks and closes a peer that never answers").config(
        enabledOrReasonIf = External.needsFake(RelaySubject.fakeOnly, "a fake with a 400 ms health-check timeout"),
    ) {
        RelaySubject.open { healthCheckTimeout(java.time.Duration.ofMillis(400)) }.use { subject ->
            withTimeout(10_000) {
                login(subject, key("A")).use { raw ->
                    raw.receive()!!.toList() shouldBe RelayMessage.HealthCheck.encode().toList()
                    var m: ByteArray?
                    do {
                        m = raw.receive()
                    } while (m != null) // never answering: the server cuts us off
                    subject.fake!!.healthCheckTimeouts() shouldBe 1
                }
                login(subject, key("B")).use { raw ->
                    repeat(6) {
                        raw.receive()!!.toList() shouldBe listOf<Byte>(1, 5)
                        raw.send(RelayMessage.HealthCheck.encode())
                    }
                    subject.fake!!.healthCheckTimeouts() shouldBe 1
                    subject.fake!!.onlinePeers().size shouldNotBe 0
                }
            }
        }
    }
})
