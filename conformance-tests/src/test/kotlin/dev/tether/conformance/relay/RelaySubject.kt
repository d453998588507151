package dev.tether.conformance.relay

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketConnection
import dev.tether.core.WebSocketDialer
import dev.tether.core.WsMessage
import dev.tether.relay.AuthToken
import dev.tether.relay.RelayClient
import dev.tether.relay.TokenStore
import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.relay.FakeRelayServerConfig
import kotlinx.coroutines.withTimeoutOrNull
import java.time.Duration
import java.util.UUID

/**
 * The relay a conformance suite runs against: the testkit fake by default (fast health checks), or an external
 * netbird relay when `-Dtether.conformance.relay.url=rel://host:port` and `-Dtether.conformance.relay.secret=S`
 * are set. [fake] is null for an external relay: cases that need fault control or short timers are skipped there.
 */
class RelaySubject private constructor(
    val url: String,
    val secret: String,
    val fake: FakeRelayServer?,
) : AutoCloseable {
    val webSocketUrl: String = RelayClient.toWebSocketUrl(url)

    /** A token store with a fresh token for this relay. */
    fun tokenStore(): TokenStore = TokenStore(AuthToken.generate(secret))

    override fun close() {
        fake?.close()
    }

    companion object {
        val external: String? = System.getProperty("tether.conformance.relay.url")?.takeIf { it.isNotBlank() }
        val fakeOnly: Boolean = external == null

        /** Fake health checks every 100 ms with a 1 s timeout, so timing cases run fast. */
        fun open(options: FakeRelayServerConfig.Builder.() -> Unit = {}): RelaySubject {
            val url = external
            return if (url != null) {
                RelaySubject(url, System.getProperty("tether.conformance.relay.secret", ""), null)
            } else {
                val fake = FakeRelayServer.start {
                    healthCheckInterval(Duration.ofMillis(100))
                    healthCheckTimeout(Duration.ofSeconds(1))
                    options()
                }
                RelaySubject(fake.url, fake.secret, fake)
            }
        }

        /** Peer keys unique per run, so runs against a shared external relay do not collide. */
        fun key(name: String): String = "$name-" + UUID.randomUUID()
    }
}

/** A bare WebSocket to the relay for byte-level cases: what goes out and comes back is exactly what is on the wire. */
class RawRelaySocket private constructor(
    private val dialer: WebSocketDialer,
    val connection: WebSocketConnection,
) : AutoCloseable {
    suspend fun send(bytes: ByteArray) = connection.send(bytes)

    /** The next binary message, or null when the server closed the socket (bounded by [timeoutMillis]). */
    suspend fun receive(timeoutMillis: Long = 5_000): ByteArray? {
        val r = withTimeoutOrNull(timeoutMillis) { connection.incoming.receiveCatching() }
            ?: throw AssertionError("nothing from the relay within $timeoutMillis ms")
        return (r.getOrNull() as? WsMessage.Binary)?.bytes
    }

    /** The next message that is not a health check. */
    suspend fun receiveData(timeoutMillis: Long = 5_000): ByteArray? {
        while (true) {
            val m = receive(timeoutMillis) ?: return null
            if (!(m.size == 2 && m[1].toInt() == 5)) return m
        }
    }

    override fun close() {
        dialer.close()
    }

    companion object {
        suspend fun open(subject: RelaySubject): RawRelaySocket {
            val dialer = WebSocketDialer(DialerConfig(subject.webSocketUrl) { pingInterval(Duration.ZERO) })
            return RawRelaySocket(dialer, dialer.dial())
        }
    }
}
