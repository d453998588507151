package dev.tether.wamp

/**
 * Typed SUBSCRIBE options: pattern-based subscription without knowing its option key, with [option] as the escape
 * hatch for anything else (it wins over a typed setting of the same key).
 *
 * ```kotlin
 * session.subscribe("com.sensor..temperature", SubscribeOptions { match(MatchPolicy.WILDCARD) }) { event -> ... }
 * ```
 * ```java
 * session.subscribeAsync("com.sensor.", handler, SubscribeOptions.builder().match(MatchPolicy.PREFIX).build());
 * ```
 */
public class SubscribeOptions private constructor(b: Builder) {
    /**
     * How publications are matched to this subscription (`match`); null: exact. For a pattern the router adds the
     * published URI to each event ([Event.topic]).
     */
    public val match: MatchPolicy? = b.match

    /** Raw options added as they are, after the typed ones. */
    public val extra: Map<String, Any?> = LinkedHashMap(b.extra)

    /** The SUBSCRIBE options on the wire. */
    public fun toMap(): Map<String, Any?> = buildMap {
        match?.let { put("match", it.wire) }
        putAll(extra)
    }

    /** A builder starting from these options. */
    public fun toBuilder(): Builder = Builder().also {
        it.match = match
        it.extra.putAll(extra)
    }

    override fun equals(other: Any?): Boolean = other is SubscribeOptions && toMap() == other.toMap()
    override fun hashCode(): Int = toMap().hashCode()
    override fun toString(): String = "SubscribeOptions(${toMap()})"

    /** Builds [SubscribeOptions]. */
    public class Builder internal constructor() {
        internal var match: MatchPolicy? = null
        internal val extra: MutableMap<String, Any?> = LinkedHashMap()

        /** Sets [SubscribeOptions.match] (null: the router's default, exact). */
        public fun match(policy: MatchPolicy?): Builder = apply { match = policy }

        /** Adds a raw option [key] with [value] (the escape hatch). */
        public fun option(key: String, value: Any?): Builder = apply { extra[key] = value }

        /** Builds the options. */
        public fun build(): SubscribeOptions = SubscribeOptions(this)
    }

    /** The default options and the builder. */
    public companion object {
        /** No options: an exact subscription. */
        @JvmField
        public val DEFAULT: SubscribeOptions = Builder().build()

        /** A new builder. */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `SubscribeOptions { match(MatchPolicy.PREFIX) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): SubscribeOptions = Builder().apply(block).build()
    }
}
