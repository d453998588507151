package dev.tether.docs;

import dev.tether.testkit.tunnel.FakeTunnelProxy;
import dev.tether.tunnel.TunnelClient;
import dev.tether.tunnel.TunnelClosedException;
import dev.tether.tunnel.TunnelConfig;
import dev.tether.tunnel.TunnelHandler;
import dev.tether.tunnel.TunnelResponse;
import dev.tether.tunnel.TunnelTokens;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The Java examples of tunnel.md, each run against the testkit's FakeTunnelProxy. */
class TunnelJavaExamplesTest {

    @Test
    void quickStartServesAViewerRequest() throws Exception {
        // docs:start quickstart
        try (FakeTunnelProxy proxy = FakeTunnelProxy.start()) {      // accepts tokens signed with "test-secret"
            TunnelConfig config = TunnelConfig.builder()
                    .id("java-tunnel")
                    .proxyUrl(proxy.getUrl())
                    .tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                    .build();
            try (TunnelClient tunnel = new TunnelClient(config).connectAsync().get(10, TimeUnit.SECONDS)) {
                CompletableFuture<Void> serving = tunnel.serveAsync(TunnelHandler.of(request ->
                        TunnelResponse.text("hello " + request.getMethod() + " " + request.getPath())));

                // A viewer somewhere on the internet:
                HttpClient viewer = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                HttpResponse<String> response = viewer.send(
                        HttpRequest.newBuilder(URI.create(tunnel.getUrl() + "/status")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, response.statusCode());
                assertEquals("hello GET /status", response.body());

                tunnel.close();                                      // serving completes normally
                serving.get(10, TimeUnit.SECONDS);
            }
        }
        // docs:end quickstart
    }

    @Test
    void theHandlerRunsOnTheChosenExecutor() throws Exception {
        try (FakeTunnelProxy proxy = FakeTunnelProxy.start()) {
            // docs:start handler-executor
            ExecutorService handlers = Executors.newFixedThreadPool(4);   // the handler may block there
            TunnelConfig config = TunnelConfig.builder()
                    .id("java-threads")
                    .proxyUrl(proxy.getUrl())
                    .tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                    .handlerExecutor(handlers) // default: a library thread where it may block
                    .build();
            try (TunnelClient tunnel = new TunnelClient(config).connectAsync().get(10, TimeUnit.SECONDS)) {
                CompletableFuture<Void> serving = tunnel.serveAsync(TunnelHandler.of(request -> TunnelResponse.text(
                        Thread.currentThread().getName().startsWith("pool-") ? "on my pool" : "elsewhere")));
                // A handler that never blocks may run on the tunnel's I/O thread instead:
                // tunnel.serveAsync(handler, TunnelClient.DEFAULT_MAX_BODY, tunnel.getExecutor());
                HttpClient viewer = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                HttpResponse<String> response = viewer.send(
                        HttpRequest.newBuilder(URI.create(tunnel.getUrl() + "/work")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals("on my pool", response.body());
                serving.cancel(true);
            } finally {
                handlers.shutdown();
            }
            // docs:end handler-executor
        }
    }

    @Test
    void acceptAfterCloseFailsWithTunnelClosed() throws Exception {
        try (FakeTunnelProxy proxy = FakeTunnelProxy.start()) {
            TunnelConfig config = TunnelConfig.builder().id("closing").proxyUrl(proxy.getUrl())
                    .token(TunnelTokens.testToken("closing")).build();
            TunnelClient tunnel = new TunnelClient(config).connectAsync().get(10, TimeUnit.SECONDS);
            CompletableFuture<?> waiting = tunnel.acceptAsync();
            tunnel.close();                                          // a waiting accept fails at once
            ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(10, TimeUnit.SECONDS));
            assertInstanceOf(TunnelClosedException.class, e.getCause());
        }
    }
}
