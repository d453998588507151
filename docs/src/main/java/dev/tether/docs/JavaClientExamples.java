package dev.tether.docs;

import dev.tether.core.TokenProvider;
import dev.tether.wsclient.ClientClosedException;
import dev.tether.wsclient.ConnectionLostException;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.EnvelopeHandler;
import dev.tether.wsclient.NotConnectedException;
import dev.tether.wsclient.RequestTimeoutException;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The Java examples of docs/wsclient.md: request outcomes with futures, sends, token providers, FailFirstConnect and
 * waiting for a connection.
 */
public final class JavaClientExamples {
    private JavaClientExamples() {
    }

    /** Sends {@code request} and describes how it ended, in words. */
    public static CompletableFuture<String> describe(WsClient client, Envelope request) {
        // docs:start java-request-outcomes
        return client.requestAsync(request, Duration.ofSeconds(5)).handle((reply, error) -> {
            if (error == null) {
                return reply.getKind().endsWith(".error")
                        ? "refused: " + reply.getPayload()      // e.g. {"error":"name required"}
                        : "answered: " + reply.getPayload();
            }
            Throwable cause = error instanceof CompletionException ? error.getCause() : error;
            if (cause instanceof RequestTimeoutException) {
                return "no reply within 5 s";                  // a late reply goes to the handler
            }
            if (cause instanceof ConnectionLostException lost) {
                return lost.getRequestSent() ? "outcome unknown" : "not sent";  // nothing is resent
            }
            if (cause instanceof ClientClosedException) {
                return "client closed";
            }
            throw new CompletionException(cause);
        });
        // docs:end java-request-outcomes
    }

    /** Sends a notification; completes with false when no connection came up within half a second. */
    public static CompletableFuture<Boolean> notify(WsClient client, String json) {
        // docs:start java-send
        Envelope note = Envelope.create("chat.send", json);
        return client.sendAsync(note, Duration.ofMillis(500))   // default: sendTimeout (30 s)
                .thenApply(written -> true)
                .exceptionally(error -> {
                    Throwable cause = error instanceof CompletionException ? error.getCause() : error;
                    if (cause instanceof NotConnectedException) {
                        return false;                           // not sent: no connection in time
                    }
                    throw new CompletionException(cause);
                });
        // docs:end java-send
    }

    /** A client that asks {@code identityService} for a token before every dial. */
    public static WsClient withTokenProvider(String url, String bootstrapToken,
                                             Supplier<CompletableFuture<String>> identityService,
                                             EnvelopeHandler handler) {
        // docs:start java-token-provider
        WsClientConfig config = WsClientConfig.builder()
                .url(url)
                .handler(handler)
                .authToken(bootstrapToken)                               // used until a dial has been accepted
                .tokenProvider(TokenProvider.fromFuture(identityService)) // asked before every dial
                .build();
        // docs:end java-token-provider
        return new WsClient(config);
    }

    /** Connects with FailFirstConnect; returns null when connected, else why the first dial failed. */
    public static String connectOrExplain(String url, String token, EnvelopeHandler handler) throws Exception {
        // docs:start java-fail-first-connect
        WsClient client = new WsClient(WsClientConfig.builder()
                .url(url)
                .authToken(token)
                .handler(handler)
                .reconnectDelays(Duration.ofMillis(500), Duration.ofSeconds(30))  // upstream Min/MaxReconnectDelay
                .failFirstConnect(true)
                .build());
        try {
            client.connectAsync().get(15, TimeUnit.SECONDS);  // fails with InitialConnectException if dial 1 fails
        } catch (ExecutionException e) {
            // The failed client has closed itself; closedFuture() gives the same reason.
            return e.getCause().getMessage();  // "initial connect failed: dial to ... failed: Connection refused"
        }
        // docs:end java-fail-first-connect
        client.close();
        return null;
    }
}
