package dev.tether.docs;

import dev.tether.testkit.FakeBroker;
import dev.tether.testkit.FakeBrokerConfig;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.EnvelopeHandler;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the Java examples of docs/wsclient.md against the fake broker. */
class JavaClientExamplesTest {
    private static final EnvelopeHandler IGNORE = envelope -> { };

    private static WsClient client(FakeBroker broker) {
        return new WsClient(WsClientConfig.builder()
                .url(broker.getUrl())
                .authToken(broker.getToken())
                .handler(IGNORE)
                .reconnectDelays(Duration.ofMillis(10), Duration.ofMillis(200))
                .build());
    }

    @Test
    void requestOutcomesAreDescribed() throws Exception {
        try (FakeBroker broker = FakeBroker.start(); WsClient client = client(broker)) {
            client.start();
            assertEquals("answered: {\"n\":1}",
                    JavaClientExamples.describe(client, Envelope.request("echo", "{\"n\":1}"))
                            .get(10, TimeUnit.SECONDS));
            assertEquals("refused: {\"error\":\"name required\"}",
                    JavaClientExamples.describe(client, Envelope.request("register", "{}")).get(10, TimeUnit.SECONDS));
            assertEquals("no reply within 5 s",
                    JavaClientExamples.describe(client, Envelope.request("nobody.home")).get(10, TimeUnit.SECONDS));

            CompletableFuture<String> lost = JavaClientExamples.describe(client, Envelope.request("nobody.home"));
            Waits.until(Duration.ofSeconds(10),
                    () -> broker.received().stream().filter(e -> e.getKind().equals("nobody.home")).count() == 2);
            broker.getFaults().dropAll();
            assertEquals("outcome unknown", lost.get(10, TimeUnit.SECONDS));

            client.awaitConnectedAsync(Duration.ofSeconds(10)).get();
            CompletableFuture<String> closed = JavaClientExamples.describe(client, Envelope.request("nobody.home"));
            Waits.until(Duration.ofSeconds(10),
                    () -> broker.received().stream().filter(e -> e.getKind().equals("nobody.home")).count() == 3);
            client.close();
            assertEquals("client closed", closed.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void sendReportsWhetherItWasWritten() throws Exception {
        try (FakeBroker broker = FakeBroker.start(); WsClient client = client(broker)) {
            assertEquals(false, JavaClientExamples.notify(client, "{\"text\":\"early\"}").get(10, TimeUnit.SECONDS));
            client.start();
            assertEquals(true, JavaClientExamples.notify(client, "{\"text\":\"hi\"}").get(10, TimeUnit.SECONDS));
            Waits.until(Duration.ofSeconds(10),
                    () -> broker.received().stream().anyMatch(e -> e.getKind().equals("chat.send")));
        }
    }

    @Test
    void theTokenProviderIsAskedBeforeEveryDial() throws Exception {
        FakeBrokerConfig options = FakeBrokerConfig.builder().tokens("fresh-1", "fresh-2").build();
        try (FakeBroker broker = FakeBroker.start(options)) {
            AtomicReference<String> current = new AtomicReference<>("fresh-1");
            try (WsClient client = JavaClientExamples.withTokenProvider(broker.getUrl(), "bootstrap",
                    () -> CompletableFuture.completedFuture(current.get()), IGNORE)) {
                client.start();
                broker.awaitConnectionsAsync(1, Duration.ofSeconds(10)).get();
                current.set("fresh-2");
                broker.getFaults().dropAll();
                Waits.until(Duration.ofSeconds(15), () -> broker.acceptedUpgrades() == 2);
                assertEquals(List.of("Bearer fresh-1", "Bearer fresh-2"), broker.authorizationHeaders());
            }
        }
    }

    @Test
    void failFirstConnectExplainsADeadAddressAndConnectsToALiveOne() throws Exception {
        int deadPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadPort = socket.getLocalPort();
        }
        String why = JavaClientExamples.connectOrExplain("ws://127.0.0.1:" + deadPort + "/connect", "t", IGNORE);
        assertTrue(why.startsWith("initial connect failed: "), why);

        try (FakeBroker broker = FakeBroker.start()) {
            assertNull(JavaClientExamples.connectOrExplain(broker.getUrl(), broker.getToken(), IGNORE));
            assertTrue(broker.acceptedUpgrades() >= 1);
        }
    }
}
