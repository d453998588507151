package dev.tether.wamp

import java.time.Duration
import kotlin.time.toJavaDuration

/**
 * How the router cancels a call this session abandons (CANCEL option `mode`). A callee that did not announce
 * `call_canceling` makes every mode [SKIP] at the router.
 */
public enum class CancelMode(
    /** The value on the wire. */
    public val wire: String,
) {
    /** The router answers the caller at once and tells the callee nothing; the callee's late result is dropped. */
    SKIP("skip"),

    /** The router interrupts the callee and answers the caller only once the callee has answered. */
    KILL("kill"),

    /** The router answers the caller at once and interrupts the callee (the nexus default). */
    KILL_NO_WAIT("killnowait"),
}

/**
 * Typed CALL options: each feature of the dealer reachable without knowing its option key, with [option] as the
 * escape hatch for anything else (it wins over a typed setting of the same key).
 *
 * ```kotlin
 * session.call("com.slow", listOf(1), options = CallOptions { timeout(2.seconds); cancelMode(CancelMode.KILL) })
 * ```
 * ```java
 * session.callAsync("com.slow", List.of(1), Map.of(), CallOptions.builder().timeout(Duration.ofSeconds(2)).build());
 * ```
 */
public class CallOptions private constructor(b: Builder) {
    /**
     * The router-side call timeout (`timeout`, whole milliseconds): past it the router cancels the call and answers
     * `wamp.error.timeout`, or forwards it to a callee that registered with `forward_timeout`. Null: none. This is
     * not [SessionConfig.callTimeout], which the client enforces itself.
     */
    public val timeout: Duration? = b.timeout

    /** Asks the router to disclose this session to the callee (`disclose_me`: `caller`, `caller_authid`, ...). */
    public val discloseMe: Boolean = b.discloseMe

    /** How an abandoned call is cancelled; null: [SessionConfig.cancelMode]. Not sent with the CALL. */
    public val cancelMode: CancelMode? = b.cancelMode

    /**
     * Payload passthru options (`ppt_scheme`, `ppt_serializer`, ...); null: an ordinary call. With a non-native
     * serializer the call's arguments must be exactly one [ByteArray] and no kwargs (else the call throws
     * IllegalArgumentException); the router hands them to the callee unchanged ([Invocation.payloadPassthru]).
     */
    public val payloadPassthru: PayloadPassthru? = b.payloadPassthru

    /** Raw options added as they are, after the typed ones. */
    public val extra: Map<String, Any?> = LinkedHashMap(b.extra)

    init {
        timeout?.let { require(!it.isNegative && !it.isZero) { "timeout must be positive, was $it" } }
    }

    /** The CALL options on the wire. */
    public fun toMap(): Map<String, Any?> = buildMap {
        timeout?.let { put("timeout", it.toMillis()) }
        if (discloseMe) put("disclose_me", true)
        payloadPassthru?.let { putAll(it.toMap()) }
        putAll(extra)
    }

    /** A builder starting from these options. */
    public fun toBuilder(): Builder = Builder().also {
        it.timeout = timeout
        it.discloseMe = discloseMe
        it.cancelMode = cancelMode
        it.payloadPassthru = payloadPassthru
        it.extra.putAll(extra)
    }

    override fun equals(other: Any?): Boolean =
        other is CallOptions && toMap() == other.toMap() && cancelMode == other.cancelMode
    override fun hashCode(): Int = toMap().hashCode() * 31 + (cancelMode?.hashCode() ?: 0)
    override fun toString(): String = "CallOptions(${toMap()}, cancelMode=$cancelMode)"

    /** Builds [CallOptions]. */
    public class Builder internal constructor() {
        internal var timeout: Duration? = null
        internal var discloseMe: Boolean = false
        internal var cancelMode: CancelMode? = null
        internal var payloadPassthru: PayloadPassthru? = null
        internal val extra: MutableMap<String, Any?> = LinkedHashMap()

        /** Sets [CallOptions.timeout] (null: none). */
        public fun timeout(timeout: Duration?): Builder = apply { this.timeout = timeout }

        /** Sets [CallOptions.timeout] (Kotlin duration). */
        @JvmSynthetic
        public fun timeout(timeout: kotlin.time.Duration): Builder = timeout(timeout.toJavaDuration())

        /** Sets [CallOptions.discloseMe]. */
        @JvmOverloads
        public fun discloseMe(disclose: Boolean = true): Builder = apply { discloseMe = disclose }

        /** Sets [CallOptions.cancelMode]. */
        public fun cancelMode(mode: CancelMode?): Builder = apply { cancelMode = mode }

        /** Sets [CallOptions.payloadPassthru] (null: none). */
        public fun payloadPassthru(options: PayloadPassthru?): Builder = apply { payloadPassthru = options }

        /** Adds a raw option [key] with [value] (the escape hatch). */
        public fun option(key: String, value: Any?): Builder = apply { extra[key] = value }

        /** Builds the options; throws IllegalArgumentException on invalid values. */
        public fun build(): CallOptions = CallOptions(this)
    }

    /** The default options and the builder. */
    public companion object {
        /** No options: the router's defaults and [SessionConfig.cancelMode]. */
        @JvmField
        public val DEFAULT: CallOptions = Builder().build()

        /** A new builder. */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `CallOptions { timeout(2.seconds) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): CallOptions = Builder().apply(block).build()
    }
}
