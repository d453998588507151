package dev.tether.testkit.relay

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.backoff.GuardBackoff
import dev.tether.relay.AuthToken
import dev.tether.relay.ConnClosedException
import dev.tether.relay.Manager
import dev.tether.relay.ManagerConfig
import dev.tether.relay.NoRelayAvailableException
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayClientNotConnectedException
import dev.tether.relay.ServerPicker
import dev.tether.relay.TokenStore
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import java.net.ServerSocket
import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds

/** Manager, Guard and ServerPicker against testkit relays with short timers. */
class RelayManagerSpec : FunSpec({
    val fastGuard = GuardBackoff(
        initialInterval = 50.milliseconds,
        maxInterval = 200.milliseconds,
        randomizationFactor = 0.0,
    )
    fun options(block: ManagerConfig.Builder.() -> Unit = {}) = ManagerConfig {
        quickReconnectDelay(50.milliseconds)
        backoff(fastGuard)
        cleanupInterval(Duration.ofMinutes(10))
        block()
    }
    fun deadUrl() = "rel://127.0.0.1:" + ServerSocket(0).use { it.localPort }

    test("connect picks a working home relay among the URLs; connecting again returns at once") {
        fastRelay().use { relay ->
            Manager(listOf(deadUrl(), relay.url), "peerA", relay.tokenStore(), options()).use { m ->
                shouldThrow<RelayClientNotConnectedException> { m.relayInstanceAddress() }
                withTimeout(10_000) { m.connect() }
                m.relayInstanceAddress() shouldBe relay.url
                m.isConnected shouldBe true
                withTimeout(10_000) { m.connect() }
                m.relayInstanceAddress() shouldBe relay.url
            }
        }
    }

    test("picker: first success wins, the slower relay's session is closed") {
        fastRelay().use { fast ->
            fastRelay { secret(fast.secret) }.use { slow ->
                slow.faults.latency(Duration.ofMillis(500))
                val picker = ServerPicker(listOf(slow.url, fast.url), fast.tokenStore(), "peerA")
                val winner = withTimeout(10_000) { picker.pick() }
                try {
                    winner.serverUrl shouldBe fast.url
                    withTimeout(10_000) { slow.awaitOffline("peerA") }
                    fast.isOnline("peerA") shouldBe true
                } finally {
                    winner.close()
                }
            }
        }
    }

    test("a failed first pick throws, and the guard keeps trying until the relay accepts") {
        fastRelay().use { relay ->
            relay.faults.refuseNext(Int.MAX_VALUE)
            Manager(listOf(relay.url), "peerA", relay.tokenStore(), options()).use { m ->
                val reconnected = Channel<Unit>(4)
                m.onEvent { if (it is ConnectionEvent.Connected) reconnected.trySend(Unit) }
                shouldThrow<NoRelayAvailableException> { withTimeout(10_000) { m.connect() } }
                m.state.value shouldNotBe ConnectionState.CONNECTED // the guard is trying
                relay.faults.refuseNext(0)
                withTimeout(10_000) { reconnected.receive() }
                m.relayInstanceAddress() shouldBe relay.url
            }
        }
    }

    test("guard: quick reconnect of the home relay, then picker fallback when the quick one fails") {
        fastRelay().use { relay ->
            Manager(listOf(relay.url), "peerA", relay.tokenStore(), options()).use { m ->
                val reconnected = Channel<Unit>(4)
                val homeClosed = Channel<Unit>(4)
                withTimeout(10_000) {
                    m.connect()
                    m.onEvent { if (it is ConnectionEvent.Connected) reconnected.trySend(Unit) }
                    m.addCloseListener(m.relayInstanceAddress()) { homeClosed.trySend(Unit) }
                    relay.faults.drop("peerA")
                    homeClosed.receive()
                    reconnected.receive()
                    relay.awaitLogins(2)
                    m.isConnected shouldBe true

                    relay.faults.refuseNext(1) // the quick reconnect fails, the picker's tick succeeds
                    relay.faults.drop("peerA")
                    reconnected.receive()
                    relay.awaitLogins(3)
                    relay.rejectedLogins() shouldBe 1
                    m.relayInstanceAddress() shouldBe relay.url
                }
            }
        }
    }

    test("updateToken: sessions stay, the next handshake uses the new token") {
        fastRelay().use { relay ->
            Manager(listOf(relay.url), "peerA", relay.tokenStore(), options()).use { m ->
                val reconnected = Channel<Unit>(4)
                withTimeout(10_000) {
                    m.connect()
                    m.onEvent { if (it is ConnectionEvent.Connected) reconnected.trySend(Unit) }
                    relay.rotateCredentials("rotated")
                    m.isConnected shouldBe true
                    m.updateToken(AuthToken.generate("rotated"))
                    relay.faults.drop("peerA")
                    reconnected.receive()
                    relay.awaitLogins(2)
                    relay.rejectedLogins() shouldBe 0
                }
            }
        }
    }

    test("foreign relay: one dial shared by concurrent callers, closed by cleanup once unused") {
        fastRelay().use { home ->
            fastRelay { secret(home.secret) }.use { foreign ->
                val tokens = TokenStore(AuthToken.generate(home.secret))
                val cleanup =
                    options {
                        cleanupInterval(Duration.ofMillis(200))
                        keepUnusedServerTime(Duration.ofMillis(100))
                    }
                RelayClient(foreign.url, tokens, "peerB").use { b ->
                    RelayClient(foreign.url, tokens, "peerC").use { c ->
                        Manager(listOf(home.url), "peerA", tokens, cleanup).use { m ->
                            withTimeout(10_000) {
                                m.connect()
                                b.connect()
                                c.connect()
                                val bSide = async { b.openConn("peerA") }
                                val cSide = async { c.openConn("peerA") }
                                val conns =
                                    listOf("peerB", "peerC")
                                        .map { key -> async { m.openConn(foreign.url, key) } }
                                        .awaitAll()
                                foreign.acceptedLogins() shouldBe 3 // B, C and A's one foreign session
                                m.foreignRelays() shouldBe setOf(foreign.url)
                                conns[0].write("to B".encodeToByteArray())
                                bSide.await().read().decodeToString() shouldBe "to B"
                                val cConn = cSide.await()
                                conns.forEach { it.close() }
                                foreign.awaitOffline("peerA")
                                m.foreignRelays() shouldBe emptySet()
                                shouldThrow<ConnClosedException> { cConn.read() }
                                home.isOnline("peerA") shouldBe true
                            }
                        }
                    }
                }
            }
        }
    }

    test("close listeners are one-shot and de-duplicated by identity") {
        fastRelay().use { home ->
            fastRelay { secret(home.secret) }.use { foreign ->
                val tokens = TokenStore(AuthToken.generate(home.secret))
                RelayClient(foreign.url, tokens, "peerB").use { b ->
                    Manager(listOf(home.url), "peerA", tokens, options()).use { m ->
                        withTimeout(10_000) {
                            m.connect()
                            b.connect()
                            val bSide = async { b.openConn("peerA") }
                            m.openConn(foreign.url, "peerB")
                            bSide.await()
                            val first = AtomicInteger()
                            val done = Channel<Int>(4)
                            val listener = Manager.OnServerCloseListener { first.incrementAndGet() }
                            m.addCloseListener(foreign.url, listener)
                            m.addCloseListener(foreign.url, listener)
                            m.addCloseListener(foreign.url) { done.trySend(first.get()) }
                            foreign.faults.drop("peerA")
                            done.receive() shouldBe 1
                            m.foreignRelays() shouldBe emptySet()
                        }
                    }
                }
            }
        }
    }
})
