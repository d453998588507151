package dev.tether.conformance.wamp.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tether.wamp.CallResult;
import dev.tether.wamp.Event;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.error.RpcException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import kotlinx.serialization.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The client's Java faces (futures and listeners) against fox-wamp, the npm router nobody here wrote, and against
 * an autobahn-js caller through it. Every wait is bounded.
 */
class FoxWampInteropJavaTest {
    private static final long WAIT = 10;
    private static FoxWamp fox;

    @BeforeAll
    static void startFox() {
        String missing = InteropPeers.INSTANCE.foxWampMissing();
        Assumptions.assumeTrue(missing == null, () -> "skipped: " + missing);
        fox = FoxWamp.start();
    }

    @AfterAll
    static void stopFox() {
        if (fox != null) fox.close();
    }

    private static WampSession join() throws Exception {
        SessionConfig config = SessionConfig.builder("java_interop").responseTimeout(Duration.ofSeconds(5)).build();
        return WampSession.connectAsync(fox.getUrl(), config).get(WAIT, TimeUnit.SECONDS);
    }

    @Test
    void rpcThroughFutures() throws Exception {
        try (WampSession callee = join(); WampSession caller = join()) {
            callee.registerAsync("com.interop.java.sum", inv -> {
                long sum = inv.getArgs().stream().mapToLong(a -> (Long) a).sum();
                return CompletableFuture.completedFuture(
                    new InvokeResult(List.of(sum, inv.getArgs().size()), Map.of("by", "java")));
            }).get(WAIT, TimeUnit.SECONDS);
            callee.registerAsync("com.interop.java.ticks", inv -> {
                for (long i = 0; i < 3; i++) inv.sendProgressAsync(List.of(i), Map.of()).join();
                return CompletableFuture.completedFuture(InvokeResult.of("ticked"));
            }).get(WAIT, TimeUnit.SECONDS);
            callee.registerAsync("com.interop.java.refuse", inv ->
                CompletableFuture.failedFuture(new RpcException("com.interop.java.refused", List.of("no"))))
                .get(WAIT, TimeUnit.SECONDS);

            CallResult sum = caller.callAsync("com.interop.java.sum", List.of(1, 2, 39)).get(WAIT, TimeUnit.SECONDS);
            assertEquals(List.of(42L, 3L), sum.getArgs());
            assertEquals(Map.of("by", "java"), sum.getKwargs());

            List<List<Object>> progress = new CopyOnWriteArrayList<>();
            CallResult ticked = caller.callProgressAsync("com.interop.java.ticks", List.of(), Map.of(), Map.of(),
                p -> progress.add(p.getArgs())).get(WAIT, TimeUnit.SECONDS);
            assertEquals(List.of(List.of(0L), List.of(1L), List.of(2L)), progress);
            assertEquals(List.of("ticked"), ticked.getArgs());

            ExecutionException failed = assertThrows(ExecutionException.class,
                () -> caller.callAsync("com.interop.java.refuse", List.of(1, 2)).get(WAIT, TimeUnit.SECONDS));
            RpcException rpc = assertInstanceOf(RpcException.class, failed.getCause());
            // fox-wamp's rewrite of callee errors (see FoxWampInteropSpec)
            assertEquals("wamp.error.callee_failure", rpc.getError());
            assertEquals(List.of("com.interop.java.refused"), rpc.getArgs());
        }
    }

    @Test
    void pubSubThroughListeners() throws Exception {
        try (WampSession subscriber = join(); WampSession publisher = join()) {
            BlockingQueue<Event> events = new LinkedBlockingQueue<>();
            subscriber.subscribeAsync("com.interop.java.feed", events::add).get(WAIT, TimeUnit.SECONDS);

            for (long i = 0; i < 9; i++) {
                publisher.publishAsync("com.interop.java.feed", List.of(i)).get(WAIT, TimeUnit.SECONDS);
            }
            Long id = publisher.publishAsync("com.interop.java.feed", List.of(9L), Map.of("last", true),
                PublishOptions.builder().acknowledge().build()).get(WAIT, TimeUnit.SECONDS);

            for (long i = 0; i < 10; i++) {
                Event e = events.poll(WAIT, TimeUnit.SECONDS);
                if (e == null) throw new AssertionError("event " + i + " did not arrive");
                assertEquals(List.of(i), e.getArgs());
                if (i == 9) {
                    assertEquals(id, e.getPublication());
                    assertEquals(Map.of("last", true), e.getKwargs());
                }
            }
        }
    }

    @Test
    void autobahnJsCallerThroughFox() throws Exception {
        try (WampSession callee = join();
             WampPeer peer = WampPeer.start(Autobahn.JS, fox.getUrl(), "json", "java_interop")) {
            callee.registerAsync("com.interop.java.upper", inv ->
                CompletableFuture.completedFuture(
                    InvokeResult.of(((String) inv.getArgs().get(0)).toUpperCase(), inv.getKwargs().size())))
                .get(WAIT, TimeUnit.SECONDS);

            JsonObject reply = peer.getPeer().okAsync("call", Map.of(
                "procedure", "com.interop.java.upper", "args", List.of("shout"), "kwargs", Map.of("a", 1, "b", 2)))
                .get(WAIT, TimeUnit.SECONDS);

            assertEquals(List.of("SHOUT", 2L), JsonValues.INSTANCE.list(reply, "args"));
        }
    }
}
