package dev.tether.testkit.wamp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.wamp.CallChunk;
import dev.tether.wamp.CallOptions;
import dev.tether.wamp.CallResult;
import dev.tether.wamp.Event;
import dev.tether.wamp.EventHistory;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.MatchPolicy;
import dev.tether.wamp.PayloadPassthru;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.SubscribeOptions;
import dev.tether.wamp.WampClient;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.error.WampErrorException;
import dev.tether.wamp.message.WampValues;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The Java faces of issue 17's payload passthru, event history, blocked-subscriber counts and WampClient additions
 * (registerStreamingAsync, unsubscribe and unregister by match policy), against the testkit router.
 */
class PassthruHistoryJavaTest {
    private static final SessionConfig CONFIG =
            SessionConfig.builder("realm1").responseTimeout(Duration.ofSeconds(5)).build();

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(15, TimeUnit.SECONDS);
    }

    @Test
    void passthruCallAndPublishCarryTheOptionsAndTheBytes() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            WampSession callee = await(WampSession.connectAsync(router.getTcpUrl(), CONFIG));
            WampSession caller = await(WampSession.connectAsync(router.getWsUrl(), CONFIG));
            PayloadPassthru ppt = PayloadPassthru.of("x_java", "msgpack");
            byte[] payload = {9, 8, 7, 0, -1};
            await(callee.registerAsync("com.java.ppt", inv -> {
                assertEquals(ppt, inv.getPayloadPassthru());
                return CompletableFuture.completedFuture(InvokeResult.passthru(ppt, inv.getPassthruPayload()));
            }));
            CallOptions options = CallOptions.builder().payloadPassthru(ppt).build();
            CallResult result = await(caller.callAsync("com.java.ppt", List.of(payload), Map.of(), options));
            assertEquals(ppt, result.getPayloadPassthru());
            assertArrayEquals(payload, result.getPassthruPayload());

            CompletableFuture<Event> event = new CompletableFuture<>();
            await(callee.subscribeAsync("com.java.ppt.topic", event::complete));
            PublishOptions publish = PublishOptions.builder().acknowledge(true).payloadPassthru(ppt).build();
            await(caller.publishAsync("com.java.ppt.topic", List.of(payload), Map.of(), publish));
            assertArrayEquals(payload, await(event).getPassthruPayload());
            assertEquals("msgpack", await(event).getPayloadPassthru().getSerializer());
            assertThrows(IllegalArgumentException.class, () -> PayloadPassthru.of("custom"));

            await(callee.registerAsync("com.java.ppt.progress", inv ->
                    inv.sendProgressAsync(InvokeResult.passthru(ppt, new byte[] {1}))
                            .thenApply(sent -> InvokeResult.passthru(ppt, new byte[] {2}))));
            List<byte[]> progress = new java.util.concurrent.CopyOnWriteArrayList<>();
            CallResult last = await(caller.callProgressAsync("com.java.ppt.progress", List.of(), Map.of(),
                    CallOptions.DEFAULT, chunk -> progress.add(chunk.getPassthruPayload())));
            assertEquals(1, progress.size());
            assertArrayEquals(new byte[] {1}, progress.get(0));
            assertArrayEquals(new byte[] {2}, last.getPassthruPayload());
            await(caller.closeAsync());
            await(callee.closeAsync());
        }
    }

    @Test
    void everyChunkOfAProgressiveCallCarriesItsOwnPassthruOptions() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            WampSession callee = await(WampSession.connectAsync(router.getTcpUrl(), CONFIG));
            WampSession caller = await(WampSession.connectAsync(router.getWsUrl(), CONFIG));
            PayloadPassthru cbor = PayloadPassthru.of("x_java", "cbor");
            PayloadPassthru mqtt = PayloadPassthru.of("mqtt");
            List<CallChunk> received = new java.util.concurrent.CopyOnWriteArrayList<>();
            await(callee.registerStreamingAsync("com.java.ppt.upload", (inv, chunks) ->
                    CallChunk.consume(chunks, received::add)
                            .thenApply(done -> InvokeResult.of((long) received.size()))));
            CompletableFuture<CallResult> result;
            try (SubmissionPublisher<CallChunk> chunks = new SubmissionPublisher<>()) {
                CallOptions options = CallOptions.builder().payloadPassthru(cbor).build();
                result = caller.callStreamingAsync("com.java.ppt.upload", chunks, options);
                chunks.submit(new CallChunk(List.of(new byte[] {1, 2})));  // none of its own: the call's
                chunks.submit(CallChunk.passthru(mqtt, List.of("native"), Map.of("k", 1L)));
                chunks.submit(CallChunk.passthru(cbor, new byte[] {3}));
            }
            assertEquals(List.of(3L), await(result).getArgs());
            assertEquals(3, received.size());
            assertEquals(cbor, received.get(0).getPayloadPassthru());
            assertArrayEquals(new byte[] {1, 2}, received.get(0).getPassthruPayload());
            assertEquals(mqtt, received.get(1).getPayloadPassthru());
            assertEquals(List.of("native"), received.get(1).getArgs());
            assertNull(received.get(1).getPassthruPayload());
            assertArrayEquals(new byte[] {3}, received.get(2).getPassthruPayload());
            assertThrows(IllegalArgumentException.class, () -> CallChunk.passthru(cbor, List.of("text")));
            await(caller.closeAsync());
            await(callee.closeAsync());
        }
    }

    @Test
    void eventHistoryAndBlockedSubscriberCounts() throws Exception {
        FakeWampRouterConfig config = FakeWampRouterConfig.builder()
                .eventHistory("com.java.history", 10)
                .outboundQueueSize(32)
                .build();
        assertEquals(32, config.getOutboundQueueSize());
        try (FakeWampRouter router = FakeWampRouter.start(config)) {
            WampSession s = await(WampSession.connectAsync(router.getTcpUrl(), CONFIG));
            PublishOptions ack = PublishOptions.builder().acknowledge(true).build();
            for (long i = 0; i < 3; i++) {
                await(s.publishAsync("com.java.history", List.of(i), Map.of(), ack));
            }
            long sub = await(s.subscribeAsync("com.java.history", e -> { }));
            EventHistory history = await(s.eventHistoryAsync(sub, 2));
            assertEquals(2, history.getEvents().size());
            assertEquals(List.of(2L), history.getEvents().get(1).getArgs());
            assertEquals(Boolean.FALSE, history.getLimitReached());
            // A prompt subscriber: nothing dropped at the router.
            RouterEventStats stats = router.eventStats();
            assertEquals(0L, stats.droppedTo(s.getId()));
            assertEquals(0L, stats.getEventsDropped());
            await(s.closeAsync());
        }
    }

    @Test
    void clientStreamingRegistrationAndRemovalByMatchPolicy() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            WampClient client = await(new WampClient(router.getWsUrl(), CONFIG).connectAsync());
            await(client.registerStreamingAsync("com.java.sum", (inv, chunks) -> {
                AtomicLong sum = new AtomicLong();
                return CallChunk.consume(chunks, c -> sum.addAndGet(WampValues.asLong(c.getArgs().get(0))))
                        .thenApply(done -> InvokeResult.of(sum.get()));
            }));
            WampSession caller = await(WampSession.connectAsync(router.getTcpUrl(), CONFIG));
            CompletableFuture<CallResult> result;
            try (SubmissionPublisher<CallChunk> chunks = new SubmissionPublisher<>()) {
                result = caller.callStreamingAsync("com.java.sum", chunks);
                chunks.submit(CallChunk.of(20L));
                chunks.submit(CallChunk.of(22L));
            }
            assertEquals(List.of(42L), await(result).getArgs());

            await(client.subscribeAsync("com.java.dual", e -> { }));
            await(client.subscribeAsync("com.java.dual", e -> { },
                    SubscribeOptions.builder().match(MatchPolicy.PREFIX).build()));
            ExecutionException ambiguous =
                    assertThrows(ExecutionException.class, () -> await(client.unsubscribeAsync("com.java.dual")));
            assertInstanceOf(WampErrorException.class, ambiguous.getCause());
            assertEquals("dev.tether.error.ambiguous_uri", ((WampErrorException) ambiguous.getCause()).getError());
            await(client.unsubscribeAsync("com.java.dual", MatchPolicy.EXACT));
            assertNull(client.getSession().subscriptionId("com.java.dual", MatchPolicy.EXACT));
            await(client.unsubscribeAsync("com.java.dual"));
            assertTrue(client.getTopics().isEmpty());
            await(client.unregisterAsync("com.java.sum", MatchPolicy.EXACT));
            assertTrue(client.getProcedures().isEmpty());
            await(caller.closeAsync());
            await(client.closeAsync());
        }
    }
}
