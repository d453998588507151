package dev.tether.docs;

import dev.tether.testkit.FakeBroker;
import dev.tether.testkit.FakeBrokerConfig;
import dev.tether.testkit.junit.FakeBrokerExtension;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** One broker for a whole test class, with options; quoted in docs/testkit.md. */
class JUnitSharedBrokerTest {

    // docs:start junit-per-class
    @RegisterExtension  // static: one broker for every test of the class
    static FakeBrokerExtension fake = FakeBrokerExtension.perClass(FakeBrokerConfig.builder()
            .tokens("ci-token")
            .pingInterval(Duration.ofMillis(50))   // server pings every 50 ms
            .pongTimeout(Duration.ofMillis(200))
            .build());

    @Test
    void serverPingsAreAnsweredWithoutAnyCode() throws Exception {
        WsClientConfig config = WsClientConfig.builder()
                .url(fake.getUrl())
                .authToken(fake.getServer().getToken())
                .handler(frame -> { })
                .build();
        try (WsClient client = new WsClient(config)) {
            client.start();
            Envelope reply = client.requestAsync(Envelope.request("echo", "\"hi\"")).get(10, TimeUnit.SECONDS);
            assertEquals("\"hi\"", reply.getPayload());
            // ten server pings, each answered by the client's WebSocket layer without any code of ours
            fake.getServer().awaitAnsweredPingsAsync(10, Duration.ofSeconds(10)).get(15, TimeUnit.SECONDS);
            assertEquals(0L, client.stats().getDrops());
        }
    }
    // docs:end junit-per-class

    @Test
    void theSameBrokerServesEveryTest() {
        assertEquals("ci-token", fake.getServer().getToken());
    }
}
