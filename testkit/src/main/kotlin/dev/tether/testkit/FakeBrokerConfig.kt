package dev.tether.testkit

import java.time.Duration

/**
 * Settings of a [FakeBroker]. Defaults are the real broker's: pings every 30 s with a 10 s pong deadline, 256
 * connections, 32 per IP, 1 MiB messages, 16 bad frames in a row; token "test-token"; an ephemeral port.
 * Build one with [builder] (Java) or `FakeBrokerConfig { tokens("a") }` (Kotlin).
 */
public class FakeBrokerConfig private constructor(b: Builder) {
    /** The accepted bearer tokens; [FakeBroker.token] is the first. */
    public val tokens: Set<String> = b.tokens.toSet()

    /** Whether an upgrade needs a token. */
    public val requireAuth: Boolean = b.requireAuth

    /** Server ping interval; zero: no server pings. */
    public val pingInterval: Duration = b.pingInterval

    /** How long the broker waits for each pong. */
    public val pongTimeout: Duration = b.pongTimeout

    /** Most live connections in total. */
    public val maxConnections: Int = b.maxConnections

    /** Most live connections from one IP. */
    public val maxConnectionsPerIp: Int = b.maxConnectionsPerIp

    /** Largest inbound message. */
    public val maxMessageBytes: Long = b.maxMessageBytes

    /** Undecodable frames in a row before the broker closes with 1008. */
    public val badFrameLimit: Int = b.badFrameLimit

    /** How many of the most recent inbound frames [FakeBroker.received] keeps. */
    public val recordFrames: Int = b.recordFrames

    /** The port to listen on; 0: one the system picks. */
    public val port: Int = b.port

    /** Builder of [FakeBrokerConfig]; every setter returns it. */
    public class Builder internal constructor() {
        internal var tokens = linkedSetOf("test-token")
        internal var requireAuth = true
        internal var pingInterval: Duration = Duration.ofSeconds(30)
        internal var pongTimeout: Duration = Duration.ofSeconds(10)
        internal var maxConnections = 256
        internal var maxConnectionsPerIp = 32
        internal var maxMessageBytes = 1L shl 20
        internal var badFrameLimit = 16
        internal var recordFrames = 10_000
        internal var port = 0

        /** The accepted bearer tokens (at least one); the first is [FakeBroker.token]. */
        public fun tokens(vararg values: String): Builder = apply {
            require(values.isNotEmpty()) { "give at least one token" }
            tokens = linkedSetOf(*values)
        }

        /** False accepts upgrades without a token. */
        public fun requireAuth(require: Boolean): Builder = apply { requireAuth = require }

        /** Server ping interval; zero disables server pings. */
        public fun pingInterval(interval: Duration): Builder = apply { pingInterval = interval }

        /** How long the broker waits for each pong before it closes with 1001 "ping failed". */
        public fun pongTimeout(timeout: Duration): Builder = apply { pongTimeout = timeout }

        /** Connection caps, in total and per IP; over a cap an upgrade gets HTTP 503. */
        public fun maxConnections(total: Int, perIp: Int): Builder = apply {
            maxConnections = total
            maxConnectionsPerIp = perIp
        }

        /** Largest inbound message; a larger one closes the connection with 1009. */
        public fun maxMessageBytes(bytes: Long): Builder = apply { maxMessageBytes = bytes }

        /** Undecodable frames in a row before the broker closes with 1008. */
        public fun badFrameLimit(limit: Int): Builder = apply { badFrameLimit = limit }

        /** How many of the most recent inbound frames [FakeBroker.received] keeps (default 10 000). */
        public fun recordFrames(count: Int): Builder = apply {
            require(count >= 0) { "count must not be negative" }
            recordFrames = count
        }

        /** The port to listen on (default 0: one the system picks; tests should keep that). */
        public fun port(value: Int): Builder = apply {
            require(value in 0..65535) { "not a port: $value" }
            port = value
        }

        /** The config. */
        public fun build(): FakeBrokerConfig = FakeBrokerConfig(this)
    }

    /** Builder and defaults. */
    public companion object {
        /** The real broker's defaults. */
        @JvmField
        public val DEFAULT: FakeBrokerConfig = Builder().build()

        /** A builder starting from the defaults. */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `FakeBrokerConfig { pingInterval(Duration.ofMillis(200)) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): FakeBrokerConfig = Builder().apply(block).build()
    }
}
