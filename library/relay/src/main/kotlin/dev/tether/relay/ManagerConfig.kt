package dev.tether.relay

import dev.tether.core.backoff.GuardBackoff
import java.time.Duration
import kotlin.time.toJavaDuration

/**
 * Tunables of a [Manager]; the defaults are netbird's. Java: `ManagerConfig.builder()...build()`, Kotlin:
 * `ManagerConfig { cleanupInterval(1.seconds) }`.
 *
 * @property client options of every relay client the manager makes.
 * @property cleanupInterval how often unused foreign relays are looked for (60 s).
 * @property keepUnusedServerTime a foreign relay younger than this is kept even without connections (5 s).
 * @property quickReconnectDelay the guard's wait before reconnecting the same home client (1.5 s).
 * @property backoff the guard's ticker after a failed quick reconnect (2 s doubling to 60 s, ±50 %).
 * @property pickerTimeout bound on one pick over all URLs (30 s).
 */
public class ManagerConfig private constructor(b: Builder) {
    /** The config of every relay client the manager makes. */
    public val client: RelayClientConfig = b.client

    /** How often unused foreign relays are looked for. */
    public val cleanupInterval: Duration = b.cleanupInterval

    /** How long a foreign relay is kept without connections. */
    public val keepUnusedServerTime: Duration = b.keepUnusedServerTime

    /** The guard's wait before the quick reconnect. */
    public val quickReconnectDelay: Duration = b.quickReconnectDelay

    /** The guard's ticker after a failed quick reconnect. */
    public val backoff: GuardBackoff = b.backoff

    /** Bound on one pick over all URLs. */
    public val pickerTimeout: Duration = b.pickerTimeout

    init {
        require(!cleanupInterval.isNegative && !cleanupInterval.isZero) { "cleanupInterval must be positive" }
        require(!keepUnusedServerTime.isNegative) { "keepUnusedServerTime must not be negative" }
        require(!quickReconnectDelay.isNegative) { "quickReconnectDelay must not be negative" }
        require(!pickerTimeout.isNegative && !pickerTimeout.isZero) { "pickerTimeout must be positive" }
    }

    /** Fluent construction; every setter returns the builder. */
    public class Builder internal constructor() {
        internal var client: RelayClientConfig = RelayClientConfig.DEFAULT
        internal var cleanupInterval: Duration = Duration.ofMillis(RelayProtocol.CLEANUP_INTERVAL_MILLIS)
        internal var keepUnusedServerTime: Duration = Duration.ofMillis(RelayProtocol.KEEP_UNUSED_SERVER_MILLIS)
        internal var quickReconnectDelay: Duration = Duration.ofMillis(RelayProtocol.QUICK_RECONNECT_DELAY_MILLIS)
        internal var backoff: GuardBackoff = GuardBackoff.DEFAULT
        internal var pickerTimeout: Duration = Duration.ofMillis(RelayProtocol.PICKER_TIMEOUT_MILLIS)

        /** The config of every relay client the manager makes. */
        public fun client(value: RelayClientConfig): Builder = apply { client = value }

        /** How often unused foreign relays are looked for (60 s). */
        public fun cleanupInterval(value: Duration): Builder = apply { cleanupInterval = value }

        /** Kotlin form of [cleanupInterval]. */
        @JvmSynthetic
        public fun cleanupInterval(value: kotlin.time.Duration): Builder = cleanupInterval(value.toJavaDuration())

        /** A foreign relay younger than this is kept even without connections (5 s). */
        public fun keepUnusedServerTime(value: Duration): Builder = apply { keepUnusedServerTime = value }

        /** Kotlin form of [keepUnusedServerTime]. */
        @JvmSynthetic
        public fun keepUnusedServerTime(value: kotlin.time.Duration): Builder =
            keepUnusedServerTime(value.toJavaDuration())

        /** The guard's wait before reconnecting to the same home relay (1.5 s). */
        public fun quickReconnectDelay(value: Duration): Builder = apply { quickReconnectDelay = value }

        /** Kotlin form of [quickReconnectDelay]. */
        @JvmSynthetic
        public fun quickReconnectDelay(value: kotlin.time.Duration): Builder =
            quickReconnectDelay(value.toJavaDuration())

        /** The guard's ticker after a failed quick reconnect (2 s doubling to 60 s, ±50 %). */
        public fun backoff(value: GuardBackoff): Builder = apply { backoff = value }

        /** Bound on one pick over all URLs (30 s). */
        public fun pickerTimeout(value: Duration): Builder = apply { pickerTimeout = value }

        /** Kotlin form of [pickerTimeout]. */
        @JvmSynthetic
        public fun pickerTimeout(value: kotlin.time.Duration): Builder = pickerTimeout(value.toJavaDuration())

        /** The config; throws `IllegalArgumentException` for a timer out of range. */
        public fun build(): ManagerConfig = ManagerConfig(this)
    }

    /** The defaults and the builders. */
    public companion object {
        /** netbird's defaults. */
        @JvmField
        public val DEFAULT: ManagerConfig = Builder().build()

        /** A builder starting from the defaults (Java). */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `ManagerConfig { cleanupInterval(1.seconds) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): ManagerConfig = Builder().apply(block).build()
    }
}
