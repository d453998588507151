package dev.tether.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The dialer and a raw connection driven from plain Java through their future faces. */
class WebSocketDialerJavaTest {
    private MockWebServer server;

    @BeforeEach
    void start() throws Exception {
        server = new MockWebServer();
        server.start(InetAddress.getByName("127.0.0.1"), 0);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static MockResponse echoUpgrade() {
        return new MockResponse.Builder().webSocketUpgrade(new WebSocketListener() {
            @Override
            public void onMessage(WebSocket webSocket, String text) {
                webSocket.send("echo:" + text);
            }

            @Override
            public void onClosing(WebSocket webSocket, int code, String reason) {
                webSocket.close(code, reason);
            }
        }).build();
    }

    @Test
    void dialSendReceiveAndCloseThroughFutures() throws Exception {
        server.enqueue(echoUpgrade());
        DialerConfig config = DialerConfig.builder()
                .url("ws://127.0.0.1:" + server.getPort() + "/connect")
                .tokenProvider(TokenProvider.fromFuture(() -> CompletableFuture.completedFuture("java-token")))
                .header("X-Client", "java")
                .pingInterval(Duration.ZERO)
                .build();
        try (WebSocketDialer dialer = new WebSocketDialer(config)) {
            WebSocketConnection conn = dialer.dialAsync().get(10, TimeUnit.SECONDS);
            RecordedRequest upgrade = server.takeRequest(10, TimeUnit.SECONDS);
            assertEquals("Bearer java-token", upgrade.getHeaders().get("Authorization"));
            assertEquals("java", upgrade.getHeaders().get("X-Client"));

            conn.sendAsync("hello").get(10, TimeUnit.SECONDS);
            WsMessage reply = conn.receiveAsync().get(10, TimeUnit.SECONDS);
            assertEquals("echo:hello", ((WsMessage.Text) reply).getText());

            // Text as UTF-8 bytes both ways: no String on the way out, the frame's bytes on the way in.
            conn.sendTextAsync("grüße".getBytes(StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS);
            WsMessage.Text bytesReply = (WsMessage.Text) conn.receiveAsync().get(10, TimeUnit.SECONDS);
            assertArrayEquals("echo:grüße".getBytes(StandardCharsets.UTF_8), bytesReply.getUtf8());
            assertEquals("echo:grüße", bytesReply.getText());
            assertEquals("ok", WsMessage.Text.ofUtf8("ok".getBytes(StandardCharsets.UTF_8)).getText());

            ConnectionException why = conn.closeAsync((short) 1000, "bye").get(10, TimeUnit.SECONDS);
            assertInstanceOf(ConnectionClosedException.class, why);
            assertEquals(why, conn.closedFuture().get(10, TimeUnit.SECONDS));
            assertFalse(conn.isOpen());
            assertNull(conn.receiveAsync().get(10, TimeUnit.SECONDS), "no more messages after close");
            ExecutionException late = assertThrows(ExecutionException.class, () -> conn.sendAsync("late").get(10, TimeUnit.SECONDS));
            assertInstanceOf(ConnectionClosedException.class, late.getCause());
        }
    }

    @Test
    void aJavaObserverOverridesOnlyWhatItCountsAndSeesTheTrafficAndTheEnd() throws Exception {
        server.enqueue(echoUpgrade());
        java.util.concurrent.atomic.AtomicLong sentBytes = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicLong receivedBytes = new java.util.concurrent.atomic.AtomicLong();
        CompletableFuture<ConnectionException> closed = new CompletableFuture<>();
        TransportObserver observer = new TransportObserver() {
            @Override
            public void messageSent(int bytes) {
                sentBytes.addAndGet(bytes);
            }

            @Override
            public void messageReceived(int bytes) {
                receivedBytes.addAndGet(bytes);
            }

            @Override
            public void closed(ConnectionException cause) {
                closed.complete(cause);
            }
        };
        DialerConfig config = DialerConfig.builder()
                .url("ws://127.0.0.1:" + server.getPort() + "/connect")
                .pingInterval(Duration.ZERO)
                .observer(observer)
                .build();
        assertEquals(observer, config.toBuilder().build().getObserver());
        try (WebSocketDialer dialer = new WebSocketDialer(config)) {
            WebSocketConnection conn = dialer.dialAsync().get(10, TimeUnit.SECONDS);
            conn.sendAsync("hello").get(10, TimeUnit.SECONDS);
            assertEquals("echo:hello", ((WsMessage.Text) conn.receiveAsync().get(10, TimeUnit.SECONDS)).getText());
            conn.closeAsync((short) 1000, "bye").get(10, TimeUnit.SECONDS);
            assertInstanceOf(ConnectionClosedException.class, closed.get(10, TimeUnit.SECONDS));
        }
        assertEquals(5L, sentBytes.get());
        assertEquals(10L, receivedBytes.get());
    }

    @Test
    void refusedCredentialsFailTheFutureWithATypedError() throws Exception {
        server.enqueue(new MockResponse.Builder().code(401).body("unauthorized\n").build());
        DialerConfig config = DialerConfig.builder().url("http://127.0.0.1:" + server.getPort() + "/connect").token("bad").build();
        try (WebSocketDialer dialer = new WebSocketDialer(config)) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> dialer.dialAsync().get(10, TimeUnit.SECONDS));
            AuthenticationFailedException auth = assertInstanceOf(AuthenticationFailedException.class, e.getCause());
            assertEquals(401, auth.getStatus());
        }
    }

    @Test
    void bothTransportsFromJavaWithAListenerOnTheIoThreadAndNonSuspendingSends() throws Exception {
        for (WebSocketTransport transport : new WebSocketTransport[] {WebSocketTransport.netty(), WebSocketTransport.ktor()}) {
            server.enqueue(echoUpgrade());
            DialerConfig config = DialerConfig.builder()
                    .url("ws://127.0.0.1:" + server.getPort() + "/connect")
                    .pingInterval(Duration.ZERO)
                    .transport(transport)
                    .build();
            try (WebSocketDialer dialer = new WebSocketDialer(config)) {
                java.util.concurrent.LinkedBlockingQueue<String> got = new java.util.concurrent.LinkedBlockingQueue<>();
                WebSocketConnection conn = dialer.dialAsync(m -> got.add(((WsMessage.Text) m).getText())).get(10, TimeUnit.SECONDS);
                assertEquals(true, conn.trySend("one"));
                assertEquals("echo:one", got.poll(10, TimeUnit.SECONDS));
                // Code on the connection's I/O thread: the executor face of its dispatcher.
                String sent = CompletableFuture.supplyAsync(() -> conn.trySend("two") ? "queued" : "full", conn.getExecutor()).get(10, TimeUnit.SECONDS);
                assertEquals("queued", sent);
                assertEquals("echo:two", got.poll(10, TimeUnit.SECONDS));
                conn.closeAsync().get(10, TimeUnit.SECONDS);
            }
        }
    }
}
