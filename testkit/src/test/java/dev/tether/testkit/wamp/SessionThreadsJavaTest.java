package dev.tether.testkit.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.wamp.CallResult;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.SessionConfig;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** From Java: where a session's futures complete, where its I/O thread is, and where handlers run. */
class SessionThreadsJavaTest {
    private static String bare(String threadName) {
        return threadName.split(" @")[0];
    }

    @Test
    void repliesCompleteOnTheIoThreadAndHandlersRunOnTheConfiguredExecutor() throws Exception {
        ExecutorService handlers = Executors.newSingleThreadExecutor(r -> new Thread(r, "my-handlers"));
        try (FakeWampRouter router = FakeWampRouter.start(FakeWampRouterConfig.builder().build());
             WampSession callee =
                 WampSession.connectAsync(router.getWsUrl(),
                         SessionConfig.builder("realm1").handlerExecutor(handlers).build())
                     .get(10, TimeUnit.SECONDS);
             WampSession caller =
                 WampSession.connectAsync(router.getTcpUrl(), SessionConfig.builder("realm1").build())
                         .get(10, TimeUnit.SECONDS)) {
            // The handler answers once the test has attached its stage, so the reply cannot complete the future first.
            CompletableFuture<Void> attached = new CompletableFuture<>();
            callee.registerAsync("com.threads", inv -> {
                        String thread = bare(Thread.currentThread().getName());
                        return attached.thenApply(v -> InvokeResult.of(thread));
                    }, Map.of())
                    .get(10, TimeUnit.SECONDS);
            String io =
                bare(CompletableFuture.supplyAsync(() -> Thread.currentThread().getName(), caller.getExecutor())
                        .get(10, TimeUnit.SECONDS));
            CompletableFuture<String> completedOn = caller.callAsync("com.threads", List.of(), Map.of(), Map.of())
                    .thenApply(r -> bare(Thread.currentThread().getName()));
            attached.complete(null);
            assertTrue(io.startsWith("tether-io"), io);
            assertEquals(io, completedOn.get(10, TimeUnit.SECONDS));
            CallResult result =
                caller.callAsync("com.threads", List.of(), Map.of(), Map.of()).get(10, TimeUnit.SECONDS);
            assertEquals(List.of("my-handlers"), result.getArgs());
        } finally {
            handlers.shutdownNow();
        }
    }
}
