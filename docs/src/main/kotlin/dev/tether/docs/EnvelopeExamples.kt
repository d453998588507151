package dev.tether.docs

import dev.tether.wsclient.Envelope
import dev.tether.wsclient.MalformedEnvelopeException
import dev.tether.wsclient.Ulid
import dev.tether.wsclient.payloadAs
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.encodeToJsonElement
import java.time.Instant

/**
 * Envelope examples of docs/wsclient.md: building, writing and reading envelopes. Each function returns what it
 * built so that the guide's tests can check the exact wire text.
 */
object EnvelopeExamples {

    /** Builds one envelope of each shape and returns their wire text, stamped with [at]. */
    fun shapes(at: Instant): List<String> {
        // docs:start envelope-build
        val note = Envelope.create("chat.send", """{"text":"hi"}""") // no id: nobody waits for an answer
        val request = Envelope.request("register", """{"name":"a"}""") // id = a fresh ULID
        val answer = Envelope.response("register.ack", request.id!!, """{"stale_after_s":30}""") // in_reply_to = id
        val routed = Envelope.create("turn", """{"text":"hi"}""").withTargetAspect("keel")
        val bare = Envelope.create("shutdown") // no payload: the field is left out
        // docs:end envelope-build
        return listOf(note, request, answer, routed, bare).map { it.withTs(at).encode() }
    }

    /** A typed payload written and read back with kotlinx.serialization. */
    fun typedPayload(): Pair<String, RegisterAck> {
        // docs:start envelope-typed
        val request = Envelope.request("register", Json.encodeToJsonElement(Registration("a", "s-1", "docs", "global")))
        val ack = Envelope.decode(
            """{"kind":"register.ack","in_reply_to":"${request.id}","ts":"2026-05-20T10:11:12Z",""" +
                """"payload":{"heartbeat_interval_s":10,"stale_after_s":30,"added_later":true}}""",
        )
        val payload: RegisterAck = ack.payloadAs<RegisterAck>() // unknown payload keys are ignored
        // docs:end envelope-typed
        return request.payload!! to payload
    }

    /** Reads frames the way the client does: bad ones are rejected with [MalformedEnvelopeException]. */
    fun decodeOrNull(text: String): Envelope? {
        // docs:start envelope-decode
        val envelope = try {
            Envelope.decode(text)
        } catch (e: MalformedEnvelopeException) {
            // Not one JSON object, no kind, a field of the wrong type, a ts that is not RFC 3339, ...
            println(e.message) // "malformed envelope: ..."
            null
        }
        // docs:end envelope-decode
        return envelope
    }

    /** Request ids. */
    fun ids(): List<String> {
        // docs:start ulid
        val id: String = Ulid.next() // 26 characters of Crockford base32, e.g. 01KS2DWBKV000G40R40M30E209
        val parsed: Ulid = Ulid.parse(id)
        val millis: Long = parsed.timestampMillis // the first 48 bits: when it was made
        check(Ulid.isValid(id) && Ulid.next() > id) // ids of one process sort in the order they were made
        // docs:end ulid
        return listOf(id, millis.toString())
    }
}
