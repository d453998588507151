@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.relay

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.embeddedServer
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSocketServerSession
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import io.ktor.websocket.Frame
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** A relay on 127.0.0.1:0 that answers each login with the messages [script] sends. */
class ScriptedRelay(val script: suspend WebSocketServerSession.() -> Unit) : AutoCloseable {
    private val server = embeddedServer(CIO, port = 0, host = "127.0.0.1") {
        install(WebSockets)
        routing { webSocketRaw(RelayProtocol.WEBSOCKET_PATH) { script() } }
    }.start(wait = false)
    val url = "rel://127.0.0.1:${runBlocking { server.engine.resolvedConnectors().first().port }}"
    override fun close() = server.stop(0, 1000)

    companion object {
        /** Java: a relay that logs every client in and reports every subscribed peer online. */
        @JvmStatic
        fun loggingIn(): ScriptedRelay = ScriptedRelay {
            logIn()
            answerSubscriptions()
        }
    }
}

suspend fun WebSocketServerSession.sendRelay(message: RelayMessage) =
    outgoing.send(Frame.Binary(true, message.encode()))

/** Reads the Auth and answers it. */
suspend fun WebSocketServerSession.logIn() {
    incoming.receive()
    sendRelay(AuthResponse("rel://scripted:1"))
}

/** Until the client leaves: every peer it subscribes to is online. */
suspend fun WebSocketServerSession.answerSubscriptions() {
    for (frame in incoming) {
        val message = (frame as? Frame.Binary)?.let { RelayMessage.decode(it.data) }
        if (message is PeerStateMessage.SubscribePeerState) sendRelay(PeerStateMessage.PeersOnline(message.peerIds))
    }
}

class RelayHandshakeSpec : FunSpec({
    val bob = PeerId.of("bob-key")

    test("a peer's message that arrives before the AuthResponse is kept as an early message, not a failed handshake") {
        // The real server announces a login to subscribers before it answers it, so a waiting peer can write first.
        ScriptedRelay {
            incoming.receive() // Auth
            sendRelay(Transport(bob, "before the answer".encodeToByteArray()))
            sendRelay(AuthResponse("rel://scripted:1"))
            for (frame in incoming) {
                val message = (frame as? Frame.Binary)?.let { RelayMessage.decode(it.data) }
                if (message is PeerStateMessage.SubscribePeerState) {
                    sendRelay(PeerStateMessage.PeersOnline(message.peerIds))
                }
            }
        }.use { relay ->
            RelayClient(relay.url, TokenStore(AuthToken.generate("s")), "alice-key").use { alice ->
                withTimeout(10.seconds) { alice.connect() }
                alice.serverInstanceUrl() shouldBe "rel://scripted:1"
                alice.stats().earlyBuffered shouldBe 1
                val conn = withTimeout(10.seconds) { alice.openConn("bob-key") }
                withTimeout(10.seconds) { conn.read() }.decodeToString() shouldBe "before the answer"
            }
        }
    }

    test("any other message before the AuthResponse still fails the handshake") {
        ScriptedRelay {
            incoming.receive()
            sendRelay(PeerStateMessage.PeersOnline(listOf(bob)))
            for (frame in incoming) Unit
        }.use { relay ->
            RelayClient(relay.url, TokenStore(AuthToken.generate("s")), "alice-key").use { alice ->
                val e = shouldThrow<RelayHandshakeException> { withTimeout(10.seconds) { alice.connect() } }
                e.message shouldContain "expected AuthResponse"
                alice.isConnected shouldBe false
            }
        }
    }
})
