package dev.tether.conformance.tunnel;

import dev.tether.core.backoff.RetryConfig;
import dev.tether.mux.Stream;
import dev.tether.testkit.tunnel.FakeTunnelProxy;
import dev.tether.tunnel.TunnelAuthFailedException;
import dev.tether.tunnel.TunnelClient;
import dev.tether.tunnel.TunnelClosedException;
import dev.tether.tunnel.TunnelConfig;
import dev.tether.tunnel.TunnelHandler;
import dev.tether.tunnel.TunnelResponse;
import dev.tether.tunnel.TunnelTokens;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tunnel client from plain Java: futures, the blocking accept, a synchronous handler, close. */
class TunnelJavaTest {
    private static final long WAIT = 20;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private static TunnelConfig config(FakeTunnelProxy proxy, String id) {
        return TunnelConfig.builder()
            .id(id)
            .proxyUrl(proxy.getUrl())
            .tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
            .retry(RetryConfig.builder()
                    .initialDelay(Duration.ofMillis(20))
                    .maxDelay(Duration.ofMillis(100))
                    .maxElapsedTime(Duration.ofSeconds(2))
                    .build())
            .build();
    }

    @Test
    void connectServeAndClose() throws Exception {
        try (FakeTunnelProxy proxy = FakeTunnelProxy.start()) {
            TunnelClient client = new TunnelClient(config(proxy, "java-1")).connectAsync().get(WAIT, TimeUnit.SECONDS);
            assertEquals(proxy.clientUrl("java-1"), client.getUrl());
            CompletableFuture<Void> serving = client.serveAsync(TunnelHandler.of(request ->
                TunnelResponse.text(request.getMethod() + " " + request.getTarget() + " " + request.bodyText())));
            HttpResponse<String> answer = http.send(
                HttpRequest.newBuilder(URI.create(client.getUrl() + "/from/java?x=2"))
                    .POST(HttpRequest.BodyPublishers.ofString("body")).build(),
                HttpResponse.BodyHandlers.ofString());
            assertEquals(200, answer.statusCode());
            assertEquals("POST /from/java?x=2 body", answer.body());
            client.closeAsync().get(WAIT, TimeUnit.SECONDS);
            assertTrue(serving.isDone() || serving.handle((v, e) -> true).get(WAIT, TimeUnit.SECONDS));
            ExecutionException later = assertThrows(ExecutionException.class, () -> client.acceptAsync().get(WAIT,
                TimeUnit.SECONDS));
            assertInstanceOf(TunnelClosedException.class, later.getCause());
        }
    }

    @Test
    void blockingAcceptReturnsTheViewerStreamAndCloseUnblocksIt() throws Exception {
        try (FakeTunnelProxy proxy = FakeTunnelProxy.start()) {
            TunnelClient client = new TunnelClient(config(proxy, "java-2")).connectAsync().get(WAIT, TimeUnit.SECONDS);
            CompletableFuture<HttpResponse<String>> viewer = http.sendAsync(
                HttpRequest.newBuilder(URI.create(client.getUrl() + "/raw")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
            Stream stream = client.accept(); // blocking Java face
            byte[] head = new byte[64];
            int n = stream.inputStream().read(head);
            assertTrue(new String(head, 0, n).startsWith("GET /raw HTTP/1.1"));
            stream.outputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes());
            stream.close();
            assertEquals("ok", viewer.get(WAIT, TimeUnit.SECONDS).body());

            CompletableFuture<Stream> waiting = CompletableFuture.supplyAsync(client::accept);
            client.close();
            ExecutionException closed = assertThrows(ExecutionException.class, () -> waiting.get(WAIT,
                TimeUnit.SECONDS));
            assertInstanceOf(TunnelClosedException.class, closed.getCause());
        }
    }

    @Test
    void aRefusedTokenFailsTheFutureWithAuthFailed() {
        try (FakeTunnelProxy proxy = FakeTunnelProxy.start()) {
            TunnelConfig bad = TunnelConfig.builder().id("java-3").proxyUrl(proxy.getUrl())
                .token(TunnelTokens.sign("java-3", "wrong-secret", Duration.ofHours(1))).build();
            ExecutionException e = assertThrows(ExecutionException.class,
                () -> new TunnelClient(bad).connectAsync().get(WAIT, TimeUnit.SECONDS));
            assertInstanceOf(TunnelAuthFailedException.class, e.getCause());
            assertEquals(401, ((TunnelAuthFailedException) e.getCause()).getStatus());
            assertFalse(proxy.isRegistered("java-3"));
        }
    }
}
