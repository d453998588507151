package dev.tether.wamp.serializer

import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.message.WampValues

/**
 * Reads one JSON document (RFC 8259) from UTF-8 bytes straight into the neutral value model, in one pass: objects
 * as `LinkedHashMap` (a repeated key keeps its first position and its last value), arrays as `ArrayList`, integers
 * as Long (BigInteger above Long.MAX_VALUE up to 2^64-1, Double beyond), other numbers as Double, strings that start
 * with U+0000 and carry valid base64 as ByteArray. Malformed UTF-8 inside strings becomes U+FFFD, as the JDK's
 * decoder does. Anything else that is not JSON, and nesting deeper than [MAX_DEPTH], is a
 * [ProtocolViolationException] naming the offset.
 */
internal class JsonReader(private val b: ByteArray) {
    private var pos = 0

    fun document(): Any? {
        skipWhitespace()
        if (pos >= b.size) fail(if (b.isEmpty()) "empty JSON input" else "no JSON value in the input")
        val v = value(0)
        skipWhitespace()
        if (pos != b.size) fail("trailing characters after the JSON value")
        return v
    }

    private fun fail(what: String): Nothing = throw ProtocolViolationException("malformed JSON at offset $pos: $what")

    private fun skipWhitespace() {
        while (pos < b.size) {
            when (b[pos].toInt()) {
                0x20, 0x0a, 0x0d, 0x09 -> pos++
                else -> return
            }
        }
    }

    // [depth] counts the containers around the value; a container at depth MAX_DEPTH would be one level too many.
    private fun value(depth: Int): Any? {
        if (pos >= b.size) fail("truncated input")
        return when (b[pos].toInt()) {
            '"'.code -> stringValue()

            '['.code -> {
                if (depth >= MAX_DEPTH) tooDeep()
                array(depth + 1)
            }

            '{'.code -> {
                if (depth >= MAX_DEPTH) tooDeep()
                obj(depth + 1)
            }

            't'.code -> literal("true", true)

            'f'.code -> literal("false", false)

            'n'.code -> literal("null", null)

            '-'.code, in '0'.code..'9'.code -> number()

            else -> fail("unexpected character ${describe(b[pos])}")
        }
    }

    private fun array(depth: Int): List<Any?> {
        pos++ // '['
        val list = ArrayList<Any?>(8)
        skipWhitespace()
        if (pos < b.size && b[pos] == ']'.code.toByte()) {
            pos++
            return list
        }
        while (true) {
            skipWhitespace()
            list.add(value(depth))
            skipWhitespace()
            if (pos >= b.size) fail("truncated array")
            when (b[pos++].toInt()) {
                ','.code -> continue

                ']'.code -> return list

                else -> {
                    pos--
                    fail("expected ',' or ']' in an array, got ${describe(b[pos])}")
                }
            }
        }
    }

    private fun obj(depth: Int): Map<String, Any?> {
        pos++ // '{'
        val map = LinkedHashMap<String, Any?>()
        skipWhitespace()
        if (pos < b.size && b[pos] == '}'.code.toByte()) {
            pos++
            return map
        }
        while (true) {
            skipWhitespace()
            if (pos >= b.size) fail("truncated object")
            if (b[pos] != '"'.code.toByte()) fail("expected a string key in an object, got ${describe(b[pos])}")
            val key = string()
            skipWhitespace()
            if (pos >= b.size || b[pos] != ':'.code.toByte()) fail("expected ':' after an object key")
            pos++
            skipWhitespace()
            map[key] = value(depth)
            skipWhitespace()
            if (pos >= b.size) fail("truncated object")
            when (b[pos++].toInt()) {
                ','.code -> continue

                '}'.code -> return map

                else -> {
                    pos--
                    fail("expected ',' or '}' in an object, got ${describe(b[pos])}")
                }
            }
        }
    }

    private fun literal(word: String, v: Any?): Any? {
        if (b.size - pos < word.length) fail("truncated literal")
        for (i in word.indices) {
            if (b[pos + i].toInt() != word[i].code) {
                fail(
                    "unexpected character ${describe(b[pos + i])}",
                )
            }
        }
        pos += word.length
        return v
    }

    private fun stringValue(): Any {
        val s = string()
        // WAMP's JSON binary form; a U+0000 string that is not base64 stays text, as before.
        return if (s.isNotEmpty() && s[0] == '\u0000') WampValues.asBytes(s) ?: s else s
    }

    /** A quoted string at [pos]; one copy for the common case of plain ASCII with no escapes. */
    private fun string(): String {
        val start = ++pos
        var ascii = true
        while (true) {
            if (pos >= b.size) fail("unterminated string")
            val c = b[pos].toInt()
            when {
                c == '"'.code -> break
                c == '\\'.code -> return escapedString(start)
                c < 0 -> ascii = false
                c < 0x20 -> fail("unescaped control character ${describe(b[pos])} in a string")
            }
            pos++
        }
        val s = String(b, start, pos - start, if (ascii) Charsets.ISO_8859_1 else Charsets.UTF_8)
        pos++ // closing quote
        return s
    }

    // The slow path: runs of raw bytes are decoded as UTF-8 (a backslash never splits a valid sequence, and the
    // decoder replaces invalid ones exactly as a whole-input decode would), escapes appended in between.
    private fun escapedString(start: Int): String {
        val sb = StringBuilder(pos - start + 16)
        var run = start
        while (true) {
            if (pos >= b.size) fail("unterminated string")
            val c = b[pos].toInt()
            when {
                c == '"'.code -> {
                    appendRun(sb, run, pos)
                    pos++
                    return sb.toString()
                }

                c == '\\'.code -> {
                    appendRun(sb, run, pos)
                    pos++
                    if (pos >= b.size) fail("unterminated escape")
                    when (b[pos].toInt()) {
                        '"'.code -> sb.append('"')

                        '\\'.code -> sb.append('\\')

                        '/'.code -> sb.append('/')

                        'b'.code -> sb.append('\b')

                        'f'.code -> sb.append('\u000c')

                        'n'.code -> sb.append('\n')

                        'r'.code -> sb.append('\r')

                        't'.code -> sb.append('\t')

                        'u'.code -> {
                            if (b.size - pos < 5) fail("truncated \\u escape")
                            var v = 0
                            for (i in 1..4) v = (v shl 4) or hexDigit(b[pos + i])
                            sb.append(v.toChar())
                            pos += 4
                        }

                        else -> fail("invalid escape \\${describe(b[pos])}")
                    }
                    pos++
                    run = pos
                }

                c in 0..0x1f -> fail("unescaped control character ${describe(b[pos])} in a string")

                else -> pos++
            }
        }
    }

    private fun appendRun(sb: StringBuilder, from: Int, to: Int) {
        if (to > from) sb.append(String(b, from, to - from, Charsets.UTF_8))
    }

    private fun hexDigit(x: Byte): Int = when (val c = x.toInt()) {
        in '0'.code..'9'.code -> c - '0'.code
        in 'a'.code..'f'.code -> c - 'a'.code + 10
        in 'A'.code..'F'.code -> c - 'A'.code + 10
        else -> fail("invalid hex digit ${describe(x)} in a \\u escape")
    }

    /** A number by RFC 8259's grammar; integers of up to 18 digits are accumulated without a String. */
    private fun number(): Any {
        val start = pos
        if (b[pos] == '-'.code.toByte()) pos++
        val intStart = pos
        if (pos >= b.size || !isDigit(b[pos])) fail("a number needs digits")
        if (b[pos] == '0'.code.toByte()) {
            pos++
            if (pos < b.size && isDigit(b[pos])) fail("leading zero in a number")
        } else {
            while (pos < b.size && isDigit(b[pos])) pos++
        }
        val intEnd = pos
        var integral = true
        if (pos < b.size && b[pos] == '.'.code.toByte()) {
            integral = false
            pos++
            if (pos >= b.size || !isDigit(b[pos])) fail("a fraction needs digits")
            while (pos < b.size && isDigit(b[pos])) pos++
        }
        if (pos < b.size && (b[pos] == 'e'.code.toByte() || b[pos] == 'E'.code.toByte())) {
            integral = false
            pos++
            if (pos < b.size && (b[pos] == '+'.code.toByte() || b[pos] == '-'.code.toByte())) pos++
            if (pos >= b.size || !isDigit(b[pos])) fail("an exponent needs digits")
            while (pos < b.size && isDigit(b[pos])) pos++
        }
        if (integral && intEnd - intStart <= 18) {
            var v = 0L
            for (i in intStart until intEnd) v = v * 10 + (b[i] - '0'.code.toByte())
            return if (intStart != start) -v else v
        }
        val text = String(b, start, pos - start, Charsets.ISO_8859_1)
        val value = WampValues.parseJsonNumber(text)
        // A number past a double's range would decode to an infinity that no peer can be sent back (JSON has none).
        if (value is Double && value.isInfinite()) fail("the number $text is beyond a double's range")
        return value
    }

    private fun isDigit(x: Byte): Boolean = x >= '0'.code.toByte() && x <= '9'.code.toByte()

    private fun describe(x: Byte): String {
        val c = x.toInt() and 0xff
        return if (c in 0x21..0x7e) "'${c.toChar()}'" else "0x%02x".format(c)
    }
}
