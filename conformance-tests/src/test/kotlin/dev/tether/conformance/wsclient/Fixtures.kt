package dev.tether.conformance.wsclient

import dev.tether.core.ConnectionEvent
import dev.tether.testkit.FakeBroker
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.time.Duration.Companion.seconds

/** Frames the handler saw, in order, for tests to await. */
class Inbox : EnvelopeHandler {
    val frames = Channel<Envelope>(Channel.UNLIMITED)
    override fun handle(envelope: Envelope) {
        frames.trySend(envelope)
    }
    suspend fun next(): Envelope = withTimeout(10.seconds) { frames.receive() }
}

/** A client on [url] with fast reconnects (10 ms doubling to 200 ms), not started. */
fun fastClient(
    url: String,
    token: String,
    handler: EnvelopeHandler = Inbox(),
    block: WsClientConfig.Builder.() -> Unit = {},
): WsClient = WsClient(
    WsClientConfig(url, handler) {
        authToken(token)
        reconnectDelays(Duration.ofMillis(10), Duration.ofMillis(200))
        block()
    },
)

/** A client on [broker] with fast reconnects, not started. */
fun fastClient(
    broker: FakeBroker,
    handler: EnvelopeHandler = Inbox(),
    block: WsClientConfig.Builder.() -> Unit = {},
): WsClient = fastClient(broker.url, broker.token, handler, block)

/** Collects every connection event from now on into a channel (subscribed before this returns). */
fun CoroutineScope.recordEvents(client: WsClient): Channel<ConnectionEvent> {
    val out = Channel<ConnectionEvent>(Channel.UNLIMITED)
    launch(start = CoroutineStart.UNDISPATCHED) { client.events.collect { out.send(it) } }
    return out
}

/** Receives events until one of type [T] arrives (bounded). */
suspend inline fun <reified T : ConnectionEvent> Channel<ConnectionEvent>.await(): T = withTimeout(10.seconds) {
    while (true) {
        val e = receive()
        if (e is T) return@withTimeout e
    }
    @Suppress("UNREACHABLE_CODE")
    error("unreachable")
}

/** A valid `register` request payload. */
fun registration(name: String, session: String = "s-$name"): String =
    """{"name":"$name","session_id":"$session","provider":"test","context_mode":"stateless"}"""

/** Waits (bounded) until the client has a connection. */
suspend fun WsClient.awaitConnectedWithin(limit: kotlin.time.Duration = 10.seconds) =
    withTimeout(limit) { awaitConnected() }

/** Waits (bounded) until the client is connected and the broker has registered that connection. */
suspend fun WsClient.awaitConnectedTo(broker: FakeBroker, upgrades: Long = 1) = withTimeout(10.seconds) {
    awaitConnected()
    broker.awaitUpgrades(upgrades)
}

/** Cancels the helper coroutines a test launched (event recorders) without failing the test. */
fun kotlin.coroutines.CoroutineContext.cancelChildrenQuietly() {
    this[kotlinx.coroutines.Job]?.children?.forEach { it.cancel() }
}

/**
 * Drops every connection once the broker has accepted [upgrades] upgrades in all (a client may see its connection
 * open before the broker has registered it, so tests wait for the broker's side).
 */
suspend fun FakeBroker.dropWhenConnected(upgrades: Long = 1): Int {
    withTimeout(10.seconds) { awaitUpgrades(upgrades) }
    return faults.dropAll()
}
