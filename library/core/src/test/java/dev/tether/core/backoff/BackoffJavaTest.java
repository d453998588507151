package dev.tether.core.backoff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.TetherException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The three backoff policies used from plain Java: builders, java.time getters, java.util.Random, futures. */
class BackoffJavaTest {

    private static List<Duration> seconds(long... values) {
        List<Duration> out = new ArrayList<>();
        for (long v : values) {
            out.add(Duration.ofSeconds(v));
        }
        return out;
    }

    @Test
    void exponentialBackoffExactSequenceAndResetRules() {
        ExponentialBackoff policy = ExponentialBackoff.builder().randomizationFactor(0.0).build();
        assertEquals(Duration.ofSeconds(1), policy.getMinDelay());
        assertEquals(Duration.ofSeconds(60), policy.getMaxDelay());
        assertEquals(Duration.ofSeconds(1), policy.getQuickDropThreshold());
        assertEquals(2.0, policy.getMultiplier());

        ExponentialBackoff.Schedule schedule = policy.newSchedule();
        List<Duration> delays = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            delays.add(schedule.nextDelayAfterFailedDial());
        }
        assertEquals(seconds(1, 2, 4, 8, 16, 32, 60, 60), delays);
        assertEquals(8, schedule.getConsecutiveFailures());

        // a long-lived connection: immediate redial and a reset
        assertEquals(Duration.ZERO, schedule.nextDelayAfterDrop(Duration.ofMinutes(5)));
        assertEquals(Duration.ofSeconds(1), schedule.getNextBaseDelay());
        // a quick drop escalates like a failed dial
        assertEquals(Duration.ofSeconds(1), schedule.nextDelayAfterDrop(Duration.ofMillis(100)));
        assertEquals(Duration.ofSeconds(2), schedule.nextDelayAfterDrop(Duration.ofMillis(100)));
        schedule.reset();
        assertEquals(Duration.ofSeconds(1), schedule.nextDelayAfterFailedDial());
    }

    @Test
    void exponentialBackoffJitterIsBoundedAndDeterministic() {
        ExponentialBackoff policy = ExponentialBackoff.DEFAULT;
        ExponentialBackoff.Schedule a = policy.newSchedule(new Random(42));
        ExponentialBackoff.Schedule b = policy.newSchedule(new Random(42));
        for (int i = 0; i < 20; i++) {
            Duration base = a.getNextBaseDelay();
            Duration d = a.nextDelayAfterFailedDial();
            assertEquals(d, b.nextDelayAfterFailedDial());
            assertTrue(d.compareTo(base.multipliedBy(8).dividedBy(10)) >= 0, () -> d + " below 0.8 x " + base);
            assertTrue(d.compareTo(base.multipliedBy(12).dividedBy(10)) <= 0, () -> d + " above 1.2 x " + base);
        }
        ExponentialBackoff custom = policy.toBuilder().maxDelay(Duration.ofSeconds(10)).build();
        assertEquals(Duration.ofSeconds(10), custom.getMaxDelay());
        assertThrows(IllegalArgumentException.class,
                () -> ExponentialBackoff.builder().minDelay(Duration.ZERO).build());
    }

    @Test
    void retryConfigDefaultsNormalizationAndNextDelay() {
        RetryConfig defaults = RetryConfig.builder().build();
        assertEquals(RetryConfig.DEFAULT, defaults);
        assertEquals(Duration.ofMillis(500), defaults.getInitialDelay());
        assertEquals(Duration.ofSeconds(60), defaults.getMaxDelay());
        assertEquals(Duration.ofMinutes(3), defaults.getMaxElapsedTime());
        assertEquals(1.5, defaults.getMultiplier());
        assertEquals(0.5, defaults.getRandomizationFactor());

        RetryConfig normalized = RetryConfig.builder().multiplier(0.5).randomizationFactor(0.0).build();
        assertEquals(1.5, normalized.getMultiplier());
        assertEquals(0.5, normalized.getRandomizationFactor());

        Random random = new Random(7);
        for (int i = 0; i < 1_000; i++) {
            Duration next = defaults.nextDelay(Duration.ofMillis(500), random);
            assertTrue(next.compareTo(Duration.ofMillis(500)) >= 0 && next.compareTo(Duration.ofMillis(1000)) <= 0,
                    next::toString);
        }
        assertEquals(Duration.ofSeconds(60), defaults.nextDelay(Duration.ofSeconds(60)));
        assertEquals(defaults.nextDelay(Duration.ofSeconds(2), new Random(3)),
                defaults.nextDelay(Duration.ofSeconds(2), new Random(3)));
    }

    private static RetryConfig fast(Duration budget) {
        return RetryConfig.builder()
                .initialDelay(Duration.ofMillis(1))
                .maxDelay(Duration.ofMillis(2))
                .maxElapsedTime(budget)
                .build();
    }

    @Test
    void retryAsyncSucceedsAfterRetryableFailures() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<String> result = fast(Duration.ofSeconds(10)).retryAsync(() -> {
            if (calls.incrementAndGet() < 4) {
                return CompletableFuture.failedFuture(new IOException("not yet"));
            }
            return CompletableFuture.completedFuture("connected");
        }, e -> e instanceof IOException, new Random(1));
        assertEquals("connected", result.get(10, TimeUnit.SECONDS));
        assertEquals(4, calls.get());
    }

    @Test
    void retryAsyncStopsAtANonRetryableFailure() {
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<String> result = fast(Duration.ofSeconds(10)).retryAsync(() -> {
            calls.incrementAndGet();
            return CompletableFuture.supplyAsync(() -> {
                throw new IllegalStateException("auth failed");
            });
        }, e -> e instanceof IOException);
        ExecutionException e = assertThrows(ExecutionException.class, () -> result.get(10, TimeUnit.SECONDS));
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals(1, calls.get());
    }

    @Test
    void retryAsyncTimesOutWithTheLastFailureAsCause() {
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<Void> result = fast(Duration.ofMillis(40)).retryAsync(() -> {
            int n = calls.incrementAndGet();
            throw new UncheckedIOException(new IOException("down " + n));
        });
        ExecutionException e = assertThrows(ExecutionException.class, () -> result.get(10, TimeUnit.SECONDS));
        RetryTimedOutException timedOut = assertInstanceOf(RetryTimedOutException.class, e.getCause());
        assertInstanceOf(TetherException.class, timedOut);
        assertEquals(Duration.ofMillis(40), timedOut.getMaxElapsedTime());
        assertEquals(calls.get(), timedOut.getAttempts());
        assertTrue(timedOut.getAttempts() >= 2);
        assertInstanceOf(UncheckedIOException.class, timedOut.getCause());
        assertTrue(timedOut.getCause().getMessage().endsWith("down " + calls.get()));
    }

    @Test
    void cancellingTheFutureStopsTheRetries() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<String> never = new CompletableFuture<>();
        CompletableFuture<String> result = fast(Duration.ofSeconds(10)).retryAsync(() -> {
            calls.incrementAndGet();
            return never;
        });
        while (calls.get() == 0) {
            Thread.onSpinWait();
        }
        assertTrue(result.cancel(true));
        // the attempt in flight is cancelled with the retry
        never.handle((v, t) -> t).get(10, TimeUnit.SECONDS);
        assertTrue(never.isCancelled());
        assertEquals(1, calls.get());
    }

    @Test
    void guardBackoffFromJava() {
        GuardBackoff exact = GuardBackoff.builder().randomizationFactor(0.0).build();
        assertEquals(Duration.ofSeconds(2), exact.getInitialInterval());
        assertEquals(Duration.ofSeconds(60), exact.getMaxInterval());
        GuardBackoff.Schedule ticks = exact.newSchedule();
        List<Duration> waits = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            waits.add(ticks.next());
        }
        assertEquals(seconds(0, 2, 4, 8, 16, 32, 60, 60), waits);
        ticks.reset();
        assertEquals(Duration.ZERO, ticks.next());
        assertEquals(Duration.ofSeconds(2), ticks.getCurrentInterval());

        GuardBackoff.Schedule jittered = GuardBackoff.DEFAULT.newSchedule(new Random(9));
        assertEquals(Duration.ZERO, jittered.next());
        Duration first = jittered.next();
        assertTrue(first.compareTo(Duration.ofSeconds(1)) >= 0, first::toString);
        assertTrue(first.compareTo(Duration.ofSeconds(3).plusNanos(1)) <= 0, first::toString);
        assertFalse(GuardBackoff.DEFAULT.equals(exact));
    }
}
