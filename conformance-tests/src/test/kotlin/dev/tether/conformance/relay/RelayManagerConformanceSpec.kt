package dev.tether.conformance.relay

import dev.tether.conformance.External
import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.backoff.GuardBackoff
import dev.tether.relay.ConnClosedException
import dev.tether.relay.Manager
import dev.tether.relay.ManagerConfig
import dev.tether.relay.RelayClient
import dev.tether.relay.ServerPicker
import dev.tether.testkit.relay.FakeRelayServer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds

/**
 * Guard, ServerPicker and Manager (specs/netbird-relay.md §6-§8) over fake relays: these cases need several relays
 * and fault control, so they run against the fakes only.
 */
class RelayManagerConformanceSpec : FunSpec({
    val guardBackoff = GuardBackoff(initialInterval = 50.milliseconds, maxInterval = 400.milliseconds)
    fun options(block: ManagerConfig.Builder.() -> Unit = {}) = ManagerConfig {
        quickReconnectDelay(100.milliseconds)
        backoff(guardBackoff)
        cleanupInterval(Duration.ofMinutes(10))
        block()
    }

    test("picker races: the fastest relay wins, the others are closed").config(
        enabledOrReasonIf = External.needsFake(RelaySubject.fakeOnly, "several relays with added latency (fakes)"),
    ) {
        RelaySubject.open().use { fast ->
            val slow = List(3) { i ->
                FakeRelayServer.start {
                    secret(fast.secret)
                }
                    .also { it.faults.latency(Duration.ofMillis(300L + 100 * i)) }
            }
            try {
                val key = RelaySubject.key("A")
                val winner =
                    withTimeout(10_000) { ServerPicker(slow.map { it.url } + fast.url, fast.tokenStore(), key).pick() }
                winner.use {
                    it.serverUrl shouldBe fast.url
                    fast.fake!!.isOnline(key) shouldBe true
                    // A slower relay may or may not have completed its login before the win; either way it is let go.
                    withTimeout(10_000) { slow.forEach { s -> s.awaitOffline(key) } }
                }
            } finally {
                slow.forEach { it.close() }
            }
        }
    }

    test("guard: quick reconnect after a drop, picker fallback when the relay refuses, events each time").config(
        enabledOrReasonIf = External.needsFake(
            RelaySubject.fakeOnly,
            "the fake's fault controls (drop a peer, refuse logins)",
        ),
    ) {
        RelaySubject.open().use { subject ->
            val fake = subject.fake!!
            val key = RelaySubject.key("A")
            Manager(listOf(subject.url), key, subject.tokenStore(), options()).use { m ->
                val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
                withTimeout(15_000) {
                    m.connect()
                    m.onEvent { events.trySend(it) }
                    suspend fun nextConnected(): List<ConnectionEvent> {
                        val seen = mutableListOf<ConnectionEvent>()
                        do seen += events.receive() while (seen.last() !is ConnectionEvent.Connected)
                        return seen
                    }
                    fake.faults.drop(key)
                    nextConnected().map { it::class.simpleName } shouldBe
                        listOf("Disconnected", "Connecting", "Connected")
                    fake.awaitLogins(2)
                    fake.faults.refuseNext(2) // quick reconnect and the first tick fail
                    fake.faults.drop(key)
                    nextConnected().map { it::class.simpleName } shouldBe listOf(
                        "Disconnected",
                        "Connecting",
                        "DialFailed",
                        "Connecting",
                        "DialFailed",
                        "Connecting",
                        "Connected",
                    )
                    m.state.value shouldBe ConnectionState.CONNECTED
                    fake.awaitLogins(3)
                    fake.rejectedLogins() shouldBe 2
                    m.relayInstanceAddress() shouldBe subject.url
                }
            }
        }
    }

    test("close listeners: one-shot, de-duplicated by identity, fired when the relay session drops").config(
        enabledOrReasonIf = External.needsFake(
            RelaySubject.fakeOnly,
            "a second relay sharing the first one's secret (fakes)",
        ),
    ) {
        RelaySubject.open().use { home ->
            RelaySubject.open { secret(home.secret) }.use { foreign ->
                val a = RelaySubject.key("A")
                val b = RelaySubject.key("B")
                RelayClient(foreign.url, foreign.tokenStore(), b).use { cb ->
                    Manager(listOf(home.url), a, home.tokenStore(), options()).use { m ->
                        withTimeout(15_000) {
                            m.connect()
                            cb.connect()
                            val bSide = async { cb.openConn(a) }
                            m.openConn(foreign.url, b)
                            val toA = bSide.await()
                            val same = AtomicInteger()
                            val other = Channel<Int>(4)
                            val listener = Manager.OnServerCloseListener { same.incrementAndGet() }
                            m.addCloseListener(foreign.url, listener)
                            m.addCloseListener(foreign.url, listener)
                            m.addCloseListener(foreign.url) { other.trySend(same.get()) }
                            foreign.fake!!.faults.drop(a)
                            other.receive() shouldBe 1
                            m.foreignRelays() shouldBe emptySet()
                            // B hears that A went offline on its own session, independently of A's drop.
                            shouldThrow<ConnClosedException> { while (true) toA.read() }
                            // The next openConn dials the foreign relay afresh.
                            val again = async { cb.openConn(a) }
                            m.openConn(foreign.url, b).isOpen shouldBe true
                            again.await().isOpen shouldBe true
                            foreign.fake.acceptedLogins() shouldBe 3 // B, A, and A's fresh foreign session
                        }
                    }
                }
            }
        }
    }

    test(
        "manager: a foreign relay shared by concurrent callers, close listeners once each, cleanup when " +
            "unused",
    ).config(
        enabledOrReasonIf = External.needsFake(
            RelaySubject.fakeOnly,
            "a second relay sharing the first one's secret (fakes)",
        ),
    ) {
        RelaySubject.open().use { home ->
            RelaySubject.open { secret(home.secret) }.use { foreign ->
                val a = RelaySubject.key("A")
                val b = RelaySubject.key("B")
                val c = RelaySubject.key("C")
                val cleanup =
                    options {
                        cleanupInterval(Duration.ofMillis(200))
                        keepUnusedServerTime(Duration.ofMillis(100))
                    }
                RelayClient(foreign.url, foreign.tokenStore(), b).use { cb ->
                    RelayClient(foreign.url, foreign.tokenStore(), c).use { cc ->
                        Manager(listOf(home.url), a, home.tokenStore(), cleanup).use { m ->
                            withTimeout(15_000) {
                                m.connect()
                                cb.connect()
                                cc.connect()
                                val bSide = async { cb.openConn(a) }
                                val cSide = async { cc.openConn(a) }
                                val toB = async { m.openConn(foreign.url, b) }
                                val toC = async { m.openConn(foreign.url, c) }
                                val conns = listOf(toB.await(), toC.await())
                                foreign.fake!!.acceptedLogins() shouldBe 3
                                conns[1].write("hi C".encodeToByteArray())
                                cSide.await().read().decodeToString() shouldBe "hi C"
                                val bConn = bSide.await()

                                val fired = AtomicInteger()
                                val listener = Manager.OnServerCloseListener { fired.incrementAndGet() }
                                m.addCloseListener(foreign.url, listener)
                                m.addCloseListener(foreign.url, listener)
                                conns.forEach { it.close() }
                                foreign.fake.awaitOffline(a) // the cleanup closed the unused foreign relay
                                m.foreignRelays() shouldBe emptySet()
                                shouldThrow<ConnClosedException> { bConn.read() }
                                fired.get() shouldBe 0 // cleanup detaches listeners first, as upstream
                                home.fake!!.isOnline(a) shouldBe true
                            }
                        }
                    }
                }
            }
        }
    }
})
