package dev.tether.docs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checks the Java examples of docs/backoff.md against the documented ranges. */
class JavaBackoffExamplesTest {

    private static void assertWithin(Duration value, long loMillis, long hiMillis) {
        assertTrue(value.toMillis() >= loMillis && value.toMillis() <= hiMillis,
                value + " not within [" + loMillis + ", " + hiMillis + "] ms");
    }

    @Test
    void reconnectDelaysGrowToTheCapWithTenPercentJitter() {
        List<Duration> delays = JavaBackoffExamples.reconnectDelays(8, 42);
        long[] centres = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
        for (int i = 0; i < centres.length; i++) {
            assertWithin(delays.get(i), centres[i] * 9 / 10, centres[i] * 11 / 10);
        }
        assertEquals(delays, JavaBackoffExamples.reconnectDelays(8, 42), "a seeded schedule repeats");
    }

    @Test
    void guardWaitsStartImmediatelyAndSpreadFiftyPercent() {
        List<Duration> waits = JavaBackoffExamples.guardWaits(8, 7);
        assertEquals(Duration.ZERO, waits.get(0));
        long[] centres = {2000, 4000, 8000, 16000, 32000, 60000, 60000};
        for (int i = 0; i < centres.length; i++) {
            assertWithin(waits.get(i + 1), centres[i] / 2, centres[i] * 3 / 2);
        }
    }

    @Test
    void retryRetriesIoFailuresUntilOneSucceeds() throws Exception {
        AtomicInteger attempts = new AtomicInteger();
        String result = JavaBackoffExamples.retry(() -> attempts.incrementAndGet() < 3
                ? CompletableFuture.<String>failedFuture(new IOException("flaky"))
                : CompletableFuture.completedFuture("ok")).get(10, TimeUnit.SECONDS);
        assertEquals("ok", result);
        assertEquals(3, attempts.get());
    }

    @Test
    void retryStopsAtOnceOnAFailureThatIsNotRetryable() {
        AtomicInteger attempts = new AtomicInteger();
        ExecutionException e = assertThrows(ExecutionException.class, () -> JavaBackoffExamples.retry(() -> {
            attempts.incrementAndGet();
            return CompletableFuture.<String>failedFuture(new IllegalStateException("bad request"));
        }).get(10, TimeUnit.SECONDS));
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals(1, attempts.get());
    }
}
