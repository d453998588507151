package dev.tether.benchmarks;

import dev.tether.wamp.message.Call;
import dev.tether.wamp.message.EventMessage;
import dev.tether.wamp.message.InvocationMessage;
import dev.tether.wamp.message.Message;
import dev.tether.wamp.message.ResultMessage;
import dev.tether.wamp.message.WampValues;
import dev.tether.wamp.message.Yield;
import dev.tether.wamp.serializer.Serialization;
import dev.tether.wamp.serializer.Serializer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of WAMP's wire format on the call and event paths: the five messages a routed call and a publication put on a
 * client's socket (CALL and RESULT at the caller, INVOCATION and YIELD at the callee, EVENT at a subscriber), each
 * with a typical small payload, in each serialization.
 *
 * <ul>
 *   <li>{@code encode} / {@code decode}: message object to wire bytes and back, what a session pays per message;</li>
 *   <li>{@code encodeValue} / {@code decodeValue}: the serializer alone, on the message's array form
 *       ({@code [code, fields..., args, kwargs]}) prepared up front; the difference to {@code encode} /
 *       {@code decode} is the message layer (array and typed message);</li>
 *   <li>{@code encodeText} / {@code decodeText}: JSON messages to and from a WebSocket text frame's String, the
 *       WebSocket peer's paths.</li>
 * </ul>
 * {@code java -jar benchmarks.jar WampCodecBenchmark -f 1 -wi 3 -i 5}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class WampCodecBenchmark {

    /** Ids as a router draws them: random in [1, 2^53], so most take 16 decimal digits. */
    static final long REQUEST = 4_118_032_561_907_317L;
    static final long REGISTRATION = 6_392_851_102_443_579L;
    static final long SUBSCRIPTION = 1_873_005_227_310_441L;
    static final long PUBLICATION = 7_240_119_853_062_798L;

    static Message sample(String name) {
        List<Object> args = List.of(0L, 12345L, "tether");
        Map<String, Object> kwargs = new LinkedHashMap<>();
        kwargs.put("unit", "ms");
        kwargs.put("ratio", 0.25);
        kwargs.put("ok", true);
        switch (name) {
            case "CALL":
                return new Call(REQUEST, Map.of(), "com.example.echo", args, kwargs);
            case "INVOCATION":
                return new InvocationMessage(REQUEST, REGISTRATION, Map.of(), args, kwargs);
            case "YIELD":
                return new Yield(REQUEST, Map.of(), args, kwargs);
            case "RESULT":
                return new ResultMessage(REQUEST, Map.of(), args, kwargs);
            case "EVENT":
                return new EventMessage(SUBSCRIPTION, PUBLICATION, Map.of("topic", "com.example.tick"), args, kwargs);
            default:
                throw new IllegalArgumentException(name);
        }
    }

    /** One message in one serialization, as object, array form and wire bytes. */
    @State(Scope.Benchmark)
    public static class Codec {
        @Param({"json", "msgpack", "cbor"})
        public String serialization;

        @Param({"CALL", "INVOCATION", "YIELD", "RESULT", "EVENT"})
        public String message;

        Serializer serializer;
        Message typed;
        Object array;
        byte[] wire;

        @Setup
        public void setUp() {
            serializer = Serialization.valueOf(serialization.toUpperCase()).serializer();
            typed = sample(message);
            wire = serializer.encode(typed);
            Object decoded = serializer.decodeValue(wire);
            if (!serializer.decode(wire).equals(typed)) {
                throw new IllegalStateException("round trip failed: " + new String(wire, StandardCharsets.UTF_8));
            }
            if (!WampValues.deepEquals(serializer.decodeValue(serializer.encodeValue(decoded)), decoded)) {
                throw new IllegalStateException("value round trip failed: " + new String(wire, StandardCharsets.UTF_8));
            }
            array = new ArrayList<>((List<?>) decoded);
        }
    }

    /** One JSON message as a WebSocket text frame carries it (a String). */
    @State(Scope.Benchmark)
    public static class JsonText {
        @Param({"CALL", "INVOCATION", "YIELD", "RESULT", "EVENT"})
        public String message;

        Serializer serializer;
        Message typed;
        String text;

        @Setup
        public void setUp() {
            serializer = Serialization.JSON.serializer();
            typed = sample(message);
            text = new String(serializer.encode(typed), StandardCharsets.UTF_8);
        }
    }

    /** Message to wire bytes. */
    @Benchmark
    public byte[] encode(Codec c) {
        return c.serializer.encode(c.typed);
    }

    /** Wire bytes to message. */
    @Benchmark
    public Message decode(Codec c) {
        return c.serializer.decode(c.wire);
    }

    /** Array form to wire bytes (the serializer without the message layer). */
    @Benchmark
    public byte[] encodeValue(Codec c) {
        return c.serializer.encodeValue(c.array);
    }

    /** Wire bytes to array form (the serializer without the message layer). */
    @Benchmark
    public Object decodeValue(Codec c) {
        return c.serializer.decodeValue(c.wire);
    }

    /** Message to a text frame's String, as the WebSocket peer sends JSON. */
    @Benchmark
    public String encodeText(JsonText t) {
        return new String(t.serializer.encode(t.typed), StandardCharsets.UTF_8);
    }

    /** A text frame's String to message, as the WebSocket peer receives JSON. */
    @Benchmark
    public Message decodeText(JsonText t) {
        return t.serializer.decode(t.text.getBytes(StandardCharsets.UTF_8));
    }
}
