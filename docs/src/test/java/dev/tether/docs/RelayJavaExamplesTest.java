package dev.tether.docs;

import dev.tether.relay.ConnClosedException;
import dev.tether.relay.RelayClient;
import dev.tether.relay.RelayClientConfig;
import dev.tether.relay.RelayConn;
import dev.tether.testkit.relay.FakeRelayServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The Java examples of relay.md, run against the testkit's FakeRelayServer. */
@Timeout(30)
class RelayJavaExamplesTest {

    @Test
    void quickStart() throws Exception {
        // docs:start java-quickstart
        RelayClientConfig options = RelayClientConfig.builder()
                .openConnTimeout(Duration.ofSeconds(10))   // default 30 s
                .build();
        try (FakeRelayServer relay = FakeRelayServer.start();
             RelayClient alice = new RelayClient(relay.getUrl(), relay.tokenStore(), "alice-key", options);
             RelayClient bob = new RelayClient(relay.getUrl(), relay.tokenStore(), "bob-key", options)) {
            alice.connectAsync().get(10, TimeUnit.SECONDS);
            bob.connectAsync().get(10, TimeUnit.SECONDS);

            // Each side's future completes once the other peer is online.
            CompletableFuture<RelayConn> bobSide = bob.openConnAsync("alice-key");
            try (RelayConn toBob = alice.openConnAsync("bob-key").get(10, TimeUnit.SECONDS);
                 RelayConn toAlice = bobSide.get(10, TimeUnit.SECONDS)) {

                toBob.write("hello bob".getBytes(StandardCharsets.UTF_8));  // blocking; or writeAsync
                byte[] buffer = new byte[8782];                              // the largest relay payload
                int n = toAlice.read(buffer);                                // blocking: one whole message
                assertEquals("hello bob", new String(buffer, 0, n, StandardCharsets.UTF_8));

                toAlice.writeAsync("hello alice".getBytes(StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS);
                byte[] reply = toBob.readAsync().get(10, TimeUnit.SECONDS);
                assertEquals("hello alice", new String(reply, StandardCharsets.UTF_8));
                assertEquals(0L, toAlice.stats().getDropped());
            }
        }
        // docs:end java-quickstart
    }

    @Test
    void readsFailOnceThePeerIsGone() throws Exception {
        try (FakeRelayServer relay = FakeRelayServer.start();
             RelayClient alice = new RelayClient(relay.getUrl(), relay.tokenStore(), "alice-key");
             RelayClient bob = new RelayClient(relay.getUrl(), relay.tokenStore(), "bob-key")) {
            alice.connectAsync().get(10, TimeUnit.SECONDS);
            bob.connectAsync().get(10, TimeUnit.SECONDS);
            CompletableFuture<RelayConn> bobSide = bob.openConnAsync("alice-key");
            alice.openConnAsync("bob-key").get(10, TimeUnit.SECONDS);
            RelayConn toAlice = bobSide.get(10, TimeUnit.SECONDS);
            // docs:start java-peer-gone
            CompletableFuture<byte[]> pending = toAlice.readAsync();
            alice.closeAsync().get(10, TimeUnit.SECONDS);   // alice's relay session ends
            ExecutionException failed = assertThrows(ExecutionException.class, () -> pending.get(10, TimeUnit.SECONDS));
            assertInstanceOf(ConnClosedException.class, failed.getCause());
            // docs:end java-peer-gone
        }
    }
}
