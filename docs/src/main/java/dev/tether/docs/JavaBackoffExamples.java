package dev.tether.docs;

import dev.tether.core.backoff.ExponentialBackoff;
import dev.tether.core.backoff.GuardBackoff;
import dev.tether.core.backoff.RetryConfig;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/** The Java examples of docs/backoff.md. */
public final class JavaBackoffExamples {
    private JavaBackoffExamples() {
    }

    /** The first {@code n} reconnect delays of a tuned policy, with a seeded jitter source. */
    public static List<Duration> reconnectDelays(int n, long seed) {
        // docs:start java-exponential
        ExponentialBackoff policy = ExponentialBackoff.builder()
                .minDelay(Duration.ofMillis(500))
                .maxDelay(Duration.ofSeconds(30))
                .randomizationFactor(0.1)           // each delay within ±10 %
                .build();
        ExponentialBackoff.Schedule schedule = policy.newSchedule(new Random(seed));
        List<Duration> delays = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            delays.add(schedule.nextDelayAfterFailedDial());  // ~0.5 s, ~1 s, ~2 s, ... ~30 s
        }
        // docs:end java-exponential
        return delays;
    }

    /** The first {@code n} waits of the relay guard with its defaults. */
    public static List<Duration> guardWaits(int n, long seed) {
        // docs:start java-guard
        GuardBackoff.Schedule ticker = GuardBackoff.DEFAULT.newSchedule(new Random(seed));
        List<Duration> waits = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            waits.add(ticker.next());  // 0, then 1-3 s, 2-6 s, 4-12 s, ... up to 30-90 s
        }
        // docs:end java-guard
        return waits;
    }

    /** Runs {@code attempt} under a short retry policy; I/O failures are retried. */
    public static <T> CompletableFuture<T> retry(Supplier<? extends CompletionStage<T>> attempt) {
        // docs:start java-retry
        RetryConfig policy = RetryConfig.builder()
                .initialDelay(Duration.ofMillis(100))
                .maxElapsedTime(Duration.ofSeconds(10))   // then RetryTimedOutException
                .build();                                   // unset values keep their defaults
        return policy.retryAsync(attempt, error -> error instanceof IOException);
        // docs:end java-retry
    }
}
