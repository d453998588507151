package dev.tether.wamp.serializer

import dev.tether.wamp.message.WampValues

/** How the JSON serializer writes byte arrays. */
public enum class JsonBinaryForm {
    /** The WAMP convention: a string of `"\u0000"` followed by standard padded base64. */
    WAMP,

    /** Plain standard base64 with no prefix, as nexus writes Go `[]byte` (the peer sees a string). */
    PLAIN_BASE64,
}

/**
 * The `wamp.2.json` serializer. Output matches nexus byte for byte for messages whose dictionaries have at most
 * one key: no spaces, `<`, `>`, `&` and control characters escaped as `\u00XX`, other characters raw UTF-8,
 * doubles as `1.0` / `0.1`.
 *
 * Decoding reads strict JSON (RFC 8259) in one pass over the bytes: anything else (unquoted words, leading zeros,
 * raw control characters in strings, trailing bytes, nesting deeper than 256 levels) is a
 * [dev.tether.wamp.error.ProtocolViolationException]. Integers become Long (BigInteger for uint64 above Long.MAX_VALUE,
 * Double beyond that), other numbers Double. Strings that start with `"\u0000"` and carry base64 become byte
 * arrays. Plain base64 (nexus) cannot be told apart from text, so it stays a String: read it with
 * [WampValues.asBytes] and `acceptPlainBase64 = true`.
 */
internal class JsonSerializer @JvmOverloads constructor(
    /** How byte arrays are written; [JsonBinaryForm.WAMP] unless the peer needs nexus's form. */
    val binaryForm: JsonBinaryForm = JsonBinaryForm.WAMP,
) : Serializer {
    override val serialization: Serialization get() = Serialization.JSON

    override fun encodeValue(value: Any?): ByteArray {
        val writer = JsonWriter(binaryForm)
        writer.write(value, 0)
        return writer.toByteArray()
    }

    override fun decodeValue(bytes: ByteArray): Any? = JsonReader(bytes).document()
}
