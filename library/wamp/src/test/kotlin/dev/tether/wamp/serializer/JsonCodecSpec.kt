package dev.tether.wamp.serializer

import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.message.WampValues
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.property.Arb
import io.kotest.property.arbitrary.arbitrary
import io.kotest.property.checkAll
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import java.math.BigInteger

/**
 * The single-pass JSON reader and writer: strict RFC 8259 input with typed errors, the depth bound, and the value
 * model of the tree-based codec they replaced (numbers, strings, `"\u0000"` bytes), checked against a reference
 * that parses with kotlinx-serialization's tree as that codec did.
 */
class JsonCodecSpec : FunSpec({
    val json = JsonSerializer()
    fun decode(text: String): Any? = json.decodeValue(text.toByteArray(Charsets.UTF_8))
    fun encode(value: Any?): String = json.encodeValue(value).toString(Charsets.UTF_8)

    test(
        "integers: Long up to its range, BigInteger for uint64 above it, Double beyond; no String detour changes them",
    ) {
        decode("0") shouldBe 0L
        decode("-0") shouldBe 0L
        decode("123456789012345678") shouldBe 123456789012345678L
        decode("-123456789012345678") shouldBe -123456789012345678L
        decode("9223372036854775807") shouldBe Long.MAX_VALUE
        decode("-9223372036854775808") shouldBe Long.MIN_VALUE
        decode("9223372036854775808") shouldBe BigInteger("9223372036854775808")
        decode("18446744073709551615") shouldBe BigInteger("18446744073709551615")
        decode("18446744073709551616") shouldBe 1.8446744073709552E19
        decode("-9223372036854775809") shouldBe -9.223372036854775809E18
        decode("9007199254740993") shouldBe 9007199254740993L
    }

    test("fractions and exponents are Doubles") {
        decode("1.0") shouldBe 1.0
        decode("-0.0") shouldBe -0.0
        decode("1e2") shouldBe 100.0
        decode("1E+2") shouldBe 100.0
        decode("25e-2") shouldBe 0.25
    }

    test(
        "a number beyond a double's range is a protocol violation, not an infinity the encoder would refuse (fuzz " +
            "finding)",
    ) {
        for (text in listOf(
            "1e400",
            "-1e400",
            "3e345789028",
            "[48,1e400,{},\"p\"]",
            "123456789012345678901234567890e400",
        )) {
            val e = shouldThrow<ProtocolViolationException> { JsonSerializer().decodeValue(text.encodeToByteArray()) }
            e.message!! shouldContain "beyond a double's range"
        }
        decode("1.7976931348623157e308") shouldBe Double.MAX_VALUE
    }

    test("strings: every escape, surrogate pairs, raw UTF-8, whitespace between tokens") {
        decode(""""\"\\\/\b\f\n\r\t\u00e9\ud834\udd1e"""") shouldBe "\"\\/\b\u000c\n\r\té\uD834\uDD1E"
        decode("\"caf\u00e9 \u20ac \uD834\uDD1E\"") shouldBe "café € \uD834\uDD1E"
        decode(" \t\r\n[ 1 , { \"a\" : \"b\" } ] \n") shouldBe listOf(1L, mapOf("a" to "b"))
        decode("\"\\ud834\"") shouldBe "\uD834" // a lone surrogate escape stays a lone surrogate
    }

    test("malformed UTF-8 inside strings becomes U+FFFD, as decoding the whole input would") {
        val bytes =
            byteArrayOf(
                '"'.code.toByte(), 'a'.code.toByte(), 0xc3.toByte(), '\\'.code.toByte(), 'n'.code.toByte(),
                0xff.toByte(), 0xe2.toByte(), 0x82.toByte(), '"'.code.toByte(),
            )
        json.decodeValue(bytes) shouldBe "a\uFFFD\n\uFFFD\uFFFD"
        json.decodeValue(bytes) shouldBe reference(bytes)
    }

    test("the WAMP binary form becomes bytes; a U+0000 string that is not base64 stays text") {
        decode("\"\\u0000AAEC/w==\"").shouldBeInstanceOf<ByteArray>().toList() shouldBe listOf<Byte>(0, 1, 2, -1)
        decode("\"\\u0000\"").shouldBeInstanceOf<ByteArray>().size shouldBe 0
        decode("\"\\u0000not base64!\"") shouldBe "\u0000not base64!"
        decode("\"AAEC/w==\"") shouldBe "AAEC/w=="
    }

    test("objects keep key order; a repeated key keeps its first place and its last value") {
        val m = decode("""{"b":1,"a":2,"b":3}""").shouldBeInstanceOf<Map<String, Any?>>()
        m.keys.toList() shouldBe listOf("b", "a")
        m shouldBe mapOf("b" to 3L, "a" to 2L)
    }

    test("malformed input is a ProtocolViolationException naming the offset") {
        val bad = listOf(
            "", "   ", "[", "[1", "[1,", "[1,]", "[,1]", "[1 2]", "]", "{", "{\"a\"", "{\"a\":", "{\"a\":1,}",
            "{\"a\" 1}", "{a:1}", "{1:2}", "{\"a\":1}}", "[1]x", "[1][2]", "'a'", "\"abc", "\"\\x\"", "\"\\u12\"",
            "\"\\u12G4\"", "\"\\", "01", "-", "-a", "+1", "1.", ".5", "1e", "1e+", "0x10", "tru", "True", "nul", "NaN",
            "Infinity", "-Infinity",
            "\"a\tb\"", "\"a\nb\"", "\u00ff", "[1,\u0000]",
        )
        for (text in bad) {
            withClue(text) {
                shouldThrow<ProtocolViolationException> { decode(text) }.message shouldContain "JSON"
            }
        }
        shouldThrow<ProtocolViolationException> { decode("[01]") }.message shouldContain "offset 2"
    }

    test("256 levels of nesting decode; one more is refused; hostile depth never overflows the stack") {
        fun arrays(n: Int) = "[".repeat(n) + "]".repeat(n)
        fun objects(n: Int) = "{\"k\":".repeat(n) + "null" + "}".repeat(n)
        var v = decode(arrays(256))
        var levels = 0
        while (v is List<*>) {
            levels++
            v = v.firstOrNull()
        }
        levels shouldBe 256
        decode(objects(256)).shouldBeInstanceOf<Map<*, *>>()
        shouldThrow<ProtocolViolationException> { decode(arrays(257)) }.message shouldContain "deeper than 256"
        shouldThrow<ProtocolViolationException> { decode(objects(257)) }.message shouldContain "deeper than 256"
        shouldThrow<ProtocolViolationException> { decode("[".repeat(1_000_000)) }
        shouldThrow<ProtocolViolationException> { decode("[{\"a\":".repeat(200_000)) }
    }

    test("strings are written as UTF-8 with nexus's escapes; a lone surrogate becomes '?' as String.toByteArray does") {
        encode(
            "\"\\/\u0001\u001f\u007f<>&\u2028\u2029",
        ) shouldBe "\"\\\"\\\\/\\u0001\\u001f\u007f\\u003c\\u003e\\u0026\\u2028\\u2029\""
        encode("é€\uD834\uDD1E") shouldBe "\"é€\uD834\uDD1E\""
        encode("a\uD834b\uDD1E") shouldBe "\"a?b?\""
        encode("x".repeat(5000) + "<".repeat(5000)).length shouldBe 2 + 5000 + 6 * 5000
    }

    test("integers, floats and bytes are written as before") {
        encode(listOf(Long.MIN_VALUE, Long.MAX_VALUE, -1, 0, 10, 99, 100, 1_000_000_007L)) shouldBe
            "[-9223372036854775808,9223372036854775807,-1,0,10,99,100,1000000007]"
        encode(
            listOf(1.0, 0.1, 1.5f, BigInteger("18446744073709551615"), BigInteger.TEN),
        ) shouldBe "[1.0,0.1,1.5,18446744073709551615,10]"
        encode(byteArrayOf(0, 1, 2, -1)) shouldBe "\"\\u0000AAEC/w==\""
        JsonSerializer(
            JsonBinaryForm.PLAIN_BASE64,
        ).encodeValue(byteArrayOf(0, 1, 2, -1)).toString(Charsets.UTF_8) shouldBe "\"AAEC/w==\""
    }

    test(
        "random values: the writer matches the reference writer byte for byte, the reader matches the reference reader",
    ) {
        checkAll(500, arbitrary { rs -> randomValue(rs.random, 0) }) { value ->
            val bytes = json.encodeValue(value)
            bytes.toString(Charsets.UTF_8) shouldBe referenceEncode(value)
            WampValues.deepEquals(json.decodeValue(bytes), reference(bytes)) shouldBe true
        }
    }

    test("random strings of any UTF-16 units decode as the reference decodes their UTF-8") {
        checkAll(
            500,
            arbitrary { rs ->
                String(CharArray(rs.random.nextInt(20)) { rs.random.nextInt(0, 0x10000).toChar() })
            },
        ) { s ->
            val bytes = json.encodeValue(s)
            json.decodeValue(bytes) shouldBe reference(bytes)
        }
    }
})

/** The tree-based decoding this reader replaced (kotlinx tree, then the same conversion). */
private fun reference(bytes: ByteArray): Any? = convert(Json.parseToJsonElement(String(bytes, Charsets.UTF_8)))

private fun convert(e: JsonElement): Any? = when (e) {
    is JsonNull -> null

    is JsonPrimitive -> when {
        e.isString -> e.content.let { s -> if (s.startsWith('\u0000')) WampValues.asBytes(s) ?: s else s }
        else -> WampValues.fromJsonElement(e)
    }

    is JsonArray -> e.map { convert(it) }

    is JsonObject -> e.entries.associateTo(LinkedHashMap()) { (k, v) -> k to convert(v) }
}

/** The StringBuilder-based encoding this writer replaced. */
private fun referenceEncode(v: Any?): String =
    StringBuilder().also { refWrite(it, v) }.toString().toByteArray(Charsets.UTF_8).toString(Charsets.UTF_8)

private fun refWrite(sb: StringBuilder, v: Any?) {
    when (v) {
        null -> sb.append("null")

        is Boolean -> sb.append(v)

        is String -> {
            sb.append('"')
            for (c in v) {
                when {
                    c == '"' -> sb.append("\\\"")

                    c == '\\' -> sb.append("\\\\")

                    c < ' ' || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029' ->
                        sb.append("\\u").append(Integer.toHexString(c.code).padStart(4, '0'))

                    else -> sb.append(c)
                }
            }
            sb.append('"')
        }

        is Long -> sb.append(v)

        is BigInteger -> sb.append(v)

        is Double -> sb.append(v.toString())

        is ByteArray -> refWrite(sb, "\u0000" + java.util.Base64.getEncoder().encodeToString(v))

        is Map<*, *> -> {
            sb.append('{')
            v.entries.forEachIndexed { i, (k, x) ->
                if (i > 0) sb.append(',')
                refWrite(sb, k)
                sb.append(':')
                refWrite(sb, x)
            }
            sb.append('}')
        }

        is List<*> -> {
            sb.append('[')
            v.forEachIndexed { i, x ->
                if (i > 0) sb.append(',')
                refWrite(sb, x)
            }
            sb.append(']')
        }

        else -> error("unexpected ${v::class}")
    }
}

private fun randomValue(r: kotlin.random.Random, depth: Int): Any? = when (r.nextInt(if (depth > 3) 7 else 9)) {
    0 -> null

    1 -> r.nextBoolean()

    2 -> when (r.nextInt(3)) {
        0 -> r.nextLong()
        1 -> r.nextLong(-1000, 1000)
        else -> BigInteger.valueOf(Long.MAX_VALUE).add(BigInteger.valueOf(r.nextLong(1, Long.MAX_VALUE)))
    }

    3 -> when (r.nextInt(3)) {
        0 -> r.nextDouble()
        1 -> r.nextDouble(-1e300, 1e300)
        else -> r.nextLong(-1000, 1000) / 8.0
    }

    4 -> String(
        CharArray(r.nextInt(16)) {
            if (r.nextBoolean()) r.nextInt(0, 0x80).toChar() else r.nextInt(0x80, 0x10000).toChar()
        },
    )
        .let { if (it.startsWith('\u0000')) "x$it" else it }

    5 -> ByteArray(r.nextInt(12)) { r.nextInt().toByte() }

    6 -> ""

    7 -> List(r.nextInt(5)) { randomValue(r, depth + 1) }

    else -> (0 until r.nextInt(5)).associate { "k$it\u00e9<" to randomValue(r, depth + 1) }
}
