package dev.tether.testkit.relay

import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeout
import java.time.Duration

/** Waits (bounded) for a condition on counters that have no event of their own. */
internal suspend fun awaitTrue(timeoutMillis: Long = 10_000, what: String = "condition", condition: () -> Boolean) {
    try {
        withTimeout(timeoutMillis) { while (!condition()) delay(5) }
    } catch (e: kotlinx.coroutines.TimeoutCancellationException) {
        throw AssertionError("$what not reached within $timeoutMillis ms", e)
    }
}

/** A fake with fast health checks for tests. */
internal fun fastRelay(block: FakeRelayServerConfig.Builder.() -> Unit = {}): FakeRelayServer = FakeRelayServer.start {
    healthCheckInterval(Duration.ofMillis(100))
    healthCheckTimeout(Duration.ofMillis(1_000))
    block()
}
