package dev.tether.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.micrometer.TransportMetrics;
import dev.tether.micrometer.TunnelMetrics;
import dev.tether.micrometer.WsClientMetrics;
import dev.tether.testkit.FakeBroker;
import dev.tether.testkit.tunnel.FakeTunnelProxy;
import dev.tether.tunnel.TunnelClient;
import dev.tether.tunnel.TunnelConfig;
import dev.tether.tunnel.TunnelStats;
import dev.tether.tunnel.TunnelTokens;
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
                double sent = registry.get("tether.messages")
                        .tags("client", "broker", "direction", "out")
                        .counter()
                        .count();
                // docs:end java-metrics
                assertEquals(1.0, sent);
            }
        }
    }
    @Test
    void aTunnelClientWithMeters() throws Exception {
        try (FakeTunnelProxy proxy = FakeTunnelProxy.start()) {
            // docs:start java-tunnel-metrics
            MeterRegistry registry = new SimpleMeterRegistry();
            TunnelConfig config = TunnelConfig.builder()
                    .id("my-tunnel")
                    .proxyUrl(proxy.getUrl())
                    .tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                    .observer(new TransportMetrics(registry, "tunnel"))
                    .build();
            try (TunnelClient tunnel = new TunnelClient(config)) {
                new TunnelMetrics(tunnel, "tunnel").bindTo(registry);
                tunnel.connectAsync().get(10, TimeUnit.SECONDS);
                TunnelStats stats = tunnel.stats(); // the same counts, as one snapshot
                // docs:end java-tunnel-metrics
                assertEquals(1L, stats.getRegistrations());
                assertEquals(1.0, registry.get("tether.tunnel.registrations")
                        .tags("client", "tunnel")
                        .functionCounter()
                        .count());
            }
        }
    }
}
