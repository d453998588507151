package dev.tether.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.ConnectionState;
import dev.tether.wamp.error.WampConnectionLostException;
import dev.tether.wamp.error.WampException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The Java faces of WampClient's lifecycle (connectAsync, closedFuture, closeAsync, awaitConnectedAsync) and of its
 * pinned I/O thread (getExecutor).
 */
class WampClientJavaFaceTest {

    @Test
    void aFailedConnectAsyncEndsTheClientAndEveryFaceSaysWhy() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = free.getLocalPort();
        }
        WampClient client = new WampClient("tcp://127.0.0.1:" + port, SessionConfig.builder("realm1").build());
        ExecutionException failed =
            assertThrows(ExecutionException.class, () -> client.connectAsync().get(10, TimeUnit.SECONDS));
        WampException why = client.closedFuture().get(10, TimeUnit.SECONDS);
        WampConnectionLostException lost = assertInstanceOf(WampConnectionLostException.class, why);
        assertEquals(failed.getCause().getClass(), lost.getCause().getClass());
        assertEquals(ConnectionState.CLOSED, client.getState().getValue());
        assertFalse(client.isConnected());

        ExecutionException notConnected = assertThrows(ExecutionException.class,
            () -> client.awaitConnectedAsync(Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS));
        assertSame(why, notConnected.getCause());
        assertNull(client.closeAsync().get(10, TimeUnit.SECONDS));
        ExecutionException call = assertThrows(ExecutionException.class,
            () -> client.callAsync("com.example.any").get(10, TimeUnit.SECONDS));
        assertSame(why, call.getCause());
    }

    @Test
    void theExecutorIsTheClientsIoThreadAndStaysTheSame() throws Exception {
        WampClient client = new WampClient("tcp://127.0.0.1:1", SessionConfig.builder("realm1").build());
        Executor executor = client.getExecutor();
        String thread = CompletableFuture.supplyAsync(() -> Thread.currentThread().getName(), executor)
            .get(10, TimeUnit.SECONDS);
        assertTrue(thread.startsWith("tether-io"), thread);
        String again = CompletableFuture.supplyAsync(() -> Thread.currentThread().getName(), client.getExecutor())
            .get(10, TimeUnit.SECONDS);
        assertEquals(thread, again);
        assertNull(client.closeAsync().get(10, TimeUnit.SECONDS));
    }
}
