package dev.tether.conformance.relay

import dev.tether.conformance.External
import dev.tether.conformance.relay.RelaySubject.Companion.key
import dev.tether.relay.AuthToken
import dev.tether.relay.ConnClosedException
import dev.tether.relay.PeerNotOnlineException
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayClientConfig
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
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeout
import java.time.Instant
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds

/** RelayClient and RelayConn semantics (specs/netbird-relay.md §4-§5) against the subject relay. */
class RelayClientConformanceSpec : FunSpec({
    fun client(
        subject: RelaySubject,
        key: String,
        options: RelayClientConfig = RelayClientConfig.DEFAULT,
        store: TokenStore = subject.tokenStore(),
    ) = RelayClient(subject.url, store, key, options)

    test("handshake: success gives the instance URL; a wrong or expired token fails with RelayHandshakeException") {
        RelaySubject.open().use { subject ->
            withTimeout(15_000) {
                client(subject, key("A")).use { c ->
                    c.connect()
                    c.serverInstanceUrl().startsWith("rel") shouldBe true
                }
                shouldThrow<RelayHandshakeException> {
                    val wrong = TokenStore(AuthToken.generate(subject.secret + "x"))
                    client(subject, key("A"), store = wrong).use { it.connect() }
                }
                shouldThrow<RelayHandshakeException> {
                    val expired = TokenStore(AuthToken.fromSecret(subject.secret, Instant.now().minusSeconds(60)))
                    client(subject, key("A"), store = expired).use { it.connect() }
                }
            }
        }
    }

    test("two peers exchange data both ways, byte-exact, sizes 0 to 8782") {
        RelaySubject.open().use { subject ->
            val a = key("A")
            val b = key("B")
            client(subject, a).use { ca ->
                client(subject, b).use { cb ->
                    withTimeout(20_000) {
                        ca.connect()
                        cb.connect()
                        val pending = async { ca.openConn(b) }
                        val ba = cb.openConn(a)
                        val ab = pending.await()
                        val random = Random(42)
                        val sizes = listOf(0, 1, 64, 1_000, 8_192, 8_782)
                        for (size in sizes) {
                            val there = random.nextBytes(size)
                            ab.write(there)
                            ba.read().contentEquals(there) shouldBe true
                            val back = random.nextBytes(size)
                            ba.write(back)
                            ab.read().contentEquals(back) shouldBe true
                        }
                    }
                }
            }
        }
    }

    test("openConn before the peer is online returns once it logs in; without it, PeerNotOnlineException") {
        RelaySubject.open().use { subject ->
            val a = key("A")
            val b = key("B")
            client(subject, a, RelayClientConfig { openConnTimeout(500.milliseconds) }).use { ca ->
                withTimeout(10_000) {
                    ca.connect()
                    shouldThrow<PeerNotOnlineException> { ca.openConn(b) }
                }
            }
            client(subject, a).use { ca ->
                client(subject, b).use { cb ->
                    withTimeout(10_000) {
                        ca.connect()
                        val pending = async { ca.openConn(b) }
                        while (!ca.hasConns()) delay(5)
                        pending.isCompleted shouldBe false
                        cb.connect()
                        pending.await().isOpen shouldBe true
                    }
                }
            }
        }
    }

    test("early buffer: the message that arrived before openConn is the first read") {
        RelaySubject.open().use { subject ->
            val a = key("A")
            val b = key("B")
            client(subject, a).use { ca ->
                client(subject, b).use { cb ->
                    withTimeout(10_000) {
                        ca.connect()
                        cb.connect()
                        ca.openConn(b).write("early".encodeToByteArray())
                        while (cb.stats().earlyBuffered == 0) delay(5)
                        cb.openConn(a).read().decodeToString() shouldBe "early"
                    }
                }
            }
        }
    }

    test("Conn.close is local; the remote conn closes only when the whole session ends") {
        RelaySubject.open().use { subject ->
            val a = key("A")
            val b = key("B")
            client(subject, a).use { ca ->
                client(subject, b).use { cb ->
                    withTimeout(10_000) {
                        ca.connect()
                        cb.connect()
                        val pending = async { ca.openConn(b) }
                        val ba = cb.openConn(a)
                        val ab = pending.await()
                        ab.close()
                        shouldThrow<ConnClosedException> { ab.read() }
                        ba.write("still delivered".encodeToByteArray())
                        while (ca.stats().earlyBuffered == 0) delay(5)
                        ba.isOpen shouldBe true
                        ca.closeAndJoin()
                        shouldThrow<ConnClosedException> { ba.read() }
                    }
                }
            }
        }
    }

    test(
        "health-check timeout on the client side: the session ends and the client ends with " +
            "HEALTH_CHECK_TIMEOUT",
    ).config(
        enabledOrReasonIf = External.needsFake(RelaySubject.fakeOnly, "the fake's fault controls (stop health checks)"),
    ) {
        RelaySubject.open().use { subject ->
            client(subject, key("A"), RelayClientConfig { healthCheckTimeout(400.milliseconds) }).use { c ->
                withTimeout(10_000) {
                    c.connect()
                    subject.fake!!.faults.stopKeepalive(true)
                    c.awaitClosed().shouldBeInstanceOf<RelaySessionLostException>().loss shouldBe
                        RelaySessionLoss.HEALTH_CHECK_TIMEOUT
                    c.isConnected shouldBe false
                    subject.fake.faults.reset()
                    client(subject, key("A")).use { again ->
                        // a client has one session: a new one connects
                        again.connect()
                        again.isConnected shouldBe true
                    }
                }
            }
        }
    }

    test("server shutdown sends Close: the client ends with SERVER_CLOSED").config(
        enabledOrReasonIf = External.needsFake(RelaySubject.fakeOnly, "to shut the relay down (the fake)"),
    ) {
        val subject = RelaySubject.open()
        client(subject, key("A")).use { c ->
            withTimeout(10_000) {
                c.connect()
                subject.close()
                c.awaitClosed().shouldBeInstanceOf<RelaySessionLostException>().loss shouldBe
                    RelaySessionLoss.SERVER_CLOSED
            }
        }
    }
})
