package dev.tether.tunnel

import dev.tether.core.AuthenticationFailedException
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.backoff.RetryConfig
import dev.tether.core.backoff.RetryTimedOutException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.test.runTest
import java.time.Duration
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The registration loop's timing in virtual time (specs/webhooktunnel.md §13): the first attempt at once, then
 * RetryConfig's initial delay and randomized growth, RetryTimedOut when the budget measured from the first failure
 * is spent; 401 and other 4xx end the loop at once.
 */
class RegistrationTimingSpec : FunSpec({
    val retry = RetryConfig(initialDelay = 500.milliseconds, maxDelay = 4.seconds, maxElapsedTime = 20.seconds)
    fun config(block: TunnelConfig.Builder.() -> Unit = {}) = TunnelConfig("probe", "http://127.0.0.1:1") {
        token(TunnelTokens.testToken("probe"))
        retry(retry)
        block()
    }

    test(
        "5xx answers are retried after 500 ms, then randomized growing delays capped at maxDelay, until " +
            "RetryTimedOut",
    ) {
        runTest {
            val attempts = mutableListOf<Long>()
            val registration = Registration(config(), Duration.ofSeconds(20), Random(42))
            registration.dialSeam = {
                attempts += testScheduler.currentTime
                throw HandshakeRejectedException("ws://127.0.0.1:1", 503)
            }
            val e = shouldThrow<RetryTimedOutException> { registration.register() }
            e.cause.shouldBeInstanceOf<HandshakeRejectedException>().status shouldBe 503

            // The same draws the loop made: wait initialDelay, then nextDelay(previous) after every failure.
            val expected = mutableListOf(0L)
            val jitter = Random(42)
            var wait = retry.initialDelay
            fun millis(d: kotlin.time.Duration) = (d.inWholeNanoseconds + 999_999) / 1_000_000 // delay() rounds up
            while (expected.last() + millis(wait) < retry.maxElapsedTime.inWholeMilliseconds) {
                expected += expected.last() + millis(wait)
                wait = retry.nextDelay(wait, jitter)
            }
            attempts shouldContainExactly expected
            attempts.zipWithNext { a, b -> b - a }.all { it <= retry.maxDelay.inWholeMilliseconds } shouldBe true
            testScheduler.currentTime shouldBe retry.maxElapsedTime.inWholeMilliseconds
            e.attempts shouldBe attempts.size
        }
    }

    test("a 401 ends the loop at once; with a generator one fresh token is tried first") {
        runTest {
            val tokens = mutableListOf<String>()
            val plain = Registration(config(), Duration.ofSeconds(20))
            plain.dialSeam = {
                tokens += it
                throw AuthenticationFailedException("ws://127.0.0.1:1", 401)
            }
            shouldThrow<TunnelAuthFailedException> { plain.register() }
            tokens.size shouldBe 1

            tokens.clear()
            val otherSecret = config { tokenGenerator(TunnelTokens.generator("other-secret", Duration.ofHours(1))) }
            val generated = Registration(otherSecret, Duration.ofSeconds(20))
            generated.dialSeam = {
                tokens += it
                throw AuthenticationFailedException("ws://127.0.0.1:1", 401)
            }
            shouldThrow<TunnelAuthFailedException> { generated.register() }
            tokens.size shouldBe 2
            (tokens[0] != tokens[1]) shouldBe true
            testScheduler.currentTime shouldBe 0L
        }
    }

    test("another 4xx and a non-upgrade 2xx end the loop at once with RetryFailed") {
        runTest {
            for (status in listOf(400, 404, 200)) {
                var dials = 0
                val registration = Registration(config(), Duration.ofSeconds(20))
                registration.dialSeam = {
                    dials++
                    throw HandshakeRejectedException("ws://127.0.0.1:1", status)
                }
                shouldThrow<RetryFailedException> { registration.register() }.status shouldBe status
                dials shouldBe 1
            }
            testScheduler.currentTime shouldBe 0L
        }
    }

    test("1xx and 3xx are retried like 5xx") {
        runTest {
            for (status in listOf(101, 302)) {
                var dials = 0
                val retrying = config {
                    retry(RetryConfig(initialDelay = 500.milliseconds, maxElapsedTime = 2.seconds))
                }
                val registration = Registration(retrying, Duration.ofSeconds(20))
                registration.dialSeam = {
                    dials++
                    throw HandshakeRejectedException("ws://127.0.0.1:1", status)
                }
                shouldThrow<RetryTimedOutException> { registration.register() }
                (dials > 1) shouldBe true
            }
        }
    }
})
