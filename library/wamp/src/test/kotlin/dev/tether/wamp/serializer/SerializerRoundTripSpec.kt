package dev.tether.wamp.serializer

import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.WampValues
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.property.Arb
import io.kotest.property.RandomSource
import io.kotest.property.arbitrary.arbitrary
import io.kotest.property.checkAll
import java.math.BigInteger

/** Property: any value of the model survives encode/decode unchanged, per serializer. */
class SerializerRoundTripSpec : FunSpec({
    fun valueArb(floats: Boolean) = arbitrary { rs -> genValue(rs, 0, floats) }

    for (s in listOf(JsonSerializer(), MsgPackSerializer(), CborSerializer())) {
        test("${s.serialization}: random nested values round-trip") {
            checkAll(300, valueArb(floats = s !is JsonSerializer), valueArb(floats = s !is JsonSerializer)) { a, b ->
                val args = listOf(a, b)
                val kwargs = mapOf("k" to a, "unicode €\uD834\uDD1E" to b)
                val event = EventMessage(WampValues.MAX_ID, 1, mapOf("topic" to "t"), args, kwargs)
                val back = s.decode(s.encode(event))
                back.sameAs(event) shouldBe true
            }
        }
        test("${s.serialization}: boundary integers round-trip") {
            val values =
                listOf(
                    0L, 1L, -1L, 127L, 128L, -32L, -33L, 255L, 256L, 65535L, 65536L, (1L shl 32) - 1, 1L shl 32,
                    (1L shl 53) - 1, 1L shl 53, (1L shl 53) + 1, Long.MAX_VALUE, Long.MIN_VALUE,
                    BigInteger.TWO.pow(
                        63,
                    ),
                    BigInteger.TWO.pow(64) - BigInteger.ONE,
                )
            WampValues.deepEquals(s.decodeValue(s.encodeValue(values)), values) shouldBe true
        }
    }
})

private fun genValue(rs: RandomSource, depth: Int, floats: Boolean): Any? {
    val r = rs.random
    val kind = r.nextInt(if (depth > 3) 8 else 10)
    return when (kind) {
        0 -> null

        1 -> r.nextBoolean()

        2 -> when (r.nextInt(4)) {
            0 -> r.nextLong()

            1 -> r.nextLong(-300, 70000)

            2 -> (1L shl 53) + r.nextLong(-2, 3)

            else -> BigInteger.valueOf(
                r.nextLong(0, Long.MAX_VALUE),
            ).add(BigInteger.valueOf(Long.MAX_VALUE)).add(BigInteger.ONE)
        }

        3 -> r.nextDouble(-1e12, 1e12)

        4 -> if (floats) r.nextFloat() else r.nextDouble()

        5 -> run {
            val sb = StringBuilder()
            repeat(r.nextInt(12)) { sb.appendCodePoint(randomCodePoint(r)) }
            // WAMP JSON reserves strings that start with U+0000 for byte arrays ("\u0000" + base64): such a string
            // is not a string in the value model, so the generator never starts one with it.
            if (sb.startsWith("\u0000")) sb.insert(0, 'x')
            sb.toString()
        }

        6 -> ByteArray(r.nextInt(20)) { r.nextInt().toByte() }

        7 -> ""

        8 -> List(r.nextInt(5)) { genValue(rs, depth + 1, floats) }

        else -> (0 until r.nextInt(5)).associate { "k$it" to genValue(rs, depth + 1, floats) }
    }
}

private fun randomCodePoint(r: kotlin.random.Random): Int = when (r.nextInt(4)) {
    0 -> r.nextInt(0, 0x80)
    1 -> r.nextInt(0x80, 0x800)
    2 -> r.nextInt(0xe000, 0x10000)
    else -> r.nextInt(0x10000, 0x110000)
}
