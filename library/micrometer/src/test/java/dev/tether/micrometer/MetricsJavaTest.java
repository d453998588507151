package dev.tether.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.core.DialerConfig;
import dev.tether.core.WebSocketConnection;
import dev.tether.core.WebSocketDialer;
import dev.tether.mux.MuxSession;
import dev.tether.mux.Stream;
import dev.tether.testkit.FakeBroker;
import dev.tether.testkit.mux.FakeMuxServer;
import dev.tether.testkit.tunnel.FakeTunnelProxy;
import dev.tether.testkit.wamp.FakeWampRouter;
import dev.tether.tunnel.TunnelClient;
import dev.tether.tunnel.TunnelConfig;
import dev.tether.tunnel.TunnelTokens;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.WampSession;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
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
    @Test
    void aMuxSessionAndATunnelClientAreMeteredFromJava() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (FakeMuxServer fake = FakeMuxServer.start();
                WebSocketDialer dialer = new WebSocketDialer(DialerConfig.builder().url(fake.getUrl()).build())) {
            WebSocketConnection connection = dialer.dialAsync().get(10, TimeUnit.SECONDS);
            try (MuxSession session = MuxSession.client(connection)) {
                new MuxMetrics(session, "mux").bindTo(registry);
                Stream stream = session.openAsync().get(10, TimeUnit.SECONDS);
                stream.outputStream().write(new byte[10]);
                assertEquals(1.0, registry.get("tether.mux.streams").tags("client", "mux", "direction", "out")
                        .functionCounter().count());
                assertEquals(10.0, registry.get("tether.mux.bytes").tags("client", "mux", "direction", "out")
                        .functionCounter().count());
                assertEquals(1.0, registry.get("tether.mux.streams.open").tags("client", "mux").gauge().value());
            }
        }
        try (FakeTunnelProxy proxy = FakeTunnelProxy.start()) {
            TunnelConfig config = TunnelConfig.builder()
                    .id("java-metered").proxyUrl(proxy.getUrl())
                    .tokenGenerator(TunnelTokens.generator(TunnelTokens.TEST_SECRET))
                    .build();
            try (TunnelClient tunnel = new TunnelClient(config)) {
                new TunnelMetrics(tunnel, "tunnel", List.of()).bindTo(registry);
                tunnel.connectAsync().get(10, TimeUnit.SECONDS);
                assertEquals(1.0, registry.get("tether.tunnel.registrations").tags("client", "tunnel")
                        .functionCounter().count());
                assertEquals(1.0, registry.get("tether.tunnel.connected").tags("client", "tunnel").gauge().value());
                assertEquals(0.0, registry.get("tether.tunnel.viewers.active").tags("client", "tunnel").gauge().value());
            }
        }
    }

    @Test
    void aWampSessionIsMeteredFromJava() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (FakeWampRouter router = FakeWampRouter.start()) {
            SessionConfig config = SessionConfig.builder("realm1").build();
            WampSession subscriber = WampSession.connectAsync(router.getWsUrl(), config).get(10, TimeUnit.SECONDS);
            WampSession publisher = WampSession.connectAsync(router.getWsUrl(), config).get(10, TimeUnit.SECONDS);
            new WampSessionMetrics(subscriber, "wamp").bindTo(registry);
            CountDownLatch received = new CountDownLatch(2);
            subscriber.subscribeAsync("demo.topic", event -> received.countDown()).get(10, TimeUnit.SECONDS);
            PublishOptions acknowledged = PublishOptions.builder().acknowledge(true).build();
            publisher.publishAsync("demo.topic", List.of("a"), Map.of(), acknowledged).get(10, TimeUnit.SECONDS);
            publisher.publishAsync("demo.topic", List.of("b"), Map.of(), acknowledged).get(10, TimeUnit.SECONDS);
            assertEquals(true, received.await(10, TimeUnit.SECONDS));
            assertEquals(2.0, registry.get("tether.wamp.events").tags("client", "wamp").functionCounter().count());
            assertEquals(0.0, registry.get("tether.wamp.events.dropped").tags("client", "wamp")
                    .functionCounter().count());
            assertEquals(1.0, registry.get("tether.wamp.session.open").tags("client", "wamp").gauge().value());
            publisher.closeAsync().get(10, TimeUnit.SECONDS);
            subscriber.closeAsync().get(10, TimeUnit.SECONDS);
            assertEquals(0.0, registry.get("tether.wamp.session.open").tags("client", "wamp").gauge().value());
        }
    }
}
