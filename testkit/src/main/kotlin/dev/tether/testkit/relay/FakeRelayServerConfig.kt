package dev.tether.testkit.relay

import dev.tether.relay.RelayProtocol
import java.time.Clock
import java.time.Duration
import java.util.UUID

/**
 * Settings of a [FakeRelayServer]; the defaults are the real server's: health checks every 25 s, 45 s timeout,
 * 10 s handshake and write timeouts, a random secret; an ephemeral port. Build one with [builder] (Java) or
 * `FakeRelayServerConfig { ... }` (Kotlin).
 */
public class FakeRelayServerConfig private constructor(b: Builder) {
    /** The secret login tokens are signed with (at start; see [FakeRelayServer.rotateCredentials]). */
    public val secret: String = b.secret

    /** What AuthResponse carries; null: the server's own URL. */
    public val instanceUrl: String? = b.instanceUrl

    /** How often health checks go out. */
    public val healthCheckInterval: Duration = b.healthCheckInterval

    /** How long a peer may stay silent to health checks. */
    public val healthCheckTimeout: Duration = b.healthCheckTimeout

    /** Bound on the Auth message. */
    public val handshakeTimeout: Duration = b.handshakeTimeout

    /** Bound on each write. */
    public val writeTimeout: Duration = b.writeTimeout

    /** The clock token expiry is checked against. */
    public val clock: Clock = b.clock

    /** The port to listen on; 0: one the system picks. */
    public val port: Int = b.port

    /** Builder of [FakeRelayServerConfig]; every setter returns it. */
    public class Builder internal constructor() {
        internal var secret: String = "secret-" + UUID.randomUUID()
        internal var instanceUrl: String? = null
        internal var healthCheckInterval: Duration = Duration.ofMillis(RelayProtocol.HEALTH_CHECK_INTERVAL_MILLIS)
        internal var healthCheckTimeout: Duration = Duration.ofMillis(RelayProtocol.SERVER_HEALTH_TIMEOUT_MILLIS)
        internal var handshakeTimeout: Duration = Duration.ofMillis(RelayProtocol.SERVER_HANDSHAKE_TIMEOUT_MILLIS)
        internal var writeTimeout: Duration = Duration.ofMillis(RelayProtocol.SERVER_WRITE_TIMEOUT_MILLIS)
        internal var clock: Clock = Clock.systemUTC()
        internal var port: Int = 0

        /** The relay secret tokens are signed with. */
        public fun secret(value: String): Builder = apply {
            require(value.isNotEmpty()) { "the secret must not be empty" }
            secret = value
        }

        /** What AuthResponse carries (default: the server's own `rel://127.0.0.1:PORT`). */
        public fun instanceUrl(value: String?): Builder = apply { instanceUrl = value }

        /** How often health checks go out (default 25 s). */
        public fun healthCheckInterval(value: Duration): Builder = apply { healthCheckInterval = value }

        /** How long a peer may stay silent to health checks (default 45 s). */
        public fun healthCheckTimeout(value: Duration): Builder = apply { healthCheckTimeout = value }

        /** Bound on the Auth message (default 10 s). */
        public fun handshakeTimeout(value: Duration): Builder = apply { handshakeTimeout = value }

        /** Bound on each write (default 10 s). */
        public fun writeTimeout(value: Duration): Builder = apply { writeTimeout = value }

        /** The clock token expiry is checked against. */
        public fun clock(value: Clock): Builder = apply { clock = value }

        /**
         * The port to listen on (default 0: one the system picks). Only for restarting a relay where a stopped
         * instance ran, with the same [secret], so that its clients can reconnect: pass the old
         * [FakeRelayServer.port].
         */
        public fun port(value: Int): Builder = apply {
            require(value in 0..65535) { "not a port: $value" }
            port = value
        }

        /** The config. */
        public fun build(): FakeRelayServerConfig = FakeRelayServerConfig(this)
    }

    /** Builder and defaults. */
    public companion object {
        /** A builder starting from the defaults (a fresh random secret). */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `FakeRelayServerConfig { healthCheckInterval(Duration.ofMillis(200)) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): FakeRelayServerConfig = Builder().apply(block).build()
    }
}
