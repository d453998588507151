package dev.tether.testkit.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.ConnectionEvent;
import dev.tether.core.ConnectionState;
import dev.tether.core.backoff.ExponentialBackoff;
import dev.tether.wamp.CallOptions;
import dev.tether.wamp.error.WampConnectionLostException;
import dev.tether.wamp.Event;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.error.ReconnectExhaustedException;
import dev.tether.wamp.ReconnectPolicy;
import dev.tether.wamp.RegisterOptions;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.SubscribeOptions;
import dev.tether.wamp.WampClient;
import dev.tether.wamp.WampSession;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import kotlinx.coroutines.test.TestCoroutineDispatchersKt;
import kotlinx.coroutines.test.TestCoroutineScheduler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Java face of WampClient: futures, builders, the state and event listeners, across a router drop. */
class WampClientJavaTest {
    private FakeWampRouter router;

    @BeforeEach
    void start() {
        router = FakeWampRouter.start();
    }

    @AfterEach
    void stop() {
        router.close();
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(15, TimeUnit.SECONDS);
    }

    @Test
    void rejoinsAfterADropWithItsRegistrationAndSubscription() throws Exception {
        SessionConfig config = SessionConfig.builder("realm1").responseTimeout(Duration.ofSeconds(2)).build();
        ReconnectPolicy policy = ReconnectPolicy.builder()
                .backoff(ExponentialBackoff.builder().minDelay(Duration.ofMillis(50)).build())
                .joinWait(Duration.ofSeconds(10))
                .build();
        try (WampClient callee = new WampClient(router.getWsUrl(), config, policy);
             WampClient caller = new WampClient(router.getTcpUrl(), config, policy)) {
            await(callee.connectAsync());
            await(caller.connectAsync());
            await(callee.registerAsync("com.example.echo",
                    inv -> CompletableFuture.completedFuture(new InvokeResult(inv.getArgs())),
                    RegisterOptions.builder().discloseCaller(true).build()));
            LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
            await(callee.subscribeAsync("com.example.topic", events::add, SubscribeOptions.DEFAULT));

            LinkedBlockingQueue<ConnectionEvent> seen = new LinkedBlockingQueue<>();
            LinkedBlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
            LinkedBlockingQueue<ConnectionEvent> callerSeen = new LinkedBlockingQueue<>();
            try (AutoCloseable a = callee.onEvent(seen::add); AutoCloseable b = callee.onState(states::add);
                 AutoCloseable c = caller.onEvent(callerSeen::add)) {
                long before = callee.getSession().getId();
                router.getFaults().dropAll();

                ConnectionEvent lost = seen.poll(15, TimeUnit.SECONDS);
                ConnectionEvent.Disconnected disconnected = assertInstanceOf(ConnectionEvent.Disconnected.class, lost);
                assertInstanceOf(WampConnectionLostException.class, disconnected.getCause());
                assertEquals(new ConnectionEvent.Connecting(1), seen.poll(15, TimeUnit.SECONDS));
                assertInstanceOf(ConnectionEvent.Connected.class, seen.poll(15, TimeUnit.SECONDS));
                assertEquals(
                        List.of(ConnectionState.BACKING_OFF, ConnectionState.CONNECTING, ConnectionState.CONNECTED),
                        List.of(
                                states.poll(5, TimeUnit.SECONDS),
                                states.poll(5, TimeUnit.SECONDS),
                                states.poll(5, TimeUnit.SECONDS)));
                assertNotEquals(before, callee.getSession().getId());
                assertEquals(callee.getSession().getId(), await(callee.sessionAsync()).getId());
                // The caller was dropped too; once it has noticed, its call waits for the rejoin.
                assertInstanceOf(ConnectionEvent.Disconnected.class, callerSeen.poll(15, TimeUnit.SECONDS));
            }

            assertEquals(List.of("hi"),
                    await(caller.callAsync("com.example.echo", List.of("hi"), Map.of(), CallOptions.DEFAULT))
                            .getArgs());
            Long publication = await(caller.publishAsync("com.example.topic", List.of(7), Map.of(),
                    PublishOptions.builder().acknowledge(true).build()));
            assertNotNull(publication);
            Event event = events.poll(15, TimeUnit.SECONDS);
            assertNotNull(event);
            assertEquals(List.of(7L), event.getArgs());

            await(callee.unregisterAsync("com.example.echo"));
            await(callee.unsubscribeAsync("com.example.topic"));
            assertEquals(List.of(), callee.getProcedures());
            assertEquals(List.of(), callee.getTopics());
        }
    }

    @Test
    void givesUpAfterMaxAttemptsInVirtualTimeAndCloses() throws Exception {
        TestCoroutineScheduler scheduler = new TestCoroutineScheduler();
        ReconnectPolicy policy = ReconnectPolicy.builder()
                .backoff(ExponentialBackoff.builder().minDelay(Duration.ofSeconds(1)).randomizationFactor(0.0).build())
                .maxAttempts(2)
                .waitContext(TestCoroutineDispatchersKt.StandardTestDispatcher(scheduler, "backoff"))
                .build();
        router.getFaults().refuseNext(5);
        WampClient client = new WampClient(router.getWsUrl(), SessionConfig.builder("realm1").build(), policy);
        LinkedBlockingQueue<ConnectionEvent> seen = new LinkedBlockingQueue<>();
        try (AutoCloseable listener = client.onEvent(seen::add)) {
            client.start();
            assertEquals(new ConnectionEvent.Connecting(1), seen.poll(15, TimeUnit.SECONDS));
            ConnectionEvent.DialFailed failed =
                assertInstanceOf(ConnectionEvent.DialFailed.class, seen.poll(15, TimeUnit.SECONDS));
            assertEquals(1000L, failed.getRetryInMillis());
            scheduler.advanceTimeBy(1000);
            scheduler.runCurrent();
            assertEquals(new ConnectionEvent.Connecting(2), seen.poll(15, TimeUnit.SECONDS));
            ConnectionEvent.Closed closed =
                assertInstanceOf(ConnectionEvent.Closed.class, seen.poll(15, TimeUnit.SECONDS));
            assertEquals(2, assertInstanceOf(ReconnectExhaustedException.class, closed.getCause()).getAttempts());
            assertEquals(ConnectionState.CLOSED, client.getState().getValue());
            ExecutionException e =
                assertThrows(ExecutionException.class, () -> await(client.callAsync("wamp.session.count")));
            assertTrue(e.getCause() instanceof ReconnectExhaustedException);
            assertEquals(3, router.getFaults().getPendingRefusals());
        } finally {
            router.getFaults().refuseNext(0);
            await(client.closeAsync());
        }
    }

    @Test
    void everySessionRunsOnTheClientsExecutorAcrossADrop() throws Exception {
        ReconnectPolicy policy = ReconnectPolicy.builder()
                .backoff(ExponentialBackoff.builder().minDelay(Duration.ofMillis(50)).build())
                .build();
        for (String url : List.of(router.getWsUrl(), router.getTcpUrl())) {
            try (WampClient client = new WampClient(url, SessionConfig.builder("realm1").build(), policy)) {
                String thread = await(CompletableFuture.supplyAsync(
                        () -> Thread.currentThread().getName(), client.getExecutor()));
                assertTrue(thread.startsWith("tether-io"), thread);
                await(client.connectAsync());
                WampSession first = client.getSession();
                assertEquals(thread, await(CompletableFuture.supplyAsync(
                        () -> Thread.currentThread().getName(), first.getExecutor())));

                LinkedBlockingQueue<ConnectionEvent> seen = new LinkedBlockingQueue<>();
                try (AutoCloseable listening = client.onEvent(seen::add)) {
                    router.getFaults().dropAll();
                    ConnectionEvent event;
                    do {
                        event = seen.poll(15, TimeUnit.SECONDS);
                        assertNotNull(event, "no reconnect within 15 s");
                    } while (!(event instanceof ConnectionEvent.Connected));
                }
                WampSession second = await(client.sessionAsync());
                assertNotEquals(first.getId(), second.getId());
                assertEquals(thread, await(CompletableFuture.supplyAsync(
                        () -> Thread.currentThread().getName(), second.getExecutor())), url);
            }
        }
    }
}
