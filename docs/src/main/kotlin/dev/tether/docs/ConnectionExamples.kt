package dev.tether.docs

import dev.tether.core.ConnectionEvent
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.InitialConnectException
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Connection examples of docs/wsclient.md: reconnect policy, FailFirstConnect, connection events, keepalive and the
 * client's counters.
 */
object ConnectionExamples {

    /** A client that reconnects quickly, with bounded dials and FailFirstConnect. */
    fun reconnectingClient(url: String, token: String, handler: EnvelopeHandler): WsClient {
        // docs:start reconnect-config
        val config = WsClientConfig(url, handler) {
            authToken(token)
            // 200 ms doubling to 5 s, each delay spread ±20 %; a connection that lived < 1 s counts as a failure.
            backoff(ExponentialBackoff(minDelay = 200.milliseconds, maxDelay = 5.seconds))
            dialTimeout(Duration.ofSeconds(5)) // TCP + TLS + upgrade (default 10 s)
            failFirstConnect(true) // connect() fails if the very first dial fails
        }
        // docs:end reconnect-config
        return WsClient(config)
    }

    /** Connects [client] and waits for its end; a message says why FailFirstConnect ended it, or "closed". */
    suspend fun runOrExplain(client: WsClient): String {
        // docs:start fail-first-connect
        try {
            client.connect() // returns once the first connection is up
            client.awaitClosed() // returns only when the client is closed
        } catch (e: InitialConnectException) {
            // The first dial failed; e.cause says why (DialFailedException, DialTimeoutException,
            // AuthenticationFailedException, HandshakeRejectedException). The client has closed itself.
            return "cannot reach the broker: ${e.cause?.message}"
        }
        // docs:end fail-first-connect
        return "closed"
    }

    /** One line per connection event. */
    fun describe(event: ConnectionEvent): String {
        // docs:start events-when
        return when (event) {
            is ConnectionEvent.Connecting -> "dialling (attempt ${event.attempt})"

            is ConnectionEvent.Connected -> "connected to ${event.url}"

            is ConnectionEvent.DialFailed -> "dial failed: ${event.cause.message}; next in ${event.retryInMillis} ms"

            is ConnectionEvent.AuthenticationFailed ->
                "token refused (HTTP ${event.status}); next in ${event.retryInMillis} ms"

            is ConnectionEvent.Disconnected -> "dropped: ${event.cause.message}; next in ${event.retryInMillis} ms"

            is ConnectionEvent.Closed -> if (event.cause == null) "closed" else "gave up: ${event.cause?.message}"
        }
        // docs:end events-when
    }

    /** The client's events as log lines. */
    fun eventLog(client: WsClient): Flow<String> {
        // docs:start events-flow
        return client.events.map { describe(it) } // every event from collection on, in order
        // docs:end events-flow
    }

    /** Waits for a connection, bounded. */
    suspend fun awaitUp(client: WsClient) {
        // docs:start await-connected
        withTimeout(10.seconds) { client.awaitConnected() } // suspends until a connection is up
        // docs:end await-connected
    }

    /** A client whose keepalive notices a dead peer within about a second. */
    fun keepaliveClient(url: String, token: String, handler: EnvelopeHandler): WsClient {
        // docs:start keepalive
        val config = WsClientConfig(url, handler) {
            authToken(token)
            pingInterval(500.milliseconds) // client ping every 500 ms (default 30 s; ZERO turns client pings off)
            pongTimeout(300.milliseconds) // no pong within 300 ms: the connection is dead (default 10 s)
        }
        // docs:end keepalive
        return WsClient(config)
    }

    /** True when [event] is a drop found by the client's keepalive. */
    fun isKeepaliveDrop(event: ConnectionEvent): Boolean {
        // docs:start keepalive-drop
        return event is ConnectionEvent.Disconnected && event.cause is KeepAliveExpiredException
        // docs:end keepalive-drop
    }

    /** A short health line from the client's counters. */
    fun health(client: WsClient): String {
        // docs:start stats
        val s = client.stats() // a snapshot of counters since the client was created
        val refused = s.malformedFrames + s.binaryFrames
        return "drops=${s.drops} refusedFrames=$refused oversize=${s.oversizeMessages} " +
            "late=${s.lateReplies} timeouts=${s.requestsTimedOut} handlerErrors=${s.handlerErrors} " +
            "pending=${s.pendingRequests}"
        // docs:end stats
    }
}
