package dev.tether.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.core.backoff.ExponentialBackoff;
import dev.tether.wamp.ReconnectPolicy;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.WampClient;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** WampClientMetrics from Java: bound to a client that cannot connect, its meters count the failed attempts. */
class WampMetricsJavaTest {

    @Test
    void aClientsFailedAttemptsAndItsSessionMetersReachTheRegistry() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = free.getLocalPort();
        }
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ReconnectPolicy policy = ReconnectPolicy.builder()
            .backoff(ExponentialBackoff.builder().minDelay(Duration.ofMillis(10)).build())
            .maxAttempts(3)
            .build();
        WampClient client =
            new WampClient("ws://127.0.0.1:" + port + "/", SessionConfig.builder("realm1").build(), policy);
        new WampClientMetrics(client, "java", Tags.of("env", "test")).bindTo(registry);
        client.start();
        client.closedFuture().get(20, TimeUnit.SECONDS);

        assertEquals(3.0, registry.get("tether.wamp.join.failures")
            .tags("client", "java", "env", "test", "cause", "connection").functionCounter().count());
        assertEquals(0.0, registry.get("tether.wamp.sessions.joined").tags("client", "java").functionCounter().count());
        assertEquals(0.0, registry.get("tether.wamp.session.open").tags("client", "java").gauge().value());
        assertEquals(0.0, registry.get("tether.wamp.calls").tags("client", "java", "outcome", "answered")
            .functionCounter().count());
        assertEquals(0L, registry.get("tether.wamp.call.rtt").tags("client", "java").functionTimer().count(), 0.0);
    }
}
