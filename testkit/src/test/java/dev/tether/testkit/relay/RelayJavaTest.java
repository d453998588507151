package dev.tether.testkit.relay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.relay.ConnAlreadyExistsException;
import dev.tether.relay.ConnClosedException;
import dev.tether.relay.DeadlineExceededException;
import dev.tether.relay.Manager;
import dev.tether.relay.NoRelayAvailableException;
import dev.tether.relay.ManagerConfig;
import dev.tether.relay.PayloadTooLargeException;
import dev.tether.relay.PeerId;
import dev.tether.relay.RelayClient;
import dev.tether.relay.RelayClientNotConnectedException;
import dev.tether.relay.RelayClientConfig;
import dev.tether.relay.RelayConn;
import dev.tether.relay.RelayHandshakeException;
import dev.tether.relay.ServerPicker;
import dev.tether.relay.TokenStore;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The Java faces of the relay client, connection and manager against the testkit relay. */
class RelayJavaTest {
    private static final long T = 10;

    private static FakeRelayServer relay() {
        return FakeRelayServer.start(FakeRelayServerConfig.builder()
                .healthCheckInterval(Duration.ofMillis(100))
                .healthCheckTimeout(Duration.ofSeconds(1))
                .build());
    }

    @Test
    void clientFuturesAndBlockingConnReadWrite() throws Exception {
        try (FakeRelayServer server = relay();
                RelayClient a = new RelayClient(server.getUrl(), server.tokenStore(), "peerA");
                RelayClient b = new RelayClient(server.getUrl(), server.tokenStore(), "peerB",
                        RelayClientConfig.builder().connQueueSize(10).build())) {
            ExecutionException notConnected = assertThrows(ExecutionException.class,
                    () -> a.openConnAsync("peerB").get(T, TimeUnit.SECONDS));
            assertInstanceOf(RelayClientNotConnectedException.class, notConnected.getCause());

            CompletableFuture.allOf(a.connectAsync(), b.connectAsync()).get(T, TimeUnit.SECONDS);
            assertEquals(server.getUrl(), a.serverInstanceUrl());
            CompletableFuture<RelayConn> toB = a.openConnAsync("peerB");
            RelayConn toA = b.openConnAsync(PeerId.of("peerA")).get(T, TimeUnit.SECONDS);
            RelayConn ab = toB.get(T, TimeUnit.SECONDS);
            // Both addresses: the relay knows this side by its own peer id, the remote by its, through one instance.
            assertEquals(PeerId.of("peerA"), ab.getLocalPeerId());
            assertEquals(PeerId.of("peerB"), ab.getPeerId());
            assertEquals(server.getUrl(), ab.getInstanceUrl());

            ExecutionException dup = assertThrows(ExecutionException.class,
                    () -> a.openConnAsync("peerB").get(T, TimeUnit.SECONDS));
            assertInstanceOf(ConnAlreadyExistsException.class, dup.getCause());

            assertEquals(5, ab.write("hello".getBytes(StandardCharsets.UTF_8)));
            byte[] buf = new byte[64];
            int n = toA.read(buf);
            assertEquals("hello", new String(buf, 0, n, StandardCharsets.UTF_8));

            toA.writeAsync(new byte[] {1, 2, 3}).get(T, TimeUnit.SECONDS);
            assertArrayEquals(new byte[] {1, 2, 3}, ab.readAsync().get(T, TimeUnit.SECONDS));

            assertThrows(PayloadTooLargeException.class, () -> ab.write(new byte[8783]));

            toA.setReadDeadline(Instant.now().plusMillis(50));
            assertThrows(DeadlineExceededException.class, () -> toA.read(buf));
            toA.setReadDeadline(null);
            ab.write(new byte[] {9});
            assertEquals(1, toA.read(buf));
            assertEquals(9, buf[0]);

            ab.close();
            assertThrows(ConnClosedException.class, () -> ab.write(new byte[] {1}));
            assertFalse(ab.isOpen());
            assertTrue(toA.isOpen());
            assertEquals(2, toA.stats().getDelivered());

            CompletableFuture<dev.tether.relay.RelayException> ended = a.closedFuture();
            a.closeAsync().get(T, TimeUnit.SECONDS);
            assertInstanceOf(dev.tether.relay.RelayClosedException.class, ended.get(T, TimeUnit.SECONDS));
            assertThrows(ConnClosedException.class, () -> toA.read(buf));
        }
    }

    @Test
    void managerServesAndOpensThroughHomeAndForeignRelays() throws Exception {
        try (FakeRelayServer home = relay(); FakeRelayServer foreign = relay()) {
            foreign.rotateCredentials(home.getSecret());
            TokenStore tokens = home.tokenStore();
            ManagerConfig options = ManagerConfig.builder().cleanupInterval(Duration.ofMinutes(5)).build();
            try (Manager a = new Manager(List.of(home.getUrl()), "peerA", tokens, options);
                    Manager b = new Manager(List.of(foreign.getUrl()), "peerB", tokens, options)) {
                a.connectAsync().get(T, TimeUnit.SECONDS);
                b.connectAsync().get(T, TimeUnit.SECONDS);
                assertTrue(a.isConnected());
                assertEquals(home.getUrl(), a.relayInstanceAddress());

                // Both meet on A's home relay: foreign for B.
                CompletableFuture<RelayConn> fromB = b.openConnAsync(a.relayInstanceAddress(), "peerA");
                RelayConn fromA = a.openConnAsync(a.relayInstanceAddress(), "peerB").get(T, TimeUnit.SECONDS);
                RelayConn ba = fromB.get(T, TimeUnit.SECONDS);
                assertEquals(java.util.Set.of(home.getUrl()), b.foreignRelays());
                ba.write("via foreign".getBytes(StandardCharsets.UTF_8));
                byte[] buf = new byte[32];
                int n = fromA.read(buf);
                assertEquals("via foreign", new String(buf, 0, n, StandardCharsets.UTF_8));

                CountDownLatch closed = new CountDownLatch(1);
                Manager.OnServerCloseListener listener = closed::countDown;
                b.addCloseListener(home.getUrl(), listener);
                b.addCloseListener(home.getUrl(), listener);
                home.getFaults().drop("peerB");
                assertTrue(closed.await(T, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void pickerDeadlinesServerUrlsAndTokenUpdateFromJava() throws Exception {
        try (FakeRelayServer home = relay(); FakeRelayServer other = relay()) {
            // The picker: the dead URL loses, the live one wins; an empty list is a typed failure.
            ServerPicker picker =
                new ServerPicker(List.of("rel://127.0.0.1:1", home.getUrl()), home.tokenStore(), "picked");
            try (RelayClient picked = picker.pickAsync().get(T, TimeUnit.SECONDS)) {
                assertTrue(picked.isConnected());
                assertEquals(home.getUrl(), picked.serverInstanceUrl());
            }
            ExecutionException none = assertThrows(ExecutionException.class,
                    () -> new ServerPicker(List.of(), home.tokenStore(), "p").pickAsync().get(T, TimeUnit.SECONDS));
            assertInstanceOf(NoRelayAvailableException.class, none.getCause());

            ManagerConfig options = ManagerConfig.builder().cleanupInterval(Duration.ofMinutes(5)).build();
            try (Manager a = new Manager(List.of(home.getUrl()), "peerA", home.tokenStore(), options);
                    RelayClient x = new RelayClient(other.getUrl(), other.tokenStore(), "peerX")) {
                a.connectAsync().get(T, TimeUnit.SECONDS);
                assertEquals(List.of(home.getUrl()), a.serverUrls());
                a.updateServerUrls(List.of(home.getUrl(), other.getUrl()));
                assertEquals(List.of(home.getUrl(), other.getUrl()), a.serverUrls());

                // The other relay has its own secret: A's token fails there until A is given one it accepts.
                x.connectAsync().get(T, TimeUnit.SECONDS);
                ExecutionException refused = assertThrows(ExecutionException.class,
                        () -> a.openConnAsync(other.getUrl(), "peerX").get(T, TimeUnit.SECONDS));
                assertTrue(a.foreignRelays().isEmpty(), "a failed foreign dial leaves no track");
                assertInstanceOf(RelayHandshakeException.class, refused.getCause());
                a.updateToken(other.token(Duration.ofHours(1)));
                CompletableFuture<RelayConn> fromA = a.openConnAsync(other.getUrl(), "peerX");
                RelayConn toA = x.openConnAsync("peerA").get(T, TimeUnit.SECONDS);
                RelayConn ax = fromA.get(T, TimeUnit.SECONDS);

                // Deadlines: a past write deadline refuses the write (nothing sent); setDeadline covers reads too.
                ax.setWriteDeadline(Instant.now().minusSeconds(1));
                assertThrows(DeadlineExceededException.class, () -> ax.write(new byte[] {1}));
                ax.setWriteDeadline(null);
                ax.write(new byte[] {2});
                byte[] buf = new byte[8];
                assertEquals(1, toA.read(buf));
                assertEquals(2, buf[0]);
                toA.setDeadline(Instant.now().plusMillis(50));
                assertThrows(DeadlineExceededException.class, () -> toA.read(buf));
                assertThrows(DeadlineExceededException.class, () -> toA.write(new byte[] {3}));
                assertEquals(1, ax.stats().getSent());
            }
        }
    }
}
