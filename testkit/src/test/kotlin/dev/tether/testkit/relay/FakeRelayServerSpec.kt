package dev.tether.testkit.relay

import dev.tether.relay.AuthToken
import dev.tether.relay.ConnAlreadyExistsException
import dev.tether.relay.ConnClosedException
import dev.tether.relay.PayloadTooLargeException
import dev.tether.relay.PeerId
import dev.tether.relay.PeerNotOnlineException
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayClientConfig
import dev.tether.relay.RelayClientNotConnectedException
import dev.tether.relay.RelayClosedException
import dev.tether.relay.RelayDialException
import dev.tether.relay.RelayHandshakeException
import dev.tether.relay.RelaySessionLoss
import dev.tether.relay.RelaySessionLostException
import dev.tether.relay.TokenStore
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.withTimeout
import java.net.ServerSocket
import java.time.Duration
import java.time.Instant
import kotlin.time.Duration.Companion.milliseconds

/** RelayClient and RelayConn against the testkit relay: handshake, forwarding, subscriptions, health, faults. */
class FakeRelayServerSpec : FunSpec({
    fun client(
        relay: FakeRelayServer,
        key: String,
        store: TokenStore = relay.tokenStore(),
        options: RelayClientConfig = RelayClientConfig.DEFAULT,
    ) = RelayClient(relay.url, store, key, options)

    test("connect: AuthResponse carries the instance URL; several instances run at once") {
        fastRelay().use { home ->
            fastRelay { instanceUrl("rels://relay.example.com:443") }.use { other ->
                client(home, "peerA").use { a ->
                    client(other, "peerA").use { b ->
                        withTimeout(10_000) {
                            a.connect()
                            b.connect()
                        }
                        a.serverInstanceUrl() shouldBe home.url
                        b.serverInstanceUrl() shouldBe "rels://relay.example.com:443"
                        home.isOnline("peerA") shouldBe true
                        other.isOnline("peerA") shouldBe true
                        a.webSocketUrl shouldBe home.webSocketUrl
                    }
                }
            }
        }
    }

    test("handshake failures: wrong secret, expired token, refused login, silent server, nothing listening") {
        fastRelay().use { relay ->
            val wrong = TokenStore(AuthToken.generate("not-the-secret"))
            shouldThrow<RelayHandshakeException> {
                withTimeout(10_000) { client(relay, "a", wrong).use { it.connect() } }
            }
            val expired = TokenStore(AuthToken.fromSecret(relay.secret, Instant.now().minusSeconds(5)))
            shouldThrow<RelayHandshakeException> {
                withTimeout(10_000) { client(relay, "a", expired).use { it.connect() } }
            }
            relay.faults.refuseNext(1)
            shouldThrow<RelayHandshakeException> { withTimeout(10_000) { client(relay, "a").use { it.connect() } } }
            relay.rejectedLogins() shouldBe 3
            relay.faults.latency(Duration.ofSeconds(3))
            val quick = RelayClientConfig { handshakeTimeout(300.milliseconds) }
            shouldThrow<RelayHandshakeException> {
                withTimeout(10_000) { client(relay, "a", options = quick).use { it.connect() } }
            }.timedOut shouldBe true
            relay.faults.reset()
            relay.acceptedLogins() shouldBe 0
        }
        val port = ServerSocket(0).use { it.localPort }
        RelayClient("rel://127.0.0.1:$port", TokenStore(AuthToken.generate("x")), "a").use { c ->
            shouldThrow<RelayDialException> { withTimeout(10_000) { c.connect() } }
            c.isConnected shouldBe false
        }
    }

    test("two peers exchange bytes both ways, byte-exact, up to 8782-byte payloads") {
        fastRelay().use { relay ->
            client(relay, "peerA").use { a ->
                client(relay, "peerB").use { b ->
                    withTimeout(10_000) {
                        a.connect()
                        b.connect()
                        val toB = async { a.openConn("peerB") }
                        val toA = b.openConn("peerA")
                        val ab = toB.await()
                        ab.peerId shouldBe PeerId.of("peerB")
                        ab.instanceUrl shouldBe relay.url
                        val big = ByteArray(8782) { (it * 31).toByte() }
                        ab.write("hello".encodeToByteArray())
                        ab.write(big)
                        toA.read().decodeToString() shouldBe "hello"
                        toA.read().contentEquals(big) shouldBe true
                        toA.write(byteArrayOf(0, 1, 2, -1))
                        ab.read().toList() shouldBe listOf<Byte>(0, 1, 2, -1)
                        shouldThrow<PayloadTooLargeException> { ab.write(ByteArray(8783)) }
                        ab.write("still up".encodeToByteArray())
                        toA.read().decodeToString() shouldBe "still up"
                    }
                }
            }
        }
    }

    test("openConn waits for the peer to come online; times out with PeerNotOnlineException; duplicates refused") {
        fastRelay().use { relay ->
            val quick = RelayClientConfig { openConnTimeout(300.milliseconds) }
            client(relay, "peerA", options = quick).use { a ->
                withTimeout(10_000) {
                    shouldThrow<RelayClientNotConnectedException> { a.openConn("peerB") }
                    a.connect()
                    shouldThrow<PeerNotOnlineException> { a.openConn("peerB") }
                    a.hasConns() shouldBe false
                }
            }
            client(relay, "peerA").use { a ->
                client(relay, "peerB").use { b ->
                    withTimeout(10_000) {
                        a.connect()
                        val pending = async { a.openConn("peerB") }
                        awaitTrue(what = "A waiting") { a.hasConns() }
                        shouldThrow<ConnAlreadyExistsException> { a.openConn("peerB") }
                        b.connect()
                        val conn = pending.await()
                        conn.isOpen shouldBe true
                        shouldThrow<ConnAlreadyExistsException> { a.openConn("peerB") }
                        conn.close()
                        b.openConn("peerA").close()
                        a.openConn("peerB").isOpen shouldBe true
                    }
                }
            }
        }
    }

    test("early buffer: a message sent before the receiver opened its conn is its first read; newest wins") {
        fastRelay().use { relay ->
            client(relay, "peerA").use { a ->
                client(relay, "peerB").use { b ->
                    withTimeout(10_000) {
                        a.connect()
                        b.connect()
                        val ab = a.openConn("peerB")
                        ab.write("first".encodeToByteArray())
                        ab.write("second".encodeToByteArray())
                        awaitTrue(what = "early message replaced") { b.stats().earlyReplaced == 1L }
                        val ba = b.openConn("peerA")
                        ba.read().decodeToString() shouldBe "second"
                        ab.write("third".encodeToByteArray())
                        ba.read().decodeToString() shouldBe "third"
                    }
                }
            }
        }
    }

    test("Conn.close is local; the remote learns only when the session ends") {
        fastRelay().use { relay ->
            client(relay, "peerA").use { a ->
                client(relay, "peerB").use { b ->
                    withTimeout(10_000) {
                        a.connect()
                        b.connect()
                        val ab = async { a.openConn("peerB") }
                        val ba = b.openConn("peerA")
                        val conn = ab.await()
                        conn.close()
                        shouldThrow<ConnClosedException> { conn.write(byteArrayOf(1)) }
                        ba.isOpen shouldBe true
                        ba.write("into the early buffer".encodeToByteArray())
                        awaitTrue(what = "early buffered at A") { a.stats().earlyBuffered == 1 }
                        a.closeAndJoin()
                        shouldThrow<ConnClosedException> { ba.read() }.reason shouldBe "the remote peer went offline"
                    }
                }
            }
        }
    }

    test("a full conn queue drops and counts; backpressure mode loses nothing") {
        fastRelay().use { relay ->
            val small = RelayClientConfig { connQueueSize(4) }
            client(relay, "peerA").use { a ->
                client(relay, "peerB", options = small).use { b ->
                    withTimeout(10_000) {
                        a.connect()
                        b.connect()
                        val ab = async { a.openConn("peerB") }
                        val ba = b.openConn("peerA")
                        val out = ab.await()
                        repeat(50) { out.write(byteArrayOf(it.toByte())) }
                        awaitTrue(what = "50 received") { ba.stats().received == 50L }
                        ba.stats().dropped shouldBe 46
                        b.stats().droppedMessages shouldBe 46
                        (0 until 4).map { ba.read()[0].toInt() } shouldBe listOf(0, 1, 2, 3)
                    }
                }
            }
            val pressing = RelayClientConfig {
                connQueueSize(4)
                backpressure(true)
            }
            client(relay, "peerC").use { c ->
                client(relay, "peerD", options = pressing).use { d ->
                    withTimeout(10_000) {
                        c.connect()
                        d.connect()
                        val cd = async { c.openConn("peerD") }
                        val dc = d.openConn("peerC")
                        val out = cd.await()
                        val writer = async { repeat(200) { out.write(byteArrayOf(it.toByte())) } }
                        (0 until 200).map { dc.read()[0].toInt() and 0xff } shouldBe (0 until 200).toList()
                        writer.await()
                        dc.stats().dropped shouldBe 0
                    }
                }
            }
        }
    }

    test("client health: answers every health check; declares the server dead when they stop") {
        fastRelay { healthCheckTimeout(Duration.ofMillis(300)) }.use { relay ->
            client(relay, "peerA", options = RelayClientConfig { healthCheckTimeout(500.milliseconds) }).use { a ->
                withTimeout(10_000) {
                    a.connect()
                    awaitTrue(what = "10 health checks answered") { relay.healthChecksAnswered() >= 10 }
                    a.isConnected shouldBe true
                    relay.healthCheckTimeouts() shouldBe 0
                    relay.faults.stopKeepalive(true)
                    val reason = a.awaitClosed()
                    reason.shouldBeInstanceOf<RelaySessionLostException>().loss shouldBe
                        RelaySessionLoss.HEALTH_CHECK_TIMEOUT
                    a.isConnected shouldBe false
                    shouldThrow<RelaySessionLostException> { a.serverInstanceUrl() } shouldBe reason
                }
            }
        }
    }

    test("server shutdown sends Close; a dropped client has ended, a new one for the same URL connects") {
        val relay = fastRelay()
        client(relay, "peerA").use { a ->
            withTimeout(10_000) {
                a.connect()
                relay.close()
                a.awaitClosed().shouldBeInstanceOf<RelaySessionLostException>().loss shouldBe
                    RelaySessionLoss.SERVER_CLOSED
            }
        }
        fastRelay().use { r ->
            client(r, "peerA").use { a ->
                withTimeout(10_000) {
                    a.connect()
                    r.faults.drop("peerA") shouldBe true
                    a.awaitClosed().shouldBeInstanceOf<RelaySessionLostException>()
                    client(r, "peerA").use { again ->
                        again.connect()
                        again.serverInstanceUrl() shouldBe r.url
                        r.awaitLogins(2)
                        again.closeAndJoin()
                        again.awaitClosed().shouldBeInstanceOf<RelayClosedException>()
                        r.awaitOffline("peerA")
                    }
                }
            }
        }
    }

    test("dropAll cuts every peer's session and counts each once") {
        fastRelay().use { r ->
            client(r, "peerA").use { a ->
                client(r, "peerB").use { b ->
                    withTimeout(10_000) {
                        a.connect()
                        b.connect()
                        r.awaitOnline("peerA")
                        r.awaitOnline("peerB")
                        r.faults.dropAll() shouldBe 2
                        r.faults.dropAll() shouldBe 0 // the dropped sessions may still be listed: not counted twice
                        a.awaitClosed()
                        b.awaitClosed()
                        r.awaitOffline("peerA")
                        r.awaitOffline("peerB")
                        a.isConnected shouldBe false
                        b.isConnected shouldBe false
                    }
                }
            }
        }
    }

    test("last login wins; a rotated secret keeps sessions and refuses old tokens") {
        fastRelay().use { relay ->
            val oldStore = relay.tokenStore()
            client(relay, "peerA", oldStore).use { first ->
                client(relay, "peerA", oldStore).use { second ->
                    withTimeout(10_000) {
                        first.connect()
                        second.connect()
                        first.awaitClosed()
                        second.isConnected shouldBe true
                        relay.isOnline("peerA") shouldBe true
                        relay.rotateCredentials("rotated")
                        shouldThrow<RelayHandshakeException> { client(relay, "peerB", oldStore).use { it.connect() } }
                        second.isConnected shouldBe true
                        client(relay, "peerB").use {
                            it.connect()
                            it.isConnected shouldBe true
                        }
                    }
                }
            }
        }
    }
})
