package dev.tether.docs

import dev.tether.wsclient.ClientClosedException
import dev.tether.wsclient.ConnectionLostException
import dev.tether.wsclient.DuplicateRequestIdException
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.NotConnectedException
import dev.tether.wsclient.RequestTimeoutException
import dev.tether.wsclient.WsClient
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Request, send and error-handling examples of docs/wsclient.md. Each function is one thing a caller does with a
 * running [WsClient] and returns a short description of what happened, which the guide's tests check.
 */
object RequestExamples {

    /** What [call] made of one request. */
    sealed interface Outcome {
        /** The server answered with a normal reply. */
        data class Answered(val reply: Envelope) : Outcome

        /** The server answered with a `<kind>.error` reply carrying [message]. */
        data class Refused(val message: String) : Outcome

        /** Nothing came back in time; the request may or may not have been handled. */
        data class TimedOut(val requestId: String) : Outcome

        /** The connection dropped first; [maybeHandled] is true when the request had reached the socket. */
        data class Lost(val maybeHandled: Boolean) : Outcome

        /** The client was closed. */
        data object Closed : Outcome
    }

    /** Sends [request] and sorts every way it can end into an [Outcome]. */
    suspend fun call(client: WsClient, request: Envelope): Outcome {
        // docs:start request-outcomes
        return try {
            val reply = client.request(request, timeout = 5.seconds) // default: requestTimeout (30 s)
            if (reply.kind == request.kind + ".error") {
                // The broker's error convention: <kind>.error with {"error":"message"}.
                val message = reply.payloadJson()?.jsonObject?.get("error")?.jsonPrimitive?.content
                Outcome.Refused(message ?: "no message")
            } else {
                Outcome.Answered(reply)
            }
        } catch (e: RequestTimeoutException) {
            // No reply in time (the broker drops unknown kinds silently). A late reply goes to the handler.
            Outcome.TimedOut(e.requestId)
        } catch (e: ConnectionLostException) {
            // The connection dropped first. Nothing is resent: if e.requestSent, the server may have acted on it.
            Outcome.Lost(maybeHandled = e.requestSent)
        } catch (e: ClientClosedException) {
            Outcome.Closed
        }
        // docs:end request-outcomes
    }

    /** A notification without an answer; false when no connection came up in time. */
    suspend fun notify(client: WsClient, text: String): Boolean {
        // docs:start send
        val note = Envelope.create("chat.send", Json.encodeToString(TurnText(text)))
        return try {
            client.send(note, timeout = 500.milliseconds) // default: sendTimeout (30 s)
            true // written to the socket; there is no acknowledgement
        } catch (e: NotConnectedException) {
            false // no connection within the bound; the frame was not sent
        }
        // docs:end send
    }

    /** Tries to reuse the id of [pendingRequest], which is still waiting for its reply; returns the refused id. */
    suspend fun reuseId(client: WsClient, pendingRequest: Envelope): String? {
        var refused: String? = null
        // docs:start duplicate-id
        try {
            client.request(pendingRequest.withPayloadJson("""{"again":true}""")) // same id as a pending request
        } catch (e: DuplicateRequestIdException) {
            refused = e.requestId // ids must be unique among pending requests: Envelope.request makes fresh ones
        }
        // docs:end duplicate-id
        return refused
    }
}
