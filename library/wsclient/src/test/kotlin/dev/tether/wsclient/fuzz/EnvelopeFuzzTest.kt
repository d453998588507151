package dev.tether.wsclient.fuzz

import com.code_intelligence.jazzer.api.FuzzedDataProvider
import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.MalformedEnvelopeException
import org.junit.jupiter.api.Timeout

/**
 * Fuzzes [Envelope.decode], which reads every text frame the broker sends (docs/fuzzing.md). A frame decodes to an
 * envelope or fails with [MalformedEnvelopeException], which the client counts and drops; any other exception is a
 * finding. A decoded envelope must survive its own encoding unchanged, and the encoding may grow over the input only
 * by Go's escaping (`<` becomes `\u003c`: six characters for one), so decoding never amplifies a frame. Its payload
 * parses as a JSON tree (the nesting limit keeps that parser's recursion off the end of the stack).
 *
 * Seeds: the spec vectors of specs/wsclient-test-vectors.txt and malformed cases, in `EnvelopeFuzzTestInputs/`.
 */
class EnvelopeFuzzTest {
    /** The frame as the transport hands it over: UTF-8 text. */
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun decodeWire(bytes: ByteArray) {
        checkDecode(String(bytes, Charsets.UTF_8))
    }

    /** Any UTF-16 text, lone surrogates included (which a UTF-8 frame cannot carry, but a Java caller can). */
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun decodeChars(data: FuzzedDataProvider) {
        checkDecode(data.consumeRemainingAsString())
    }

    private fun checkDecode(text: String) {
        val envelope = try {
            Envelope.decode(text)
        } catch (e: MalformedEnvelopeException) {
            check(e.message!!.startsWith("malformed envelope:")) { "unexpected message: ${e.message}" }
            return
        }
        check(envelope.kind.isNotEmpty()) { "decoded an envelope without a kind from: $text" }
        val encoded = envelope.encode()
        check(encoded.length <= 6L * text.length + ENVELOPE_OVERHEAD) {
            "${text.length} characters decoded to an envelope that encodes to ${encoded.length}"
        }
        val again = Envelope.decode(encoded)
        check(again == envelope) { "re-decoding the encoded envelope changed it: $envelope became $again" }
        // The payload a handler reads back (kotlinx.serialization) must parse whatever the codec let through.
        envelope.payloadJson()
    }

    private companion object {
        /** What encoding adds to any envelope: the `ts` field (written even when absent) and the key names. */
        const val ENVELOPE_OVERHEAD = 128
    }
}
