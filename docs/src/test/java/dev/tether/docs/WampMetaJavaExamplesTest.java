package dev.tether.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testkit.wamp.FakeWampRouter;
import dev.tether.wamp.MetaChange;
import dev.tether.wamp.MetaTopic;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.SessionInfo;
import dev.tether.wamp.TestamentScope;
import dev.tether.wamp.WampMeta;
import dev.tether.wamp.WampSession;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The Java examples of wamp.md's "Meta API and testaments" section. */
@Timeout(30)
class WampMetaJavaExamplesTest {
    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(15, TimeUnit.SECONDS);
    }

    @Test
    void metaAndTestament() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            SessionConfig config = SessionConfig.builder("realm1").build();
            WampSession session = await(WampSession.connectAsync(router.getWsUrl(), config));
            LinkedBlockingQueue<MetaChange> subscribed = new LinkedBlockingQueue<>();
            // docs:start java-meta
            WampMeta meta = session.getMeta();
            await(meta.subscribeAsync(MetaTopic.SUBSCRIPTION_ON_SUBSCRIBE, subscribed::add));
            long sessions = await(meta.sessionCountAsync());
            List<Long> ids = await(meta.sessionListAsync(List.of("anonymous"))); // by authrole
            SessionInfo me = await(meta.sessionGetAsync(session.getId()));
            // docs:end java-meta
            assertEquals(1L, sessions);
            assertEquals(List.of(session.getId()), ids);
            assertEquals(session.getId(), me.getId());

            WampSession device = await(WampSession.connectAsync(router.getTcpUrl(), config));
            LinkedBlockingQueue<Object> offline = new LinkedBlockingQueue<>();
            await(session.subscribeAsync("com.acme.presence.offline", e -> offline.add(e.getArgs())));
            assertEquals(session.getId(), subscribed.poll(10, TimeUnit.SECONDS).getSession());
            // docs:start java-testament
            PublishOptions options = PublishOptions.builder().discloseMe(true).build();
            await(device.addTestamentAsync(
                "com.acme.presence.offline", List.of("device-7"), Map.of(), options, TestamentScope.DESTROYED));
            // docs:end java-testament
            await(meta.sessionKillAsync(device.getId()));
            assertEquals(List.of("device-7"), offline.poll(10, TimeUnit.SECONDS));
            session.close();
        }
    }
}
