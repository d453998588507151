package dev.tether.conformance.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.ConnectionState;
import dev.tether.testkit.wamp.FakeWampRouter;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.WampClient;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.error.AbortException;
import dev.tether.wamp.error.WampException;
import dev.tether.wamp.error.WampSessionClosedException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The Java faces of the shared lifecycle on WampClient and WampSession: connectAsync, closeAsync, closedFuture. */
class WampClientLifecycleJavaTest {

    @Test
    void connectAsyncThenCloseAsyncAndClosedFuture() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            WampClient client = new WampClient(router.getTcpUrl(), SessionConfig.builder("realm1").build());
            WampClient joined = client.connectAsync().get(10, TimeUnit.SECONDS);
            assertSame(client, joined);
            assertEquals(ConnectionState.CONNECTED, client.getState().getValue());
            long id = client.getSession().getId();
            assertTrue(router.sessionIds("realm1").contains(id));

            client.closeAsync().get(10, TimeUnit.SECONDS);
            WampException why = client.closedFuture().get(10, TimeUnit.SECONDS);
            assertInstanceOf(WampSessionClosedException.class, why);
            assertEquals(ConnectionState.CLOSED, client.getState().getValue());
            ExecutionException e = assertThrows(ExecutionException.class,
                () -> client.callAsync("com.example.any").get(10, TimeUnit.SECONDS));
            assertEquals(why, e.getCause());
        }
    }

    @Test
    void startThenAwaitConnectedAsync() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start();
             WampClient client = new WampClient(router.getWsUrl(), SessionConfig.builder("realm1").build())) {
            client.start();
            client.awaitConnectedAsync(Duration.ofSeconds(10)).get(10, TimeUnit.SECONDS);
            assertEquals(ConnectionState.CONNECTED, client.getState().getValue());
        }
    }

    @Test
    void connectAsyncFailsWithTheFirstAttemptsFailure() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            WampClient client = new WampClient(router.getWsUrl(), SessionConfig.builder("no.such.realm").build());
            ExecutionException e = assertThrows(ExecutionException.class,
                () -> client.connectAsync().get(10, TimeUnit.SECONDS));
            AbortException refused = assertInstanceOf(AbortException.class, e.getCause());
            AbortException why =
                assertInstanceOf(AbortException.class, client.closedFuture().get(10, TimeUnit.SECONDS));
            assertEquals(refused.getReason(), why.getReason());
        }
    }

    @Test
    void sessionCloseAsyncAndClosedFuture() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            WampSession session = WampSession.connectAsync(router.getWsUrl(), SessionConfig.builder("realm1").build())
                .get(10, TimeUnit.SECONDS);
            session.closeAsync().get(10, TimeUnit.SECONDS);
            WampSessionClosedException why = session.closedFuture().get(10, TimeUnit.SECONDS);
            assertTrue(why.getMessage().contains("session closed"), why.getMessage());
        }
    }
}
