package dev.tether.benchmarks;

import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.Ulid;
import dev.tether.wsclient.UlidGenerator;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Cost of the wire format: encoding and decoding a typical request envelope (a `register` request with a small
 * object payload, as the nexus broker receives it), building one (payload validation and compaction plus a fresh
 * ULID), and ULID generation on its own.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class EnvelopeCodecBenchmark {

    /** A register payload as a client writes it (pretty-printed, so building the envelope has to compact it). */
    static final String REGISTER_PAYLOAD = "{\n"
            + "  \"name\": \"keel\",\n"
            + "  \"session_id\": \"c0ffee00-1234-4abc-8def-0123456789ab\",\n"
            + "  \"provider\": \"anthropic\",\n"
            + "  \"context_mode\": \"thread\",\n"
            + "  \"port\": 8080,\n"
            + "  \"tags\": [\"a<b\", \"caf\u00e9\"]\n"
            + "}";

    private Envelope request;
    private String wire;
    private UlidGenerator generator;

    @Setup
    public void setUp() {
        request = Envelope.request("register", REGISTER_PAYLOAD).withTargetAspect("keel");
        wire = request.encode();
        generator = new UlidGenerator();
        if (!Envelope.decode(wire).equals(request)) {
            throw new IllegalStateException("round trip failed: " + wire);
        }
    }

    /** Envelope to wire text. */
    @Benchmark
    public String encodeRequest() {
        return request.encode();
    }

    /** Wire text to envelope (validation, key matching, ts parsing, payload copy). */
    @Benchmark
    public Envelope decodeRequest() {
        return Envelope.decode(wire);
    }

    /** Building a request: time stamp, ULID id, payload validation and compaction. */
    @Benchmark
    public Envelope createRequest() {
        return Envelope.request("register", REGISTER_PAYLOAD);
    }

    /** One id from a private monotonic generator (SecureRandom entropy). */
    @Benchmark
    public String ulidNext() {
        return generator.next();
    }

    /** One id from the process-wide generator used by {@link Envelope#request(String, String)}. */
    @Benchmark
    public String ulidNextShared() {
        return Ulid.next();
    }

    /** The end-to-end goal's request payload (benchmark echo): small and already compact. */
    static final String ECHO_PAYLOAD = "{\"seq\":12345,\"worker\":12}";

    /** The reply the goal's peers send to an echo request. */
    static final String ECHO_REPLY = "{\"kind\":\"echo.result\",\"in_reply_to\":\"01KA7ZJ3C8Q4W6TQ7R0M5V9X2B\","
            + "\"ts\":\"2025-06-01T12:34:56.123456789Z\",\"payload\":" + ECHO_PAYLOAD + "}";

    /**
     * A client's share of one echo round trip of the wsclient goal: build and encode the request, decode the reply.
     */
    @Benchmark
    public Envelope echoRoundTrip(Blackhole bh) {
        bh.consume(Envelope.request("echo", ECHO_PAYLOAD).encode());
        return Envelope.decode(ECHO_REPLY);
    }

    /** Building the goal's echo request (ULID, time stamp, payload check). */
    @Benchmark
    public Envelope echoCreate() {
        return Envelope.request("echo", ECHO_PAYLOAD);
    }

    /** Decoding the goal's echo reply. */
    @Benchmark
    public Envelope echoDecodeReply() {
        return Envelope.decode(ECHO_REPLY);
    }
}
