package dev.tether.testkit.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.wamp.error.AbortException;
import dev.tether.wamp.CallOptions;
import dev.tether.wamp.CallResult;
import dev.tether.wamp.CancelMode;
import dev.tether.wamp.Event;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.error.RpcException;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.auth.AuthHandler;
import dev.tether.wamp.serializer.Serialization;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Java face of the WAMP session and of the router: futures, builders, functional handlers. */
class WampRouterJavaTest {
    private FakeWampRouter router;

    @BeforeEach
    void start() {
        router =
            FakeWampRouter.start(FakeWampRouterConfig.builder().realm("realm1").ticketUser("joe", "s3cret").build());
    }

    @AfterEach
    void stop() {
        router.close();
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    @Test
    void registerCallPublishSubscribeWithFutures() throws Exception {
        SessionConfig config = SessionConfig.builder("realm1").serialization(Serialization.MSGPACK).build();
        try (WampSession callee = await(WampSession.connectAsync(router.getTcpUrl(), config));
             WampSession caller = await(WampSession.connectAsync(router.getWsUrl(), config))) {
            long regId = await(callee.registerAsync("com.add", inv -> {
                long a = (Long) inv.getArgs().get(0);
                long b = (Long) inv.getArgs().get(1);
                if (a < 0) {
                    return CompletableFuture.failedFuture(new RpcException("com.error.negative", List.of(a)));
                }
                return CompletableFuture.completedFuture(InvokeResult.of(a + b));
            }));
            assertEquals(regId, callee.registrationId("com.add"));

            CallResult result = await(caller.callAsync("com.add", List.of(2, 3)));
            assertEquals(List.of(5L), result.getArgs());

            ExecutionException failed =
                assertThrows(ExecutionException.class, () -> await(caller.callAsync("com.add", List.of(-1, 3))));
            RpcException rpc = assertInstanceOf(RpcException.class, failed.getCause());
            assertEquals("com.error.negative", rpc.getError());
            assertEquals(List.of(-1L), rpc.getArgs());

            LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
            long subId = await(callee.subscribeAsync("com.topic", events::add));
            assertEquals(subId, callee.subscriptionId("com.topic"));
            Long publication =
                await(caller.publishAsync(
                        "com.topic", List.of("hello"), Map.of("k", true), Map.of("acknowledge", true)));
            assertNotNull(publication);
            Event event = events.poll(10, TimeUnit.SECONDS);
            assertNotNull(event);
            assertEquals(List.of("hello"), event.getArgs());
            assertEquals(Map.of("k", true), event.getKwargs());

            await(callee.unsubscribeAsync("com.topic"));
            await(callee.unregisterAsync("com.add"));
            await(caller.leaveAsync());
            assertTrue(await(caller.closedFuture()).getMessage().contains("closed"));
        }
    }

    @Test
    void typedCallOptionsFromJava() throws Exception {
        SessionConfig config = SessionConfig.builder("realm1").cancelMode(CancelMode.KILL).build();
        try (WampSession callee = await(WampSession.connectAsync(router.getTcpUrl(), config));
             WampSession caller = await(WampSession.connectAsync(router.getWsUrl(), config))) {
            CompletableFuture<Map<String, Object>> seen = new CompletableFuture<>();
            // A fresh future per invocation: the INTERRUPT after the timeout cancels the first one, and a
            // cancelled future handed back for the second call would fail that call at once.
            await(callee.registerAsync("com.hang", inv -> {
                seen.complete(inv.getDetails());
                return new CompletableFuture<InvokeResult>();
            }));
            CallOptions options = CallOptions.builder().timeout(Duration.ofMillis(200)).discloseMe(true)
                .cancelMode(CancelMode.KILL_NO_WAIT).build();
            assertEquals(Map.of("timeout", 200L, "disclose_me", true), options.toMap());
            ExecutionException timedOut = assertThrows(ExecutionException.class,
                () -> await(caller.callAsync("com.hang", List.of(1), Map.of(), options)));
            assertEquals("wamp.error.timeout", assertInstanceOf(RpcException.class, timedOut.getCause()).getError());
            assertEquals(caller.getId(), seen.get(10, TimeUnit.SECONDS).get("caller"));
            // Cancelling the future cancels the call with the options' mode (killnowait: answered at once).
            CompletableFuture<CallResult> cancelled = caller.callAsync("com.hang", List.of(), Map.of(),
                CallOptions.builder().cancelMode(CancelMode.KILL_NO_WAIT).build());
            cancelled.cancel(true);
            assertTrue(cancelled.isCancelled());
        }
    }

    @Test
    void ticketAuthAndAbortAsTypedException() throws Exception {
        SessionConfig good = SessionConfig.builder("realm1").authId("joe")
            .authHandler("ticket", AuthHandler.ticket("s3cret")).responseTimeout(Duration.ofSeconds(5)).build();
        try (WampSession s = await(WampSession.connectAsync(router.getTcpUrl(), good))) {
            assertEquals("joe", s.getAuthId());
            assertEquals("user", s.getAuthRole());
        }
        SessionConfig bad = good.toBuilder().authHandler("ticket", AuthHandler.ticket("wrong")).build();
        ExecutionException e =
            assertThrows(ExecutionException.class, () -> await(WampSession.connectAsync(router.getTcpUrl(), bad)));
        AbortException abort = assertInstanceOf(AbortException.class, e.getCause());
        assertEquals("wamp.error.authentication_failed", abort.getReason());
    }

    @Test
    void progressiveResultsWithAListenerAndSendProgressAsync() throws Exception {
        SessionConfig config = SessionConfig.builder("realm1").build();
        try (WampSession callee = await(WampSession.connectAsync(router.getWsUrl(), config));
             WampSession caller = await(WampSession.connectAsync(router.getTcpUrl(), config))) {
            await(callee.registerAsync("com.count", inv -> {
                long n = (Long) inv.getArgs().get(0);
                CompletableFuture<Void> sent = CompletableFuture.completedFuture(null);
                for (long i = 1; i <= n; i++) {
                    long chunk = i;
                    sent = sent.thenCompose(ignored -> inv.sendProgressAsync(List.of(chunk)));
                }
                return sent.thenApply(ignored -> InvokeResult.of("done"));
            }));
            List<Object> chunks = new java.util.concurrent.CopyOnWriteArrayList<>();
            CallResult result =
                await(caller.callProgressAsync(
                        "com.count", List.of(4), progress -> chunks.add(progress.getArgs().get(0))));
            assertEquals(List.of("done"), result.getArgs());
            assertEquals(List.of(1L, 2L, 3L, 4L), chunks);  // all delivered, in order, before the future completed

            // Without receive_progress the callee's sendProgressAsync fails and the call gets the handler's error.
            ExecutionException refused =
                assertThrows(ExecutionException.class, () -> await(caller.callAsync("com.count", List.of(1))));
            assertInstanceOf(RpcException.class, refused.getCause());
        }
    }

    @Test
    void tlsRouterWithTheTestCertificate() throws Exception {
        try (FakeWampRouter tls = FakeWampRouter.start(FakeWampRouterConfig.builder().tls().build())) {
            SessionConfig trusting =
                SessionConfig.builder("realm1").trustManager(FakeWampRouterTls.getTrustManager()).build();
            for (String url : List.of(tls.getWssUrl(), tls.getTcpsUrl())) {
                try (WampSession s = await(WampSession.connectAsync(url, trusting))) {
                    assertTrue(s.isOpen());
                }
                ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> await(WampSession.connectAsync(url, SessionConfig.builder("realm1").build())));
                assertInstanceOf(dev.tether.core.DialFailedException.class, refused.getCause());
            }
        }
    }

    @Test
    void connectLocalNeedsNoSocket() throws Exception {
        try (WampSession s = await(router.connectLocalAsync(SessionConfig.builder("realm1").build()))) {
            CallResult count = await(s.callAsync("wamp.session.count"));
            assertEquals(List.of(1L), count.getArgs());
        }
    }

    @Test
    void sessionIdAndRealmDetailsFromJava() throws Exception {
        SessionConfig config =
            SessionConfig.builder("realm1").authId("joe").authHandler("ticket", AuthHandler.ticket("s3cret")).build();
        try (WampSession s = await(WampSession.connectAsync(router.getWsUrl(), config))) {
            long id = s.getId();
            assertTrue(id > 0 && id <= 9007199254740992L);
            assertTrue(router.sessionIds("realm1").contains(id));
            Map<String, Object> details = s.getRealmDetails();
            assertEquals("joe", details.get("authid"));
            assertEquals("user", details.get("authrole"));
            assertEquals("ticket", details.get("authmethod"));
            assertInstanceOf(Map.class, details.get("roles"));
        }
    }

    @Test
    void clientCertificateFromAnSslContextAndACustomDial() throws Exception {
        try (FakeWampRouter tls = FakeWampRouter.start(FakeWampRouterConfig.builder().tlsClientAuth().build())) {
            java.util.concurrent.atomic.AtomicInteger dials = new java.util.concurrent.atomic.AtomicInteger();
            dev.tether.wamp.transport.SocketDialer dialer = (host, port, timeout) -> {
                dials.incrementAndGet();
                java.net.Socket socket = new java.net.Socket();
                socket.connect(new java.net.InetSocketAddress(host, port), (int) timeout.toMillis());
                return socket;
            };
            SessionConfig config = SessionConfig.builder("realm1")
                .sslContext(FakeWampRouterTls.clientSslContext())
                .socketDialer(dialer)
                .build();
            for (String url : List.of(tls.getWssUrl(), tls.getTcpsUrl())) {
                try (WampSession s = await(WampSession.connectAsync(url, config))) {
                    assertEquals(List.of(1L), await(s.callAsync("wamp.session.count")).getArgs());
                }
            }
            assertEquals(1, dials.get()); // the dial hook serves tcp/tcps; wss dials on its own
        }
    }

    /** Keeps the formatted messages of every level. */
    static final class CapturingLogger extends org.slf4j.helpers.LegacyAbstractLogger {
        final List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override public String getName() { return "capture"; }
        @Override public boolean isTraceEnabled() { return true; }
        @Override public boolean isDebugEnabled() { return true; }
        @Override public boolean isInfoEnabled() { return true; }
        @Override public boolean isWarnEnabled() { return true; }
        @Override public boolean isErrorEnabled() { return true; }
        @Override protected String getFullyQualifiedCallerName() { return null; }

        @Override
        protected void handleNormalizedLoggingCall(org.slf4j.event.Level level, org.slf4j.Marker marker, String pattern,
                                                   Object[] arguments, Throwable throwable) {
            lines.add(level + " " + org.slf4j.helpers.MessageFormatter.basicArrayFormat(pattern, arguments));
        }
    }

    @Test
    void theSessionLogsToItsOwnLogger() throws Exception {
        CapturingLogger logger = new CapturingLogger();
        WampSession s =
            await(WampSession.connectAsync(router.getTcpUrl(), SessionConfig.builder("realm1").logger(logger).build()));
        router.close(); // GOODBYE system_shutdown to every session
        assertTrue(await(s.closedFuture()).getMessage().contains("system_shutdown"));
        assertTrue(logger.lines.stream().anyMatch(
                        l -> l.startsWith("INFO") && l.contains("router said GOODBYE wamp.close.system_shutdown")),
            logger.lines.toString());
        s.close();
        router = FakeWampRouter.start(); // for stop()
    }
}
