package dev.tether.cli

import dev.tether.relay.RelayClient
import dev.tether.testkit.relay.FakeRelayServer
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** Two peers talking through the embedded relay, a drop, and the same peers talking again. */
class RelayDemo : DemoSection {
    override val title: String = "relay: peers talking through the fake netbird relay"

    override suspend fun run(out: DemoOutput) {
        FakeRelayServer.start().use { relay ->
            out.step("fake relay at ${relay.url}")
            val alice = RelayClient(relay.url, relay.tokenStore(), "alice-key")
            val bob = RelayClient(relay.url, relay.tokenStore(), "bob-key")
            alice.use {
                bob.use {
                    alice.connect()
                    bob.connect()
                    out.ok("alice (${alice.peerId}) and bob (${bob.peerId}) authenticated; instance ${alice.serverInstanceUrl()}")
                    exchange(out, alice, bob)
                    val lost = CompletableDeferred<String>()
                    alice.setOnDisconnectListener { url -> lost.complete(url) }
                    relay.faults.dropAll()
                    out.step("the relay drops every peer")
                    out.ok("alice's disconnect listener fired for ${withTimeout(10.seconds) { lost.await() }}")
                    alice.connect()
                    bob.connect()
                    out.ok("both reconnected with the same client objects")
                    exchange(out, alice, bob)
                }
            }
        }
    }

    private suspend fun exchange(out: DemoOutput, alice: RelayClient, bob: RelayClient) = coroutineScope {
        val toBob = async { alice.openConn("bob-key") }
        val toAlice = bob.openConn("alice-key")
        val aliceConn = withTimeout(10.seconds) { toBob.await() }
        aliceConn.write("hello bob".toByteArray())
        val atBob = withTimeout(10.seconds) { toAlice.read() }.decodeToString()
        toAlice.write("hello alice".toByteArray())
        val atAlice = withTimeout(10.seconds) { aliceConn.read() }.decodeToString()
        out.ok("alice -> bob: \"$atBob\"; bob -> alice: \"$atAlice\"")
        aliceConn.close()
        toAlice.close()
    }
}
