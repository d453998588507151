package dev.tether.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.core.backoff.ExponentialBackoff;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** WampClient.stats() and its SessionStats from Java: getters, the failure causes as an enum-keyed map. */
class WampStatsJavaTest {

    @Test
    void aClientThatNeverJoinedCountsItsFailedAttemptsByCause() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = free.getLocalPort();
        }
        ReconnectPolicy policy = ReconnectPolicy.builder()
            .backoff(ExponentialBackoff.builder().minDelay(Duration.ofMillis(10)).build())
            .maxAttempts(2)
            .build();
        WampClient client =
            new WampClient("tcp://127.0.0.1:" + port, SessionConfig.builder("realm1").build(), policy);
        client.start();
        client.closedFuture().get(20, TimeUnit.SECONDS);

        WampClientStats stats = client.stats();
        assertEquals(2L, stats.getAttemptsFailed().get(WampJoinFailure.CONNECTION));
        assertEquals(0L, stats.getAttemptsFailed().get(WampJoinFailure.AUTH));
        assertEquals(2L, stats.getAttemptsFailedTotal());
        assertEquals(0L, stats.getSessionsJoined());
        assertEquals(0L, stats.getReconnects());
        SessionStats session = stats.getSession();
        assertEquals(0L, session.getCallsAnswered());
        assertEquals(0, session.getRequestsPending());
        assertEquals(0, session.getInvocationsRunning());
    }
}
