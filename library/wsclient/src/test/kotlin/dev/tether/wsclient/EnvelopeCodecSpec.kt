package dev.tether.wsclient

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.ints.shouldBeLessThan
import io.kotest.matchers.nulls.shouldBeNull
import io.kotest.matchers.nulls.shouldNotBeNull
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.property.Arb
import io.kotest.property.arbitrary.Codepoint
import io.kotest.property.arbitrary.arbitrary
import io.kotest.property.arbitrary.ascii
import io.kotest.property.arbitrary.bind
import io.kotest.property.arbitrary.choice
import io.kotest.property.arbitrary.double
import io.kotest.property.arbitrary.element
import io.kotest.property.arbitrary.filter
import io.kotest.property.arbitrary.int
import io.kotest.property.arbitrary.list
import io.kotest.property.arbitrary.map
import io.kotest.property.arbitrary.orNull
import io.kotest.property.arbitrary.string
import io.kotest.property.checkAll
import kotlinx.serialization.Serializable
import kotlinx.serialization.builtins.MapSerializer
import kotlinx.serialization.builtins.nullable
import kotlinx.serialization.builtins.serializer
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import java.time.Instant
import java.time.OffsetDateTime
import java.time.ZoneOffset

/** Sections 1 and 2 of wsclient-test-vectors.txt, byte for byte, plus edge cases and round-trip properties. */
class EnvelopeCodecSpec : FunSpec({

    val fixed = OffsetDateTime.parse("2026-05-20T10:11:12.123456789Z")
    val ulidFixed = "01KS2DWBKV000G40R40M30E209"
    val fixedTs = "\"ts\":\"2026-05-20T10:11:12.123456789Z\""

    context("ENC vectors") {
        test("ENC.new_chat_send (text and JsonElement payloads)") {
            val want = """{"kind":"chat.send",$fixedTs,"payload":{"text":"hi"}}"""
            Envelope.create("chat.send", """{"text":"hi"}""").withTs(fixed).encode() shouldBe want
            Envelope.create("chat.send", buildJsonObject { put("text", "hi") }).withTs(fixed).encode() shouldBe want
        }
        test("ENC.request_register") {
            val env = Envelope.request("register", """{"name":"a"}""")
            Ulid.isValid(env.id!!) shouldBe true
            env.withId(ulidFixed).withTs(fixed).encode() shouldBe
                """{"kind":"register","id":"01KS2DWBKV000G40R40M30E209",$fixedTs,"payload":{"name":"a"}}"""
        }
        test("ENC.response_register_ack") {
            val env = Envelope.response("register.ack", ulidFixed, """{"heartbeat_interval_s":10,"stale_after_s":30}""")
            env.id.shouldBeNull()
            env.withTs(fixed).encode() shouldBe
                """{"kind":"register.ack","in_reply_to":"01KS2DWBKV000G40R40M30E209",$fixedTs,""" +
                """"payload":{"heartbeat_interval_s":10,"stale_after_s":30}}"""
        }
        test("ENC.target_aspect") {
            Envelope.create("turn", """{"text":"hi"}""").withTs(fixed).withTargetAspect("keel").encode() shouldBe
                """{"kind":"turn",$fixedTs,"payload":{"text":"hi"},"target_aspect":"keel"}"""
        }
        test("ENC.zero_time") {
            Envelope.create("shutdown").withTs(Envelope.ZERO_TIME).encode() shouldBe
                """{"kind":"shutdown","ts":"0001-01-01T00:00:00Z"}"""
        }
        test("ENC.nil_payload") {
            val want = """{"kind":"shutdown",$fixedTs}"""
            Envelope.create("shutdown", null as String?).withTs(fixed).encode() shouldBe want
            Envelope.create("shutdown", null as JsonElement?).withTs(fixed).encode() shouldBe want
            Envelope.create("shutdown", "").withTs(fixed).encode() shouldBe want
        }
        test("ENC.typed_nil_payload: the literal null is a payload") {
            val want = """{"kind":"shutdown",$fixedTs,"payload":null}"""
            Envelope.create("shutdown", "null").withTs(fixed).encode() shouldBe want
            Envelope.create("shutdown", JsonNull).withTs(fixed).encode() shouldBe want
        }
        test("ENC.html_escape") {
            val payload = buildJsonObject { put("text", "<a&b> \u2028 é") }
            Envelope.create("chat.send", payload).withTs(fixed).encode() shouldBe
                """{"kind":"chat.send",$fixedTs,"payload":{"text":"\u003ca\u0026b\u003e \u2028 é"}}"""
        }
        test("ENC.raw_payload_compacted") {
            val env = Envelope.create("chat.send", "{ \"b\" : 1,\n \"a\":\"<x>\" }").withTs(fixed)
            env.payload shouldBe """{"b":1,"a":"\u003cx\u003e"}""" // stored as written on the wire
            env.encode() shouldBe """{"kind":"chat.send",$fixedTs,"payload":{"b":1,"a":"\u003cx\u003e"}}"""
        }
        test("ENC.ts: whole seconds, trimmed fractions, fixed zone") {
            fun ping(ts: OffsetDateTime) = Envelope.create("ping").withTs(ts).encode()
            ping(OffsetDateTime.parse("2026-05-20T10:11:12Z")) shouldBe
                """{"kind":"ping","ts":"2026-05-20T10:11:12Z"}"""
            ping(OffsetDateTime.parse("2026-05-20T10:11:12.120000000Z")) shouldBe
                """{"kind":"ping","ts":"2026-05-20T10:11:12.12Z"}"""
            ping(OffsetDateTime.parse("2026-05-20T10:11:12.000000100Z")) shouldBe
                """{"kind":"ping","ts":"2026-05-20T10:11:12.0000001Z"}"""
            ping(OffsetDateTime.parse("2026-05-20T12:11:12.123+02:00")) shouldBe
                """{"kind":"ping","ts":"2026-05-20T12:11:12.123+02:00"}"""
        }
        test("ENC.missing_kind: an empty kind is refused when the envelope is built") {
            shouldThrow<IllegalArgumentException> { Envelope.create("") }.message shouldContain "missing kind"
            shouldThrow<IllegalArgumentException> { Envelope.create("", "{}") }.message shouldContain "missing kind"
            shouldThrow<IllegalArgumentException> { Envelope.request("", JsonNull) }.message shouldContain
                "missing kind"
            shouldThrow<IllegalArgumentException> { Envelope.response("", "x") }.message shouldContain "missing kind"
        }
        test("ENC.bad_payload: a payload that is not one JSON value is refused") {
            for (bad in listOf("{", "not json", "{} {}", "  ", "[1,]", "{\"a\" 1}", "01", "\"\u0001\"")) {
                withClue(bad) {
                    shouldThrow<IllegalArgumentException> { Envelope.create("x", bad) }.message shouldStartWith
                        "invalid payload JSON"
                }
            }
        }
    }

    context("encoding details") {
        test("strings escape like Go: quotes, backslash, controls, HTML characters, line separators") {
            val kind = "q\" b\\ n\n r\r t\t b\b f\u000c c\u0001\u001f del\u007f <>& \u2028\u2029 é 😀 /"
            Envelope.create(kind).withTs(Envelope.ZERO_TIME).encode() shouldBe
                """{"kind":"q\" b\\ n\n r\r t\t b\b f\f c\u0001\u001f del""" + "\u007f" +
                """ \u003c\u003e\u0026 \u2028\u2029 é 😀 /","ts":"0001-01-01T00:00:00Z"}"""
        }
        test("an unpaired surrogate is written as \\ufffd (Go: invalid UTF-8)") {
            Envelope.create("a\uD800b\uDC00").withTs(Envelope.ZERO_TIME).encode() shouldBe
                """{"kind":"a\ufffdb\ufffd","ts":"0001-01-01T00:00:00Z"}"""
            Envelope.create("x", "\"a\uD800\"").payload shouldBe "\"a\\ufffd\""
        }
        test("all fields in upstream order") {
            val all = Envelope.create("k", "[1, 2]").withId("i").withInReplyTo("r").withTargetAspect("t").withTs(fixed)
            all.encode() shouldBe
                """{"kind":"k","id":"i","in_reply_to":"r",$fixedTs,"payload":[1,2],"target_aspect":"t"}"""
        }
        test("empty optional strings are absent") {
            val env = Envelope.create("k").withId("").withInReplyTo("").withTargetAspect("")
            env.id.shouldBeNull()
            env.inReplyTo.shouldBeNull()
            env.targetAspect.shouldBeNull()
            Envelope.decode("""{"kind":"k","id":"","in_reply_to":"","target_aspect":"","ts":"2026-05-20T10:11:12Z"}""")
                .encode() shouldBe """{"kind":"k","ts":"2026-05-20T10:11:12Z"}"""
        }
        test("payload numbers, key order and escapes are kept exactly") {
            val raw = """{"z":12345678901234567890,"a":1.0e10,"m":-0.5E-7,"s":"\u00e9\/\n","k":[true,false,null,{}]}"""
            val env = Envelope.create("x", raw)
            env.payload shouldBe raw
            Envelope.decode(env.encode()).payload shouldBe raw
            // the JsonElement overload keeps literal number text too
            Envelope.create("x", Json.parseToJsonElement("""{"n":12345678901234567890,"f":1.0e10}""")).payload shouldBe
                """{"n":12345678901234567890,"f":1.0e10}"""
        }
        test("offsets: negative, zero written as Z") {
            fun ts(t: OffsetDateTime) =
                Envelope.create("p").withTs(t).encode().substringAfter("\"ts\":\"").substringBefore('"')
            ts(OffsetDateTime.parse("2026-01-02T03:04:05.5-05:30")) shouldBe "2026-01-02T03:04:05.5-05:30"
            ts(OffsetDateTime.of(2026, 1, 2, 3, 4, 5, 0, ZoneOffset.ofHours(0))) shouldBe "2026-01-02T03:04:05Z"
            ts(OffsetDateTime.parse("0000-01-01T00:00:00.000000001+18:00")) shouldBe
                "0000-01-01T00:00:00.000000001+18:00"
            ts(OffsetDateTime.parse("9999-12-31T23:59:59.999999999-18:00")) shouldBe
                "9999-12-31T23:59:59.999999999-18:00"
            Envelope.create("p").withTs(Instant.parse("2026-05-20T10:11:12.5Z")).ts shouldBe
                OffsetDateTime.parse("2026-05-20T10:11:12.5Z")
        }
        test("times that cannot be written are refused") {
            for (outOfRange in listOf("+10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z")) {
                shouldThrow<IllegalArgumentException> { Envelope.create("p").withTs(OffsetDateTime.parse(outOfRange)) }
            }
            shouldThrow<IllegalArgumentException> {
                Envelope.create("p").withTs(OffsetDateTime.of(2026, 1, 1, 0, 0, 0, 0, ZoneOffset.ofTotalSeconds(3601)))
            }
        }
        test("factories: create has no id, request a fresh ULID, response in_reply_to; ts is now in UTC") {
            val before = Instant.now().minusSeconds(1)
            val c = Envelope.create("a", JsonPrimitive(1))
            val r1 = Envelope.request("a")
            val r2 = Envelope.request("a", JsonPrimitive(1))
            val resp = Envelope.response("a.ok", r1.id.orEmpty(), JsonPrimitive(2))
            c.id.shouldBeNull()
            c.payload shouldBe "1"
            val id1 = r1.id.shouldNotBeNull()
            val id2 = r2.id.shouldNotBeNull()
            Ulid.isValid(id1) shouldBe true
            (id2 > id1) shouldBe true
            resp.inReplyTo shouldBe r1.id
            resp.id.shouldBeNull()
            for (e in listOf(c, r1, r2, resp)) {
                e.ts.offset shouldBe ZoneOffset.UTC
                e.ts.toInstant().isAfter(before) shouldBe true
                e.ts.toInstant().isBefore(Instant.now().plusSeconds(1)) shouldBe true
            }
            Envelope.response("a.ok", "").inReplyTo.shouldBeNull() // as upstream: answering a request without id
        }
        test("copy methods change one field") {
            val base = Envelope.create("k", "{}").withTs(fixed)
            base.withPayloadJson(" [ 1 ] ").payload shouldBe "[1]"
            base.withPayloadJson(null).payload.shouldBeNull()
            base.withPayload(JsonNull).payload shouldBe "null"
            base.withPayload(null).payload.shouldBeNull()
            base.withId("x").withId(null).id.shouldBeNull()
            base.withTargetAspect("keel") shouldNotBe base
            base.withTargetAspect("keel").withTargetAspect(null) shouldBe base
        }
        test("equals, hashCode and a bounded toString") {
            val a = Envelope.create("k", "{\"a\":1}").withTs(fixed).withId("x")
            val b = Envelope.decode(a.encode())
            b shouldBe a
            b.hashCode() shouldBe a.hashCode()
            a.withTs(fixed.withOffsetSameInstant(ZoneOffset.ofHours(2))) shouldNotBe a // offsets are part of the value
            a.toString() shouldBe "Envelope(kind=k, id=x, ts=2026-05-20T10:11:12.123456789Z, payload={\"a\":1})"
            val huge = Envelope.create("k".repeat(10_000), JsonPrimitive("p".repeat(100_000)))
            huge.toString().length shouldBeLessThan 400
            huge.toString() shouldContain "chars)"
        }
    }

    context("DEC vectors") {
        data class Ok(
            val input: String,
            val kind: String,
            val ts: OffsetDateTime,
            val payload: String?,
            val reEncoded: String,
            val id: String? = null,
            val inReplyTo: String? = null,
            val targetAspect: String? = null,
        )

        val t = OffsetDateTime.parse("2026-05-20T10:11:12Z")
        val zero = Envelope.ZERO_TIME
        val ok = linkedMapOf(
            "DEC.unknown_kind" to Ok(
                """{"kind":"future.thing","ts":"2026-05-20T10:11:12Z","payload":{"a":1}}""",
                "future.thing",
                t,
                """{"a":1}""",
                """{"kind":"future.thing","ts":"2026-05-20T10:11:12Z","payload":{"a":1}}""",
            ),
            "DEC.payload_absent" to Ok(
                """{"kind":"shutdown","ts":"2026-05-20T10:11:12Z"}""",
                "shutdown",
                t,
                null,
                """{"kind":"shutdown","ts":"2026-05-20T10:11:12Z"}""",
            ),
            "DEC.payload_null" to Ok(
                """{"kind":"shutdown","ts":"2026-05-20T10:11:12Z","payload":null}""",
                "shutdown",
                t,
                "null",
                """{"kind":"shutdown","ts":"2026-05-20T10:11:12Z","payload":null}""",
            ),
            "DEC.payload_empty_object" to Ok(
                """{"kind":"shutdown","ts":"2026-05-20T10:11:12Z","payload":{}}""",
                "shutdown",
                t,
                "{}",
                """{"kind":"shutdown","ts":"2026-05-20T10:11:12Z","payload":{}}""",
            ),
            "DEC.payload_string" to Ok(
                """{"kind":"shutdown","payload":"hi"}""",
                "shutdown",
                zero,
                "\"hi\"",
                """{"kind":"shutdown","ts":"0001-01-01T00:00:00Z","payload":"hi"}""",
            ),
            "DEC.ts_absent" to Ok(
                """{"kind":"ping"}""",
                "ping",
                zero,
                null,
                """{"kind":"ping","ts":"0001-01-01T00:00:00Z"}""",
            ),
            "DEC.ts_null" to Ok(
                """{"kind":"ping","ts":null}""",
                "ping",
                zero,
                null,
                """{"kind":"ping","ts":"0001-01-01T00:00:00Z"}""",
            ),
            "DEC.ts_offset" to Ok(
                """{"kind":"ping","ts":"2026-05-20T12:11:12.5+02:00"}""",
                "ping",
                OffsetDateTime.parse("2026-05-20T12:11:12.5+02:00"),
                null,
                """{"kind":"ping","ts":"2026-05-20T12:11:12.5+02:00"}""",
            ),
            "DEC.case_insensitive_keys" to Ok(
                """{"KIND":"chat.send","Id":"X","In_Reply_To":"Y"""" +
                    ""","TS":"2026-05-20T10:11:12Z","Target_Aspect":"keel"}""",
                "chat.send",
                t,
                null,
                """{"kind":"chat.send","id":"X","in_reply_to":"Y"""" +
                    ""","ts":"2026-05-20T10:11:12Z","target_aspect":"keel"}""",
                id = "X",
                inReplyTo = "Y",
                targetAspect = "keel",
            ),
            "DEC.duplicate_kind_last_wins" to Ok(
                """{"kind":"a","kind":"b"}""",
                "b",
                zero,
                null,
                """{"kind":"b","ts":"0001-01-01T00:00:00Z"}""",
            ),
            "DEC.unknown_field_ignored" to Ok(
                """{"kind":"ping","extra":1}""",
                "ping",
                zero,
                null,
                """{"kind":"ping","ts":"0001-01-01T00:00:00Z"}""",
            ),
        )
        for ((name, v) in ok) {
            test(name) {
                val env = Envelope.decode(v.input)
                env.kind shouldBe v.kind
                env.id shouldBe v.id
                env.inReplyTo shouldBe v.inReplyTo
                env.targetAspect shouldBe v.targetAspect
                env.ts shouldBe v.ts
                env.payload shouldBe v.payload
                env.encode() shouldBe v.reEncoded
            }
        }

        test("DEC payloadAs outcomes: object ok, absent is 'no payload', null ok, string mismatches") {
            val map = MapSerializer(String.serializer(), JsonElement.serializer())
            Envelope.decode(ok.getValue("DEC.unknown_kind").input).payloadAs(map) shouldBe
                mapOf("a" to JsonPrimitive(1))
            val absent = Envelope.decode(ok.getValue("DEC.payload_absent").input)
            shouldThrow<MalformedEnvelopeException> { absent.payloadAs(map) }
                .message shouldContain "no payload"
            Envelope.decode(ok.getValue("DEC.payload_null").input).payloadAs(map.nullable).shouldBeNull()
            Envelope.decode(ok.getValue("DEC.payload_empty_object").input).payloadAs(map) shouldBe emptyMap()
            val string = Envelope.decode(ok.getValue("DEC.payload_string").input)
            val e = shouldThrow<MalformedEnvelopeException> { string.payloadAs(map) }
            e.message shouldStartWith "malformed envelope: payload of kind \"shutdown\""
            e.cause shouldNotBe null
        }

        val errors = linkedMapOf(
            "DEC.missing_kind" to ("""{"id":"x","ts":"2026-05-20T10:11:12Z","payload":{}}""" to "missing kind"),
            "DEC.empty_kind" to ("""{"kind":"","payload":{}}""" to "missing kind"),
            "DEC.ts_invalid" to ("""{"kind":"ping","ts":"2026-05-20 10:11:12"}""" to "not an RFC 3339 time"),
            "DEC.kind_number" to ("""{"kind":5}""" to "field \"kind\" must be a string, found a number"),
            "DEC.kind_null" to ("""{"kind":null}""" to "missing kind"),
            "DEC.not_json" to ("not json" to "invalid character 'o' in literal null (expecting 'u')"),
            "DEC.truncated" to ("""{"kind":"ping"""" to "unexpected end of JSON input"),
            "DEC.array" to ("[]" to "expected a JSON object, found an array"),
            "DEC.json_null" to ("null" to "missing kind"),
            "DEC.trailing_garbage" to ("""{"kind":"ping"} x""" to "invalid character 'x' after top-level value"),
        )
        for ((name, v) in errors) {
            test(name) {
                val e = shouldThrow<MalformedEnvelopeException> { Envelope.decode(v.first) }
                e.message shouldStartWith "malformed envelope: "
                e.message shouldContain v.second
                e.shouldBeInstanceOf<dev.tether.core.TetherException>()
            }
        }
    }

    context("decoding details") {
        test("null leaves a string field or ts as it was") {
            val env = Envelope.decode(
                """{"kind":"a","kind":null,"id":"i","id":null,"ts":"2026-05-20T10:11:12Z"""" +
                    ""","ts":null,"payload":{},"payload":null}""",
            )
            env.kind shouldBe "a"
            env.id shouldBe "i"
            env.ts shouldBe OffsetDateTime.parse("2026-05-20T10:11:12Z")
            env.payload shouldBe "null"
            shouldThrow<MalformedEnvelopeException> { Envelope.decode("""{"kind":"a","kind":""}""") }
                .message shouldContain "missing kind"
        }
        test("key matching: escapes resolved, Unicode simple folding (KELVIN SIGN, LONG S), nothing wider") {
            Envelope.decode("""{"k\u0069nd":"x"}""").kind shouldBe "x"
            val folded = "{\"\u212Aind\":\"x\",\"\u017Fomething\":1,\"T\u017F\":\"2026-05-20T10:11:12Z\"}"
            Envelope.decode(folded).ts shouldBe
                OffsetDateTime.parse("2026-05-20T10:11:12Z")
            Envelope.decode("{\"\u212AIND\":\"x\"}").kind shouldBe "x"
            // dotless i folds to I only under Turkish rules, which Go does not apply
            shouldThrow<MalformedEnvelopeException> { Envelope.decode("{\"k\u0131nd\":\"x\"}") }.message shouldContain
                "missing kind"
            shouldThrow<MalformedEnvelopeException> { Envelope.decode("""{"kind ":"x"}""") }.message shouldContain
                "missing kind"
            Envelope.decode("""{"kind":"x","PAYLOAD":[1],"payLoad":[2]}""").payload shouldBe "[2]"
        }
        test("string escapes and surrogates in values") {
            Envelope.decode("""{"kind":"\ud83d\ude00 \u00e9 \n\t\/\\\""}""").kind shouldBe "😀 é \n\t/\\\""
            Envelope.decode("""{"kind":"\ud800x"}""").kind shouldBe "\uFFFDx"
            Envelope.decode("""{"kind":"\udc00\ud83d"}""").kind shouldBe "\uFFFD\uFFFD"
            Envelope.decode("""{"kind":"\ud83d\u0041"}""").kind shouldBe "\uFFFDA"
            Envelope.decode("{\"kind\":\"a\uD800\"}").kind shouldBe "a\uFFFD"
            Envelope.decode("{\"kind\":\"😀\"}").kind shouldBe "😀"
        }
        test("whitespace around and inside is accepted; payload is compacted") {
            val env = Envelope.decode(" \r\n\t{ \"kind\" : \"k\" , \"payload\" : [ 1 , { \"a\" : \"b c\" } ] } \n")
            env.kind shouldBe "k"
            env.payload shouldBe """[1,{"a":"b c"}]"""
            // the stored payload is the wire form: HTML characters escaped, existing escapes kept
            Envelope.decode("{\"kind\":\"k\",\"payload\":\"<&>\u2028\\u003c\"}").payload shouldBe
                "\"\\u003c\\u0026\\u003e\\u2028\\u003c\""
        }
        test("wrong JSON types of known fields are errors") {
            for (input in listOf(
                """{"kind":true}""",
                """{"kind":{}}""",
                """{"kind":"k","id":1}""",
                """{"kind":"k","in_reply_to":[]}""",
                """{"kind":"k","target_aspect":false}""",
                """{"kind":"k","ts":5}""",
                """{"kind":"k","ts":{}}""",
            )) {
                withClue(input) {
                    shouldThrow<MalformedEnvelopeException> { Envelope.decode(input) }.message shouldContain "must be"
                }
            }
        }
        test("top-level values other than an object are errors") {
            for ((input, what) in listOf(
                "\"s\"" to "a string",
                "1" to "a number",
                "true" to "a boolean",
                "[1,{}]" to "an array",
            )) {
                shouldThrow<MalformedEnvelopeException> { Envelope.decode(input) }.message shouldContain "found $what"
            }
        }
        test("syntax errors anywhere are errors") {
            for (input in listOf(
                "", " ", "{", "{\"kind\"", "{\"kind\":", "{\"kind\":\"a\",}", "{\"kind\" \"a\"}", "{kind:\"a\"}",
                "{\"kind\":\"a\"}}", "{\"kind\":\"a\"}{}", "{\"kind\":\"a\",\"x\":01}", "{\"kind\":\"a\",\"x\":1.}",
                "{\"kind\":\"a\",\"x\":-}", "{\"kind\":\"a\",\"x\":1e}", "{\"kind\":\"a\",\"x\":.5}",
                "{\"kind\":\"a\",\"x\":+1}",
                "{\"kind\":\"a\",\"x\":tru}", "{\"kind\":\"a\",\"x\":[1 2]}", "{\"kind\":\"a\",\"x\":{\"a\"}}",
                "{\"kind\":\"a\",\"x\":\"\\x\"}", "{\"kind\":\"a\",\"x\":\"\\u12g4\"}", "{\"kind\":\"a\\u12\"}",
                "{\"kind\":\"a\u0001\"}", "{\"kind\":\"a\",\"x\":[}", "\uFEFF{\"kind\":\"a\"}",
                "{\"kind\":\"a\",\"x\":NaN}",
            )) {
                withClue(input) { shouldThrow<MalformedEnvelopeException> { Envelope.decode(input) } }
            }
        }
        test("RFC 3339 as Go 1.20+ parses it") {
            fun ts(s: String) = Envelope.decode("""{"kind":"p","ts":"$s"}""")
            ts("2026-05-20T10:11:12.1234567891Z").encode() shouldBe
                """{"kind":"p","ts":"2026-05-20T10:11:12.123456789Z"}"""
            ts("2026-05-20T10:11:12.000Z").encode() shouldBe """{"kind":"p","ts":"2026-05-20T10:11:12Z"}"""
            ts("2026-05-20T10:11:12+00:00").encode() shouldBe """{"kind":"p","ts":"2026-05-20T10:11:12Z"}"""
            ts("2026-05-20T10:11:12-00:00").encode() shouldBe """{"kind":"p","ts":"2026-05-20T10:11:12Z"}"""
            ts("2024-02-29T23:59:59.9-18:00").ts shouldBe OffsetDateTime.parse("2024-02-29T23:59:59.9-18:00")
            ts("0000-01-01T00:00:00Z").ts.year shouldBe 0
            Envelope.decode("""{"kind":"p","ts":"2026-05-20T10:11:12\u005a"}""").ts shouldBe
                OffsetDateTime.parse("2026-05-20T10:11:12Z")
            for (bad in listOf(
                "2026-05-20T10:11:12", "2026-05-20t10:11:12Z", "2026-05-20T10:11:12z", "2026-05-20 10:11:12Z",
                "2026-02-29T10:11:12Z", "2026-04-31T10:11:12Z", "2026-13-01T10:11:12Z", "2026-05-20T24:00:00Z",
                "2026-05-20T10:60:00Z", "2026-05-20T10:11:60Z", "2026-05-20T1:11:12Z", "2026-05-20T10:11:12,5Z",
                "2026-05-20T10:11:12.Z", "2026-05-20T10:11:12+24:00", "2026-05-20T10:11:12+02:60",
                "2026-05-20T10:11:12+2:00",
                "2026-05-20T10:11:12+0200", "2026-05-20T10:11:12+19:00", "+2026-05-20T10:11:12Z",
                "2026-05-20T10:11:12Z ", "",
            )) {
                withClue(bad) { shouldThrow<MalformedEnvelopeException> { ts(bad) }.message shouldContain "RFC 3339" }
            }
        }
        test("nesting up to $MAX_DEPTH levels is accepted, deeper is refused without overflowing the stack") {
            fun nested(levels: Int) = "[".repeat(levels) + "]".repeat(levels)
            val atLimit = """{"kind":"k","payload":${nested(Envelope.MAX_DEPTH - 1)}}"""
            Envelope.decode(atLimit).payload shouldBe nested(Envelope.MAX_DEPTH - 1)
            Envelope.decode(atLimit).encode() shouldContain nested(Envelope.MAX_DEPTH - 1)
            val over = """{"kind":"k","payload":${nested(Envelope.MAX_DEPTH)}}"""
            shouldThrow<MalformedEnvelopeException> { Envelope.decode(over) }.message shouldContain
                "nested deeper than 512"
            val deepObject = "{\"a\":".repeat(Envelope.MAX_DEPTH) + "1" + "}".repeat(Envelope.MAX_DEPTH)
            val unknownField = """{"kind":"k","x":$deepObject}"""
            shouldThrow<MalformedEnvelopeException> { Envelope.decode(unknownField) }.message shouldContain "nested"
            val deep = """{"kind":"k","payload":${"[".repeat(1_000_000)}"""
            shouldThrow<MalformedEnvelopeException> { Envelope.decode(deep) }.message shouldContain "nested"
            shouldThrow<IllegalArgumentException> { Envelope.create("k", nested(Envelope.MAX_DEPTH)) }
            Envelope.create("k", nested(Envelope.MAX_DEPTH - 1)).payload shouldBe nested(Envelope.MAX_DEPTH - 1)
        }
        test("payloadJson and payloadAs") {
            val env = Envelope.decode("""{"kind":"k","payload":{"name":"a","n":12345678901234567890,"extra":true}}""")
            val json = env.payloadJson()!!.jsonObject
            json["n"]!!.jsonPrimitive.content shouldBe "12345678901234567890"
            env.payloadAs<Named>() shouldBe Named("a")
            env.payloadAs(Named.serializer()) shouldBe Named("a")
            Envelope.create("k").payloadJson().shouldBeNull()
            Envelope.create("k", "null").payloadJson() shouldBe JsonNull
            shouldThrow<MalformedEnvelopeException> { env.payloadAs(Named.serializer(), Json) }.message shouldContain
                "Named"
        }
    }

    context("properties") {
        test("random envelopes round-trip: decode(encode(e)) == e, and kotlinx reads the same strings") {
            checkAll(1000, envelopes()) { env ->
                val wire = env.encode()
                val back = Envelope.decode(wire)
                back shouldBe env
                back.encode() shouldBe wire
                for (c in listOf("<", ">", "&", "\u2028", "\u2029")) wire shouldNotContain c
                val tree = Json.parseToJsonElement(wire).jsonObject
                tree["kind"]!!.jsonPrimitive.content shouldBe env.kind
                tree["id"]?.jsonPrimitive?.content shouldBe env.id
                tree["in_reply_to"]?.jsonPrimitive?.content shouldBe env.inReplyTo
                tree["target_aspect"]?.jsonPrimitive?.content shouldBe env.targetAspect
                OffsetDateTime.parse(tree["ts"]!!.jsonPrimitive.content) shouldBe env.ts
                tree["payload"] shouldBe env.payloadJson()
            }
        }
        test(
            "random JSON payloads: compaction of pretty text equals kotlinx's compact text (HTML-escaped) and parses " +
                "back equal",
        ) {
            val pretty = Json { prettyPrint = true }
            checkAll(500, jsonValues(4)) { value ->
                val env = Envelope.create("k", pretty.encodeToString(JsonElement.serializer(), value))
                env.payload shouldBe goHtmlEscape(Json.encodeToString(JsonElement.serializer(), value))
                env.payloadJson() shouldBe value
                Envelope.decode(env.encode()).payloadJson() shouldBe value
            }
        }
        test("mutated wire text either decodes (and then round-trips) or fails with MalformedEnvelopeException") {
            val alphabet = "{}[]\",:\\ -+.0123456789eEtrufalsnkidpyZT\u2028<u\uD800"
            checkAll(2000, envelopes(), Arb.list(Arb.int(0..Int.MAX_VALUE), 1..4)) { env, edits ->
                val text = StringBuilder(env.encode())
                for (e in edits) {
                    val at = e % (text.length + 1)
                    val c = alphabet[(e / 7) % alphabet.length]
                    when (e % 3) {
                        0 -> text.insert(at, c)
                        1 -> if (at < text.length) text.deleteCharAt(at)
                        else -> if (at < text.length) text.setCharAt(at, c)
                    }
                }
                val decoded = try {
                    Envelope.decode(text.toString())
                } catch (e: MalformedEnvelopeException) {
                    null
                }
                if (decoded != null) Envelope.decode(decoded.encode()) shouldBe decoded
            }
        }
        test("time stamps round-trip with their offsets") {
            checkAll(1000, times()) { ts ->
                val env = Envelope.create("p").withTs(ts)
                Envelope.decode(env.encode()).ts shouldBe ts
                val text = env.encode().substringAfter("\"ts\":\"").substringBefore('"')
                OffsetDateTime.parse(text).isEqual(ts) shouldBe true
            }
        }
    }
})

@Serializable
private data class Named(val name: String)

private const val MAX_DEPTH = Envelope.MAX_DEPTH

/** Code points without surrogates, weighted towards the characters the encoder treats specially. */
private fun codepoints(): Arb<Codepoint> = Arb.choice(
    Arb.element("<>&\"\\/\n\r\t\b\u000c\u0000\u001f\u007f\u2028\u2029é\uFFFD\u212A".map { Codepoint(it.code) }),
    Codepoint.ascii(),
    Arb.int(0..0x10FFFF).filter { it !in 0xD800..0xDFFF }.map { Codepoint(it) },
)

private fun text(min: Int = 0) = Arb.string(min..24, codepoints())

private fun times(): Arb<OffsetDateTime> = arbitrary {
    val nanos = Arb.choice(Arb.int(0..0), Arb.int(0..999).map { it * 1_000_000 }, Arb.int(0..999_999_999)).bind()
    val offsetMinutes = Arb.choice(Arb.int(0..0), Arb.int(-18 * 60..18 * 60)).bind()
    OffsetDateTime.of(
        Arb.int(0..9999).bind(),
        Arb.int(1..12).bind(),
        Arb.int(1..28).bind(),
        Arb.int(0..23).bind(),
        Arb.int(0..59).bind(),
        Arb.int(0..59).bind(),
        nanos,
        ZoneOffset.ofTotalSeconds(offsetMinutes * 60),
    )
}

private fun jsonValues(depth: Int): Arb<JsonElement> = arbitrary { rs ->
    val strings = text()
    val doubles = Arb.double().filter { it.isFinite() }
    fun leaf(): JsonElement = when (rs.random.nextInt(5)) {
        0 -> JsonNull
        1 -> JsonPrimitive(rs.random.nextBoolean())
        2 -> JsonPrimitive(rs.random.nextLong())
        3 -> JsonPrimitive(doubles.sample(rs).value)
        else -> JsonPrimitive(strings.sample(rs).value)
    }
    fun value(level: Int): JsonElement = when (if (level >= depth) 0 else rs.random.nextInt(3)) {
        0 -> leaf()
        1 -> JsonArray(List(rs.random.nextInt(5)) { value(level + 1) })
        else -> JsonObject(List(rs.random.nextInt(5)) { strings.sample(rs).value to value(level + 1) }.toMap())
    }
    value(0)
}

/** Go's HTML escaping applied to valid JSON text (the characters can only occur inside strings). */
private fun goHtmlEscape(json: String): String = json.replace("<", "\\u003c").replace(">", "\\u003e")
    .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")

private fun envelopes(): Arb<Envelope> = Arb.bind(
    text(1),
    text().orNull(0.3),
    text().orNull(0.3),
    text().orNull(0.3),
    text().orNull(0.3),
    times(),
) { kind, id, inReplyTo, aspect, payloadString, ts ->
    Envelope.create(kind, payloadString?.let { JsonPrimitive(it) })
        .withId(id).withInReplyTo(inReplyTo).withTargetAspect(aspect).withTs(ts)
}
