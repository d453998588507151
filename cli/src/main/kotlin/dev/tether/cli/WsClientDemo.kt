package dev.tether.cli

import dev.tether.core.ConnectionEvent
import dev.tether.core.TokenProvider
import dev.tether.testkit.FakeBroker
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.time.Duration
import java.util.concurrent.atomic.AtomicReference
import kotlin.time.Duration.Companion.seconds

/** The correlating client against the embedded fake broker: requests, a server turn, a drop, a token rotation. */
class WsClientDemo : DemoSection {
    override val title: String = "wsclient: correlating client vs. the fake nexus broker"

    override suspend fun run(out: DemoOutput) {
        FakeBroker.start { tokens("token-1") }.use { broker ->
            out.step("fake broker listening at ${broker.url}")
            val token = AtomicReference("token-1")
            val clientRef = AtomicReference<WsClient>()
            val handler = EnvelopeHandler { env ->
                if (env.kind == "turn") {
                    out.event("handler got a server-initiated turn ${env.payload} (target ${env.targetAspect})")
                    clientRef.get().sendAsync(Envelope.response("turn.result", env.id!!, """{"text":"turn handled"}"""))
                }
            }
            val traffic = DemoTraffic()
            val config = WsClientConfig(broker.url, handler) {
                tokenProvider(TokenProvider { token.get() })
                observer(traffic)
                reconnectDelays(Duration.ofMillis(200), Duration.ofSeconds(5))
            }
            WsClient(config).use { client ->
                clientRef.set(client)
                coroutineScope {
                    val events = Channel<ConnectionEvent>(Channel.UNLIMITED)
                    val printer = launch(start = CoroutineStart.UNDISPATCHED) {
                        client.events.collect { e ->
                            out.event("event: ${describe(e)}")
                            events.send(e)
                        }
                    }
                    suspend fun awaitEvent(pred: (ConnectionEvent) -> Boolean) = withTimeout(30.seconds) {
                        while (true) if (pred(events.receive())) break
                    }

                    client.start()
                    awaitEvent { it is ConnectionEvent.Connected }
                    out.ok("connected")

                    val register = Envelope.request("register", REGISTRATION)
                    val ack = client.request(register)
                    out.ok(
                        "request ${register.kind} id=${register.id} -> ${ack.kind} ${ack.payload} " +
                            "(in_reply_to matches: ${ack.inReplyTo == register.id})",
                    )
                    val echo = client.request(Envelope.request("echo", """{"text":"hello"}"""))
                    out.ok("request echo -> ${echo.kind} ${echo.payload}")

                    val turn = broker.turn("demo-aspect", """{"text":"do something"}""", timeout = 10.seconds)
                    out.ok("broker's turn request answered: ${turn.kind} ${turn.payload}")

                    out.step("broker drops every connection (simulated network failure)")
                    withTimeout(10.seconds) { broker.awaitUpgrades(1) }
                    broker.faults.dropAll()
                    awaitEvent { it is ConnectionEvent.Connected }
                    client.request(Envelope.request("register", REGISTRATION))
                    val echoAgain = client.request(Envelope.request("echo", "42"))
                    out.ok("reconnected and registered again; echo still works: ${echoAgain.payload}")

                    out.step("broker rotates its tokens to token-2; the client still holds token-1")
                    broker.rotateCredentials("token-2")
                    withTimeout(10.seconds) { broker.awaitUpgrades(2) }
                    broker.faults.dropAll()
                    awaitEvent { it is ConnectionEvent.AuthenticationFailed }
                    out.step("token provider now returns token-2")
                    token.set("token-2")
                    awaitEvent { it is ConnectionEvent.Connected }
                    out.ok("reconnected with the rotated token")

                    out.step("broker sends a malformed frame and a binary frame")
                    withTimeout(10.seconds) { broker.awaitUpgrades(3) }
                    broker.broadcastRaw("{not json")
                    broker.broadcastBinary(byteArrayOf(1, 2, 3))
                    val after = client.request(Envelope.request("echo", "\"still fine\""))
                    val stats = client.stats()
                    out.ok(
                        "counted ${stats.malformedFrames} malformed and ${stats.binaryFrames} binary frame(s); " +
                            "connection kept: ${after.payload}",
                    )
                    printer.cancel()
                }
                val stats = client.stats()
                out.stats(
                    "the wsclient client",
                    traffic.counts() + listOf(
                        "drops" to stats.drops,
                        "malformed frames" to stats.malformedFrames,
                        "binary frames" to stats.binaryFrames,
                        "timed out" to stats.requestsTimedOut,
                        "late replies" to stats.lateReplies,
                        "pending" to stats.pendingRequests,
                    ),
                )
            }
        }
    }

    private fun describe(e: ConnectionEvent): String = when (e) {
        is ConnectionEvent.Connecting -> "connecting (attempt ${e.attempt})"

        is ConnectionEvent.Connected -> "connected"

        is ConnectionEvent.DialFailed -> "dial failed: ${e.cause.message}; retry in ${e.retryInMillis} ms"

        is ConnectionEvent.AuthenticationFailed ->
            "authentication failed (HTTP ${e.status}); retry in ${e.retryInMillis} ms"

        is ConnectionEvent.Disconnected -> "disconnected: ${e.cause.message}; redial in ${e.retryInMillis} ms"

        is ConnectionEvent.Closed -> "closed"
    }

    private companion object {
        const val REGISTRATION =
            """{"name":"demo-aspect","session_id":"demo","provider":"tether","context_mode":"stateless"}"""
    }
}
