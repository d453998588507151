package dev.tether.relay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.ConnectionEvent;
import dev.tether.core.ConnectionState;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The relay client's and the manager's lifecycle from plain Java: connect, close, the end and the state. */
class RelayLifecycleJavaTest {
    private static final long T = 10;

    @Test
    void clientConnectsClosesAndReportsWhyItEnded() throws Exception {
        try (ScriptedRelay relay = ScriptedRelay.loggingIn()) {
            RelayClient alice = new RelayClient(relay.getUrl(), new TokenStore(AuthToken.generate("s")), "alice-key");
            assertSame(alice, alice.connectAsync().get(T, TimeUnit.SECONDS));
            assertTrue(alice.isConnected());
            RelayConn conn = alice.openConnAsync("bob-key").get(T, TimeUnit.SECONDS);
            CompletableFuture<RelayException> ended = alice.closedFuture();
            assertFalse(ended.isDone());

            CompletableFuture<Void> first = alice.closeAsync();
            CompletableFuture<Void> second = alice.closeAsync();
            second.get(T, TimeUnit.SECONDS);
            first.get(T, TimeUnit.SECONDS);
            assertFalse(conn.isOpen());
            // the end is the wait's result, not its failure
            assertInstanceOf(RelayClosedException.class, ended.get(T, TimeUnit.SECONDS));

            ExecutionException refused =
                assertThrows(ExecutionException.class, () -> alice.connectAsync().get(T, TimeUnit.SECONDS));
            assertInstanceOf(RelayClosedException.class, refused.getCause());
            alice.close(); // idempotent
        }
    }

    @Test
    void managerReportsStateAndEventsToListeners() throws Exception {
        try (ScriptedRelay relay = ScriptedRelay.loggingIn()) {
            Manager m = new Manager(List.of(relay.getUrl()), "alice-key", new TokenStore(AuthToken.generate("s")));
            List<ConnectionEvent> events = new CopyOnWriteArrayList<>();
            List<ConnectionState> states = new CopyOnWriteArrayList<>();
            CountDownLatch closed = new CountDownLatch(2); // the Closed event and the CLOSED state
            AutoCloseable eventHandle = m.onEvent(e -> {
                events.add(e);
                if (e instanceof ConnectionEvent.Closed) closed.countDown();
            });
            AutoCloseable stateHandle = m.onState(s -> {
                states.add(s);
                if (s == ConnectionState.CLOSED) closed.countDown();
            });

            assertSame(m, m.connectAsync().get(T, TimeUnit.SECONDS));
            m.awaitConnectedAsync(Duration.ofSeconds(T)).get(T, TimeUnit.SECONDS);
            assertTrue(m.isConnected());
            assertEquals(ConnectionState.CONNECTED, m.getState().getValue());
            assertEquals("rel://scripted:1", m.relayInstanceAddress());

            CompletableFuture<RelayException> ended = m.closedFuture();
            m.closeAsync().get(T, TimeUnit.SECONDS);
            assertTrue(closed.await(T, TimeUnit.SECONDS));
            assertEquals(
                List.of(new ConnectionEvent.Connecting(1), new ConnectionEvent.Connected(relay.getUrl()),
                    new ConnectionEvent.Closed(null)),
                events);
            assertEquals(
                List.of(ConnectionState.CONNECTING, ConnectionState.CONNECTED, ConnectionState.CLOSED), states);
            assertInstanceOf(RelayClosedException.class, ended.get(T, TimeUnit.SECONDS));
            assertSame(ended.get(), m.closedFuture().get(T, TimeUnit.SECONDS));
            eventHandle.close();
            stateHandle.close();
        }
    }

    @Test
    void managerExecutorIsOneIoThreadAcrossConnect() throws Exception {
        try (ScriptedRelay relay = ScriptedRelay.loggingIn()) {
            Manager m = new Manager(List.of(relay.getUrl()), "alice-key", new TokenStore(AuthToken.generate("s")));
            CompletableFuture<Thread> before = new CompletableFuture<>();
            m.getExecutor().execute(() -> before.complete(Thread.currentThread()));
            m.connectAsync().get(T, TimeUnit.SECONDS);
            CompletableFuture<Thread> after = new CompletableFuture<>();
            m.getExecutor().execute(() -> after.complete(Thread.currentThread()));
            assertSame(before.get(T, TimeUnit.SECONDS), after.get(T, TimeUnit.SECONDS));
            assertTrue(after.get().getName().startsWith("tether-io"), after.get().getName());
            m.closeAsync().get(T, TimeUnit.SECONDS);
        }
    }
}
