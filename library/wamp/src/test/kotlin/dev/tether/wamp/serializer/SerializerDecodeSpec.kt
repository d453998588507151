package dev.tether.wamp.serializer

import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.SerializationException
import dev.tether.wamp.hex
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Yield
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.property.Arb
import io.kotest.property.arbitrary.byte
import io.kotest.property.arbitrary.byteArray
import io.kotest.property.arbitrary.int
import io.kotest.property.checkAll
import java.math.BigInteger

/** The decode-acceptance table of wamp-test-vectors.txt §4 and the rules for hostile input. */
class SerializerDecodeSpec : FunSpec({
    val json = JsonSerializer()
    val msgpack = MsgPackSerializer()
    val cbor = CborSerializer()
    val p = Call(9, emptyMap(), "p")

    test("MessagePack: message type as fixint, int8, int16 and uint8, request as uint64, procedure as bin8") {
        msgpack.decode(hex("94300980a170")) shouldBe p
        msgpack.decode(hex("94d0300980a170")) shouldBe p
        msgpack.decode(hex("94d100300980a170")) shouldBe p
        // nexus v3.2.2 rejects cc30 (fixed upstream, #337); a tolerant reader accepts it.
        msgpack.decode(hex("94cc300980a170")) shouldBe p
        msgpack.decode(hex("9430cf000000000000000980a170")) shouldBe p
    }

    test("MessagePack: a bin procedure is bytes, not a string, so the message is refused") {
        shouldThrow<ProtocolViolationException> {
            msgpack.decode(hex("94300980c40170"))
        }.message shouldContain "CALL field 3"
    }

    test("CBOR: minimal and non-minimal type heads are accepted, a negative type is refused") {
        cbor.decode(hex("84183009a06170")) shouldBe p
        cbor.decode(hex("8419003009a06170")) shouldBe p
        shouldThrow<ProtocolViolationException> {
            cbor.decode(hex("842009a06170"))
        }.message shouldContain "unsupported WAMP message type -1"
    }

    test("JSON: the type must be an integer; an integral float request id is accepted") {
        json.decode("""[48,9,{},"p"]""".toByteArray()) shouldBe p
        shouldThrow<ProtocolViolationException> { json.decode("""[48.0,9,{},"p"]""".toByteArray()) }
        shouldThrow<ProtocolViolationException> { json.decode("""[4.8e1,9,{},"p"]""".toByteArray()) }
        json.decode("""[48,9.0,{},"p"]""".toByteArray()) shouldBe p
    }

    test("JSON: unknown type, empty array and non-array are refused; trailing fields are ignored") {
        shouldThrow<ProtocolViolationException> {
            json.decode("""[99,9,{},"p"]""".toByteArray())
        }.message shouldContain "unsupported WAMP message type 99"
        shouldThrow<ProtocolViolationException> { json.decode("[]".toByteArray()) }.message shouldContain "empty"
        shouldThrow<ProtocolViolationException> { json.decode("{}".toByteArray()) }
        json.decode("""[48,9,{},"p",[],{},"extra"]""".toByteArray()) shouldBe p
    }

    test("missing fields, wrong field types and ids outside [0, 2^53] are protocol violations") {
        shouldThrow<ProtocolViolationException> {
            json.decode("""[48,9,{}]""".toByteArray())
        }.message shouldContain "missing"
        shouldThrow<ProtocolViolationException> {
            json.decode("""[48,9,[],"p"]""".toByteArray())
        }.message shouldContain "dictionary"
        shouldThrow<ProtocolViolationException> {
            json.decode("""[48,9007199254740993,{},"p"]""".toByteArray())
        }.message shouldContain "2^53"
        shouldThrow<ProtocolViolationException> { json.decode("""[48,-1,{},"p"]""".toByteArray()) }
        shouldThrow<ProtocolViolationException> { json.decode("""[48,9,{},"p","notalist"]""".toByteArray()) }
    }

    test("malformed bytes, truncation, trailing bytes and lying lengths are protocol violations") {
        shouldThrow<ProtocolViolationException> { json.decode("[48,9,".toByteArray()) }
        shouldThrow<ProtocolViolationException> { msgpack.decode(hex("94300980a1")) }
        shouldThrow<ProtocolViolationException> {
            msgpack.decode(hex("94300980a17000"))
        }.message shouldContain "trailing"
        shouldThrow<ProtocolViolationException> { msgpack.decode(hex("dd7fffffff")) }.message shouldContain "exceeds"
        shouldThrow<ProtocolViolationException> { msgpack.decode(hex("c67fffffff00")) }.message shouldContain "exceeds"
        shouldThrow<ProtocolViolationException> { cbor.decode(hex("84183009a061")) }
        shouldThrow<ProtocolViolationException> {
            cbor.decode(hex("84183009a0617000"))
        }.message shouldContain "trailing"
        shouldThrow<ProtocolViolationException> {
            cbor.decode(hex("9b7fffffffffffffff"))
        }.message shouldContain "exceeds"
        shouldThrow<ProtocolViolationException> { cbor.decode(hex("5a7fffffff")) }.message shouldContain "exceeds"
    }

    test("nesting deeper than the limit is refused instead of overflowing the stack") {
        val deep = "[".repeat(10_000) + "]".repeat(10_000)
        shouldThrow<ProtocolViolationException> { json.decodeValue(deep.toByteArray()) }
        shouldThrow<ProtocolViolationException> { msgpack.decodeValue(ByteArray(10_000) { 0x91.toByte() }) }
        shouldThrow<ProtocolViolationException> { cbor.decodeValue(ByteArray(10_000) { 0x81.toByte() }) }
    }

    test("CBOR: indefinite containers, half floats, uint64 and bignum tags") {
        cbor.decodeValue(hex("9f0102ff")) shouldBe listOf(1L, 2L)
        cbor.decodeValue(hex("bf6161f5ff")) shouldBe mapOf("a" to true)
        cbor.decodeValue(hex("7f61616162ff")) shouldBe "ab"
        cbor.decodeValue(hex("f93e00")) shouldBe 1.5f
        cbor.decodeValue(hex("1bffffffffffffffff")) shouldBe BigInteger("18446744073709551615")
        cbor.decodeValue(hex("c248ffffffffffffffff")) shouldBe BigInteger("18446744073709551615")
        cbor.decodeValue(hex("c34101")) shouldBe -2L
        shouldThrow<ProtocolViolationException> { cbor.decodeValue(hex("c249010000000000000000")) }
    }

    test("uint64 above Long.MAX_VALUE survives every serializer") {
        val big = BigInteger("18446744073709551615")
        for (s in listOf(json, msgpack, cbor)) {
            s.decodeValue(s.encodeValue(listOf(big))) shouldBe listOf(big)
        }
        msgpack.encodeValue(big).size shouldBe 9
    }

    test("values outside the model are refused when encoding, before anything is sent") {
        shouldThrow<SerializationException> { json.encode(Yield(1, emptyMap(), listOf(Double.NaN))) }
        shouldThrow<SerializationException> { msgpack.encode(Yield(1, emptyMap(), listOf(Any()))) }
        shouldThrow<SerializationException> { cbor.encode(Yield(1, mapOf("k" to mapOf(1 to 2)))) }
        shouldThrow<SerializationException> { WampValues.normalize(BigInteger.TWO.pow(64)) }
    }

    test("random bytes never escape as anything but ProtocolViolationException") {
        for (s in listOf(json, msgpack, cbor)) {
            checkAll(500, Arb.byteArray(Arb.int(0..40), Arb.byte())) { input ->
                try {
                    s.decode(input)
                } catch (e: ProtocolViolationException) {
                    // expected for almost every input
                }
            }
        }
    }

    test("JSON escapes like nexus: control characters and <>& as \\u00XX, '/' and DEL raw") {
        json.encodeValue("a/\u007f<\n").toString(Charsets.UTF_8) shouldBe "\"a/\u007f\\u003c\\u000a\""
        json.decodeValue("\"\\u003c\\n\"".toByteArray()) shouldBe "<\n"
        json.decodeValue("\"\\u0000AAEC/w==\"".toByteArray()).shouldBeInstanceOf<ByteArray>()
    }
})
