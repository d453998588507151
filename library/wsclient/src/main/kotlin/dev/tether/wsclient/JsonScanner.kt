package dev.tether.wsclient

/**
 * Go's JSON text, without a tree: [JsonScanner] reads and validates it as `encoding/json` does, and [GoJson] writes
 * strings the way `encoding/json` escapes them. The envelope's own fields are mapped in [EnvelopeCodec].
 */
internal object GoJson {
    const val HEX = "0123456789abcdef"

    /** ASCII characters that a JSON string written Go's way cannot carry as they are. */
    private val NEEDS_ESCAPE = BooleanArray(128).also { t ->
        for (c in 0 until 0x20) t[c] = true
        for (c in "\"\\<>&") t[c.code] = true
    }

    /**
     * A JSON string as Go writes it with HTML escaping: short escapes for `"`, `\`, `\n`, `\r`, `\t`, `\b`, `\f`
     * (the last two as Go 1.22 and later write them), `\u00xx` for other control characters and for `<`, `>`,
     * `&`, `\u2028`/`\u2029` for the line separators, `\ufffd` for an unpaired surrogate (Go: invalid UTF-8);
     * everything else unchanged.
     */
    fun appendString(sb: StringBuilder, s: String) {
        sb.append('"')
        var start = 0
        var i = 0
        val n = s.length
        while (i < n) {
            val c = s[i]
            if (c.code < 128) {
                if (!NEEDS_ESCAPE[c.code]) {
                    i++
                    continue
                }
            } else if (c != '\u2028' && c != '\u2029') {
                if (!c.isSurrogate()) {
                    i++
                    continue
                }
                if (c.isHighSurrogate() && i + 1 < n && s[i + 1].isLowSurrogate()) {
                    i += 2
                    continue
                }
            }
            sb.append(s, start, i)
            when (c) {
                '"' -> sb.append("\\\"")
                '\\' -> sb.append("\\\\")
                '\n' -> sb.append("\\n")
                '\r' -> sb.append("\\r")
                '\t' -> sb.append("\\t")
                '\b' -> sb.append("\\b")
                '\u000c' -> sb.append("\\f")
                else -> if (c.isSurrogate()) sb.append("\\ufffd") else appendUnicodeEscape(sb, c)
            }
            i++
            start = i
        }
        sb.append(s, start, n)
        sb.append('"')
    }

    fun appendUnicodeEscape(sb: StringBuilder, c: Char) {
        val v = c.code
        sb.append('\\').append('u')
            .append(GoJson.HEX[(v shr 12) and 15]).append(GoJson.HEX[(v shr 8) and 15])
            .append(GoJson.HEX[(v shr 4) and 15]).append(GoJson.HEX[v and 15])
    }
}

/** Internal syntax or type error; carries no stack trace, the public entry points turn it into their own type. */
internal class JsonSyntaxError(message: String) : RuntimeException(message, null, false, false)

/**
 * A cursor over one JSON text. All methods leave [pos] just after what they consumed. Nesting is limited to
 * [EnvelopeCodec.MAX_DEPTH] levels.
 */
internal class JsonScanner(val s: String) {
    var pos = 0
    val n = s.length

    // Container kinds by depth (true = array): the first 64 levels as bits, deeper ones in an array made on
    // demand, so that the flat payloads of most envelopes allocate nothing for it.
    var shallow = 0L
    var deep: BooleanArray? = null

    fun setArrayAt(depth: Int, isArray: Boolean) {
        if (depth < 64) {
            shallow = if (isArray) shallow or (1L shl depth) else shallow and (1L shl depth).inv()
            return
        }
        var d = deep ?: BooleanArray(64).also { deep = it }
        if (depth - 64 >= d.size) d = d.copyOf(d.size * 2).also { deep = it }
        d[depth - 64] = isArray
    }

    fun isArrayAt(depth: Int): Boolean = if (depth < 64) (shallow ushr depth) and 1L != 0L else deep!![depth - 64]

    /** Set when a scanned value holds whitespace or characters that its wire form escapes. */
    var rewrite = false

    fun readStandalonePayload(): String {
        val payload = readPayload()
        expectEnd()
        return payload
    }

    /**
     * One JSON value (the payload, nested in the envelope) in its wire form. Text that is already compact and
     * escaped, as Go writes it, is returned as a substring after one validating pass; anything else is
     * copied again with whitespace dropped and HTML characters escaped.
     */
    fun readPayload(): String {
        skipWs()
        val start = pos
        rewrite = false
        copyValue(null, 1)
        val end = pos
        if (!rewrite) return if (start == 0 && end == n) s else s.substring(start, end)
        val sb = StringBuilder(end - start + 16)
        pos = start
        copyValue(sb, 1)
        return sb.toString()
    }

    fun valueName(c: Char): String = when (c) {
        '{' -> "an object"
        '[' -> "an array"
        '"' -> "a string"
        't', 'f' -> "a boolean"
        'n' -> "null"
        else -> "a number"
    }

    /**
     * Validates one JSON value starting at [pos] (after optional whitespace) and, when [out] is not null,
     * appends it without whitespace. Iterative: nesting costs no stack. [baseDepth] is the nesting level of
     * the enclosing container.
     */
    fun copyValue(out: StringBuilder?, baseDepth: Int) {
        var depth = 0
        while (true) {
            // at the start of a value
            skipWs()
            if (pos >= n) unexpectedEnd()
            val c = s[pos]
            when (c) {
                '{', '[' -> {
                    if (baseDepth + depth + 1 > EnvelopeCodec.MAX_DEPTH) {
                        throw JsonSyntaxError("nested deeper than ${EnvelopeCodec.MAX_DEPTH} levels at offset $pos")
                    }
                    val isArray = c == '['
                    setArrayAt(depth++, isArray)
                    out?.append(c)
                    pos++
                    skipWs()
                    if (pos >= n) unexpectedEnd()
                    val close = if (isArray) ']' else '}'
                    if (s[pos] == close) {
                        out?.append(close)
                        pos++
                        depth--
                    } else {
                        if (!isArray) copyKeyAndColon(out)
                        continue
                    }
                }

                '"' -> copyString(out)

                't' -> copyLiteral("true", out)

                'f' -> copyLiteral("false", out)

                'n' -> copyLiteral("null", out)

                else -> if (c == '-' || c in '0'..'9') {
                    copyNumber(out)
                } else {
                    fail("invalid character ${describe(c)} looking for beginning of value")
                }
            }
            // after a complete value: close containers until one continues with ','
            while (true) {
                if (depth == 0) return
                skipWs()
                if (pos >= n) unexpectedEnd()
                val d = s[pos]
                val inArray = isArrayAt(depth - 1)
                if (d == ',') {
                    out?.append(',')
                    pos++
                    if (!inArray) {
                        skipWs()
                        copyKeyAndColon(out)
                    }
                    break
                }
                if (d == (if (inArray) ']' else '}')) {
                    out?.append(d)
                    pos++
                    depth--
                    continue
                }
                fail(
                    "invalid character ${describe(d)} " +
                        if (inArray) "after array element" else "after object key:value pair",
                )
            }
        }
    }

    fun copyKeyAndColon(out: StringBuilder?) {
        if (pos >= n) unexpectedEnd()
        if (s[pos] != '"') fail("invalid character ${describe(s[pos])} looking for beginning of object key string")
        copyString(out)
        skipWs()
        expectColon()
        out?.append(':')
    }

    fun expectColon() {
        if (pos >= n) unexpectedEnd()
        if (s[pos] != ':') fail("invalid character ${describe(s[pos])} after object key")
        pos++
    }

    /**
     * Validates a string and copies it verbatim (escapes kept) except for Go's HTML escaping of `<`, `>`, `&`,
     * U+2028 and U+2029; an unpaired surrogate becomes `\ufffd` (Go: invalid UTF-8).
     */
    fun copyString(out: StringBuilder?) {
        var run = pos
        var i = pos + 1
        while (true) {
            if (i >= n) unexpectedEnd()
            val c = s[i]
            when {
                c == '"' -> {
                    i++
                    break
                }

                c == '\\' -> i = skipEscape(i)

                c < ' ' -> fail("invalid character ${describe(c)} in string literal", i)

                c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029' -> {
                    rewrite = true
                    if (out != null) {
                        out.append(s, run, i)
                        GoJson.appendUnicodeEscape(out, c)
                    }
                    i++
                    run = i
                }

                c.isSurrogate() -> if (c.isHighSurrogate() && i + 1 < n && s[i + 1].isLowSurrogate()) {
                    i += 2
                } else {
                    rewrite = true
                    out?.append(s, run, i)?.append("\\ufffd")
                    i++
                    run = i
                }

                else -> i++
            }
        }
        out?.append(s, run, i)
        pos = i
    }

    /** Validates the escape at [i] (a backslash) and returns the index after it. */
    fun skipEscape(i: Int): Int {
        if (i + 1 >= n) unexpectedEnd()
        return when (s[i + 1]) {
            '"', '\\', '/', 'b', 'f', 'n', 'r', 't' -> i + 2

            'u' -> {
                hex4(i + 2)
                i + 6
            }

            else -> fail("invalid character ${describe(s[i + 1])} in string escape code", i + 1)
        }
    }

    fun hex4(at: Int): Int {
        var r = 0
        for (j in at until at + 4) {
            if (j >= n) unexpectedEnd()
            val c = s[j]
            val d = when (c) {
                in '0'..'9' -> c - '0'
                in 'a'..'f' -> c - 'a' + 10
                in 'A'..'F' -> c - 'A' + 10
                else -> fail("invalid character ${describe(c)} in \\u hexadecimal character escape", j)
            }
            r = (r shl 4) or d
        }
        return r
    }

    /** Reads a string value with escapes resolved; invalid surrogates become U+FFFD as in Go. */
    fun readString(): String {
        val start = pos + 1
        var i = start
        while (i < n) { // fast path: nothing to unescape
            val c = s[i]
            if (c == '"') {
                pos = i + 1
                return s.substring(start, i)
            }
            if (c == '\\' || c < ' ') break
            if (c.isSurrogate()) {
                if (c.isHighSurrogate() && i + 1 < n && s[i + 1].isLowSurrogate()) {
                    i += 2
                    continue
                }
                break
            }
            i++
        }
        val sb = StringBuilder(i - start + 16).append(s, start, i)
        while (true) {
            if (i >= n) unexpectedEnd()
            val c = s[i]
            when {
                c == '"' -> {
                    pos = i + 1
                    return sb.toString()
                }

                c == '\\' -> i = readEscape(i, sb)

                c < ' ' -> fail("invalid character ${describe(c)} in string literal", i)

                c.isSurrogate() -> if (c.isHighSurrogate() && i + 1 < n && s[i + 1].isLowSurrogate()) {
                    sb.append(c).append(s[i + 1])
                    i += 2
                } else {
                    sb.append('\uFFFD')
                    i++
                }

                else -> {
                    sb.append(c)
                    i++
                }
            }
        }
    }

    fun readEscape(i: Int, sb: StringBuilder): Int {
        if (i + 1 >= n) unexpectedEnd()
        when (val e = s[i + 1]) {
            '"', '\\', '/' -> sb.append(e)

            'b' -> sb.append('\b')

            'f' -> sb.append('\u000c')

            'n' -> sb.append('\n')

            'r' -> sb.append('\r')

            't' -> sb.append('\t')

            'u' -> {
                val r = hex4(i + 2)
                if (r in 0xD800..0xDFFF) {
                    // only a high surrogate escape directly followed by a low surrogate escape is a pair
                    if (r < 0xDC00 && i + 11 < n && s[i + 6] == '\\' && s[i + 7] == 'u' && isHex4(i + 8)) {
                        val low = hex4(i + 8)
                        if (low in 0xDC00..0xDFFF) {
                            sb.append(r.toChar()).append(low.toChar())
                            return i + 12
                        }
                    }
                    sb.append('\uFFFD')
                } else {
                    sb.append(r.toChar())
                }
                return i + 6
            }

            else -> fail("invalid character ${describe(e)} in string escape code", i + 1)
        }
        return i + 2
    }

    fun isHex4(at: Int): Boolean {
        if (at + 4 > n) return false
        for (j in at until at + 4) {
            val c = s[j]
            if (c !in '0'..'9' && c !in 'a'..'f' && c !in 'A'..'F') return false
        }
        return true
    }

    fun copyNumber(out: StringBuilder?) {
        val start = pos
        if (s[pos] == '-') pos++
        if (pos >= n) unexpectedEnd()
        when (s[pos]) {
            '0' -> pos++
            in '1'..'9' -> skipDigits()
            else -> fail("invalid character ${describe(s[pos])} in numeric literal")
        }
        if (pos < n && s[pos] == '.') {
            pos++
            if (pos >= n) unexpectedEnd()
            if (s[pos] !in '0'..'9') {
                fail("invalid character ${describe(s[pos])} after decimal point in numeric literal")
            }
            skipDigits()
        }
        if (pos < n && (s[pos] == 'e' || s[pos] == 'E')) {
            pos++
            if (pos < n && (s[pos] == '+' || s[pos] == '-')) pos++
            if (pos >= n) unexpectedEnd()
            if (s[pos] !in '0'..'9') fail("invalid character ${describe(s[pos])} in exponent of numeric literal")
            skipDigits()
        }
        out?.append(s, start, pos)
    }

    fun skipDigits() {
        while (pos < n && s[pos] in '0'..'9') pos++
    }

    fun copyLiteral(lit: String, out: StringBuilder?) {
        readLiteral(lit)
        out?.append(lit)
    }

    fun readLiteral(lit: String) {
        for (j in lit.indices) {
            if (pos >= n) unexpectedEnd()
            val c = s[pos]
            if (c != lit[j]) fail("invalid character ${describe(c)} in literal $lit (expecting ${describe(lit[j])})")
            pos++
        }
    }

    fun skipWs() {
        while (pos < n) {
            val c = s[pos]
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return
            pos++
            rewrite = true
        }
    }

    fun expectEnd() {
        skipWs()
        if (pos < n) fail("invalid character ${describe(s[pos])} after top-level value")
    }

    fun unexpectedEnd(): Nothing = throw JsonSyntaxError("unexpected end of JSON input")

    fun fail(what: String, at: Int = pos): Nothing = throw JsonSyntaxError("$what at offset $at")

    fun describe(c: Char): String = when {
        c == '\'' -> "'\\''"

        c == '"' -> "'\"'"

        c.code < 0x20 || c.isSurrogate() || c == '\u2028' || c == '\u2029' ->
            "'\\u" + GoJson.HEX[(c.code shr 12) and 15] + GoJson.HEX[(c.code shr 8) and 15] +
                GoJson.HEX[(c.code shr 4) and 15] + GoJson.HEX[c.code and 15] + "'"

        else -> "'$c'"
    }
}
