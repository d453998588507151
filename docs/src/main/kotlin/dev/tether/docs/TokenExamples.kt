package dev.tether.docs

import dev.tether.core.ConnectionEvent
import dev.tether.core.TokenProvider
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.takeWhile
import java.util.concurrent.atomic.AtomicReference

/**
 * Stands in for an identity service that issues short-lived tokens: [fetch] returns the current token, or fails
 * while [available] is false.
 */
class TokenIssuer(initial: String) {
    private val current = AtomicReference(initial)

    /** Whether the service answers. */
    @Volatile
    var available: Boolean = true

    /** Issues [token] from now on. */
    fun rotate(token: String) = current.set(token)

    /** Fetches a token, as a network call would. */
    suspend fun fetch(): String {
        delay(1)
        check(available) { "identity service unavailable" }
        return current.get()
    }
}

/** Token examples of docs/wsclient.md. */
object TokenExamples {

    /** A client that asks [issuer] for a token before every dial. */
    fun client(url: String, bootstrapToken: String, issuer: TokenIssuer, handler: EnvelopeHandler): WsClient {
        // docs:start token-provider
        val config = WsClientConfig(url, handler) {
            authToken(bootstrapToken) // used until a dial has been accepted
            tokenProvider(TokenProvider { issuer.fetch() }) // asked before every dial; may suspend
        }
        // docs:end token-provider
        return WsClient(config)
    }

    /** Calls [alert] once the server has refused the credentials [limit] times in a row; returns when closed. */
    suspend fun watchCredentials(client: WsClient, limit: Int, alert: (status: Int) -> Unit) {
        // docs:start auth-failed
        var refusals = 0
        client.events
            .takeWhile { it !is ConnectionEvent.Closed }
            .collect { event ->
                when (event) {
                    is ConnectionEvent.AuthenticationFailed -> if (++refusals == limit) alert(event.status)
                    is ConnectionEvent.Connected -> refusals = 0
                    else -> Unit
                }
            }
        // docs:end auth-failed
    }
}
