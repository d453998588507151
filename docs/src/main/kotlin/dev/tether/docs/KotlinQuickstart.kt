package dev.tether.docs

import dev.tether.core.ConnectionEvent
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import dev.tether.wsclient.payloadAs
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.encodeToJsonElement
import org.slf4j.LoggerFactory
import kotlin.time.Duration.Companion.seconds

// docs:start payloads
/** The payload of a `register` request, as the broker expects it. */
@Serializable
data class Registration(
    val name: String,
    @SerialName("session_id") val sessionId: String,
    val provider: String,
    @SerialName("context_mode") val contextMode: String, // global, thread or stateless
)

/** The payload of `register.ack`. */
@Serializable
data class RegisterAck(
    @SerialName("heartbeat_interval_s") val heartbeatIntervalS: Int,
    @SerialName("stale_after_s") val staleAfterS: Int,
)

/** The payload of a `turn` request and of its `turn.result` answer. */
@Serializable
data class TurnText(val text: String)
// docs:end payloads

/**
 * The Kotlin quick start (docs/getting-started-kotlin.md): an agent that connects to a nexus broker, registers under
 * [name] on every connect, answers the broker's `turn` requests and logs its connection events. [run] keeps it
 * connected until the calling coroutine is cancelled.
 */
class KotlinQuickstart(url: String, token: String, private val name: String) {
    private val log = LoggerFactory.getLogger(KotlinQuickstart::class.java)
    private val acks = MutableStateFlow(0)

    // docs:start connect
    private val client = WsClient(
        WsClientConfig(url, ::onFrame) {
            // ::onFrame gets every frame that no request waits for
            authToken(token) // sent as "Authorization: Bearer <token>"
            requestTimeout(10.seconds) // default 30 s
        },
    )
    // docs:end connect

    /** How many registrations the broker acknowledged (one per connection). */
    val registrations: StateFlow<Int> = acks.asStateFlow()

    // docs:start run
    // Keeps the agent connected until the calling coroutine is cancelled, which closes the client.
    suspend fun run(): Unit = coroutineScope {
        // UNDISPATCHED: the collector subscribes before the client makes its first event.
        launch(start = CoroutineStart.UNDISPATCHED) {
            client.events.collect { event ->
                when (event) {
                    // The broker forgets a registration when its connection closes: register on every connect.
                    is ConnectionEvent.Connected -> launch { registerOrLog() }

                    is ConnectionEvent.Disconnected -> log.warn(
                        "connection dropped ({}); redialling in {} ms",
                        event.cause.message,
                        event.retryInMillis,
                    )

                    is ConnectionEvent.AuthenticationFailed -> log.error(
                        "the broker refused the token (HTTP {}); retrying in {} ms",
                        event.status,
                        event.retryInMillis,
                    )

                    else -> log.debug("{}", event)
                }
            }
        }
        client.start() // dials in the background and redials on its own until closed
        try {
            client.awaitClosed() // returns only when the client closes
        } finally {
            withContext(NonCancellable) { client.closeAndJoin() } // cancelling this coroutine closes the client
        }
    }
    // docs:end run

    // docs:start request
    // Registers under `name` and returns the broker's acknowledgement.
    suspend fun register(): RegisterAck {
        val registration = Registration(name, sessionId = "$name-1", provider = "docs", contextMode = "stateless")
        val reply = client.request(Envelope.request("register", Json.encodeToJsonElement(registration)))
        // Replies are matched by in_reply_to only: an error answer is a reply too, so check the kind.
        check(reply.kind != "register.error") { "register refused: ${reply.payload}" }
        return reply.payloadAs<RegisterAck>()
    }
    // docs:end request

    private suspend fun registerOrLog() {
        try {
            val ack = register()
            log.info("registered as {}; heartbeat every {} s", name, ack.heartbeatIntervalS)
            acks.value++
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException) throw e
            log.error("register failed: {}", e.toString())
        }
    }

    // docs:start handler
    // Runs on a library thread, one frame at a time, in arrival order. It may block.
    private fun onFrame(frame: Envelope) {
        val id = frame.id
        if (frame.kind == "turn" && id != null) {
            val turn = frame.payloadAs<TurnText>()
            val answer = Envelope.response("turn.result", id, Json.encodeToJsonElement(TurnText("echo: ${turn.text}")))
            runBlocking { client.send(answer) } // blocking here delays later handler frames only
        } else {
            log.info("ignoring a {} frame", frame.kind) // pushes, late replies, kinds we do not know
        }
    }
    // docs:end handler
}

/** `KotlinQuickstart URL TOKEN [NAME]`: runs the agent until the process is stopped. */
fun main(args: Array<String>): Unit = runBlocking {
    KotlinQuickstart(args[0], args[1], args.getOrElse(2) { "quickstart" }).run()
}
