package dev.tether.docs;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Polling helper for the Java tests of the guide's examples. */
final class Waits {
    private Waits() {
    }

    /** Polls [condition] every 5 ms until it holds; fails after [limit]. */
    static void until(Duration limit, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within " + limit);
            }
            Thread.sleep(5);
        }
    }
}
