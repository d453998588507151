package dev.tether.docs;

import dev.tether.core.ConnectionEvent;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Java quick start (docs/getting-started-java.md): an agent that connects to a nexus broker, registers under a
 * name on every connect, answers the broker's {@code turn} requests and logs its connection events.
 *
 * <p>Run it against a broker with {@code JavaQuickstart ws://127.0.0.1:7888/connect TOKEN}, or against the fake
 * one started by {@code ./tether serve broker}.
 */
public final class JavaQuickstart implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JavaQuickstart.class);

    private final String name;
    private final WsClient client;
    private final AutoCloseable eventSubscription;
    private final CompletableFuture<Envelope> firstRegistration = new CompletableFuture<>();
    private final AtomicInteger registrations = new AtomicInteger();
    private final AtomicInteger drops = new AtomicInteger();

    // docs:start connect
    public JavaQuickstart(String url, String token, String name) {
        this.name = name;
        WsClientConfig config = WsClientConfig.builder()
                .url(url)                                // ws://host:port/connect or wss://...
                .authToken(token)                        // sent as "Authorization: Bearer <token>"
                .handler(this::onFrame)                  // gets every frame that no request waits for
                .requestTimeout(Duration.ofSeconds(10))  // default 30 s
                .build();
        client = new WsClient(config);
        eventSubscription = client.onEvent(this::onEvent);  // subscribe first: no event is missed
        client.start();  // dials in the background and reconnects on its own until close()
    }
    // docs:end connect

    // docs:start request
    /** Registers under this agent's name; completes with the broker's {@code register.ack}. */
    public CompletableFuture<Envelope> register() {
        String payload = "{\"name\":\"" + name + "\",\"session_id\":\"" + name + "-1\","
                + "\"provider\":\"docs\",\"context_mode\":\"stateless\"}";
        Envelope request = Envelope.request("register", payload);  // request() sets a fresh ULID id
        return client.requestAsync(request).thenApply(reply -> {
            // Replies are matched by in_reply_to only: an error answer is a reply too, so check the kind.
            if (reply.getKind().equals("register.error")) {
                throw new IllegalStateException("register refused: " + reply.getPayload());
            }
            return reply;
        });
    }
    // docs:end request

    // docs:start handler
    /** Runs on a library thread, one frame at a time, in arrival order. */
    private void onFrame(Envelope frame) {
        if (frame.getKind().equals("turn") && frame.getId() != null) {
            // A server-initiated request: answer with a response whose in_reply_to is the request's id.
            Envelope answer = Envelope.response("turn.result", frame.getId(), "{\"text\":\"done\"}");
            client.sendAsync(answer).exceptionally(error -> {
                log.warn("could not answer turn {}: {}", frame.getId(), error.toString());
                return null;
            });
        } else {
            log.info("ignoring a {} frame", frame.getKind());  // pushes, late replies, kinds we do not know
        }
    }
    // docs:end handler

    // docs:start events
    /** Runs on a library thread for every connection event, in order. */
    private void onEvent(ConnectionEvent event) {
        if (event instanceof ConnectionEvent.Connected) {
            // The broker forgets a registration when its connection closes: register on every connect.
            register().whenComplete((ack, error) -> {
                if (error != null) {
                    log.error("register failed: {}", error.toString());
                    firstRegistration.completeExceptionally(error);
                } else {
                    registrations.incrementAndGet();
                    firstRegistration.complete(ack);
                }
            });
        } else if (event instanceof ConnectionEvent.Disconnected dropped) {
            drops.incrementAndGet();
            log.warn("connection dropped ({}); redialling in {} ms",
                    dropped.getCause().getMessage(), dropped.getRetryInMillis());
        } else if (event instanceof ConnectionEvent.AuthenticationFailed refused) {
            log.error("the broker refused the token with HTTP {}; retrying in {} ms",
                    refused.getStatus(), refused.getRetryInMillis());
        } else if (event instanceof ConnectionEvent.DialFailed failed) {
            log.warn("dial failed ({}); retrying in {} ms", failed.getCause().getMessage(), failed.getRetryInMillis());
        }
    }
    // docs:end events

    // docs:start close
    /** Stops listening, closes the socket (1000 "client shutdown") and fails pending requests. */
    @Override
    public void close() throws Exception {
        eventSubscription.close();
        client.close();  // blocks up to a few seconds; pending requests fail with ClientClosedException
    }
    // docs:end close

    /** Completes with the acknowledgement of the first registration (or its failure). */
    public CompletableFuture<Envelope> firstRegistration() {
        return firstRegistration;
    }

    /** How many registrations the broker acknowledged (one per connection). */
    public int registrations() {
        return registrations.get();
    }

    /** How many established connections dropped. */
    public int drops() {
        return drops.get();
    }

    /** Connects, registers once as {@code name}, closes, and returns the broker's {@code register.ack}. */
    public static Envelope run(String url, String token, String name) throws Exception {
        try (JavaQuickstart agent = new JavaQuickstart(url, token, name)) {
            return agent.firstRegistration().get(15, TimeUnit.SECONDS);
        }
    }

    /** {@code JavaQuickstart URL TOKEN [NAME]}: runs the agent until the process is stopped. */
    public static void main(String[] args) throws Exception {
        String name = args.length > 2 ? args[2] : "quickstart";
        try (JavaQuickstart agent = new JavaQuickstart(args[0], args[1], name)) {
            System.out.println("registered: " + agent.firstRegistration().get(30, TimeUnit.SECONDS));
            new CompletableFuture<Void>().join();  // serve turns until the process is stopped
        }
    }
}
