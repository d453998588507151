package dev.tether.conformance.relay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.relay.AuthToken;
import dev.tether.relay.RelayClient;
import dev.tether.relay.RelayConn;
import dev.tether.relay.TokenStore;
import dev.tether.testkit.relay.FakeRelayServer;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two Java peers over the subject relay: the fake by default, or the external relay named by
 * -Dtether.conformance.relay.url / .relay.secret.
 */
class RelayConformanceJavaTest {
    @Test
    void twoPeersEchoThroughTheRelay() throws Exception {
        String external = System.getProperty("tether.conformance.relay.url", "");
        FakeRelayServer fake = external.isBlank() ? FakeRelayServer.start() : null;
        String url = fake != null ? fake.getUrl() : external;
        String secret = fake != null ? fake.getSecret() : System.getProperty("tether.conformance.relay.secret", "");
        String a = "A-" + UUID.randomUUID();
        String b = "B-" + UUID.randomUUID();
        try (RelayClient ca = new RelayClient(url, new TokenStore(AuthToken.generate(secret)), a);
                RelayClient cb = new RelayClient(url, new TokenStore(AuthToken.generate(secret)), b)) {
            CompletableFuture.allOf(ca.connectAsync(), cb.connectAsync()).get(10, TimeUnit.SECONDS);
            CompletableFuture<RelayConn> ab = ca.openConnAsync(b);
            RelayConn ba = cb.openConnAsync(a).get(10, TimeUnit.SECONDS);
            RelayConn conn = ab.get(10, TimeUnit.SECONDS);
            byte[] payload = new byte[8782];
            new java.util.Random(1).nextBytes(payload);
            conn.write(payload);
            byte[] buf = new byte[8782];
            assertEquals(8782, ba.read(buf));
            assertArrayEquals(payload, buf);

            // A pending readAsync completes where the message arrives: the reading client's I/O thread (Netty).
            CompletableFuture<String> readOn =
                ba.readAsync().thenApply(m -> Thread.currentThread().getName().split(" @")[0]);
            conn.writeAsync(new byte[] {1, 2, 3}).get(10, TimeUnit.SECONDS);
            String reader = readOn.get(10, TimeUnit.SECONDS);
            String io = CompletableFuture.supplyAsync(() -> Thread.currentThread().getName(), cb.getExecutor())
                .get(10, TimeUnit.SECONDS);
            if (!"ktor".equals(System.getProperty("tether.transport"))) {
                assertEquals(true, io.startsWith("tether-io"), io);
                assertEquals(io.split(" @")[0], reader);
            }
        } finally {
            if (fake != null) {
                fake.close();
            }
        }
    }
}
