package dev.tether.tunnel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.TetherException;
import dev.tether.mux.Stream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
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
    @Test
    void boundsTlsTrustAndStatsFromJava() throws Exception {
        SelfSignedCertificate certificate = new SelfSignedCertificate(List.of("localhost"), List.of());
        try (TestProxy proxy = new TestProxy(); TlsOrigin origin = new TlsOrigin(certificate)) {
            TunnelConfig config = proxy.config("java-2", b -> {
                b.maxStreams(10).requestHeadTimeout(Duration.ofSeconds(5)).requestBodyTimeout(Duration.ofSeconds(7))
                        .originTrustManager(null);
                return kotlin.Unit.INSTANCE;
            });
            assertEquals(10, config.getMaxStreams());
            assertEquals(Duration.ofSeconds(5), config.getRequestHeadTimeout());
            assertEquals(Duration.ofSeconds(7), config.getRequestBodyTimeout());
            assertEquals(Duration.ofSeconds(60), TunnelConfig.DEFAULT_REQUEST_BODY_TIMEOUT);
            assertNull(config.getOriginTrustManager());
            assertEquals(1_000, TunnelConfig.DEFAULT_MAX_STREAMS);
            assertEquals(Duration.ofSeconds(30), TunnelConfig.DEFAULT_REQUEST_HEAD_TIMEOUT);

            TunnelClient client = new TunnelClient(config).connectAsync().get(WAIT, TimeUnit.SECONDS);
            try {
                assertEquals(1L, client.stats().getRegistrations());
                CompletableFuture<Void> forwarding = client.forwardAsync("https://localhost:" + origin.getPort());
                // The JVM does not trust the origin's self-signed certificate: the viewer gets 502.
                byte[] request = "GET / HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
                byte[] answer = TestProxy.exchange(proxy.nextSessionBlocking(), request);
                assertTrue(new String(answer, StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 502 Bad Gateway"));
                TunnelStats stats = client.stats();
                assertEquals(1L, stats.getOriginTlsFailures());
                assertEquals(1L, stats.getViewersServed());
                assertFalse(forwarding.isDone());
            } finally {
                client.closeAsync().get(WAIT, TimeUnit.SECONDS);
            }
        }
    }
}
