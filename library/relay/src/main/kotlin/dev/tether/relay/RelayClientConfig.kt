package dev.tether.relay

import dev.tether.core.TransportObserver
import java.time.Duration
import javax.net.ssl.X509TrustManager
import kotlin.time.toJavaDuration

/**
 * Tunables of a [RelayClient]. The defaults are netbird's; tests shorten the timers. Immutable; Java:
 * `RelayClientConfig.builder().connQueueSize(1000).build()`, Kotlin: `RelayClientConfig { connQueueSize(1000) }`.
 *
 * @property handshakeTimeout bound on the wait for AuthResponse (8 s).
 * @property dialTimeout bound on one WebSocket dial (30 s).
 * @property healthCheckTimeout the session is declared dead when no server health check arrived for this long (35 s).
 * @property openConnTimeout bound on openConn's wait for the peer to come online (30 s).
 * @property connQueueSize inbound messages each [RelayConn] queues before dropping (or, with [backpressure], before
 *   the relay socket stops being read) (100).
 * @property backpressure when true a full connection queue pauses the relay socket instead of dropping: right for
 *   a relay connection that serves one peer, wrong when one slow peer must not stall others (false).
 * @property earlyBufferTtl how long a message from a peer without a connection is kept (5 s).
 * @property earlyBufferCapacity how many peers the early buffer holds a message for (10 000).
 * @property trustManager TLS trust for `rels://` (null: the JVM's trust store).
 * @property observer watches the relay WebSocket's dials, ends and traffic (metrics; see [TransportObserver]).
 */
public class RelayClientConfig private constructor(b: Builder) {
    /** Bound on the wait for AuthResponse. */
    public val handshakeTimeout: Duration = b.handshakeTimeout

    /** Bound on one WebSocket dial. */
    public val dialTimeout: Duration = b.dialTimeout

    /** How long the session lives without a server health check. */
    public val healthCheckTimeout: Duration = b.healthCheckTimeout

    /** Bound on openConn's wait for the peer. */
    public val openConnTimeout: Duration = b.openConnTimeout

    /** Inbound messages each connection queues. */
    public val connQueueSize: Int = b.connQueueSize

    /** Whether a full queue pauses the relay socket instead of dropping. */
    public val backpressure: Boolean = b.backpressure

    /** How long an early message is kept. */
    public val earlyBufferTtl: Duration = b.earlyBufferTtl

    /** How many peers the early buffer holds a message for. */
    public val earlyBufferCapacity: Int = b.earlyBufferCapacity

    /** TLS trust for `rels://` (null: the JVM's). */
    public val trustManager: X509TrustManager? = b.trustManager

    /** Watches the relay WebSocket, or null. */
    public val observer: TransportObserver? = b.observer

    init {
        val timers = listOf(
            "handshakeTimeout" to handshakeTimeout,
            "dialTimeout" to dialTimeout,
            "healthCheckTimeout" to healthCheckTimeout,
            "openConnTimeout" to openConnTimeout,
            "earlyBufferTtl" to earlyBufferTtl,
        )
        for ((name, d) in timers) require(!d.isNegative && !d.isZero) { "$name must be positive, was $d" }
        require(connQueueSize > 0) { "connQueueSize must be positive, was $connQueueSize" }
        require(earlyBufferCapacity >= 0) { "earlyBufferCapacity must not be negative" }
    }

    /** A builder starting from this config. */
    public fun toBuilder(): Builder = Builder().also {
        it.handshakeTimeout = handshakeTimeout
        it.dialTimeout = dialTimeout
        it.healthCheckTimeout = healthCheckTimeout
        it.openConnTimeout = openConnTimeout
        it.connQueueSize = connQueueSize
        it.backpressure = backpressure
        it.earlyBufferTtl = earlyBufferTtl
        it.earlyBufferCapacity = earlyBufferCapacity
        it.trustManager = trustManager
        it.observer = observer
    }

    /** Fluent construction; every setter returns the builder. */
    public class Builder internal constructor() {
        internal var handshakeTimeout: Duration = Duration.ofMillis(RelayProtocol.HANDSHAKE_TIMEOUT_MILLIS)
        internal var dialTimeout: Duration = Duration.ofMillis(RelayProtocol.DIAL_TIMEOUT_MILLIS)
        internal var healthCheckTimeout: Duration = Duration.ofMillis(RelayProtocol.CLIENT_HEALTH_TIMEOUT_MILLIS)
        internal var openConnTimeout: Duration = Duration.ofMillis(RelayProtocol.OPEN_CONN_TIMEOUT_MILLIS)
        internal var connQueueSize: Int = RelayProtocol.CONN_QUEUE_SIZE
        internal var backpressure: Boolean = false
        internal var earlyBufferTtl: Duration = Duration.ofMillis(RelayProtocol.EARLY_BUFFER_TTL_MILLIS)
        internal var earlyBufferCapacity: Int = RelayProtocol.EARLY_BUFFER_CAPACITY
        internal var trustManager: X509TrustManager? = null
        internal var observer: TransportObserver? = null

        /** Bound on the wait for AuthResponse (8 s). */
        public fun handshakeTimeout(value: Duration): Builder = apply { handshakeTimeout = value }

        /** Kotlin form of [handshakeTimeout]. */
        @JvmSynthetic
        public fun handshakeTimeout(value: kotlin.time.Duration): Builder = handshakeTimeout(value.toJavaDuration())

        /** Bound on one WebSocket dial (30 s). */
        public fun dialTimeout(value: Duration): Builder = apply { dialTimeout = value }

        /** Kotlin form of [dialTimeout]. */
        @JvmSynthetic
        public fun dialTimeout(value: kotlin.time.Duration): Builder = dialTimeout(value.toJavaDuration())

        /** The session is declared dead when no server health check arrived for this long (35 s). */
        public fun healthCheckTimeout(value: Duration): Builder = apply { healthCheckTimeout = value }

        /** Kotlin form of [healthCheckTimeout]. */
        @JvmSynthetic
        public fun healthCheckTimeout(value: kotlin.time.Duration): Builder = healthCheckTimeout(value.toJavaDuration())

        /** Bound on openConn's wait for the peer to come online (30 s). */
        public fun openConnTimeout(value: Duration): Builder = apply { openConnTimeout = value }

        /** Kotlin form of [openConnTimeout]. */
        @JvmSynthetic
        public fun openConnTimeout(value: kotlin.time.Duration): Builder = openConnTimeout(value.toJavaDuration())

        /** Inbound messages each connection queues (100). */
        public fun connQueueSize(value: Int): Builder = apply { connQueueSize = value }

        /** True: a full connection queue pauses the relay socket instead of dropping (false). */
        public fun backpressure(value: Boolean): Builder = apply { backpressure = value }

        /** How long a message from a peer without a connection is kept (5 s). */
        public fun earlyBufferTtl(value: Duration): Builder = apply { earlyBufferTtl = value }

        /** Kotlin form of [earlyBufferTtl]. */
        @JvmSynthetic
        public fun earlyBufferTtl(value: kotlin.time.Duration): Builder = earlyBufferTtl(value.toJavaDuration())

        /** How many peers the early buffer holds a message for (10 000). */
        public fun earlyBufferCapacity(value: Int): Builder = apply { earlyBufferCapacity = value }

        /** TLS trust for `rels://`; null (default): the JVM's trust store. */
        public fun trustManager(value: X509TrustManager?): Builder = apply { trustManager = value }

        /** Watches the relay WebSocket (metrics); null (default) removes it. */
        public fun observer(value: TransportObserver?): Builder = apply { observer = value }

        /** The config; throws `IllegalArgumentException` for a timer that is not positive or a bad size. */
        public fun build(): RelayClientConfig = RelayClientConfig(this)
    }

    /** The defaults and the builders. */
    public companion object {
        /** netbird's defaults. */
        @JvmField
        public val DEFAULT: RelayClientConfig = Builder().build()

        /** A builder starting from the defaults (Java). */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `RelayClientConfig { connQueueSize(1000) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): RelayClientConfig = Builder().apply(block).build()
    }
}
