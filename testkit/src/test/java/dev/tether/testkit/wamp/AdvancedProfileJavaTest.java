package dev.tether.testkit.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tether.wamp.CallOptions;
import dev.tether.wamp.Event;
import dev.tether.wamp.Invocation;
import dev.tether.wamp.InvokePolicy;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.MatchPolicy;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.RegisterOptions;
import dev.tether.wamp.error.RpcException;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.SubscribeOptions;
import dev.tether.wamp.error.WampErrorException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The typed register, subscribe and publish options and the invocation and event accessors, from Java. */
@Timeout(60)
class AdvancedProfileJavaTest {
    private FakeWampRouter router;

    @BeforeEach
    void start() {
        router = FakeWampRouter.start();
    }

    @AfterEach
    void stop() {
        router.close();
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private WampSession connect(String url) throws Exception {
        return await(WampSession.connectAsync(url, SessionConfig.builder("realm1").build()));
    }

    @Test
    void sharedPatternRegistrationWithDisclosureAndAForwardedTimeout() throws Exception {
        try (WampSession a = connect(router.getTcpUrl());
             WampSession b = connect(router.getWsUrl());
             WampSession caller = connect(router.getTcpUrl())) {
            BlockingQueue<Invocation> invocations = new LinkedBlockingQueue<>();
            RegisterOptions shared = RegisterOptions.builder()
                .match(MatchPolicy.PREFIX)
                .invoke(InvokePolicy.ROUNDROBIN)
                .discloseCaller(true)
                .build();
            assertEquals(Map.of("match", "prefix", "invoke", "roundrobin", "disclose_caller", true), shared.toMap());
            for (WampSession callee : List.of(a, b)) {
                long id = callee.getId();
                await(callee.registerAsync("com.pool.", inv -> {
                    invocations.add(inv);
                    return CompletableFuture.completedFuture(InvokeResult.of(id));
                }, shared));
            }
            List<Object> answeredBy = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                answeredBy.add(await(caller.callAsync("com.pool.job" + i)).getArgs().get(0));
            }
            assertEquals(List.of(a.getId(), b.getId(), a.getId(), b.getId()), answeredBy);
            Invocation first = invocations.poll(10, TimeUnit.SECONDS);
            assertNotNull(first);
            assertEquals("com.pool.job0", first.getProcedure());
            assertEquals(caller.getId(), first.getCaller());
            assertEquals(caller.getAuthId(), first.getCallerAuthId());
            assertEquals("anonymous", first.getCallerAuthRole());
            assertNull(first.getTimeout());

            // Another policy for the same procedure is refused.
            ExecutionException refused =
                assertThrows(ExecutionException.class, () -> await(caller.registerAsync("com.pool.",
                inv -> CompletableFuture.completedFuture(InvokeResult.of()),
                RegisterOptions.builder().match(MatchPolicy.PREFIX).invoke(InvokePolicy.LAST).build())));
            assertEquals("wamp.error.procedure_already_exists",
                    assertInstanceOf(WampErrorException.class, refused.getCause()).getError());

            // forward_timeout: the callee sees the timeout, its future never completes, the session answers timeout.
            CompletableFuture<Duration> seen = new CompletableFuture<>();
            await(a.registerAsync("com.slow", inv -> {
                seen.complete(inv.getTimeout());
                return new CompletableFuture<>();
            }, RegisterOptions.builder().forwardTimeout(true).build()));
            ExecutionException timedOut =
                assertThrows(ExecutionException.class, () -> await(caller.callAsync("com.slow", List.of(), Map.of(),
                CallOptions.builder().timeout(Duration.ofMillis(300)).build())));
            RpcException error = assertInstanceOf(RpcException.class, timedOut.getCause());
            assertEquals("wamp.error.timeout", error.getError());
            assertEquals(List.of("call timeout"), error.getArgs());
            assertEquals(Duration.ofMillis(300), seen.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void patternSubscriptionsAndFilteredDisclosedPublications() throws Exception {
        try (WampSession subscriber = connect(router.getTcpUrl()); WampSession other = connect(router.getWsUrl());
             WampSession publisher = connect(router.getWsUrl())) {
            BlockingQueue<Event> events = new LinkedBlockingQueue<>();
            BlockingQueue<Event> otherEvents = new LinkedBlockingQueue<>();
            SubscribeOptions wildcard = SubscribeOptions.builder().match(MatchPolicy.WILDCARD).build();
            await(subscriber.subscribeAsync("com..status", events::add, wildcard));
            await(other.subscribeAsync("com..status", otherEvents::add, wildcard));

            PublishOptions onlySubscriber = PublishOptions.builder()
                .acknowledge(true)
                .eligible(subscriber.getId(), other.getId())
                .exclude(List.of(other.getId()))
                .discloseMe(true)
                .build();
            Long publication =
                await(publisher.publishAsync("com.printer.status", List.of("jammed"), Map.of(), onlySubscriber));
            assertNotNull(publication);
            Event event = events.poll(10, TimeUnit.SECONDS);
            assertNotNull(event);
            assertEquals("com.printer.status", event.getTopic());
            assertEquals(List.of("jammed"), event.getArgs());
            assertEquals(publisher.getId(), event.getPublisher());
            assertEquals(publisher.getAuthId(), event.getPublisherAuthId());
            assertEquals("anonymous", event.getPublisherAuthRole());

            // Both receive the next one, in order after the first: `other` got nothing before it.
            PublishOptions acknowledged = PublishOptions.builder().acknowledge().build();
            await(publisher.publishAsync("com.door.status", List.of("open"), Map.of(), acknowledged));
            Event next = otherEvents.poll(10, TimeUnit.SECONDS);
            assertNotNull(next);
            assertEquals("com.door.status", next.getTopic());
            assertNull(next.getPublisher());
            assertEquals("com.door.status", events.poll(10, TimeUnit.SECONDS).getTopic());
        }
    }
}
