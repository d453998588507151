package dev.tether.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** WsClient's bounded handler queue from Java: the builder setting, the drop count in stats(), replies unaffected. */
class WsClientHandlerQueueJavaTest {
    @Test
    void framesPastTheQueueOfAStuckHandlerAreDroppedAndCounted() throws Exception {
        CompletableFuture<Void> stuck = new CompletableFuture<>();
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch allHandled = new CountDownLatch(3);
        List<String> handled = new CopyOnWriteArrayList<>();
        try (FakeBroker broker = FakeBroker.start()) {
            WsClientConfig config = WsClientConfig.builder()
                    .url(broker.getUrl())
                    .authToken(broker.getToken())
                    .handlerQueueSize(2)
                    .handler(envelope -> {
                        if (envelope.getKind().equals("push.0")) {
                            stuck.complete(null);
                            try {
                                release.await(10, TimeUnit.SECONDS);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        }
                        handled.add(envelope.getKind());
                        allHandled.countDown();
                    })
                    .build();
            assertEquals(2, config.getHandlerQueueSize());
            try (WsClient client = new WsClient(config)) {
                client.connectAsync().get(10, TimeUnit.SECONDS);
                // The broker counts the connection a moment after the client's 101: broadcast once it has.
                broker.awaitConnectionsAsync(1, Duration.ofSeconds(10)).get(10, TimeUnit.SECONDS);
                broker.broadcastAsync(Envelope.create("push.0")).get(10, TimeUnit.SECONDS);
                stuck.get(10, TimeUnit.SECONDS);
                for (int n = 1; n <= 5; n++) {
                    broker.broadcastAsync(Envelope.create("push." + n)).get(10, TimeUnit.SECONDS);
                }
                Envelope reply = client.requestAsync(Envelope.request("echo", "{}")).get(10, TimeUnit.SECONDS);
                assertEquals("echo.result", reply.getKind());
                assertEquals(3, client.stats().getHandlerDrops());
                release.countDown();
                assertTrue(allHandled.await(10, TimeUnit.SECONDS));
                assertEquals(List.of("push.0", "push.1", "push.2"), handled);
            }
        }
    }

    @Test
    void aQueueSizeBelowOneIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WsClientConfig.builder()
                .url("ws://127.0.0.1:1/connect")
                .handler(envelope -> { })
                .handlerQueueSize(-1)
                .build());
        assertEquals("handlerQueueSize must be positive, was -1", e.getMessage());
    }
}
