package dev.tether.cli

import dev.tether.core.ConnectionEvent
import dev.tether.core.TransportObserver
import dev.tether.core.backoff.GuardBackoff
import dev.tether.relay.Manager
import dev.tether.relay.ManagerConfig
import dev.tether.relay.RelayClientConfig
import dev.tether.relay.RelayConn
import dev.tether.testkit.relay.FakeRelayServer
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Three peers behind relay [Manager]s: alice and bob share a home relay, carol lives on a foreign one that alice's
 * manager dials on demand. Then the home relay restarts on the same port and the guards bring alice and bob back.
 */
class RelayDemo : DemoSection {
    override val title: String = "relay: peers talking through fake netbird relays"

    override suspend fun run(out: DemoOutput) {
        var home = FakeRelayServer.start()
        // Relays of one deployment share the secret, so one token serves the home and every foreign relay.
        val foreign = FakeRelayServer.start { secret(home.secret) }
        val port = home.port
        val managers = ArrayList<Manager>()
        try {
            out.step("home relay at ${home.url}, foreign relay at ${foreign.url} (same secret)")
            fun manager(url: String, key: String, observer: TransportObserver? = null) =
                Manager(listOf(url), key, home.tokenStore(), options(observer)).also { managers += it }
            // alice's relay connections (home and foreign) are counted for the stats at the end.
            val aliceTraffic = DemoTraffic()
            val alice = manager(home.url, "alice-key", aliceTraffic)
            val bob = manager(home.url, "bob-key")
            val carol = manager(foreign.url, "carol-key")
            withTimeout(WAIT) {
                alice.connect()
                bob.connect()
                carol.connect()
            }
            out.ok(
                "alice and bob connected to home ${alice.relayInstanceAddress()}, " +
                    "carol on ${carol.relayInstanceAddress()}",
            )

            exchange(out, "alice", alice, "bob", bob)

            // carol advertises her relay; alice's manager dials it as a foreign relay just for this connection.
            val carolAddress = carol.relayInstanceAddress()
            coroutineScope {
                val atCarol = async { withTimeout(WAIT) { carol.openConn(carolAddress, "alice-key") } }
                val toCarol = withTimeout(WAIT) { alice.openConn(carolAddress, "carol-key") }
                val fromAlice = atCarol.await()
                out.ok(
                    "alice's manager dialled the foreign relay: foreign relays ${alice.foreignRelays()}, " +
                        "alice online there: ${foreign.isOnline("alice-key")}",
                )
                toCarol.write("hello carol".toByteArray())
                val atC = withTimeout(WAIT) { fromAlice.read() }.decodeToString()
                fromAlice.write("hello alice, from the foreign relay".toByteArray())
                val atA = withTimeout(WAIT) { toCarol.read() }.decodeToString()
                out.ok("alice -> carol: \"$atC\"; carol -> alice: \"$atA\"")
                toCarol.close()
                fromAlice.close()
            }
            // No connection left on it: the manager's cleanup closes the foreign relay once it is older than 1 s.
            withTimeout(WAIT) { foreign.awaitOffline("alice-key") }
            out.ok(
                "alice's unused foreign relay closed by the manager's cleanup " +
                    "(foreign relays now ${alice.foreignRelays()})",
            )

            val lost = CompletableDeferred<Unit>()
            val aliceBack = CompletableDeferred<Long>()
            val bobBack = CompletableDeferred<Unit>()
            alice.addCloseListener(alice.relayInstanceAddress()) { lost.complete(Unit) }
            val stopped = System.nanoTime()
            alice.onEvent {
                if (it is ConnectionEvent.Connected) aliceBack.complete((System.nanoTime() - stopped) / 1_000_000)
            }
            bob.onEvent { if (it is ConnectionEvent.Connected) bobBack.complete(Unit) }
            out.step("restarting the home relay: stop it (it sends Close to every peer), start a new one on port $port")
            home.close()
            withTimeout(WAIT) { lost.await() }
            out.ok("alice's close listener fired for the home relay; isConnected=${alice.isConnected}")
            home = FakeRelayServer.start {
                port(port)
                secret(foreign.secret)
            }
            out.step("new home relay up at ${home.url}")
            val took = withTimeout(WAIT) { aliceBack.await() }
            withTimeout(WAIT) { bobBack.await() }
            out.ok(
                "the guard reconnected alice (Connected event after $took ms) and bob; " +
                    "alice's address is back: ${alice.relayInstanceAddress()}",
            )

            exchange(out, "alice", alice, "bob", bob, again = true)
            out.stats("alice's relay connections", aliceTraffic.counts())
        } finally {
            for (m in managers) m.close()
            home.close()
            foreign.close()
        }
    }

    /** Both peers open a connection to each other through [a]'s home relay and say hello each way. */
    private suspend fun exchange(
        out: DemoOutput,
        aName: String,
        a: Manager,
        bName: String,
        b: Manager,
        again: Boolean = false,
    ) = coroutineScope {
        val address = a.relayInstanceAddress()
        val atB = async { withTimeout(WAIT) { openWhenServing(b, address, "$aName-key") } }
        val atA = withTimeout(WAIT) { openWhenServing(a, address, "$bName-key") }
        val fromA = atB.await()
        atA.write("hello $bName".toByteArray())
        val gotB = withTimeout(WAIT) { fromA.read() }.decodeToString()
        fromA.write("hello $aName".toByteArray())
        val gotA = withTimeout(WAIT) { atA.read() }.decodeToString()
        val restarted = if (again) " (through the restarted relay)" else ""
        out.ok("$aName -> $bName: \"$gotB\"; $bName -> $aName: \"$gotA\"$restarted")
        atA.close()
        fromA.close()
    }

    /** openConn on [m]'s home relay once it is connected (a manager whose relay restarted may still be dialling). */
    private suspend fun openWhenServing(m: Manager, address: String, peerKey: String): RelayConn {
        m.awaitConnected()
        return m.openConn(address, peerKey)
    }

    private companion object {
        val WAIT = 10.seconds

        /** netbird's timers shortened so that the demo takes a moment, not minutes; [traffic] observes every relay. */
        fun options(traffic: TransportObserver?): ManagerConfig = ManagerConfig {
            client(RelayClientConfig { observer(traffic) })
            quickReconnectDelay(300.milliseconds)
            backoff(GuardBackoff(initialInterval = 100.milliseconds, maxInterval = 1.seconds))
            cleanupInterval(250.milliseconds)
            keepUnusedServerTime(1.seconds)
        }
    }
}
