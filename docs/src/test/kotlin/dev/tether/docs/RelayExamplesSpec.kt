package dev.tether.docs

import dev.tether.core.ConnectionState
import dev.tether.core.backoff.GuardBackoff
import dev.tether.relay.AuthToken
import dev.tether.relay.ConnAlreadyExistsException
import dev.tether.relay.ConnClosedException
import dev.tether.relay.DeadlineExceededException
import dev.tether.relay.Manager
import dev.tether.relay.ManagerConfig
import dev.tether.relay.PayloadTooLargeException
import dev.tether.relay.PeerNotOnlineException
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayClientConfig
import dev.tether.relay.RelayClientNotConnectedException
import dev.tether.relay.RelayHandshakeException
import dev.tether.relay.TokenStore
import dev.tether.testkit.relay.FakeRelayServer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.withTimeout
import java.time.Instant
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/** The Kotlin examples of relay.md, each run against the testkit's FakeRelayServer on 127.0.0.1. */
class RelayExamplesSpec : FunSpec({

    test("quick start: two peers exchange datagrams through the relay") {
        withTimeout(20.seconds) {
            // docs:start quickstart
            FakeRelayServer.start().use { relay ->
                // rel://127.0.0.1:PORT, a random secret
                RelayClient(relay.url, relay.tokenStore(), "alice-key").use { alice ->
                    RelayClient(relay.url, relay.tokenStore(), "bob-key").use { bob ->
                        alice.connect() // dial ws://…/relay, Auth, AuthResponse
                        bob.connect()

                        // openConn returns once the peer is online: open both sides concurrently.
                        val bobSide = async { bob.openConn("alice-key") }
                        val toBob = alice.openConn("bob-key")
                        val toAlice = bobSide.await()

                        toBob.write("hello bob".encodeToByteArray()) // one write = one relay message
                        toAlice.read().decodeToString() shouldBe "hello bob" // one read = one whole message
                        toAlice.write("hello alice".encodeToByteArray())
                        toBob.read().decodeToString() shouldBe "hello alice"

                        alice.serverInstanceUrl() shouldBe relay.instanceUrl // what peers advertise to each other
                        toBob.close() // local only: bob is not told
                    }
                }
            }
            // docs:end quickstart
        }
    }

    test("tokens: from management, rotated for future handshakes only") {
        withTimeout(20.seconds) {
            FakeRelayServer.start().use { relay ->
                val fromManagement = relay.token()
                val payload = fromManagement.payload
                val signature = AuthToken.signatureBase64(fromManagement)
                // docs:start tokens
                // What management sends: the expiry in Unix seconds and a base64 HMAC-SHA256 signature.
                val tokens = TokenStore(AuthToken.fromManagement(payload, signature))
                RelayClient(relay.url, tokens, "alice-key").use { alice ->
                    alice.connect()
                    relay.rotateCredentials("next-secret") // the relay now wants a new token
                    alice.isConnected shouldBe true // sessions are never re-authenticated
                }
                RelayClient(relay.url, tokens, "alice-key").use { alice ->
                    shouldThrow<RelayHandshakeException> { alice.connect() } // the server just closes the socket
                    tokens.update(AuthToken.generate("next-secret")) // what the next management push brings
                    alice.connect() // a failed connect may be retried
                    alice.isConnected shouldBe true
                }
                // docs:end tokens
            }
        }
    }

    test("open before the peer is online, and the early buffer") {
        withTimeout(20.seconds) {
            FakeRelayServer.start().use { relay ->
                RelayClient(relay.url, relay.tokenStore(), "alice-key").use { alice ->
                    RelayClient(relay.url, relay.tokenStore(), "bob-key").use { bob ->
                        // docs:start open-early
                        alice.connect()
                        val waiting = async { alice.openConn("bob-key") } // bob is offline: this waits (30 s max)
                        bob.connect() // bob logs in: the relay tells alice
                        val toBob = waiting.await()

                        // alice writes before bob has opened a connection to her...
                        toBob.write("first".encodeToByteArray())
                        toBob.write("second".encodeToByteArray())
                        withTimeout(5.seconds) { while (bob.stats().earlyReplaced < 1) delay(5) }
                        // ...bob's early buffer keeps the newest message per peer for 5 s and hands it to openConn.
                        val toAlice = bob.openConn("alice-key")
                        toAlice.read().decodeToString() shouldBe "second"
                        // docs:end open-early
                    }
                }
            }
        }
    }

    test("datagram limits, queue drops, backpressure and deadlines") {
        withTimeout(20.seconds) {
            FakeRelayServer.start().use { relay ->
                // docs:start drops
                val small = RelayClientConfig { connQueueSize(4) } // default 100
                RelayClient(relay.url, relay.tokenStore(), "alice-key").use { alice ->
                    RelayClient(relay.url, relay.tokenStore(), "bob-key", small).use { bob ->
                        alice.connect()
                        bob.connect()
                        val bobSide = async { bob.openConn("alice-key") }
                        val toBob = alice.openConn("bob-key")
                        val toAlice = bobSide.await()
                        val drops = Channel<Long>(Channel.UNLIMITED)
                        toAlice.onDrop { _, droppedSoFar -> drops.trySend(droppedSoFar) } // on the read loop: be quick

                        repeat(10) { i -> toBob.write(byteArrayOf(i.toByte())) } // bob does not read yet
                        withTimeout(5.seconds) { while (toAlice.stats().received < 10) delay(5) }
                        toAlice.stats().dropped shouldBe 6 // the queue held 4
                        drops.receive() shouldBe 1
                        List(4) { toAlice.read()[0].toInt() } shouldBe listOf(0, 1, 2, 3) // the oldest are kept
                        // docs:end drops

                        // docs:start limits
                        toBob.write(ByteArray(8782)) // the largest payload
                        shouldThrow<PayloadTooLargeException> { toBob.write(ByteArray(8783)) } // nothing sent
                        toAlice.read().size shouldBe 8782

                        val buffer = ByteArray(16)
                        toBob.write(ByteArray(100))
                        toAlice.read(buffer) shouldBe 16 // the rest is cut off
                        toAlice.stats().truncated shouldBe 1
                        // docs:end limits

                        // docs:start deadlines
                        toAlice.setReadDeadline(Instant.now().plusMillis(100))
                        shouldThrow<DeadlineExceededException> { toAlice.read() }
                        toAlice.setReadDeadline(null) // clear it: usable again
                        toBob.write("still here".encodeToByteArray())
                        toAlice.read().decodeToString() shouldBe "still here"
                        // docs:end deadlines
                    }
                }
            }
        }
    }

    test("backpressure mode loses nothing") {
        withTimeout(20.seconds) {
            FakeRelayServer.start().use { relay ->
                // docs:start backpressure
                val onePeer = RelayClientConfig {
                    connQueueSize(4)
                    backpressure(true)
                }
                RelayClient(relay.url, relay.tokenStore(), "alice-key").use { alice ->
                    RelayClient(relay.url, relay.tokenStore(), "bob-key", onePeer).use { bob ->
                        alice.connect()
                        bob.connect()
                        val bobSide = async { bob.openConn("alice-key") }
                        val toBob = alice.openConn("bob-key")
                        val toAlice = bobSide.await()

                        repeat(50) { i -> toBob.write(byteArrayOf(i.toByte())) } // bob's socket pauses when full
                        List(50) { toAlice.read()[0].toInt() } shouldBe (0 until 50).toList()
                        toAlice.stats().dropped shouldBe 0
                    }
                }
                // docs:end backpressure
            }
        }
    }

    test("errors of openConn") {
        withTimeout(20.seconds) {
            FakeRelayServer.start().use { relay ->
                // docs:start errors
                val quick = RelayClientConfig { openConnTimeout(300.milliseconds) }
                RelayClient(relay.url, relay.tokenStore(), "alice-key", quick).use { alice ->
                    shouldThrow<RelayClientNotConnectedException> { alice.openConn("bob-key") } // connect() first
                    alice.connect()
                    shouldThrow<PeerNotOnlineException> { alice.openConn("bob-key") } // bob never came

                    val waiting = async { runCatching { alice.openConn("carol-key") } }
                    withTimeout(5.seconds) { while (!alice.hasConns()) delay(5) }
                    shouldThrow<ConnAlreadyExistsException> { alice.openConn("carol-key") } // one per peer
                    waiting.await().exceptionOrNull().shouldBeInstanceOf<PeerNotOnlineException>()
                }
                // docs:end errors
            }
        }
    }

    test("the remote side learns of a close only when the session ends") {
        withTimeout(20.seconds) {
            FakeRelayServer.start().use { relay ->
                RelayClient(relay.url, relay.tokenStore(), "alice-key").use { alice ->
                    RelayClient(relay.url, relay.tokenStore(), "bob-key").use { bob ->
                        alice.connect()
                        bob.connect()
                        val bobSide = async { bob.openConn("alice-key") }
                        val toBob = alice.openConn("bob-key")
                        val toAlice = bobSide.await()
                        // docs:start remote-close
                        toBob.close() // bob's side stays open
                        toAlice.isOpen shouldBe true
                        alice.closeAndJoin() // alice's relay session ends
                        shouldThrow<ConnClosedException> { toAlice.read() } // bob got PeersWentOffline
                        // docs:end remote-close
                    }
                }
            }
        }
    }

    test("manager: home relay, guard reconnect, connections through it") {
        withTimeout(20.seconds) {
            FakeRelayServer.start().use { relay ->
                RelayClient(relay.url, relay.tokenStore(), "bob-key").use { bob ->
                    bob.connect()
                    // docs:start manager
                    val options = ManagerConfig {
                        quickReconnectDelay(100.milliseconds) // default 1.5 s
                        // default 2 s → 60 s
                        backoff(GuardBackoff(initialInterval = 50.milliseconds, maxInterval = 1.seconds))
                        cleanupInterval(1.minutes) // foreign relays without connections
                    }
                    Manager(listOf(relay.url), "alice-key", relay.tokenStore(), options).use { manager ->
                        manager.connect() // picks the home relay, starts the guard

                        val address = manager.relayInstanceAddress() // advertise this to the other peer
                        val bobSide = async { bob.openConn("alice-key") }
                        val toBob = manager.openConn(address, "bob-key") // the home relay: no new dial
                        toBob.write("via the manager".encodeToByteArray())
                        bobSide.await().read().decodeToString() shouldBe "via the manager"

                        // ConnectionEvents, as every reconnecting client reports them (subscribed before the drop)
                        val seen = async(start = CoroutineStart.UNDISPATCHED) { manager.events.take(3).toList() }
                        relay.faults.drop("alice-key") // the home session is cut
                        seen.await().map { it.state } shouldBe
                            listOf(ConnectionState.BACKING_OFF, ConnectionState.CONNECTING, ConnectionState.CONNECTED)
                        manager.isConnected shouldBe true // the guard brought it back
                    }
                    // docs:end manager
                }
            }
        }
    }
})
