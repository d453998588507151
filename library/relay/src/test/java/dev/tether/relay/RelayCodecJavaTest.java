package dev.tether.relay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Peer ids, tokens, messages and options from plain Java. */
class RelayCodecJavaTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void peerIdsTokensAndMessages() {
        PeerId a = PeerId.of("peerA");
        assertEquals("sha-glN7kGle/RgjSpwHFze0/Pltrla7P9tPESf8kCNo4Ng=", a.toString());
        AuthToken token = AuthToken.fromManagement("2000000000", "oAr174WQLQeKWAtdeZ5Ib5+0HWE7WpIt2BwaFXay+/I=");
        assertEquals("01a00af5ef85902d078a580b5d799e486f9fb41d613b5a922dd81c1a1576b2fbf232303030303030303030",
                HEX.formatHex(token.toWire()));
        assertEquals(AuthToken.Verdict.VALID,
                AuthToken.verify(token.toWire(), "testsecret", Instant.ofEpochSecond(1_000_000_000)));
        TokenStore store = new TokenStore();
        store.update("2000000000", "oAr174WQLQeKWAtdeZ5Ib5+0HWE7WpIt2BwaFXay+/I=");
        assertArrayEquals(token.toWire(), store.token().toWire());

        byte[] online = new PeerStateMessage.PeersOnline(List.of(PeerId.of("peerB"), a)).encode();
        assertEquals(74, online.length);
        RelayMessage decoded = RelayMessage.decode(online);
        assertEquals(
            List.of(PeerId.of("peerB"), a), assertInstanceOf(PeerStateMessage.PeersOnline.class, decoded).getPeerIds());
        assertEquals("0104", HEX.formatHex(RelayMessage.Close.INSTANCE.encode()));
        assertThrows(MalformedRelayMessageException.class, () -> RelayMessage.decode(new byte[] {2, 4}));
        assertThrows(PayloadTooLargeException.class, () -> Transport.encode(a, new byte[8783]));
    }

    @Test
    void optionsBuildersKeepNetbirdDefaults() {
        RelayClientConfig d = RelayClientConfig.DEFAULT;
        assertEquals(Duration.ofSeconds(8), d.getHandshakeTimeout());
        assertEquals(Duration.ofSeconds(35), d.getHealthCheckTimeout());
        assertEquals(Duration.ofSeconds(30), d.getOpenConnTimeout());
        assertEquals(100, d.getConnQueueSize());
        assertEquals(10_000, d.getEarlyBufferCapacity());
        RelayClientConfig custom = RelayClientConfig.builder().connQueueSize(1000).backpressure(true).build();
        assertEquals(1000, custom.getConnQueueSize());
        assertThrows(IllegalArgumentException.class, () -> RelayClientConfig.builder().connQueueSize(0).build());
        ManagerConfig m = ManagerConfig.DEFAULT;
        assertEquals(Duration.ofSeconds(60), m.getCleanupInterval());
        assertEquals(Duration.ofSeconds(5), m.getKeepUnusedServerTime());
        assertEquals(Duration.ofMillis(1500), m.getQuickReconnectDelay());
    }
}
