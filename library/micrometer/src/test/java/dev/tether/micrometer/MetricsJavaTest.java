package dev.tether.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.core.DialerConfig;
import dev.tether.core.WebSocketConnection;
import dev.tether.core.WebSocketDialer;
import dev.tether.testkit.FakeBroker;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The binding from Java: an observer on a plain dialer and on a wsclient, and the client's own meters. */
class MetricsJavaTest {
    @Test
    void aDialerAndAWsClientAreMeteredFromJava() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (FakeBroker broker = FakeBroker.start()) {
            DialerConfig refused = DialerConfig.builder()
                    .url(broker.getUrl()).token("wrong")
                    .pingInterval(Duration.ZERO)
                    .observer(new TransportMetrics(registry, "raw"))
                    .build();
            try (WebSocketDialer dialer = new WebSocketDialer(refused)) {
                dialer.dialAsync().handle((c, e) -> null).get(10, TimeUnit.SECONDS);
            }
            assertEquals(1.0, registry.get("tether.dial.failures").tags("client", "raw", "cause", "auth").counter().count());

            WsClientConfig config = WsClientConfig.builder()
                    .url(broker.getUrl()).authToken(broker.getToken())
                    .handler(envelope -> { })
                    .observer(new TransportMetrics(registry, "broker", List.of()))
                    .build();
            try (WsClient client = new WsClient(config)) {
                new WsClientMetrics(client, "broker").bindTo(registry);
                client.start(); // connects, and reconnects until closed
                client.awaitConnectedAsync(Duration.ofSeconds(10)).get(15, TimeUnit.SECONDS);
                client.requestAsync(Envelope.request("echo", "{}")).get(10, TimeUnit.SECONDS);
                assertEquals(1.0, registry.get("tether.messages").tags(Tags.of("client", "broker", "direction", "out")).counter().count());
                assertEquals(0.0, registry.get("tether.wsclient.pending").tags("client", "broker").gauge().value());
                assertEquals(1.0, registry.get("tether.connections.active").tags("client", "broker").gauge().value());
            }
        }
    }
}
