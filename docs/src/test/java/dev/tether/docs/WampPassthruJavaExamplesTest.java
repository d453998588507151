package dev.tether.docs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testkit.wamp.FakeWampRouter;
import dev.tether.testkit.wamp.FakeWampRouterConfig;
import dev.tether.wamp.CallOptions;
import dev.tether.wamp.CallResult;
import dev.tether.wamp.EventHistory;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.MatchPolicy;
import dev.tether.wamp.PayloadPassthru;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.SubscribeOptions;
import dev.tether.wamp.WampClient;
import dev.tether.wamp.WampSession;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The Java examples of wamp.md's payload passthru, event history and match-policy sections. */
@Timeout(30)
class WampPassthruJavaExamplesTest {
    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(15, TimeUnit.SECONDS);
    }

    @Test
    void passthruAndHistory() throws Exception {
        FakeWampRouterConfig routerConfig = FakeWampRouterConfig.builder().eventHistory("com.acme.log", 50).build();
        try (FakeWampRouter router = FakeWampRouter.start(routerConfig)) {
            SessionConfig config = SessionConfig.builder("realm1").build();
            WampSession callee = await(WampSession.connectAsync(router.getTcpUrl(), config));
            WampSession session = await(WampSession.connectAsync(router.getWsUrl(), config));
            byte[] cborBytes = {(byte) 0xA1, 0x61, 0x6B, 0x01};
            // docs:start java-passthru
            PayloadPassthru ppt = PayloadPassthru.of("x_acme", "cbor");
            await(callee.registerAsync("com.acme.store", inv -> CompletableFuture.completedFuture(
                    InvokeResult.passthru(inv.getPayloadPassthru(), inv.getPassthruPayload()))));
            CallOptions options = CallOptions.builder().payloadPassthru(ppt).build();
            CallResult result = await(session.callAsync("com.acme.store", List.of(cborBytes), Map.of(), options));
            byte[] echoed = result.getPassthruPayload(); // the same bytes, never re-encoded
            // docs:end java-passthru
            assertArrayEquals(cborBytes, echoed);

            // docs:start java-event-history
            PublishOptions ack = PublishOptions.builder().acknowledge(true).build();
            await(session.publishAsync("com.acme.log", List.of("started"), Map.of(), ack));
            long sub = await(session.subscribeAsync("com.acme.log", event -> { }));
            EventHistory history = await(session.eventHistoryAsync(sub, 10));
            List<Object> first = history.getEvents().get(0).getArgs(); // ["started"]
            // docs:end java-event-history
            assertEquals(List.of("started"), first);
            await(session.closeAsync());
            await(callee.closeAsync());
        }
    }

    @Test
    void removeBySubscriptionPolicy() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            WampClient client = await(new WampClient(router.getTcpUrl(), SessionConfig.builder("realm1").build())
                    .connectAsync());
            // docs:start java-unsubscribe-by-policy
            await(client.subscribeAsync("com.app.", event -> { }));
            await(client.subscribeAsync("com.app.", event -> { },
                    SubscribeOptions.builder().match(MatchPolicy.PREFIX).build()));
            // Two subscriptions of one URI: name the one to remove.
            await(client.unsubscribeAsync("com.app.", MatchPolicy.PREFIX));
            // docs:end java-unsubscribe-by-policy
            assertEquals(List.of("com.app."), client.getTopics());
            await(client.closeAsync());
        }
    }
}
