package dev.tether.wamp

import dev.tether.wamp.error.WampErrorException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import java.util.Base64

/**
 * Payload passthru options on the wire and read back, and the parsing of `wamp.subscription.get_events` results in
 * both key styles (nexus's Go field names and lowercase ones).
 */
class PassthruAndHistorySpec : FunSpec({
    val bytes = byteArrayOf(1, 2, 3, -1)

    test("ppt options: on CALL and PUBLISH, the escape hatch still wins, toBuilder keeps them") {
        val ppt = PayloadPassthru("wamp", "cbor", cipher = "xsalsa20poly1305", keyId = "key-1")
        val wire = mapOf(
            "ppt_scheme" to "wamp",
            "ppt_serializer" to "cbor",
            "ppt_cipher" to "xsalsa20poly1305",
            "ppt_keyid" to "key-1",
        )
        ppt.toMap() shouldBe wire
        CallOptions { payloadPassthru(ppt) }.toMap() shouldBe wire
        PublishOptions {
            acknowledge()
            payloadPassthru(ppt)
        }.toMap() shouldBe wire + ("acknowledge" to true)
        CallOptions {
            payloadPassthru(ppt)
            option("ppt_keyid", "key-2")
        }.toMap()["ppt_keyid"] shouldBe "key-2"
        CallOptions { payloadPassthru(ppt) }.toBuilder().build().payloadPassthru shouldBe ppt
        PublishOptions { payloadPassthru(ppt) }.toBuilder().build().payloadPassthru shouldBe ppt
        PayloadPassthru("mqtt").toMap() shouldBe mapOf("ppt_scheme" to "mqtt", "ppt_serializer" to "native")
        PayloadPassthru.of("x_app", "json").isNative shouldBe false
    }

    test("ppt options: an unknown scheme or an empty value is refused when building") {
        shouldThrow<IllegalArgumentException> { PayloadPassthru("custom") }
        shouldThrow<IllegalArgumentException> { PayloadPassthru("x_") }
        shouldThrow<IllegalArgumentException> { PayloadPassthru("wamp", "") }
        shouldThrow<IllegalArgumentException> { PayloadPassthru("wamp", "cbor", cipher = "") }
    }

    test("ppt details read back: a missing serializer is native, a peer's unknown scheme is kept as sent") {
        PayloadPassthru.fromDetails(emptyMap()) shouldBe null
        PayloadPassthru.fromDetails(mapOf("ppt_scheme" to "mqtt"))!!.isNative shouldBe true
        PayloadPassthru.fromDetails(mapOf("ppt_scheme" to "legacy", "ppt_serializer" to "cbor"))!!.scheme shouldBe
            "legacy"
    }

    test("the binary payload: bytes, a JSON peer's \\u0000+base64 string and nexus's plain base64 all read back") {
        val details = PayloadPassthru.of("x_app", "cbor").toMap()
        val b64 = Base64.getEncoder().encodeToString(bytes)
        PayloadPassthru.payloadOf(listOf(bytes), details)!!.toList() shouldBe bytes.toList()
        PayloadPassthru.payloadOf(listOf("\u0000$b64"), details)!!.toList() shouldBe bytes.toList()
        PayloadPassthru.payloadOf(listOf(b64), details)!!.toList() shouldBe bytes.toList()
        PayloadPassthru.payloadOf(listOf(bytes, bytes), details) shouldBe null
        PayloadPassthru.payloadOf(listOf(bytes), PayloadPassthru("mqtt").toMap()) shouldBe null
        PayloadPassthru.payloadOf(listOf(bytes), emptyMap()) shouldBe null
        val event = Event(1, 2, listOf(bytes), emptyMap(), details)
        event.passthruPayload!!.toList() shouldBe bytes.toList()
        event.payloadPassthru shouldBe PayloadPassthru.of("x_app", "cbor")
        Invocation(1, listOf(bytes), emptyMap(), details).passthruPayload!!.toList() shouldBe bytes.toList()
        CallResult(listOf(bytes), emptyMap(), details).payloadPassthru shouldBe PayloadPassthru.of("x_app", "cbor")
    }

    test("InvokeResult.passthru: YIELD options and payload; a payload that does not fit is refused") {
        val ppt = PayloadPassthru.of("x_app", "cbor")
        val r = InvokeResult.passthru(ppt, bytes)
        r.options shouldBe ppt.toMap()
        r.args.single() shouldBe bytes
        InvokeResult.passthru(PayloadPassthru("mqtt"), listOf(1L), mapOf("k" to 2L)).kwargs shouldBe mapOf("k" to 2L)
        shouldThrow<IllegalArgumentException> { InvokeResult.passthru(PayloadPassthru("mqtt"), bytes) }
        shouldThrow<IllegalArgumentException> { InvokeResult.passthru(ppt, listOf("not bytes")) }
        shouldThrow<IllegalArgumentException> {
            PayloadPassthru.checkPayload(ppt.toMap(), listOf(bytes), mapOf("k" to 1))
        }
        PayloadPassthru.checkPayload(emptyMap(), listOf("anything"), mapOf("k" to 1)) // not passthru: no check
    }

    test("get_events, nexus's shape: one argument per event with Go field names, is_limit_reached in kwargs") {
        val result = CallResult(
            listOf(
                mapOf(
                    "Subscription" to 7L,
                    "Publication" to 100L,
                    "Details" to emptyMap<String, Any?>(),
                    "Arguments" to listOf(1L),
                ),
                mapOf(
                    "Subscription" to 7L,
                    "Publication" to 101L,
                    "Details" to mapOf("topic" to "a.b"),
                    "Arguments" to listOf(2L),
                    "ArgumentsKw" to mapOf("k" to "v"),
                ),
                mapOf("Subscription" to 7L, "Publication" to 102L, "Details" to emptyMap<String, Any?>()),
            ),
            mapOf("is_limit_reached" to true),
            emptyMap(),
        )
        val h = EventHistory.parse(result, 7L, null)
        h.limitReached shouldBe true
        h.events.map { it.publication } shouldBe listOf(100L, 101L, 102L)
        h.events.map { it.args } shouldBe listOf(listOf(1L), listOf(2L), emptyList())
        h.events[1].kwargs shouldBe mapOf("k" to "v")
        h.events[1].topic shouldBe "a.b"
        // A router that ignored the limit: the most recent ones are kept.
        EventHistory.parse(result, 7L, 2).events.map { it.publication } shouldBe listOf(101L, 102L)
    }

    test("get_events, lowercase keys (Crossbar): one argument holding the list, the topic beside the payload") {
        val events = listOf(
            mapOf("subscription" to 9L, "publication" to 5L, "topic" to "t.x", "args" to listOf("a"), "kwargs" to null),
            mapOf("publication" to 6L, "args" to emptyList<Any?>(), "kwargs" to mapOf("n" to 1L)),
        )
        val h = EventHistory.parse(CallResult(listOf(events), emptyMap(), emptyMap()), 9L, null)
        h.limitReached shouldBe null
        h.events.map { it.subscription } shouldBe listOf(9L, 9L)
        h.events[0].topic shouldBe "t.x"
        h.events[0].kwargs shouldBe emptyMap()
        h.events[1].kwargs shouldBe mapOf("n" to 1L)
        EventHistory.parse(CallResult(emptyList(), emptyMap(), emptyMap()), 9L, 3).events shouldBe emptyList()
    }

    test("get_events: a result of another shape is a typed error, not a crash") {
        val notEvents = CallResult(listOf("x", 3L), emptyMap(), emptyMap())
        shouldThrow<WampErrorException> { EventHistory.parse(notEvents, 1L, null) }.error shouldBe
            "wamp.error.invalid_argument"
        val noPublication = CallResult(listOf(mapOf("Arguments" to listOf(1L))), emptyMap(), emptyMap())
        shouldThrow<WampErrorException> { EventHistory.parse(noPublication, 1L, null) }
        val badArgs = CallResult(listOf(mapOf("Publication" to 1L, "Arguments" to "x")), emptyMap(), emptyMap())
        shouldThrow<WampErrorException> { EventHistory.parse(badArgs, 1L, null) }
    }
})
