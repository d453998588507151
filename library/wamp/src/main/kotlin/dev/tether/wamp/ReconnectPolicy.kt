package dev.tether.wamp

import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.wamp.error.ReconnectExhaustedException
import dev.tether.wamp.error.WampConnectionLostException
import java.time.Duration
import kotlin.coroutines.CoroutineContext
import kotlin.coroutines.EmptyCoroutineContext

/**
 * How a [WampClient] reconnects: the wait between attempts ([backoff], tether-core's exponential backoff with
 * jitter: 1 s doubling to 60 s by default, and a connection that drops within a second counts as a failed attempt),
 * how many consecutive failed attempts it makes before giving up ([maxAttempts]), and how long an operation waits
 * for the session to be rejoined ([joinWait]).
 *
 * An attempt is a dial, the join (HELLO, authentication, WELCOME) and re-registering and re-subscribing everything
 * the client had; it fails when any of these fails, so a router that refuses the login or a registration keeps
 * failing attempts until [maxAttempts] ends the client with [ReconnectExhaustedException].
 *
 * Kotlin: `ReconnectPolicy { maxAttempts(10) }`; Java: `ReconnectPolicy.builder().maxAttempts(10).build()`.
 */
public class ReconnectPolicy private constructor(b: Builder) {
    /** The waits between attempts (default [ExponentialBackoff.DEFAULT]). */
    public val backoff: ExponentialBackoff = b.backoff

    /** Consecutive failed attempts after which the client gives up and closes; 0 (the default) never gives up. */
    public val maxAttempts: Int = b.maxAttempts

    /**
     * How long a call, publish, register or subscribe made while the session is down waits for it to be rejoined
     * before failing with [WampConnectionLostException] (default 10 s).
     */
    public val joinWait: Duration = b.joinWait

    /**
     * Where the waits between attempts run (default: the client's own dispatcher). Tests pass a dispatcher of
     * kotlinx-coroutines-test's `TestCoroutineScheduler` to make the backoff wait in virtual time.
     */
    public val waitContext: CoroutineContext = b.waitContext

    init {
        require(maxAttempts >= 0) { "maxAttempts must not be negative, was $maxAttempts" }
        require(!joinWait.isNegative) { "joinWait must not be negative, was $joinWait" }
    }

    /** A builder starting from this policy. */
    public fun toBuilder(): Builder = Builder().also {
        it.backoff = backoff
        it.maxAttempts = maxAttempts
        it.joinWait = joinWait
        it.waitContext = waitContext
    }

    override fun toString(): String = "ReconnectPolicy(backoff=$backoff, maxAttempts=$maxAttempts, joinWait=$joinWait)"

    /** Builds a [ReconnectPolicy]; every setter returns the builder. */
    public class Builder internal constructor() {
        internal var backoff: ExponentialBackoff = ExponentialBackoff.DEFAULT
        internal var maxAttempts: Int = 0
        internal var joinWait: Duration = Duration.ofSeconds(10)
        internal var waitContext: CoroutineContext = EmptyCoroutineContext

        /** Sets [ReconnectPolicy.backoff]. */
        public fun backoff(backoff: ExponentialBackoff): Builder = apply { this.backoff = backoff }

        /** Sets [ReconnectPolicy.maxAttempts] (0: never give up). */
        public fun maxAttempts(attempts: Int): Builder = apply { maxAttempts = attempts }

        /** Sets [ReconnectPolicy.joinWait]. */
        public fun joinWait(wait: Duration): Builder = apply { joinWait = wait }

        /** Sets [ReconnectPolicy.joinWait] (Kotlin duration). */
        @JvmSynthetic
        public fun joinWait(wait: kotlin.time.Duration): Builder = joinWait(Duration.ofNanos(wait.inWholeNanoseconds))

        /** Sets [ReconnectPolicy.waitContext] (tests: a virtual-time dispatcher). */
        public fun waitContext(context: CoroutineContext): Builder = apply { waitContext = context }

        /** Builds the policy; throws IllegalArgumentException on invalid values. */
        public fun build(): ReconnectPolicy = ReconnectPolicy(this)
    }

    /** The default policy and the builder. */
    public companion object {
        /** Retries for ever: 1 s doubling to 60 s with ±20 % jitter; operations wait up to 10 s for a rejoin. */
        @JvmField
        public val DEFAULT: ReconnectPolicy = Builder().build()

        /** Starts a builder from the defaults (Java). */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `ReconnectPolicy { maxAttempts(5) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): ReconnectPolicy = Builder().apply(block).build()
    }
}
