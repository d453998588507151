package dev.tether.tunnel;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.TetherException;
import dev.tether.mux.Stream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The Java faces of the tunnel client's lifecycle: connectAsync, closedFuture, closeAsync. */
class TunnelClientJavaTest {
    private static final long WAIT = 10;

    @Test
    void connectAsyncThenCloseAsyncFromTwoCallers() throws Exception {
        try (TestProxy proxy = new TestProxy()) {
            TunnelClient client = new TunnelClient(proxy.config("java-1"));
            assertNull(client.getSession());
            assertSame(client, client.connectAsync().get(WAIT, TimeUnit.SECONDS));
            assertTrue(client.isConnected());
            CompletableFuture<TetherException> ended = client.closedFuture();
            CompletableFuture<Stream> waiting = client.acceptAsync();
            assertFalse(ended.isDone());

            CompletableFuture<Void> first = client.closeAsync();
            CompletableFuture<Void> second = client.closeAsync();
            assertNull(first.get(WAIT, TimeUnit.SECONDS));
            assertNull(second.get(WAIT, TimeUnit.SECONDS), "a second close waits for the same shutdown");

            // The end is not a failure of the wait: the future completes normally with the reason.
            assertInstanceOf(TunnelClosedException.class, ended.get(WAIT, TimeUnit.SECONDS));
            ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(WAIT, TimeUnit.SECONDS));
            assertInstanceOf(TunnelClosedException.class, e.getCause());
            assertTrue(client.acceptAsync().isCompletedExceptionally());
            assertFalse(client.getSession().isOpen());
        }
    }
}
