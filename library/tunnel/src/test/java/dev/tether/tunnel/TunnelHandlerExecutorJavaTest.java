package dev.tether.tunnel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.mux.MuxSession;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Java faces of the handler executor: TunnelConfig.handlerExecutor, serveAsync with an executor, getExecutor. */
class TunnelHandlerExecutorJavaTest {
    private TestProxy proxy;
    private ExecutorService handlers;

    @BeforeEach
    void start() {
        proxy = new TestProxy();
        handlers = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "java-handler");
            t.setDaemon(true);
            return t;
        });
    }

    @AfterEach
    void stop() {
        handlers.shutdownNow();
        proxy.close();
    }

    private static final TunnelHandler THREAD_NAME = TunnelHandler.of(request -> {
        String name = Thread.currentThread().getName();
        int debug = name.indexOf(" @");
        return TunnelResponse.text(debug < 0 ? name : name.substring(0, debug));
    });

    private TunnelConfig.Builder config(String id) {
        return TunnelConfig.builder().id(id).proxyUrl(proxy.getUrl()).token(TunnelTokens.testToken(id));
    }

    private static String body(MuxSession session) {
        byte[] request = "GET /j HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        String answer = new String(TestProxy.exchange(session, request), StandardCharsets.ISO_8859_1);
        assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer);
        return answer.substring(answer.indexOf("\r\n\r\n") + 4);
    }

    @Test
    void theConfiguredHandlerExecutorRunsTheHandler() throws Exception {
        TunnelConfig config = config("j1").handlerExecutor(handlers).build();
        assertSame(handlers, config.getHandlerExecutor());
        assertSame(handlers, config.toBuilder().build().getHandlerExecutor());
        TunnelClient client = new TunnelClient(config).connectAsync().get(10, TimeUnit.SECONDS);
        try {
            MuxSession session = proxy.nextSessionBlocking();
            CompletableFuture<Void> serving = client.serveAsync(THREAD_NAME);
            assertEquals("java-handler", body(session));
            serving.cancel(true);
        } finally {
            client.closeAsync().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aHandlerThatNeverBlocksMayRunOnTheClientsExecutor() throws Exception {
        TunnelClient client = new TunnelClient(config("j2").build()).connectAsync().get(10, TimeUnit.SECONDS);
        try {
            assertNotNull(client.getDispatcher());
            String io = CompletableFuture.supplyAsync(() -> Thread.currentThread().getName(), client.getExecutor())
                    .get(10, TimeUnit.SECONDS);
            MuxSession session = proxy.nextSessionBlocking();
            CompletableFuture<Void> serving =
                    client.serveAsync(THREAD_NAME, TunnelClient.DEFAULT_MAX_BODY, client.getExecutor());
            assertEquals(io, body(session));
            assertTrue(io.startsWith("tether-io-"), io);
            serving.cancel(true);
        } finally {
            client.closeAsync().get(10, TimeUnit.SECONDS);
        }
    }
}
