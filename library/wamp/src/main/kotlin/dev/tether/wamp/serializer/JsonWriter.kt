package dev.tether.wamp.serializer

import dev.tether.wamp.error.SerializationException
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.WireId
import kotlinx.serialization.json.JsonElement
import java.math.BigInteger
import java.util.Base64

/**
 * Writes one value of the neutral model as JSON straight into UTF-8 bytes (no intermediate String), escaping as
 * nexus does: `"` and `\` with a backslash; control characters, `<`, `>`, `&`, U+2028 and U+2029 as `\u00XX`;
 * everything else raw. A lone surrogate becomes `?`, as `String.toByteArray(UTF_8)` writes it.
 */
internal class JsonWriter(private val binaryForm: JsonBinaryForm) {
    private var buf = ByteArray(128)
    private var len = 0

    fun toByteArray(): ByteArray = buf.copyOf(len)

    private fun room(n: Int) {
        if (len + n > buf.size) buf = buf.copyOf(maxOf(buf.size * 2, len + n))
    }

    private fun byte(c: Int) {
        room(1)
        buf[len++] = c.toByte()
    }

    private fun ascii(s: String) {
        room(s.length)
        for (c in s) buf[len++] = c.code.toByte()
    }

    fun write(v: Any?, depth: Int) {
        if (depth > MAX_DEPTH) throw SerializationException("value nested deeper than $MAX_DEPTH levels")
        when (v) {
            null -> ascii("null")

            is String -> string(v)

            is Long -> long(v)

            is WireId -> long(v.value)

            is Map<*, *> -> map(v, depth)

            is List<*> -> list(v, depth)

            is Boolean -> ascii(if (v) "true" else "false")

            is Int, is Short, is Byte -> long((v as Number).toLong())

            is Double -> {
                if (v.isNaN() || v.isInfinite()) throw SerializationException("JSON cannot carry $v")
                ascii(v.toString())
            }

            is Float -> {
                if (v.isNaN() || v.isInfinite()) throw SerializationException("JSON cannot carry $v")
                ascii(v.toString())
            }

            is Char -> string(v.toString())

            is BigInteger -> ascii(WampValues.normalize(v).toString())

            is ByteArray -> bytes(v)

            is Collection<*> -> list(v, depth)

            is Array<*> -> list(v.asList(), depth)

            is JsonElement -> write(WampValues.fromJsonElement(v), depth)

            else -> throw SerializationException("${v::class.java.name} is not a WAMP value")
        }
    }

    private fun list(v: Collection<*>, depth: Int) {
        byte('['.code)
        var first = true
        for (x in v) {
            if (!first) byte(','.code)
            first = false
            write(x, depth + 1)
        }
        byte(']'.code)
    }

    private fun map(v: Map<*, *>, depth: Int) {
        byte('{'.code)
        var first = true
        for ((k, x) in v) {
            if (k !is String) {
                throw SerializationException(
                    "dictionary key ${k?.let {
                        it::class.java.name
                    }} is not a String",
                )
            }
            if (!first) byte(','.code)
            first = false
            string(k)
            byte(':'.code)
            write(x, depth + 1)
        }
        byte('}'.code)
    }

    private fun long(v: Long) {
        if (v == Long.MIN_VALUE) return ascii(v.toString())
        room(20)
        var n = v
        if (n < 0) {
            buf[len++] = '-'.code.toByte()
            n = -n
        }
        var digits = 1
        var p = 10L
        while (digits < 19 && n >= p) {
            digits++
            p *= 10
        }
        var i = len + digits
        len = i
        do {
            buf[--i] = ('0'.code + (n % 10).toInt()).toByte()
            n /= 10
        } while (n != 0L)
    }

    private fun bytes(v: ByteArray) {
        val b64 = Base64.getEncoder().encode(v)
        room(b64.size + 8)
        buf[len++] = '"'.code.toByte()
        if (binaryForm == JsonBinaryForm.WAMP) for (c in "\\u0000") buf[len++] = c.code.toByte()
        System.arraycopy(b64, 0, buf, len, b64.size)
        len += b64.size
        buf[len++] = '"'.code.toByte()
    }

    private fun string(s: String) {
        // Room for the common case (3 bytes a char covers any UTF-8); escapes take up to 6, so the loop tops up.
        room(s.length * 3 + 2)
        var out = buf
        var n = len
        out[n++] = '"'.code.toByte()
        var i = 0
        while (i < s.length) {
            if (out.size - n < 8) {
                len = n
                room(8 + (s.length - i) * 3)
                out = buf
            }
            val c = s[i++]
            when {
                c == '"' || c == '\\' -> {
                    out[n++] = '\\'.code.toByte()
                    out[n++] = c.code.toByte()
                }

                // Escaped like nexus (and Go) so that JSON embedded in HTML stays inert.
                c < ' ' || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029' -> {
                    out[n++] = '\\'.code.toByte()
                    out[n++] = 'u'.code.toByte()
                    out[n++] = HEX[c.code ushr 12]
                    out[n++] = HEX[(c.code ushr 8) and 0xf]
                    out[n++] = HEX[(c.code ushr 4) and 0xf]
                    out[n++] = HEX[c.code and 0xf]
                }

                c.code < 0x80 -> out[n++] = c.code.toByte()

                c.code < 0x800 -> {
                    out[n++] = (0xc0 or (c.code ushr 6)).toByte()
                    out[n++] = (0x80 or (c.code and 0x3f)).toByte()
                }

                Character.isHighSurrogate(c) && i < s.length && Character.isLowSurrogate(s[i]) -> {
                    val cp = Character.toCodePoint(c, s[i++])
                    out[n++] = (0xf0 or (cp ushr 18)).toByte()
                    out[n++] = (0x80 or ((cp ushr 12) and 0x3f)).toByte()
                    out[n++] = (0x80 or ((cp ushr 6) and 0x3f)).toByte()
                    out[n++] = (0x80 or (cp and 0x3f)).toByte()
                }

                Character.isSurrogate(c) -> out[n++] = '?'.code.toByte()

                else -> {
                    out[n++] = (0xe0 or (c.code ushr 12)).toByte()
                    out[n++] = (0x80 or ((c.code ushr 6) and 0x3f)).toByte()
                    out[n++] = (0x80 or (c.code and 0x3f)).toByte()
                }
            }
        }
        out[n++] = '"'.code.toByte()
        len = n
    }

    private companion object {
        val HEX: ByteArray = "0123456789abcdef".toByteArray(Charsets.US_ASCII)
    }
}
