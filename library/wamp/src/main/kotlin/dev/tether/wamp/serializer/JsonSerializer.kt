package dev.tether.wamp.serializer

import dev.tether.wamp.ProtocolViolationException
import dev.tether.wamp.SerializationException
import dev.tether.wamp.WampValues
import dev.tether.wamp.message.WireId
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import java.math.BigInteger
import java.util.Base64

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
 * Decoding turns strings that start with `"\u0000"` into byte arrays. Plain base64 (nexus) cannot be told apart
 * from text, so it stays a String: read it with [WampValues.asBytes] and `acceptPlainBase64 = true`.
 */
public class JsonSerializer @JvmOverloads constructor(
    /** How byte arrays are written; [JsonBinaryForm.WAMP] unless the peer needs nexus's form. */
    public val binaryForm: JsonBinaryForm = JsonBinaryForm.WAMP,
) : Serializer {
    override val serialization: Serialization get() = Serialization.JSON

    override fun encodeValue(value: Any?): ByteArray {
        val sb = StringBuilder(64)
        write(sb, value, 0)
        return sb.toString().toByteArray(Charsets.UTF_8)
    }

    private fun write(sb: StringBuilder, v: Any?, depth: Int) {
        if (depth > MAX_DEPTH) throw SerializationException("value nested deeper than $MAX_DEPTH levels")
        when (v) {
            null -> sb.append("null")
            is Boolean -> sb.append(v)
            is String -> writeString(sb, v)
            is Char -> writeString(sb, v.toString())
            is Long, is Int, is Short, is Byte -> sb.append((v as Number).toLong())
            is WireId -> sb.append(v.value)
            is BigInteger -> sb.append(WampValues.normalize(v))
            is Double -> writeDouble(sb, v)
            is Float -> writeFloat(sb, v)
            is ByteArray -> {
                val b64 = Base64.getEncoder().encodeToString(v)
                writeString(sb, if (binaryForm == JsonBinaryForm.WAMP) "\u0000" + b64 else b64)
            }
            is Map<*, *> -> {
                sb.append('{')
                var first = true
                for ((k, x) in v) {
                    if (k !is String) throw SerializationException("dictionary key ${k?.let { it::class.java.name }} is not a String")
                    if (!first) sb.append(',')
                    first = false
                    writeString(sb, k)
                    sb.append(':')
                    write(sb, x, depth + 1)
                }
                sb.append('}')
            }
            is Collection<*> -> writeList(sb, v, depth)
            is Array<*> -> writeList(sb, v.asList(), depth)
            is JsonElement -> write(sb, WampValues.fromJsonElement(v), depth)
            else -> throw SerializationException("${v::class.java.name} is not a WAMP value")
        }
    }

    private fun writeList(sb: StringBuilder, v: Collection<*>, depth: Int) {
        sb.append('[')
        var first = true
        for (x in v) {
            if (!first) sb.append(',')
            first = false
            write(sb, x, depth + 1)
        }
        sb.append(']')
    }

    private fun writeDouble(sb: StringBuilder, d: Double) {
        if (d.isNaN() || d.isInfinite()) throw SerializationException("JSON cannot carry $d")
        sb.append(d.toString())
    }

    private fun writeFloat(sb: StringBuilder, f: Float) {
        if (f.isNaN() || f.isInfinite()) throw SerializationException("JSON cannot carry $f")
        sb.append(f.toString())
    }

    private fun writeString(sb: StringBuilder, s: String) {
        sb.append('"')
        for (c in s) {
            when {
                c == '"' -> sb.append("\\\"")
                c == '\\' -> sb.append("\\\\")
                // Escaped like nexus (and Go) so that JSON embedded in HTML stays inert.
                c < ' ' || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029' -> {
                    sb.append("\\u")
                    val hex = Integer.toHexString(c.code)
                    repeat(4 - hex.length) { sb.append('0') }
                    sb.append(hex)
                }
                else -> sb.append(c)
            }
        }
        sb.append('"')
    }

    override fun decodeValue(bytes: ByteArray): Any? {
        checkDepth(bytes)
        val element = try {
            Json.parseToJsonElement(String(bytes, Charsets.UTF_8))
        } catch (e: kotlinx.serialization.SerializationException) {
            throw ProtocolViolationException("malformed JSON: ${e.message?.lineSequence()?.firstOrNull()}", e)
        } catch (e: IllegalArgumentException) {
            throw ProtocolViolationException("malformed JSON: ${e.message?.lineSequence()?.firstOrNull()}", e)
        }
        return convert(element, 0)
    }

    // The kotlinx tree reader recurses per nesting level; measure the depth first so hostile input cannot
    // overflow the stack.
    private fun checkDepth(bytes: ByteArray) {
        var depth = 0
        var inString = false
        var escaped = false
        for (b in bytes) {
            val c = b.toInt()
            if (inString) {
                when {
                    escaped -> escaped = false
                    c == '\\'.code -> escaped = true
                    c == '"'.code -> inString = false
                }
            } else when (c) {
                '"'.code -> inString = true
                '['.code, '{'.code -> if (++depth > MAX_DEPTH) tooDeep()
                ']'.code, '}'.code -> depth--
            }
        }
    }

    private fun convert(e: JsonElement, depth: Int): Any? {
        if (depth > MAX_DEPTH) tooDeep()
        return when (e) {
            is JsonNull -> null
            is JsonPrimitive -> when {
                e.isString -> e.content.let { s -> if (s.startsWith('\u0000')) WampValues.asBytes(s) ?: s else s }
                e.content == "true" -> true
                e.content == "false" -> false
                else -> try {
                    WampValues.parseJsonNumber(e.content)
                } catch (x: NumberFormatException) {
                    throw ProtocolViolationException("malformed JSON number ${e.content}", x)
                }
            }
            is JsonArray -> e.map { convert(it, depth + 1) }
            is JsonObject -> e.entries.associateTo(LinkedHashMap(e.size)) { (k, x) -> k to convert(x, depth + 1) }
        }
    }
}
