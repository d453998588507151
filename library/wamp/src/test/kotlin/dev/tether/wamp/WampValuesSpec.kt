package dev.tether.wamp

import dev.tether.wamp.error.SerializationException
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.serializer.Serialization
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.add
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import kotlinx.serialization.json.putJsonArray
import java.math.BigInteger

/** The neutral value model: normalization, equality, byte and id readers, the JsonElement bridge. */
class WampValuesSpec : FunSpec({
    test("normalize turns small integer types, chars, arrays and collections into the canonical form") {
        WampValues.normalize(listOf(1, 2.toShort(), 3.toByte(), 'c', arrayOf(1), setOf("s"))) shouldBe
            listOf(1L, 2L, 3L, "c", listOf(1L), listOf("s"))
        WampValues.normalize(BigInteger.valueOf(5)) shouldBe 5L
        WampValues.normalize(BigInteger.TWO.pow(63)) shouldBe BigInteger.TWO.pow(63)
        shouldThrow<SerializationException> { WampValues.normalize(BigInteger.TWO.pow(64)) }
        shouldThrow<SerializationException> {
            WampValues.normalize(BigInteger.TWO.pow(63).negate().subtract(BigInteger.ONE))
        }
        shouldThrow<SerializationException> { WampValues.normalize(mapOf(1 to 2)) }
        shouldThrow<SerializationException> { WampValues.normalize(Thread()) }
    }

    test("deepEquals compares bytes by content and integers across types, never integers with floats") {
        WampValues.deepEquals(listOf(byteArrayOf(1)), listOf(byteArrayOf(1))) shouldBe true
        WampValues.deepEquals(listOf(byteArrayOf(1)), listOf(byteArrayOf(2))) shouldBe false
        WampValues.deepEquals(1, 1L) shouldBe true
        WampValues.deepEquals(1L, 1.0) shouldBe false
        WampValues.deepEquals(mapOf("a" to 1L), mapOf("a" to 1L, "b" to null)) shouldBe false
        WampValues.deepEquals(mapOf("a" to null), mapOf("b" to null)) shouldBe false
    }

    test("asLong accepts integral floats (JSON peers write 9.0) and refuses fractions; asBytes reads both JSON forms") {
        WampValues.asLong(9.0) shouldBe 9L
        WampValues.asLong(9.5) shouldBe null
        WampValues.asLong("9") shouldBe null
        WampValues.asBytes("\u0000AAEC/w==")!!.toHex() shouldBe "000102ff"
        WampValues.asBytes("AAEC/w==") shouldBe null
        WampValues.asBytes("AAEC/w==", acceptPlainBase64 = true)!!.toHex() shouldBe "000102ff"
        WampValues.asBytes("not base64!", acceptPlainBase64 = true) shouldBe null
    }

    test("JsonElement values are accepted by every serializer and convert both ways") {
        val element = buildJsonObject {
            put("n", 9007199254740992L)
            put("s", "é")
            putJsonArray("l") {
                add(1.5)
                add(JsonPrimitive(true))
            }
        }
        val plain = mapOf("n" to 9007199254740992L, "s" to "é", "l" to listOf(1.5, true))
        WampValues.fromJsonElement(element) shouldBe plain
        WampValues.toJsonElement(plain) shouldBe element
        for (s in Serialization.entries) {
            val ser = s.serializer()
            ser.decodeValue(ser.encodeValue(listOf(element))) shouldBe listOf(plain)
        }
        WampValues.toJsonElement(byteArrayOf(0, 1, 2, -1)) shouldBe JsonPrimitive("\u0000AAEC/w==")
    }
})
