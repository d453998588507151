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
    public val client: RelayClientConfig = b.client
    public val cleanupInterval: Duration = b.cleanupInterval
    public val keepUnusedServerTime: Duration = b.keepUnusedServerTime
    public val quickReconnectDelay: Duration = b.quickReconnectDelay
    public val backoff: GuardBackoff = b.backoff
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

        public fun client(value: RelayClientConfig): Builder = apply { client = value }
        public fun cleanupInterval(value: Duration): Builder = apply { cleanupInterval = value }
        @JvmSynthetic public fun cleanupInterval(value: kotlin.time.Duration): Builder = cleanupInterval(value.toJavaDuration())
        public fun keepUnusedServerTime(value: Duration): Builder = apply { keepUnusedServerTime = value }
        @JvmSynthetic public fun keepUnusedServerTime(value: kotlin.time.Duration): Builder = keepUnusedServerTime(value.toJavaDuration())
        public fun quickReconnectDelay(value: Duration): Builder = apply { quickReconnectDelay = value }
        @JvmSynthetic public fun quickReconnectDelay(value: kotlin.time.Duration): Builder = quickReconnectDelay(value.toJavaDuration())
        public fun backoff(value: GuardBackoff): Builder = apply { backoff = value }
        public fun pickerTimeout(value: Duration): Builder = apply { pickerTimeout = value }
        @JvmSynthetic public fun pickerTimeout(value: kotlin.time.Duration): Builder = pickerTimeout(value.toJavaDuration())
        public fun build(): ManagerConfig = ManagerConfig(this)
    }

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
