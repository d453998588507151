package dev.tether.testkit.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.ConnectionEvent;
import dev.tether.wamp.Event;
import dev.tether.wamp.IdsByMatchPolicy;
import dev.tether.wamp.InvokePolicy;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.MatchPolicy;
import dev.tether.wamp.MetaChange;
import dev.tether.wamp.MetaTopic;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.RegistrationInfo;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.SessionInfo;
import dev.tether.wamp.SessionLeft;
import dev.tether.wamp.SubscriptionInfo;
import dev.tether.wamp.TestamentScope;
import dev.tether.wamp.WampClient;
import dev.tether.wamp.WampMeta;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.error.RpcException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Java face of the meta API and of testaments, on a session and on a WampClient. */
class WampMetaJavaTest {
    private FakeWampRouter router;

    @BeforeEach
    void start() {
        router = FakeWampRouter.start(FakeWampRouterConfig.builder().realm("realm1").build());
    }

    @AfterEach
    void stop() {
        router.close();
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private static <T> T poll(LinkedBlockingQueue<T> q) throws InterruptedException {
        T item = q.poll(10, TimeUnit.SECONDS);
        if (item == null) throw new AssertionError("nothing arrived within 10 s");
        return item;
    }

    @Test
    void metaProceduresAndEventsWithFutures() throws Exception {
        SessionConfig config = SessionConfig.builder("realm1").build();
        try (WampSession admin = await(WampSession.connectAsync(router.getWsUrl(), config))) {
            WampMeta meta = admin.getMeta();
            LinkedBlockingQueue<SessionInfo> joins = new LinkedBlockingQueue<>();
            LinkedBlockingQueue<SessionLeft> leaves = new LinkedBlockingQueue<>();
            LinkedBlockingQueue<MetaChange> registered = new LinkedBlockingQueue<>();
            await(meta.subscribeAsync(MetaTopic.SESSION_ON_JOIN, joins::add));
            await(meta.subscribeAsync(MetaTopic.SESSION_ON_LEAVE, leaves::add));
            await(meta.subscribeAsync(MetaTopic.REGISTRATION_ON_REGISTER, registered::add));

            WampSession other = await(WampSession.connectAsync(router.getTcpUrl(), config));
            assertEquals(other.getId(), poll(joins).getId());
            assertEquals(2L, await(meta.sessionCountAsync()));
            assertEquals(List.of(admin.getId(), other.getId()), await(meta.sessionListAsync()));
            assertEquals("anonymous", await(meta.sessionGetAsync(other.getId())).getAuthRole());
            ExecutionException noSession =
                assertThrows(ExecutionException.class, () -> await(meta.sessionGetAsync(12345)));
            assertEquals(WampMeta.NO_SUCH_SESSION, assertInstanceOf(RpcException.class, noSession.getCause()).getError());

            long reg = await(other.registerAsync(
                "com.java.meta", inv -> CompletableFuture.completedFuture(InvokeResult.of()), Map.of("invoke", "last")));
            assertEquals(new MetaChange(other.getId(), reg), poll(registered));
            assertEquals(new IdsByMatchPolicy(List.of(reg), List.of(), List.of()), await(meta.registrationListAsync()));
            assertEquals(reg, await(meta.registrationLookupAsync("com.java.meta")));
            assertNull(await(meta.registrationLookupAsync("com.java.meta", MatchPolicy.PREFIX)));
            assertEquals(reg, await(meta.registrationMatchAsync("com.java.meta")));
            assertEquals(
                new RegistrationInfo(reg, "com.java.meta", MatchPolicy.EXACT, InvokePolicy.LAST, null),
                await(meta.registrationGetAsync(reg)));
            assertEquals(List.of(other.getId()), await(meta.registrationListCalleesAsync(reg)));
            assertEquals(1L, await(meta.registrationCountCalleesAsync(reg)));

            long sub = await(other.subscribeAsync("com.java.topic", e -> { }));
            // The admin's three meta event subscriptions are listed too.
            assertEquals(4, await(meta.subscriptionListAsync()).getExact().size());
            assertTrue(await(meta.subscriptionListAsync()).getExact().contains(sub));
            assertEquals(sub, await(meta.subscriptionLookupAsync("com.java.topic")));
            assertEquals(List.of(sub), await(meta.subscriptionMatchAsync("com.java.topic")));
            assertEquals(
                new SubscriptionInfo(sub, "com.java.topic", MatchPolicy.EXACT, null),
                await(meta.subscriptionGetAsync(sub)));
            assertEquals(List.of(other.getId()), await(meta.subscriptionListSubscribersAsync(sub)));
            assertEquals(1L, await(meta.subscriptionCountSubscribersAsync(sub)));

            await(meta.unsubscribeAsync(MetaTopic.SESSION_ON_JOIN));
            await(meta.sessionKillAsync(other.getId(), "com.java.kicked", "bye"));
            assertEquals(other.getId(), poll(leaves).getSession());
            await(other.closedFuture());

            WampSession a = await(WampSession.connectAsync(router.getWsUrl(), config));
            WampSession b = await(WampSession.connectAsync(router.getWsUrl(), config));
            assertEquals(1L, await(meta.sessionKillByAuthIdAsync(a.getAuthId())));
            assertEquals(0L, await(meta.sessionKillByAuthRoleAsync("nobody-has-it")));
            assertEquals(1L, await(meta.sessionKillAllAsync("wamp.close.system_shutdown", null)));
            await(a.closedFuture());
            await(b.closedFuture());
            assertEquals(null, joins.poll()); // unsubscribed before a and b joined
        }
    }

    @Test
    void testamentsOnASessionAndOnAClient() throws Exception {
        SessionConfig config = SessionConfig.builder("realm1").build();
        try (WampSession listener = await(WampSession.connectAsync(router.getWsUrl(), config));
             WampClient client = new WampClient(router.getWsUrl(), config)) {
            LinkedBlockingQueue<Event> gone = new LinkedBlockingQueue<>();
            await(listener.subscribeAsync("com.java.gone", gone::add));

            WampSession session = await(WampSession.connectAsync(router.getTcpUrl(), config));
            await(session.addTestamentAsync("com.java.gone", List.of("flushed")));
            await(session.flushTestamentsAsync());
            await(session.addTestamentAsync(
                "com.java.gone", List.of("session"), Map.of(), PublishOptions.builder().discloseMe(true).build(),
                TestamentScope.DETACHED));
            router.getFaults().drop(session.getId());
            Event e = poll(gone);
            assertEquals(List.of("session"), e.getArgs());
            assertEquals(session.getId(), e.getPublisher());

            LinkedBlockingQueue<ConnectionEvent> events = new LinkedBlockingQueue<>();
            client.onEvent(events::add);
            await(client.connectAsync());
            await(client.addTestamentAsync("com.java.gone", List.of("client")));
            for (int drop = 0; drop < 2; drop++) {
                // Each new session carries the testament again: the router published it for the old one.
                router.getFaults().drop(client.getSession().getId());
                assertEquals(List.of("client"), poll(gone).getArgs());
                while (!(poll(events) instanceof ConnectionEvent.Disconnected)) { }
                while (!(poll(events) instanceof ConnectionEvent.Connected)) { }
            }
            // Flushed, it is gone: closing the client publishes nothing; the marker is the next event.
            await(client.flushTestamentsAsync(TestamentScope.DESTROYED));
            await(client.closeAsync());
            await(listener.publishAsync(
                "com.java.gone", List.of("marker"), Map.of(),
                PublishOptions.builder().acknowledge(true).excludeMe(false).build()));
            assertEquals(List.of("marker"), poll(gone).getArgs());
        }
    }
}
