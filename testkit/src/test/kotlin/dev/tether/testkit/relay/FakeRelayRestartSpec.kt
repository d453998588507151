package dev.tether.testkit.relay

import dev.tether.core.ConnectionEvent
import dev.tether.core.backoff.GuardBackoff
import dev.tether.relay.Manager
import dev.tether.relay.ManagerConfig
import dev.tether.relay.RelayClient
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds

/** A relay restarted on the port (and with the secret) of a stopped one takes its clients back. */
class FakeRelayRestartSpec : FunSpec({
    test("a restart on the same port: a new client for the same URL connects, a manager's guard brings its home back") {
        val first = fastRelay()
        val port = first.port
        val secret = first.secret
        val client = RelayClient(first.url, first.tokenStore(), "peerA")
        val manager = Manager(
            listOf(first.url),
            "peerB",
            first.tokenStore(),
            ManagerConfig {
                quickReconnectDelay(50.milliseconds)
                backoff(GuardBackoff(initialInterval = 50.milliseconds, maxInterval = 200.milliseconds))
            },
        )
        try {
            val reconnected = CompletableDeferred<Unit>()
            withTimeout(10_000) {
                client.connect()
                manager.connect()
                manager.relayInstanceAddress() shouldBe first.url
                manager.onEvent { if (it is ConnectionEvent.Connected) reconnected.complete(Unit) }
                first.close()
                client.awaitClosed() // a client has one session
            }
            fastRelay {
                port(port)
                secret(secret)
            }.use { second ->
                second.port shouldBe port
                second.url shouldBe first.url
                withTimeout(10_000) {
                    RelayClient(second.url, second.tokenStore(), "peerA").use { again ->
                        again.connect()
                        again.serverInstanceUrl() shouldBe second.url
                    }
                    reconnected.await()
                    second.awaitOnline("peerB")
                    manager.relayInstanceAddress() shouldBe second.url
                    second.awaitLogins(2)
                }
            }
        } finally {
            client.close()
            manager.close()
        }
    }
})
