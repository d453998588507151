package dev.tether.testkit.wamp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tether.wamp.CallChunk;
import dev.tether.wamp.CallOptions;
import dev.tether.wamp.CallResult;
import dev.tether.wamp.InvokeResult;
import dev.tether.wamp.error.RpcException;
import dev.tether.wamp.WampSession;
import dev.tether.wamp.SessionConfig;
import dev.tether.wamp.message.WampValues;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Progressive call invocations from Java: a SubmissionPublisher streams the chunks, a Flow.Publisher delivers them. */
@Timeout(60)
class ProgressiveCallJavaTest {
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
    void aPublisherStreamsAHundredChunksToAStreamingHandler() throws Exception {
        try (WampSession callee = connect(router.getTcpUrl()); WampSession caller = connect(router.getWsUrl())) {
            List<Long> seen = new CopyOnWriteArrayList<>();
            await(callee.registerStreamingAsync("com.sum", (inv, chunks) -> {
                AtomicLong sum = new AtomicLong();
                return CallChunk.consume(chunks, chunk -> {
                    long n = WampValues.asLong(chunk.getArgs().get(0));
                    seen.add(n);
                    sum.addAndGet(n);
                })
                    .thenCompose(done -> inv.sendProgressAsync(List.of("received " + seen.size())))
                    .thenApply(sent -> InvokeResult.of(sum.get()));
            }));

            List<Object> progress = new CopyOnWriteArrayList<>();
            CompletableFuture<CallResult> result;
            try (SubmissionPublisher<CallChunk> chunks = new SubmissionPublisher<>()) {
                result =
                    caller.callStreamingAsync("com.sum",
                            chunks,
                            CallOptions.DEFAULT,
                            p -> progress.add(p.getArgs().get(0)));
                for (int i = 1; i <= 100; i++) {
                    chunks.submit(CallChunk.of(i));
                }
            } // close(): the last chunk goes out without progress
            assertEquals(List.of(5050L), await(result).getArgs());
            List<Long> expected = new ArrayList<>();
            for (long i = 1; i <= 100; i++) {
                expected.add(i);
            }
            assertEquals(expected, seen);
            assertEquals(List.of("received 100"), progress);
        }
    }

    @Test
    void cancellingTheFutureMidStreamInterruptsTheCallee() throws Exception {
        try (WampSession callee = connect(router.getTcpUrl()); WampSession caller = connect(router.getWsUrl())) {
            CompletableFuture<Void> firstChunk = new CompletableFuture<>();
            CompletableFuture<Throwable> readingEnded = new CompletableFuture<>();
            await(callee.registerStreamingAsync("com.upload", (inv, chunks) -> {
                CompletableFuture<Void> reading = CallChunk.consume(chunks, chunk -> firstChunk.complete(null));
                reading.whenComplete((done, error) -> readingEnded.complete(error));
                return reading.thenApply(done -> InvokeResult.of("complete"));
            }));
            SubmissionPublisher<CallChunk> chunks = new SubmissionPublisher<>();
            CompletableFuture<CallResult> result = caller.callStreamingAsync("com.upload", chunks);
            chunks.submit(CallChunk.of("a"));
            chunks.submit(CallChunk.of("b")); // releases "a"; the publisher stays open
            await(firstChunk);
            result.cancel(true); // CANCEL killnowait: the router interrupts the callee
            // The interrupted invocation ends its chunk stream: the reader learns it with a CancellationException.
            assertInstanceOf(CancellationException.class, await(readingEnded));
            assertThrows(CancellationException.class, result::join);
            chunks.close();
        }
    }

    @Test
    void aPlainHandlerAnswersFromTheFirstChunkAndAFailingPublisherCancelsTheCall() throws Exception {
        try (WampSession callee = connect(router.getTcpUrl()); WampSession caller = connect(router.getWsUrl())) {
            await(callee.registerAsync("com.plain", inv ->
                CompletableFuture.completedFuture(InvokeResult.of(inv.getArgs().get(0), inv.isProgressive()))));
            CompletableFuture<CallResult> plain;
            try (SubmissionPublisher<CallChunk> chunks = new SubmissionPublisher<>()) {
                plain = caller.callStreamingAsync("com.plain", chunks);
                chunks.submit(new CallChunk(List.of("first"), java.util.Map.of()));
                chunks.submit(CallChunk.of("second"));
            }
            assertEquals(List.of("first", true), await(plain).getArgs());

            // A publisher that fails: the call is cancelled and its error is the future's.
            SubmissionPublisher<CallChunk> failing = new SubmissionPublisher<>();
            CompletableFuture<CallResult> failed = caller.callStreamingAsync("com.plain", failing);
            failing.submit(CallChunk.of(1));
            failing.closeExceptionally(new IllegalStateException("source broke"));
            ExecutionException e = assertThrows(ExecutionException.class, () -> await(failed));
            assertEquals("source broke", e.getCause().getMessage());

            // One chunk is an ordinary call; the session still works.
            try (SubmissionPublisher<CallChunk> one = new SubmissionPublisher<>()) {
                plain = caller.callStreamingAsync("com.plain", one);
                one.submit(CallChunk.of("only"));
            }
            assertEquals(List.of("only", false), await(plain).getArgs());
            ExecutionException missing = assertThrows(ExecutionException.class,
                () -> await(caller.callStreamingAsync("com.nobody", new SubmissionPublisher<>() {
                    { close(); }
                })));
            assertEquals("wamp.error.no_such_procedure",
                    assertInstanceOf(RpcException.class, missing.getCause()).getError());
        }
    }
}
