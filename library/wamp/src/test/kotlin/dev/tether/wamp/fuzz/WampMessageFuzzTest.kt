package dev.tether.wamp.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.serializer.CborSerializer
import dev.tether.wamp.serializer.JsonSerializer
import dev.tether.wamp.serializer.MsgPackSerializer
import dev.tether.wamp.serializer.Serializer
import org.junit.jupiter.api.Timeout

/**
 * Fuzzes the three WAMP serializers' decoders, which read every message from the router (docs/fuzzing.md). Bytes
 * decode to a value, and to a message, or fail with [ProtocolViolationException] (the session aborts); anything
 * else is a finding. A decoded value is inside the value model (it encodes again) and no bigger than the bytes it
 * came from allow: the re-encoding is at most [GROWTH] times the input plus a little, so a declared length can never
 * make the decoder allocate more than the input justifies.
 *
 * Seeds: the JSON, MessagePack and CBOR vectors of specs/wamp-test-vectors.txt and malformed cases.
 */
class WampMessageFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun json(bytes: ByteArray) = check(JsonSerializer(), bytes)

    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun msgpack(bytes: ByteArray) = check(MsgPackSerializer(), bytes)

    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun cbor(bytes: ByteArray) = check(CborSerializer(), bytes)

    private fun check(serializer: Serializer, bytes: ByteArray) {
        val value = try {
            serializer.decodeValue(bytes)
        } catch (e: ProtocolViolationException) {
            return
        }
        val again = serializer.encodeValue(value)
        check(again.size <= GROWTH * bytes.size + SLACK) {
            "${bytes.size} bytes decoded to a value that encodes to ${again.size}"
        }
        try {
            serializer.decode(bytes)
        } catch (e: ProtocolViolationException) {
            // a value that is not a WAMP message: typed, as it should be
        }
    }

    private companion object {
        /** JSON escapes one byte as six (`\u003c`); CBOR widens a half float (3 bytes) to a double (9). */
        const val GROWTH = 6
        const val SLACK = 64
    }
}
