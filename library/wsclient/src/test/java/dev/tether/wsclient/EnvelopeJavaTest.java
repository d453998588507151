package dev.tether.wsclient;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.TetherException;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Random;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonNull;
import org.junit.jupiter.api.Test;

/** The envelope and ULID API as a Java caller sees it: static factories, getters, checked-free errors. */
class EnvelopeJavaTest {

    private static final OffsetDateTime FIXED = OffsetDateTime.parse("2026-05-20T10:11:12.123456789Z");
    private static final String ULID_FIXED = "01KS2DWBKV000G40R40M30E209";

    @Test
    void requestMatchesTheGoVector() {
        Envelope request = Envelope.request("register", "{\"name\":\"a\"}");
        assertEquals("register", request.getKind());
        assertTrue(Ulid.isValid(request.getId()));
        assertNull(request.getInReplyTo());
        assertNull(request.getTargetAspect());
        assertEquals(ZoneOffset.UTC, request.getTs().getOffset());

        String wire = request.withId(ULID_FIXED).withTs(FIXED).encode();
        assertEquals("{\"kind\":\"register\",\"id\":\"01KS2DWBKV000G40R40M30E209\","
                + "\"ts\":\"2026-05-20T10:11:12.123456789Z\",\"payload\":{\"name\":\"a\"}}", wire);
    }

    @Test
    void responseAndCreateOverloads() {
        Envelope ack = Envelope.response("register.ack", ULID_FIXED,
            "{\"heartbeat_interval_s\":10,\"stale_after_s\":30}");
        assertEquals(ULID_FIXED, ack.getInReplyTo());
        assertNull(ack.getId());

        Envelope noPayload = Envelope.create("shutdown");
        assertNull(noPayload.getPayload());
        assertNull(Envelope.create("shutdown", (String) null).getPayload());
        assertEquals("null", Envelope.create("shutdown", JsonNull.INSTANCE).getPayload());

        JsonElement element = JsonElementKt.JsonPrimitive("hi <there>");
        Envelope turn = Envelope.create("turn", element).withTargetAspect("keel").withTs(Envelope.ZERO_TIME);
        assertEquals("{\"kind\":\"turn\",\"ts\":\"0001-01-01T00:00:00Z\",\"payload\":\"hi \\u003cthere\\u003e\","
                + "\"target_aspect\":\"keel\"}", turn.encode());
    }

    @Test
    void decodeAndRoundTrip() {
        Envelope decoded =
                Envelope.decode("{\"kind\":\"ping\",\"ts\":\"2026-05-20T12:11:12.5+02:00\",\"payload\":{ \"a\" : 1 }}");
        assertEquals("ping", decoded.getKind());
        assertEquals(OffsetDateTime.parse("2026-05-20T12:11:12.5+02:00"), decoded.getTs());
        assertEquals("{\"a\":1}", decoded.getPayload());
        assertEquals("{\"kind\":\"ping\",\"ts\":\"2026-05-20T12:11:12.5+02:00\",\"payload\":{\"a\":1}}",
            decoded.encode());
        assertEquals(decoded, Envelope.decode(decoded.encode()));
        assertEquals(decoded.hashCode(), Envelope.decode(decoded.encode()).hashCode());
        assertNotEquals(decoded, decoded.withId("x"));
        assertTrue(decoded.payloadJson() instanceof kotlinx.serialization.json.JsonObject);
    }

    @Test
    void errorsAreTyped() {
        MalformedEnvelopeException missing = assertThrows(MalformedEnvelopeException.class,
            () -> Envelope.decode("{\"kind\":\"\"}"));
        assertEquals("malformed envelope: missing kind", missing.getMessage());
        assertInstanceOf(TetherException.class, assertThrows(MalformedEnvelopeException.class,
            () -> Envelope.decode("[]")));
        assertThrows(MalformedEnvelopeException.class,
            () -> Envelope.create("k").payloadAs(JsonElement.Companion.serializer()));
        assertThrows(IllegalArgumentException.class, () -> Envelope.create(""));
        assertThrows(IllegalArgumentException.class, () -> Envelope.create("k", "{oops"));
    }

    @Test
    void ulidsFromJava() {
        Ulid parsed = Ulid.parse("01arz3ndektsv4rrffq69g5fav");
        assertEquals("01ARZ3NDEKTSV4RRFFQ69G5FAV", parsed.toString());
        assertEquals(1469922850259L, parsed.getTimestampMillis());
        assertThrows(IllegalArgumentException.class, () -> Ulid.parse("81ARZ3NDEKTSV4RRFFQ69G5FAV"));

        UlidGenerator generator = new UlidGenerator(() -> 1779271872123L, new Random(1));
        Ulid first = generator.nextUlid();
        Ulid second = generator.nextUlid();
        assertEquals(1779271872123L, first.getTimestampMillis());
        assertTrue(second.compareTo(first) > 0);
        assertEquals(26, new UlidGenerator().next().length());
        assertEquals(26, Ulid.next().length());
    }
}
