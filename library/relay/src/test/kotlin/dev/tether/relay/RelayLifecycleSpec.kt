@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.relay

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeIn
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.matchers.types.shouldBeSameInstanceAs
import io.ktor.websocket.Frame
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** How a relay client and the manager end, and what they report on the way: against a scripted relay. */
class RelayLifecycleSpec : FunSpec({
    val bound = 10.seconds
    fun client(relay: ScriptedRelay, config: RelayClientConfig = RelayClientConfig.DEFAULT) =
        RelayClient(relay.url, TokenStore(AuthToken.generate("s")), "alice-key", config)

    test("a Close from the server ends the client: awaitClosed says SERVER_CLOSED, later calls fail with it") {
        ScriptedRelay {
            logIn()
            sendRelay(RelayMessage.Close)
            for (frame in incoming) Unit
        }.use { relay ->
            client(relay).use { alice ->
                withTimeout(bound) { alice.connect() }
                val reason = withTimeout(bound) { alice.awaitClosed() }
                reason.shouldBeInstanceOf<RelaySessionLostException>().loss shouldBe RelaySessionLoss.SERVER_CLOSED
                alice.isConnected shouldBe false
                shouldThrow<RelaySessionLostException> { alice.openConn("bob-key") } shouldBeSameInstanceAs reason
                shouldThrow<RelaySessionLostException> { alice.connect() } shouldBeSameInstanceAs reason
                alice.closedFuture().get(1, TimeUnit.SECONDS) shouldBeSameInstanceAs reason
            }
        }
    }

    test("no health check within the timeout: HEALTH_CHECK_TIMEOUT, and the open connection closes with it") {
        ScriptedRelay {
            logIn()
            answerSubscriptions()
        }.use { relay ->
            client(relay, RelayClientConfig { healthCheckTimeout(300.milliseconds) }).use { alice ->
                withTimeout(bound) { alice.connect() }
                val conn = withTimeout(bound) { alice.openConn("bob-key") }
                val reason = withTimeout(bound) { alice.awaitClosed() }
                reason.shouldBeInstanceOf<RelaySessionLostException>().loss shouldBe
                    RelaySessionLoss.HEALTH_CHECK_TIMEOUT
                conn.isOpen shouldBe false
                shouldThrow<ConnClosedException> { conn.read() }.cause shouldBeSameInstanceAs reason
            }
        }
    }

    test("the socket dropping ends the client with CONNECTION_LOST") {
        // Log in and leave: the server closes the WebSocket.
        ScriptedRelay { logIn() }.use { relay ->
            client(relay).use { alice ->
                withTimeout(bound) { alice.connect() }
                val reason = withTimeout(bound) { alice.awaitClosed() }
                reason.shouldBeInstanceOf<RelaySessionLostException>().loss shouldBe RelaySessionLoss.CONNECTION_LOST
            }
        }
    }

    test("close ends the client with RelayClosedException: connections closed, connect and openConn refused") {
        ScriptedRelay {
            logIn()
            answerSubscriptions()
        }.use { relay ->
            val alice = client(relay)
            withTimeout(bound) { alice.connect() }
            val conn = withTimeout(bound) { alice.openConn("bob-key") }
            withTimeout(bound) { alice.closeAndJoin() }
            alice.awaitClosed().shouldBeInstanceOf<RelayClosedException>()
            conn.isOpen shouldBe false
            alice.isConnected shouldBe false
            shouldThrow<RelayClosedException> { alice.connect() }
            shouldThrow<RelayClosedException> { alice.openConn("bob-key") }
            alice.close() // idempotent
        }
    }

    test("closeAsync with two callers: both complete only once the one close has finished") {
        ScriptedRelay {
            logIn()
            answerSubscriptions()
        }.use { relay ->
            val alice = client(relay)
            withTimeout(bound) { alice.connect() }
            val conn = withTimeout(bound) { alice.openConn("bob-key") }
            val first = alice.closeAsync()
            val second = alice.closeAsync()
            for (f in listOf(second, first)) {
                f.get(10, TimeUnit.SECONDS)
                // whichever caller returns, the close it waited for is complete
                conn.isOpen shouldBe false
                alice.closedFuture().getNow(null).shouldBeInstanceOf<RelayClosedException>()
            }
        }
    }

    test("a close during connect abandons the dial at once: connect fails with RelayClosedException") {
        val authSeen = CompletableDeferred<Unit>()
        ScriptedRelay {
            incoming.receive()
            authSeen.complete(Unit)
            awaitCancellation()
        }.use { relay ->
            val alice = client(relay) // the 8 s handshake bound would otherwise hold the connect
            val connecting = async(Dispatchers.Default) { runCatching { alice.connect() } }
            withTimeout(bound) { authSeen.await() }
            withTimeout(2.seconds) { alice.closeAndJoin() }
            withTimeout(2.seconds) { connecting.await() }.exceptionOrNull().shouldBeInstanceOf<RelayClosedException>()
        }
    }

    test("a peer that went offline and is reopened at once: no stale unsubscribe follows the new subscribe") {
        val bob = PeerId.of("bob-key")
        val toSend = Channel<RelayMessage>(Channel.UNLIMITED)
        val seen = Channel<RelayMessage>(Channel.UNLIMITED)
        ScriptedRelay {
            logIn()
            launch { for (m in toSend) sendRelay(m) }
            for (frame in incoming) {
                val message = (frame as? Frame.Binary)?.let { RelayMessage.decode(it.data) } ?: continue
                seen.send(message)
                if (message is PeerStateMessage.SubscribePeerState) {
                    sendRelay(PeerStateMessage.PeersOnline(message.peerIds))
                }
            }
        }.use { relay ->
            val alice = client(relay)
            withTimeout(bound) { alice.connect() }
            val first = withTimeout(bound) { alice.openConn(bob) }
            toSend.send(PeerStateMessage.PeersWentOffline(listOf(bob)))
            shouldThrow<ConnClosedException> { withTimeout(bound) { first.read() } }
            val second = withTimeout(bound) { alice.openConn(bob) } // its queued unsubscribe races this subscribe
            // A message through the open connection marks a point in the relay's in-order view of the session.
            withTimeout(bound) { second.write(byteArrayOf(1)) }
            val order = mutableListOf<RelayMessage>()
            withTimeout(bound) { do order += seen.receive() while (order.last() !is Transport) }
            val whileOpen = order.drop(order.indexOfLast { it is PeerStateMessage.SubscribePeerState } + 1)
            // a stale unsubscribe here would have stopped the relay reporting bob while second is open
            whileOpen.count { it is PeerStateMessage.UnsubscribePeerState } shouldBe 0
            second.close()
            // second's own unsubscribe follows its close (sent from the session, which is still up)
            withTimeout(bound) {
                do order += seen.receive() while (order.last() !is PeerStateMessage.UnsubscribePeerState)
            }
            withTimeout(bound) { alice.closeAndJoin() }
            withTimeout(bound) { do order += seen.receive() while (order.last() != RelayMessage.Close) }
            val afterReopen = order.drop(order.indexOfLast { it is PeerStateMessage.SubscribePeerState } + 1)
            afterReopen.count { it is PeerStateMessage.UnsubscribePeerState } shouldBe 1
        }
    }

    test("manager: state and events across a relay drop and the reconnect, then Closed") {
        val sessions = AtomicInteger()
        val drop = CompletableDeferred<Unit>()
        ScriptedRelay {
            logIn()
            if (sessions.incrementAndGet() == 1) {
                drop.await()
                sendRelay(RelayMessage.Close)
            }
            answerSubscriptions()
        }.use { relay ->
            val config = ManagerConfig { quickReconnectDelay(50.milliseconds) }
            val m = Manager(listOf(relay.url), "alice-key", TokenStore(AuthToken.generate("s")), config)
            val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
            val collector = launch(start = CoroutineStart.UNDISPATCHED) { m.events.collect { events.send(it) } }
            m.state.value shouldBe ConnectionState.IDLE
            withTimeout(bound) { m.connect() }
            m.isConnected shouldBe true
            m.state.value shouldBe ConnectionState.CONNECTED
            suspend fun next() = withTimeout(bound) { events.receive() }
            next() shouldBe ConnectionEvent.Connecting(1)
            next() shouldBe ConnectionEvent.Connected(relay.url)

            drop.complete(Unit)
            val lost = next().shouldBeInstanceOf<ConnectionEvent.Disconnected>()
            lost.cause.shouldBeInstanceOf<RelaySessionLostException>().loss shouldBe RelaySessionLoss.SERVER_CLOSED
            lost.retryInMillis shouldBe 50L
            next() shouldBe ConnectionEvent.Connecting(1)
            next() shouldBe ConnectionEvent.Connected(relay.url)
            withTimeout(bound) { m.state.first { it == ConnectionState.CONNECTED } }
            m.relayInstanceAddress() shouldBe "rel://scripted:1"
            sessions.get() shouldBe 2

            withTimeout(bound) { m.closeAndJoin() }
            next() shouldBe ConnectionEvent.Closed(null)
            m.state.value shouldBe ConnectionState.CLOSED
            withTimeout(bound) { collector.join() } // the event stream ends with the manager
        }
    }

    test("manager: the state leaves CONNECTED inside the home session's end, before anyone sees the dead session") {
        val sessions = AtomicInteger()
        val reconnectAllowed = CompletableDeferred<Unit>()
        ScriptedRelay {
            if (sessions.incrementAndGet() == 1) {
                logIn()
                // The subscription of the openConn below is left unanswered (it waits), then the relay closes.
                for (frame in incoming) {
                    val message = (frame as? Frame.Binary)?.let { RelayMessage.decode(it.data) }
                    if (message is PeerStateMessage.SubscribePeerState) break
                }
                sendRelay(RelayMessage.Close)
            } else {
                reconnectAllowed.await() // the guard's reconnect waits here: nothing can read CONNECTED again
                logIn()
            }
            answerSubscriptions()
        }.use { relay ->
            val config = ManagerConfig { quickReconnectDelay(50.milliseconds) }
            Manager(listOf(relay.url), "alice-key", TokenStore(AuthToken.generate("s")), config).use { m ->
                withTimeout(bound) { m.connect() }
                val home = m.relayInstanceAddress()
                val seen = CompletableDeferred<Pair<ConnectionState, Boolean>>()
                // Unconfined: the waiting openConn fails and resumes inline on the thread that tears the session
                // down, the first moment anyone can tell the session is dead (the manager's own watchers come later).
                val opener = launch(Dispatchers.Unconfined) {
                    try {
                        m.openConn(home, "bob-key")
                        seen.completeExceptionally(AssertionError("openConn succeeded on a closed relay"))
                    } catch (e: RelayClientNotConnectedException) {
                        seen.complete(m.state.value to m.isConnected)
                    }
                }
                val (state, connected) = withTimeout(bound) { seen.await() }
                connected shouldBe false
                state shouldBeIn listOf(ConnectionState.BACKING_OFF, ConnectionState.CONNECTING)
                reconnectAllowed.complete(Unit)
                withTimeout(bound) { m.state.first { it == ConnectionState.CONNECTED } }
                m.isConnected shouldBe true
                opener.join()
            }
        }
    }

    test("manager: every relay session runs on the manager's dispatcher, the same thread across a reconnect") {
        val sessions = AtomicInteger()
        val drop = CompletableDeferred<Unit>()
        val receivedOn = java.util.concurrent.ConcurrentLinkedQueue<Thread>()
        ScriptedRelay {
            logIn()
            if (sessions.incrementAndGet() == 1) {
                drop.await()
                sendRelay(RelayMessage.Close)
            }
            answerSubscriptions()
        }.use { relay ->
            // the observer is called inline on the thread that reads the relay's socket
            val observer = object : dev.tether.core.TransportObserver {
                override fun messageReceived(bytes: Int) {
                    receivedOn.add(Thread.currentThread())
                }
            }
            val config = ManagerConfig {
                quickReconnectDelay(50.milliseconds)
                client(RelayClientConfig { observer(observer) })
            }
            val m = Manager(listOf(relay.url), "alice-key", TokenStore(AuthToken.generate("s")), config)
            val dispatcher = m.dispatcher
            val loop = kotlinx.coroutines.withContext(dispatcher) { Thread.currentThread() }
            val connected = Channel<ConnectionEvent.Connected>(Channel.UNLIMITED)
            val collector = launch(start = CoroutineStart.UNDISPATCHED) {
                m.events.collect { if (it is ConnectionEvent.Connected) connected.send(it) }
            }
            withTimeout(bound) { m.connect() }
            withTimeout(bound) { connected.receive() }
            drop.complete(Unit)
            withTimeout(bound) { connected.receive() } // the reconnect
            sessions.get() shouldBe 2
            m.dispatcher shouldBeSameInstanceAs dispatcher
            kotlinx.coroutines.withContext(m.dispatcher) { Thread.currentThread() } shouldBeSameInstanceAs loop
            receivedOn.isEmpty() shouldBe false
            receivedOn.toSet() shouldBe setOf(loop)
            withTimeout(bound) { m.closeAndJoin() }
            withTimeout(bound) { collector.join() }
        }
    }

    test("manager: two closers wait for one close; awaitClosed says RelayClosedException; connect is refused") {
        ScriptedRelay {
            logIn()
            answerSubscriptions()
        }.use { relay ->
            val m = Manager(listOf(relay.url), "alice-key", TokenStore(AuthToken.generate("s")))
            withTimeout(bound) { m.connect() }
            val closers = List(2) {
                async(Dispatchers.Default) {
                    m.closeAndJoin()
                    m.isConnected
                }
            }
            withTimeout(bound) { closers.awaitAll() } shouldContainExactly listOf(false, false)
            m.awaitClosed().shouldBeInstanceOf<RelayClosedException>()
            m.state.value shouldBe ConnectionState.CLOSED
            shouldThrow<RelayClosedException> { m.connect() }
            shouldThrow<RelayClosedException> { m.openConn("rel://scripted:1", "bob-key") }
        }
    }
})
