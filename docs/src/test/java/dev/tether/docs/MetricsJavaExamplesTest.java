package dev.tether.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.micrometer.TransportMetrics;
import dev.tether.micrometer.WsClientMetrics;
import dev.tether.testkit.FakeBroker;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The Java example of metrics.md, against the testkit's FakeBroker. */
@Timeout(30)
class MetricsJavaExamplesTest {
    @Test
    void aWsClientWithMeters() throws Exception {
        try (FakeBroker broker = FakeBroker.start()) {
            // docs:start java-metrics
            MeterRegistry registry = new SimpleMeterRegistry();
            WsClientConfig config = WsClientConfig.builder()
                    .url(broker.getUrl())
                    .authToken(broker.getToken())
                    .handler(envelope -> { })
                    .observer(new TransportMetrics(registry, "broker"))
                    .build();
            try (WsClient client = new WsClient(config)) {
                new WsClientMetrics(client, "broker").bindTo(registry);
                client.start(); // connects, and reconnects until closed
                client.awaitConnectedAsync(Duration.ofSeconds(10)).get(15, TimeUnit.SECONDS);
                client.requestAsync(Envelope.request("echo", "{}")).get(10, TimeUnit.SECONDS);
                double sent = registry.get("tether.messages").tags("client", "broker", "direction", "out").counter().count();
                // docs:end java-metrics
                assertEquals(1.0, sent);
            }
        }
    }
}
