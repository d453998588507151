package dev.tether.docs;

import dev.tether.testkit.wamp.FakeWampRouter;
import dev.tether.testkit.wamp.FakeWampRouterConfig;
import dev.tether.testkit.wamp.FakeWampRouterTls;
import dev.tether.wamp.error.AbortException;
import dev.tether.wamp.CallChunk;
import dev.tether.wamp.CallResult;
import dev.tether.wamp.CallOptions;
import dev.tether.wamp.CancelMode;
import dev.tether.wamp.Event;
import dev.tether.wamp.InvokePolicy;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.MatchPolicy;
import dev.tether.wamp.PublishOptions;
import dev.tether.wamp.RegisterOptions;
import dev.tether.wamp.error.RpcException;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.SubscribeOptions;
import dev.tether.wamp.message.WampValues;
import dev.tether.wamp.WampClient;
import dev.tether.wamp.ReconnectPolicy;
import dev.tether.core.ConnectionEvent;
import dev.tether.core.backoff.ExponentialBackoff;
import dev.tether.wamp.auth.AuthHandler;
import dev.tether.wamp.serializer.Serialization;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The Java examples of wamp.md, run against the testkit's FakeWampRouter. */
@Timeout(30)
class WampJavaExamplesTest {

    @Test
    void quickStart() throws Exception {
        // docs:start java-quickstart
        try (FakeWampRouter router = FakeWampRouter.start();
             WampSession session = WampSession.connectAsync(router.getTcpUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS)) {

            // RPC: the handler returns a future of the result; fail it with RpcException to answer an ERROR.
            session.registerAsync("com.example.add", inv -> CompletableFuture.completedFuture(
                    InvokeResult.of(WampValues.asLong(inv.getArgs().get(0)) + WampValues.asLong(inv.getArgs().get(1)))))
                    .get(10, TimeUnit.SECONDS);
            CallResult sum = session.callAsync("com.example.add", List.of(2, 3)).get(10, TimeUnit.SECONDS);
            assertEquals(List.of(5L), sum.getArgs());  // integers decode as Long

            // PubSub: the consumer runs off the socket's thread, one event at a time per subscription.
            BlockingQueue<Object> news = new LinkedBlockingQueue<>();
            session.subscribeAsync("com.example.news", event -> news.add(event.getArgs().get(0)))
                    .get(10, TimeUnit.SECONDS);
            Long publication = session.publishAsync("com.example.news", List.of("hello"), Map.of(),
                    PublishOptions.builder().acknowledge().excludeMe(false).build()).get(10, TimeUnit.SECONDS);
            assertEquals("hello", news.poll(10, TimeUnit.SECONDS));
            assertInstanceOf(Long.class, publication);  // acknowledged: the router's publication id
        }  // close(): GOODBYE, bounded by twice the response timeout
        // docs:end java-quickstart
    }

    @Test
    void configurationAndErrors() throws Exception {
        FakeWampRouterConfig options = FakeWampRouterConfig.builder()
                .realm("app", false)
                .ticketUser("svc", "s3cret", "backend")
                .build();
        try (FakeWampRouter router = FakeWampRouter.start(options)) {
            // docs:start java-config
            SessionConfig config = SessionConfig.builder("app")
                    .authId("svc")
                    .authHandler("ticket", AuthHandler.ticket("s3cret"))
                    .serialization(Serialization.MSGPACK)
                    .responseTimeout(Duration.ofSeconds(2))
                    .callTimeout(Duration.ofSeconds(10))
                    .build();
            try (WampSession session = WampSession.connectAsync(router.getWsUrl(), config).get(10, TimeUnit.SECONDS)) {
                assertEquals("backend", session.getAuthRole());
                session.registerAsync("com.example.fail", inv -> CompletableFuture.failedFuture(
                        new RpcException("com.example.not_today", List.of("try tomorrow")))).get(10, TimeUnit.SECONDS);

                ExecutionException failed = assertThrows(ExecutionException.class,
                        () -> session.callAsync("com.example.fail").get(10, TimeUnit.SECONDS));
                RpcException error = assertInstanceOf(RpcException.class, failed.getCause());
                assertEquals("com.example.not_today", error.getError());
                assertEquals(List.of("try tomorrow"), error.getArgs());
            }

            SessionConfig wrong = config.toBuilder().authHandler("ticket", AuthHandler.ticket("nope")).build();
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> WampSession.connectAsync(router.getWsUrl(), wrong).get(10, TimeUnit.SECONDS));
            assertEquals("wamp.error.authentication_failed",
                    assertInstanceOf(AbortException.class, refused.getCause()).getReason());
            // docs:end java-config
        }
    }

    @Test
    void typedCallOptions() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start();
             WampSession callee = WampSession.connectAsync(router.getTcpUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS);
             WampSession session = WampSession.connectAsync(router.getWsUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS)) {
            callee.registerAsync("com.example.whoami",
                    inv -> CompletableFuture.completedFuture(InvokeResult.of(inv.getCaller())))
                .get(10, TimeUnit.SECONDS);
            // docs:start java-call-options
            CallOptions options = CallOptions.builder()
                    .timeout(Duration.ofSeconds(2))           // router-side: wamp.error.timeout past 2 s
                    .discloseMe(true)                         // the callee sees who called
                    .cancelMode(CancelMode.KILL)              // future.cancel(): interrupt the callee, wait for it
                    .build();
            CallResult me = session.callAsync("com.example.whoami", List.of(), Map.of(), options)
                .get(10, TimeUnit.SECONDS);
            // docs:end java-call-options
            assertEquals(List.of(session.getId()), me.getArgs());
        }
    }

    @Test
    void typedRegisterOptions() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start();
             WampSession worker1 = WampSession.connectAsync(router.getTcpUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS);
             WampSession worker2 = WampSession.connectAsync(router.getWsUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS);
             WampSession client = WampSession.connectAsync(router.getTcpUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS)) {
            // docs:start java-register-options
            RegisterOptions pool = RegisterOptions.builder()
                    .match(MatchPolicy.PREFIX)                 // every procedure under com.example.jobs.
                    .invoke(InvokePolicy.ROUNDROBIN)           // shared: the workers take turns
                    .discloseCaller(true)                      // inv.getCaller() on every invocation
                    .forwardTimeout(true)                      // the caller's timeout reaches inv.getTimeout()
                    .build();
            for (WampSession worker : List.of(worker1, worker2)) {
                worker.registerAsync("com.example.jobs.", inv -> CompletableFuture.completedFuture(
                        InvokeResult.of(inv.getProcedure(), inv.getCaller(), worker.getId())), pool)
                        .get(10, TimeUnit.SECONDS);
            }
            CallResult first = client.callAsync("com.example.jobs.resize").get(10, TimeUnit.SECONDS);
            assertEquals(List.of("com.example.jobs.resize", client.getId(), worker1.getId()), first.getArgs());
            CallResult second = client.callAsync("com.example.jobs.crop").get(10, TimeUnit.SECONDS);
            assertEquals(worker2.getId(), second.getArgs().get(2));    // the next worker's turn
            // docs:end java-register-options
        }
    }

    @Test
    void typedSubscribeAndPublishOptions() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start();
             WampSession monitor = WampSession.connectAsync(router.getTcpUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS);
             WampSession bystander =
                 WampSession.connectAsync(router.getWsUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS);
             WampSession sensor = WampSession.connectAsync(router.getWsUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS)) {
            BlockingQueue<Event> others = new LinkedBlockingQueue<>();
            bystander.subscribeAsync("com.example.", others::add,
                    SubscribeOptions.builder().match(MatchPolicy.PREFIX).build()).get(10, TimeUnit.SECONDS);
            // docs:start java-subscribe-options
            BlockingQueue<Event> alarms = new LinkedBlockingQueue<>();
            monitor.subscribeAsync("com.example.", alarms::add,     // every topic under com.example.
                    SubscribeOptions.builder().match(MatchPolicy.PREFIX).build()).get(10, TimeUnit.SECONDS);
            // docs:end java-subscribe-options

            // docs:start java-publish-options
            PublishOptions options = PublishOptions.builder()
                    .acknowledge()                             // the future holds the publication id
                    .eligible(monitor.getId())                 // session ids; also eligibleAuthId, eligibleAuthRole
                    .excludeAuthRole("guest")                  // and exclude, excludeAuthId
                    .discloseMe()                              // event.getPublisher() and its authid and authrole
                    .build();
            Long publication = sensor.publishAsync("com.example.kitchen.smoke", List.of(true), Map.of(), options)
                    .get(10, TimeUnit.SECONDS);

            Event alarm = alarms.poll(10, TimeUnit.SECONDS);
            assertEquals("com.example.kitchen.smoke", alarm.getTopic());   // the topic it was published to
            assertEquals(publication, alarm.getPublication());
            assertEquals(sensor.getId(), alarm.getPublisher());
            // docs:end java-publish-options
            // The bystander was not eligible: the first event it gets is the next one.
            sensor.publishAsync("com.example.all", List.of(), Map.of(), PublishOptions.builder().acknowledge().build())
                    .get(10, TimeUnit.SECONDS);
            assertEquals("com.example.all", others.poll(10, TimeUnit.SECONDS).getTopic());
        }
    }

    @Test
    void progressiveResults() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start();
             WampSession session = WampSession.connectAsync(router.getWsUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS)) {
            // docs:start java-progress
            session.registerAsync("com.example.download", inv -> {
                CompletableFuture<Void> sent = CompletableFuture.completedFuture(null);
                if (inv.getReceiveProgress()) {
                    for (int part = 1; part <= 3; part++) {
                        List<Object> chunk = List.of("part " + part);
                        sent = sent.thenCompose(done -> inv.sendProgressAsync(chunk));  // in order
                    }
                }
                return sent.thenApply(done -> InvokeResult.of("complete"));
            }).get(10, TimeUnit.SECONDS);

            List<Object> progress = new java.util.concurrent.CopyOnWriteArrayList<>();
            CallResult result = session.callProgressAsync("com.example.download",
                    p -> progress.add(p.getArgs().get(0))).get(10, TimeUnit.SECONDS);
            assertEquals(List.of("part 1", "part 2", "part 3"), progress);  // all delivered before completion
            assertEquals(List.of("complete"), result.getArgs());
            // docs:end java-progress
        }
    }

    @Test
    void progressiveInvocations() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start();
             WampSession session = WampSession.connectAsync(router.getTcpUrl(), SessionConfig.builder("realm1").build())
                     .get(10, TimeUnit.SECONDS)) {
            // docs:start java-streaming
            session.registerStreamingAsync("com.example.import", (inv, chunks) -> {
                List<Object> rows = new java.util.concurrent.CopyOnWriteArrayList<>();
                return CallChunk.consume(chunks, chunk -> rows.add(chunk.getArgs().get(0)))  // one at a time, in order
                        .thenApply(done -> InvokeResult.of(rows.size()));
            }).get(10, TimeUnit.SECONDS);

            CompletableFuture<CallResult> result;
            try (SubmissionPublisher<CallChunk> lines = new SubmissionPublisher<>()) {
                result = session.callStreamingAsync("com.example.import", lines);  // subscribes before returning
                for (String line : List.of("id,name", "1,ada", "2,grace")) {
                    lines.submit(CallChunk.of(line));                              // one CALL per chunk
                }
            }                                                                      // close(): the last chunk goes out
            assertEquals(List.of(3L), result.get(10, TimeUnit.SECONDS).getArgs());
            // docs:end java-streaming
        }
    }

    @Test
    void clientCertificateAndCustomDial() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start(FakeWampRouterConfig.builder().tlsClientAuth().build())) {
            // docs:start java-client-cert
            SessionConfig config = SessionConfig.builder("realm1")
                    .sslContext(FakeWampRouterTls.clientSslContext())        // key manager: the client certificate
                    .socketDialer((host, port, timeout) -> {             // tcp:// and tcps:// only
                        Socket socket = new Socket(Proxy.NO_PROXY);      // e.g. new Proxy(Proxy.Type.SOCKS, ...)
                        socket.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
                        return socket;
                    })
                    .logger(LoggerFactory.getLogger("com.example.wamp"))
                    .build();
            try (WampSession session =
                     WampSession.connectAsync(router.getTcpsUrl(), config).get(10, TimeUnit.SECONDS)) {
                assertEquals(true, session.getId() > 0);   // the WAMP session id from WELCOME
                Map<String, Object> welcome = session.getRealmDetails();   // authid, authrole, authmethod, roles
                assertEquals("anonymous", welcome.get("authmethod"));
                assertEquals(List.of(1L), session.callAsync("wamp.session.count").get(10, TimeUnit.SECONDS).getArgs());
            }
            // docs:end java-client-cert
        }
    }

    @Test
    void reconnect() throws Exception {
        try (FakeWampRouter router = FakeWampRouter.start()) {
            // docs:start java-reconnect
            ReconnectPolicy policy = ReconnectPolicy.builder()
                    .backoff(ExponentialBackoff.builder().minDelay(Duration.ofMillis(200)).build())
                    .maxAttempts(20)
                    .build();
            SessionConfig config = SessionConfig.builder("realm1").build();
            try (WampClient client = new WampClient(router.getWsUrl(), config, policy)) {
                client.connectAsync().get(10, TimeUnit.SECONDS);     // completes once joined
                client.registerAsync("com.example.echo",
                        inv -> CompletableFuture.completedFuture(new InvokeResult(inv.getArgs())))
                        .get(10, TimeUnit.SECONDS);

                BlockingQueue<ConnectionEvent> events = new LinkedBlockingQueue<>();
                try (AutoCloseable listening = client.onEvent(events::add)) {
                    router.getFaults().dropAll();  // the connection drops without GOODBYE
                    assertInstanceOf(ConnectionEvent.Disconnected.class, events.poll(10, TimeUnit.SECONDS));
                    assertEquals(new ConnectionEvent.Connecting(1), events.poll(10, TimeUnit.SECONDS));
                    assertInstanceOf(ConnectionEvent.Connected.class, events.poll(10, TimeUnit.SECONDS));
                }
                // Rejoined and re-registered: the procedure answers again.
                CallResult echo = client.callAsync("com.example.echo", List.of("again")).get(10, TimeUnit.SECONDS);
                assertEquals(List.of("again"), echo.getArgs());
            }  // close(): GOODBYE, and no more reconnecting
            // docs:end java-reconnect
        }
    }
}
