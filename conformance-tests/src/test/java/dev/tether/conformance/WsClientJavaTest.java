package dev.tether.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.ConnectionEvent;
import dev.tether.core.ConnectionState;
import dev.tether.core.TokenProvider;
import dev.tether.testkit.FakeBroker;
import dev.tether.testkit.junit.FakeBrokerExtension;
import dev.tether.wsclient.ClientClosedException;
import dev.tether.wsclient.ConnectionLostException;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.EnvelopeHandler;
import dev.tether.wsclient.InitialConnectException;
import dev.tether.wsclient.RequestTimeoutException;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import dev.tether.wsclient.WsClientException;
import dev.tether.wsclient.WsClientStats;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A Java test drives the whole wsclient API through futures, listeners and builders, against the fake broker (one
 * per test, injected by the testkit's JUnit extension). Every wait is bounded.
 */
@ExtendWith(FakeBrokerExtension.class)
class WsClientJavaTest {
    private static final long WAIT = 10;

    /** The builder with every setting a Java user typically touches. */
    private static WsClientConfig.Builder configFor(FakeBroker broker, EnvelopeHandler handler) {
        return WsClientConfig.builder()
                .url(broker.getUrl())
                .handler(handler)
                .authToken(broker.getToken())
                .reconnectDelays(Duration.ofMillis(10), Duration.ofMillis(200))
                .requestTimeout(Duration.ofSeconds(10))
                .pingInterval(Duration.ofSeconds(5));
    }

    /** Waits until [condition] holds, polling by spinning (no sleeping), for at most WAIT seconds. */
    private static void awaitTrue(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting until " + what);
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    /**
     * Waits until the broker has received a frame of [kind] from [client]. Each poll is an echo round trip (at least
     * one): the broker handles one connection's frames in order, so once the echo is answered every frame the client
     * wrote before it has been seen.
     */
    private static void awaitReceived(FakeBroker broker, WsClient client, String kind) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT);
        do {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the broker never received a " + kind + " frame");
            }
            client.requestAsync(Envelope.request("echo")).get(WAIT, TimeUnit.SECONDS);
        } while (broker.received().stream().noneMatch(e -> e.getKind().equals(kind)));
    }

    private static <T> T next(BlockingQueue<T> queue) throws InterruptedException {
        T item = queue.poll(WAIT, TimeUnit.SECONDS);
        assertNotNull(item, "nothing arrived within " + WAIT + " s");
        return item;
    }

    @Test
    void startsWithTheExactTransitionsConnectingThenConnected(FakeBroker broker) throws Exception {
        try (WsClient client = new WsClient(configFor(broker, envelope -> { }).build())) {
            assertEquals(ConnectionState.IDLE, client.getState().getValue());
            List<ConnectionState> states = new CopyOnWriteArrayList<>();
            List<ConnectionEvent> events = new CopyOnWriteArrayList<>();
            CountDownLatch connected = new CountDownLatch(1);
            CountDownLatch connectedEvent = new CountDownLatch(1);
            try (AutoCloseable s = client.onState(state -> {
                     states.add(state);
                     if (state == ConnectionState.CONNECTED) connected.countDown();
                 });
                 AutoCloseable e = client.onEvent(event -> {
                     events.add(event);
                     if (event instanceof ConnectionEvent.Connected) connectedEvent.countDown();
                 })) {
                client.start();
                assertTrue(connected.await(WAIT, TimeUnit.SECONDS), "never connected");
                assertTrue(connectedEvent.await(WAIT, TimeUnit.SECONDS), "no Connected event");
                assertEquals(List.of(ConnectionState.CONNECTING, ConnectionState.CONNECTED), states);
                assertEquals(2, events.size());
                assertEquals(new ConnectionEvent.Connecting(1), events.get(0));
                assertEquals(new ConnectionEvent.Connected(broker.getUrl()), events.get(1));
                // The Connected event is emitted just before the connection is published, so poll briefly.
                awaitTrue(client::isConnected, "isConnected() after the CONNECTED state");
            }
        }
    }

    @Test
    void requestAsyncCorrelatesAndTimesOut(FakeBroker broker) throws Exception {
        try (WsClient client = new WsClient(configFor(broker, envelope -> { }).build())) {
            client.start();
            Envelope request = Envelope.request("echo", "{\"n\":1}");
            Envelope reply = client.requestAsync(request).get(WAIT, TimeUnit.SECONDS);
            assertEquals("echo.result", reply.getKind());
            assertEquals(request.getId(), reply.getInReplyTo());
            assertEquals("{\"n\":1}", reply.getPayload());

            // The broker drops unknown kinds silently: only the request's own bound ends the wait.
            Envelope lost = Envelope.request("nobody.home");
            CompletableFuture<Envelope> bounded = client.requestAsync(lost, Duration.ofMillis(200));
            ExecutionException failure = assertThrows(ExecutionException.class, () -> bounded.get(WAIT,
                TimeUnit.SECONDS));
            RequestTimeoutException timeout = assertInstanceOf(RequestTimeoutException.class, failure.getCause());
            assertEquals(lost.getId(), timeout.getRequestId());
            assertEquals(200L, timeout.getTimeoutMillis());
            assertEquals(1L, client.stats().getRequestsTimedOut());
            assertEquals(0, client.stats().getPendingRequests());
        }
    }

    @Test
    void theConfiguredRequestTimeoutBoundsRequestAsync(FakeBroker broker) throws Exception {
        WsClientConfig config = configFor(broker, envelope -> { }).requestTimeout(Duration.ofMillis(300)).build();
        assertEquals(Duration.ofMillis(300), config.getRequestTimeout());
        try (WsClient client = new WsClient(config)) {
            client.start();
            CompletableFuture<Envelope> future = client.requestAsync(Envelope.request("nobody.home"));
            ExecutionException failure = assertThrows(ExecutionException.class, () -> future.get(WAIT,
                TimeUnit.SECONDS));
            assertEquals(300L, assertInstanceOf(RequestTimeoutException.class, failure.getCause()).getTimeoutMillis());
        }
    }

    @Test
    void sendAsyncDeliversWithoutAReply(FakeBroker broker) throws Exception {
        try (WsClient client = new WsClient(configFor(broker, envelope -> { }).build())) {
            client.start();
            client.sendAsync(Envelope.create("note", "{\"text\":\"hello\"}")).get(WAIT, TimeUnit.SECONDS);
            client.sendAsync(Envelope.create("note", "{\"text\":\"again\"}"), Duration.ofSeconds(5)).get(WAIT,
                TimeUnit.SECONDS);
            awaitReceived(broker, client, "note");
            List<String> notes = broker.received().stream()
                    .filter(e -> e.getKind().equals("note")).map(Envelope::getPayload).toList();
            assertEquals(List.of("{\"text\":\"hello\"}", "{\"text\":\"again\"}"), notes);
        }
    }

    @Test
    void aServerTurnIsAnsweredFromTheHandler(FakeBroker broker) throws Exception {
        AtomicReference<WsClient> self = new AtomicReference<>();
        BlockingQueue<Envelope> turns = new LinkedBlockingQueue<>();
        EnvelopeHandler handler = envelope -> {
            if (envelope.getKind().equals("turn")) {
                turns.add(envelope);
                self.get().sendAsync(Envelope.response("turn.result", envelope.getId(), "{\"text\":\"done\"}"));
            }
        };
        try (WsClient client = new WsClient(configFor(broker, handler).build())) {
            self.set(client);
            client.start();
            String registration = "{\"name\":\"java-agent\",\"session_id\":\"s1\",\"provider\":\"test\","
                    + "\"context_mode\":\"thread\"}";
            Envelope ack = client.requestAsync(Envelope.request("register", registration)).get(WAIT, TimeUnit.SECONDS);
            assertEquals("register.ack", ack.getKind());
            assertEquals("{\"heartbeat_interval_s\":10,\"stale_after_s\":30}", ack.getPayload());

            Envelope result = broker.turnAsync("java-agent", "{\"text\":\"hi\"}", Duration.ofSeconds(WAIT))
                    .get(WAIT, TimeUnit.SECONDS);
            assertEquals("turn.result", result.getKind());
            assertEquals("{\"text\":\"done\"}", result.getPayload());
            Envelope turn = next(turns);
            assertEquals("java-agent", turn.getTargetAspect());
            assertEquals(turn.getId(), result.getInReplyTo());
        }
    }

    @Test
    void repliesCompleteOnTheClientsIoThreadAndTheHandlerRunsOnTheConfiguredExecutor(FakeBroker broker)
            throws Exception {
        java.util.concurrent.ExecutorService mine =
                java.util.concurrent.Executors.newSingleThreadExecutor(r -> new Thread(r, "my-handler"));
        BlockingQueue<String> handlerThreads = new LinkedBlockingQueue<>();
        AtomicReference<WsClient> self = new AtomicReference<>();
        EnvelopeHandler handler = envelope -> {
            handlerThreads.add(Thread.currentThread().getName().split(" @")[0]);
            self.get().sendAsync(Envelope.response("turn.result", envelope.getId(), "{}"));
        };
        try (WsClient client = new WsClient(configFor(broker, handler).handlerExecutor(mine).build())) {
            self.set(client);
            client.start();
            // Connected first: a request made before that waits for the connection on a library thread and resumes
            // there.
            client.awaitConnectedAsync(Duration.ofSeconds(WAIT)).get(WAIT, TimeUnit.SECONDS);
            String io = CompletableFuture.supplyAsync(() -> Thread.currentThread().getName(),
                client.getExecutor()).get(WAIT, TimeUnit.SECONDS);
            // Sent from the I/O thread itself, so the stage is attached before that thread can read the reply
            // (from the test's thread a fast reply could complete the future first, and the stage would run here).
            String replied = CompletableFuture.supplyAsync(
                    () -> client.requestAsync(Envelope.request("echo"))
                            .thenApply(r -> Thread.currentThread().getName().split(" @")[0]),
                    client.getExecutor())
                .thenCompose(f -> f).get(WAIT, TimeUnit.SECONDS);
            if (!"ktor".equals(System.getProperty("tether.transport"))) {
                // Netty: one I/O thread per client, where replies complete their futures (no hand-off).
                assertTrue(io.startsWith("tether-io"), io);
                assertEquals(io, replied);
            }
            String registration = "{\"name\":\"java-io\",\"session_id\":\"s1\",\"provider\":\"test\","
                    + "\"context_mode\":\"thread\"}";
            client.requestAsync(Envelope.request("register", registration)).get(WAIT, TimeUnit.SECONDS);
            broker.turnAsync("java-io", "{}", Duration.ofSeconds(WAIT)).get(WAIT, TimeUnit.SECONDS);
            assertEquals("my-handler", next(handlerThreads));
        } finally {
            mine.shutdownNow();
        }
    }

    @Test
    void aDropFailsThePendingRequestAndTheClientReconnects(FakeBroker broker) throws Exception {
        AtomicInteger tokenCalls = new AtomicInteger();
        WsClientConfig config = configFor(broker, envelope -> { })
                .tokenProvider(TokenProvider.fromFuture(() -> {
                    tokenCalls.incrementAndGet();
                    return CompletableFuture.supplyAsync(broker::getToken);
                }))
                .build();
        try (WsClient client = new WsClient(config)) {
            BlockingQueue<ConnectionEvent> events = new LinkedBlockingQueue<>();
            try (AutoCloseable listener = client.onEvent(events::add)) {
                client.start();
                assertInstanceOf(ConnectionEvent.Connecting.class, next(events));
                assertInstanceOf(ConnectionEvent.Connected.class, next(events));
                broker.awaitConnectionsAsync(1, Duration.ofSeconds(WAIT)).get(WAIT, TimeUnit.SECONDS);

                Envelope pending = Envelope.request("nobody.home");
                CompletableFuture<Envelope> lost = client.requestAsync(pending, Duration.ofSeconds(30));
                awaitReceived(broker, client, "nobody.home");
                assertEquals(1, broker.getFaults().dropAll());

                ExecutionException failure = assertThrows(ExecutionException.class, () -> lost.get(WAIT,
                    TimeUnit.SECONDS));
                ConnectionLostException connectionLost = assertInstanceOf(ConnectionLostException.class,
                    failure.getCause());
                assertEquals(pending.getId(), connectionLost.getRequestId());
                assertTrue(connectionLost.getRequestSent(), "the request had reached the socket");

                ConnectionEvent.Disconnected disconnected = assertInstanceOf(ConnectionEvent.Disconnected.class,
                    next(events));
                assertNotNull(disconnected.getCause());
                assertInstanceOf(ConnectionEvent.Connecting.class, next(events));
                assertInstanceOf(ConnectionEvent.Connected.class, next(events));

                assertEquals("2", client.requestAsync(Envelope.request("echo", "2")).get(WAIT,
                    TimeUnit.SECONDS).getPayload());
                assertEquals(1L, client.stats().getDrops());
                assertEquals(2L, broker.acceptedUpgrades());
                // The provider was asked before each of the two dials, and its token went out both times.
                assertEquals(2, tokenCalls.get());
                assertEquals(List.of("Bearer test-token", "Bearer test-token"), broker.authorizationHeaders());
            }
        }
    }

    @Test
    void cancellingARequestFutureFreesItsPendingEntry(FakeBroker broker) throws Exception {
        try (WsClient client = new WsClient(configFor(broker, envelope -> { }).build())) {
            client.start();
            client.requestAsync(Envelope.request("echo")).get(WAIT, TimeUnit.SECONDS);
            CompletableFuture<Envelope> future = client.requestAsync(Envelope.request("nobody.home"),
                Duration.ofSeconds(30));
            awaitTrue(() -> client.stats().getPendingRequests() == 1, "the request is pending");
            assertTrue(future.cancel(true));
            assertTrue(future.isCancelled());
            assertThrows(CancellationException.class, () -> future.get(WAIT, TimeUnit.SECONDS));
            awaitTrue(() -> client.stats().getPendingRequests() == 0, "the cancelled request left the pending table");
            // The connection is untouched.
            assertEquals("3", client.requestAsync(Envelope.request("echo", "3")).get(WAIT,
                TimeUnit.SECONDS).getPayload());
            assertEquals(0L, client.stats().getDrops());
        }
    }

    @Test
    void closeEndsTheClientForGood(FakeBroker broker) throws Exception {
        WsClient client = new WsClient(configFor(broker, envelope -> { }).build());
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        client.onState(states::add);
        CompletableFuture<WsClientException> ended = client.closedFuture();
        client.start();
        assertEquals(ConnectionState.CONNECTING, next(states));
        assertEquals(ConnectionState.CONNECTED, next(states));
        CompletableFuture<Envelope> pending = client.requestAsync(Envelope.request("nobody.home"),
            Duration.ofSeconds(30));
        awaitTrue(() -> client.stats().getPendingRequests() == 1, "the request is pending");

        client.close();
        client.close(); // idempotent

        // Our own close is not reported as a drop, and nothing dials again.
        assertEquals(ConnectionState.CLOSED, next(states));
        assertEquals(ConnectionState.CLOSED, client.getState().getValue());
        assertFalse(client.isConnected());
        ExecutionException failure = assertThrows(ExecutionException.class, () -> pending.get(WAIT, TimeUnit.SECONDS));
        assertInstanceOf(ClientClosedException.class, failure.getCause());
        // The end is not a failure of the wait: closedFuture completes normally with the reason.
        assertInstanceOf(ClientClosedException.class, ended.get(WAIT, TimeUnit.SECONDS));
        CompletableFuture<Envelope> late = client.requestAsync(Envelope.request("echo"));
        assertThrows(Exception.class, () -> late.get(WAIT, TimeUnit.SECONDS));
        assertTrue(late.isCompletedExceptionally());
        ExecutionException again =
                assertThrows(ExecutionException.class, () -> client.connectAsync().get(WAIT, TimeUnit.SECONDS));
        assertInstanceOf(ClientClosedException.class, again.getCause());
        assertThrows(ClientClosedException.class, client::start);
        ExecutionException lateFailure = assertThrows(ExecutionException.class, () -> late.get(WAIT, TimeUnit.SECONDS));
        assertInstanceOf(ClientClosedException.class, lateFailure.getCause());
        awaitTrue(() -> broker.getConnectionCount().getValue() == 0, "the broker saw the connection close");
    }

    @Test
    void connectAsyncFailsWithInitialConnectExceptionUnderFailFirstConnect() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadPort = s.getLocalPort();
        }
        WsClient client = new WsClient(WsClientConfig.builder()
                .url("ws://127.0.0.1:" + deadPort + "/connect")
                .handler(envelope -> { })
                .failFirstConnect(true)
                .build());
        CompletableFuture<WsClientException> ended = client.closedFuture();
        ExecutionException e =
                assertThrows(ExecutionException.class, () -> client.connectAsync().get(WAIT, TimeUnit.SECONDS));
        InitialConnectException failure = assertInstanceOf(InitialConnectException.class, e.getCause());
        // The client ended for good with that reason, which closedFuture returns as its value.
        assertSame(failure, ended.get(WAIT, TimeUnit.SECONDS));
        assertEquals(ConnectionState.CLOSED, client.getState().getValue());
        assertThrows(InitialConnectException.class, client::start);
        assertNull(client.closeAsync().get(WAIT, TimeUnit.SECONDS));
    }

    @Test
    void closeAsyncCompletesOnceTheClientIsFullyClosed(FakeBroker broker) throws Exception {
        WsClient client = new WsClient(configFor(broker, envelope -> { }).build());
        assertSame(client, client.connectAsync().get(WAIT, TimeUnit.SECONDS));
        assertTrue(client.isConnected());
        CompletableFuture<Envelope> pending = client.requestAsync(Envelope.request("nobody.home"),
            Duration.ofSeconds(30));
        awaitTrue(() -> client.stats().getPendingRequests() == 1, "the request is pending");

        CompletableFuture<Void> first = client.closeAsync();
        CompletableFuture<Void> second = client.closeAsync();
        assertNull(first.get(WAIT, TimeUnit.SECONDS));
        assertNull(second.get(WAIT, TimeUnit.SECONDS), "a second close waits for the same shutdown");
        // Completion means done: no polling needed for any of these.
        assertEquals(ConnectionState.CLOSED, client.getState().getValue());
        assertTrue(pending.isCompletedExceptionally());
        ExecutionException failure = assertThrows(ExecutionException.class, () -> pending.get(WAIT, TimeUnit.SECONDS));
        assertInstanceOf(ClientClosedException.class, failure.getCause());
        assertInstanceOf(ClientClosedException.class, client.closedFuture().getNow(null), "the client has ended");
        awaitTrue(() -> broker.getConnectionCount().getValue() == 0, "the broker saw the connection close");
    }

    @Test
    void statsCountWhatTheClientRefused(FakeBroker broker) throws Exception {
        BlockingQueue<Envelope> handled = new LinkedBlockingQueue<>();
        EnvelopeHandler handler = envelope -> {
            handled.add(envelope);
            if (envelope.getKind().equals("boom")) throw new IllegalStateException("handler failure on purpose");
        };
        try (WsClient client = new WsClient(configFor(broker, handler).build())) {
            client.start();
            client.requestAsync(Envelope.request("echo")).get(WAIT, TimeUnit.SECONDS);
            broker.awaitConnectionsAsync(1, Duration.ofSeconds(WAIT)).get(WAIT, TimeUnit.SECONDS);

            broker.broadcastRawAsync("not json").get(WAIT, TimeUnit.SECONDS);
            broker.broadcastAsync(Envelope.response("echo.result", "01J00000000000000000NOBODY")).get(WAIT,
                TimeUnit.SECONDS);
            broker.broadcastAsync(Envelope.create("boom")).get(WAIT, TimeUnit.SECONDS);
            broker.broadcastAsync(Envelope.create("marker")).get(WAIT, TimeUnit.SECONDS);

            // The handler sees frames in arrival order: the late reply, then boom, then the marker.
            assertEquals("echo.result", next(handled).getKind());
            assertEquals("boom", next(handled).getKind());
            assertEquals("marker", next(handled).getKind());
            awaitTrue(() -> client.stats().getHandlerErrors() == 1, "the handler error was counted");

            WsClientStats stats = client.stats();
            assertEquals(1L, stats.getMalformedFrames());
            assertEquals(0L, stats.getBinaryFrames());
            assertEquals(0L, stats.getOversizeMessages());
            assertEquals(1L, stats.getLateReplies());
            assertEquals(0L, stats.getRequestsTimedOut());
            assertEquals(0L, stats.getDrops());
            assertEquals(1L, stats.getHandlerErrors());
            assertEquals(0, stats.getPendingRequests());
        }
    }

    @Test
    void envelopeStaticFactories() {
        Envelope plain = Envelope.create("hello");
        assertEquals("hello", plain.getKind());
        assertNull(plain.getId());
        assertNull(plain.getInReplyTo());
        assertNull(plain.getPayload());
        assertEquals(ZoneOffset.UTC, plain.getTs().getOffset());

        Envelope withPayload = Envelope.create("hello", "{ \"a\" : [1, 2] }");
        assertEquals("{\"a\":[1,2]}", withPayload.getPayload());

        Envelope request = Envelope.request("register", "{\"name\":\"a\"}");
        assertNotNull(request.getId());
        assertEquals(26, request.getId().length());
        assertTrue(!Envelope.request("x").getId().equals(Envelope.request("x").getId()), "ids are unique");

        Envelope response = Envelope.response("register.ack", request.getId(), "{\"ok\":true}");
        assertNull(response.getId());
        assertEquals(request.getId(), response.getInReplyTo());
        assertNull(Envelope.response("x.result", "").getInReplyTo());

        Envelope aimed = request.withTargetAspect("keel");
        assertEquals("keel", aimed.getTargetAspect());
        assertEquals(aimed, Envelope.decode(aimed.encode()));

        Envelope zero = Envelope.create("z").withTs(Envelope.ZERO_TIME);
        assertEquals("{\"kind\":\"z\",\"ts\":\"0001-01-01T00:00:00Z\"}", zero.encode());
        assertEquals(OffsetDateTime.of(1, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC),
            Envelope.decode("{\"kind\":\"z\"}").getTs());

        assertThrows(IllegalArgumentException.class, () -> Envelope.create(""));
        assertThrows(IllegalArgumentException.class, () -> Envelope.create("k", "{not json"));
    }
}
