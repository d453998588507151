package dev.tether.wamp.serializer

import dev.tether.wamp.hex
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageArrays
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.WireId
import dev.tether.wamp.message.Yield
import dev.tether.wamp.toHex
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf

/** Every encoding vector of wamp-test-vectors.txt §3-4, byte for byte, in both directions. */
class SerializerVectorSpec : FunSpec({
    val json = JsonSerializer()
    val nexusJson = JsonSerializer(JsonBinaryForm.PLAIN_BASE64)
    val msgpack = MsgPackSerializer()
    val cbor = CborSerializer()

    data class Vector(
        val name: String,
        val message: Message,
        val json: ByteArray,
        val msgpack: String,
        val cbor: String,
    )

    fun text(s: String) = s.toByteArray(Charsets.UTF_8)
    val bytes = byteArrayOf(0, 1, 2, 0xff.toByte())

    val vectors = listOf(
        Vector(
            "SER.call",
            Call(
                7,
                emptyMap(),
                "com.example.proc",
                listOf(1L, "two", 3.5, true, null, mapOf("k" to "v")),
                mapOf("a" to listOf(1L, 2L)),
            ),
            text("""[48,7,{},"com.example.proc",[1,"two",3.5,true,null,{"k":"v"}],{"a":[1,2]}]"""),
            "96300780b0636f6d2e6578616d706c652e70726f639601a374776fcb400c000000000000c3c081a16ba17681a161920102",
            "86183007a070636f6d2e6578616d706c652e70726f6386016374776ffb400c000000000000f5f6a1616b6176a16161820102",
        ),
        Vector(
            "SER.event_binarydata",
            EventMessage(5512315355, 4429313566, emptyMap(), listOf(bytes)),
            hex("5b33362c353531323331353335352c343432393331333536362c7b7d2c5b225c7530303030414145432f773d3d225d5d"),
            "9524cf00000001488f41dbcf000000010801f61e8091c404000102ff",
            "8518241b00000001488f41db1b000000010801f61ea08144000102ff",
        ),
        Vector(
            "SER.yield_progress",
            Yield(6131533, mapOf("progress" to true), listOf("chunk-1")),
            text("""[70,6131533,{"progress":true},["chunk-1"]]"""),
            "9446ce005d8f4d81a870726f6772657373c391a76368756e6b2d31",
            "8418461a005d8f4da16870726f6772657373f581676368756e6b2d31",
        ),
        Vector(
            "SER.error_call",
            ErrorMessage(48, 7, emptyMap(), "com.example.error.invalid_argument", listOf("bad"), mapOf("code" to 42L)),
            text("""[8,48,7,{},"com.example.error.invalid_argument",["bad"],{"code":42}]"""),
            "9708300780d922636f6d2e6578616d706c652e6572726f722e696e76616c69645f617267756d656e7491a362616481a4636f6465" +
                "2a",
            "8708183007a07822636f6d2e6578616d706c652e6572726f722e696e76616c69645f617267756d656e748163626164a164636f64" +
                "65182a",
        ),
        Vector(
            "SER.error_noargs",
            ErrorMessage(48, 7, emptyMap(), "wamp.error.no_such_procedure"),
            text("""[8,48,7,{},"wamp.error.no_such_procedure"]"""),
            "9508300780bc77616d702e6572726f722e6e6f5f737563685f70726f636564757265",
            "8508183007a0781c77616d702e6572726f722e6e6f5f737563685f70726f636564757265",
        ),
        Vector(
            "SER.call_emptyargs_kwargs",
            Call(8, emptyMap(), "p", emptyList(), mapOf("x" to 1L)),
            text("""[48,8,{},"p",[],{"x":1}]"""),
            "96300880a1709081a17801",
            "86183008a0617080a1617801",
        ),
        Vector(
            "SER.call_noargs",
            Call(9, emptyMap(), "p"),
            text("""[48,9,{},"p"]"""),
            "94300980a170",
            "84183009a06170",
        ),
        Vector(
            "SER.numbers",
            Yield(
                1,
                emptyMap(),
                listOf(
                    0L, 127L, 128L, 255L, 256L, 32767L, 32768L, 65535L, 65536L, 2147483647L, 2147483648L, 4294967296L,
                    -1L, -32L, -33L, -128L, -129L, 1.0, 0.1, 1.5f,
                ),
            ),
            text(
                "[70,1,{},[0,127,128,255,256,32767,32768,65535,65536,2147483647,2147483648,4294967296,-1,-32,-33,-128" +
                    ",-129,1.0,0.1,1.5]]",
            ),
            "94460180dc0014007fd10080d100ffd10100d17fffd200008000d20000ffffd200010000d27fffffffd30000000080000000d300" +
                "00000100000000ffe0d0dfd080d1ff7fcb3ff0000000000000cb3fb999999999999aca3fc00000",
            "84184601a09400187f188018ff190100197fff19800019ffff1a000100001a7fffffff1a800000001b000000010000000020381f" +
                "3820387f3880fb3ff0000000000000fb3fb999999999999afa3fc00000",
        ),
        Vector(
            "SER.id_2pow53",
            Yield(9007199254740992, emptyMap()),
            text("[70,9007199254740992,{}]"),
            "9346cf002000000000000080",
            "8318461b0020000000000000a0",
        ),
        Vector(
            "SER.strings",
            Yield(
                1,
                emptyMap(),
                listOf(
                    "",
                    "é",
                    "<&>",
                    "\"\\/",
                    "\u0000\u0001\u001f\u007f",
                    "€\uD834\uDD1E",
                    "",
                    "0123456789012345678901234567890123",
                ),
            ),
            hex(
                "5b37302c312c7b7d2c5b22222c22c3a9222c225c75303033635c75303032365c7530303365222c225c225c5c2f222c225c75" +
                    "303030305c75303030315c75303031667f222c22e282acf09d849e222c22222c22303132333435363738393031323334" +
                    "35363738393031323334353637383930313233225d5d",
            ),
            "9446018098a0a2c3a9a33c263ea3225c2fa400011f7fa7e282acf09d849ea0d92230313233343536373839303132333435363738" +
                "393031323334353637383930313233",
            "84184601a0886062c3a9633c263e63225c2f6400011f7f67e282acf09d849e607822303132333435363738393031323334353637" +
                "38393031323334353637383930313233",
        ),
        Vector(
            "RS.goodbye client",
            Goodbye(emptyMap(), "wamp.close.close_realm"),
            text("""[6,{},"wamp.close.close_realm"]"""),
            "930680b677616d702e636c6f73652e636c6f73655f7265616c6d",
            "8306a07677616d702e636c6f73652e636c6f73655f7265616c6d",
        ),
        Vector(
            "RS.goodbye router",
            Goodbye(emptyMap(), "wamp.close.goodbye_and_out"),
            text("""[6,{},"wamp.close.goodbye_and_out"]"""),
            "930680ba77616d702e636c6f73652e676f6f646279655f616e645f6f7574",
            "8306a0781a77616d702e636c6f73652e676f6f646279655f616e645f6f7574",
        ),
    )

    for (v in vectors) {
        test("${v.name}: JSON encodes byte for byte and decodes back") {
            json.encode(v.message).toHex() shouldBe v.json.toHex()
            WampValues.deepEquals(
                MessageArrays.toArray(json.decode(v.json)).unwrapIds(),
                MessageArrays.toArray(v.message).unwrapIds().jsonFloats(),
            ) shouldBe true
        }
        test("${v.name}: MessagePack encodes byte for byte and decodes back") {
            msgpack.encode(v.message).toHex() shouldBe v.msgpack
            msgpack.decode(hex(v.msgpack)).sameAs(v.message) shouldBe true
            msgpack.encode(msgpack.decode(hex(v.msgpack))).toHex() shouldBe v.msgpack
        }
        test("${v.name}: CBOR encodes byte for byte and decodes back") {
            cbor.encode(v.message).toHex() shouldBe v.cbor
            cbor.decode(hex(v.cbor)).sameAs(v.message) shouldBe true
            cbor.encode(cbor.decode(hex(v.cbor))).toHex() shouldBe v.cbor
        }
    }

    test("SER.event_bytes: nexus's plain base64 form is written on request and read back as a string") {
        val event = EventMessage(5512315355, 4429313566, emptyMap(), listOf(bytes))
        nexusJson.encode(event).toString(Charsets.UTF_8) shouldBe """[36,5512315355,4429313566,{},["AAEC/w=="]]"""
        val decoded = json.decode(
            text("""[36,5512315355,4429313566,{},["AAEC/w=="]]"""),
        ).shouldBeInstanceOf<EventMessage>()
        decoded.args[0] shouldBe "AAEC/w=="
        WampValues.asBytes(decoded.args[0], acceptPlainBase64 = true)!!.toHex() shouldBe "000102ff"
        WampValues.asBytes(decoded.args[0]) shouldBe null
    }

    test("SER.event_binarydata: the WAMP JSON binary form decodes to a byte array") {
        val decoded = json.decode(
            text("""[36,5512315355,4429313566,{},["\u0000AAEC/w=="]]"""),
        ).shouldBeInstanceOf<EventMessage>()
        (decoded.args[0] as ByteArray).toHex() shouldBe "000102ff"
    }

    test("SER.call_niloptions: a null dictionary is written as null and read as empty") {
        val array = listOf(48, WireId(10), null, "p")
        json.encodeValue(array).toString(Charsets.UTF_8) shouldBe """[48,10,null,"p"]"""
        msgpack.encodeValue(array).toHex() shouldBe "94300ac0a170"
        cbor.encodeValue(array).toHex() shouldBe "8418300af66170"
        val expected = Call(10, emptyMap(), "p")
        json.decode(text("""[48,10,null,"p"]""")) shouldBe expected
        msgpack.decode(hex("94300ac0a170")) shouldBe expected
        cbor.decode(hex("8418300af66170")) shouldBe expected
    }
})

private fun List<Any?>.unwrapIds(): List<Any?> = map { if (it is WireId) it.value else it }

// JSON has one float type: a Float sent as 1.5 comes back as the Double 1.5.
private fun List<Any?>.jsonFloats(): List<Any?> = map { v ->
    if (v is List<*>) v.map { if (it is Float) it.toDouble() else it } else v
}

internal fun Message.sameAs(other: Message): Boolean = WampValues.deepEquals(
    MessageArrays.toArray(this).map {
        if (it is WireId) it.value else it
    },
    MessageArrays.toArray(other).map { if (it is WireId) it.value else it },
)
