package dev.tether.wamp

/**
 * Which callee of a shared registration the router invokes (REGISTER option `invoke`). Every callee of one
 * registration must register with the same policy; the router refuses a different one, and a second callee of a
 * [SINGLE] registration, with `wamp.error.procedure_already_exists`.
 */
public enum class InvokePolicy(
    /** The value on the wire. */
    public val wire: String,
) {
    /** One callee only (the router's default). */
    SINGLE("single"),

    /** The callees in turn, in the order they registered. */
    ROUNDROBIN("roundrobin"),

    /** A callee picked at random for each call. */
    RANDOM("random"),

    /** The callee that registered first (while it stays registered). */
    FIRST("first"),

    /** The callee that registered last. */
    LAST("last"),
}

/**
 * Typed REGISTER options: pattern-based registration, shared registration, caller disclosure and callee-side call
 * timeouts, each without knowing its option key, with [option] as the escape hatch for anything else (it wins over
 * a typed setting of the same key).
 *
 * ```kotlin
 * val options = RegisterOptions { match(MatchPolicy.PREFIX); invoke(InvokePolicy.ROUNDROBIN) }
 * session.register("com.app.", options) { inv -> ... }
 * ```
 * ```java
 * session.registerAsync("com.app.", handler, RegisterOptions.builder().match(MatchPolicy.PREFIX).build());
 * ```
 */
public class RegisterOptions private constructor(b: Builder) {
    /**
     * How calls are matched to this registration (`match`); null: exact. For a pattern the router adds the called
     * URI to the invocation ([Invocation.procedure]).
     */
    public val match: MatchPolicy? = b.match

    /**
     * Which callee of a shared registration the router invokes (`invoke`); null: single, so a second callee of the
     * procedure is refused.
     */
    public val invoke: InvokePolicy? = b.invoke

    /**
     * Asks the router to disclose the caller on every call (`disclose_caller`), whether or not the caller asked:
     * [Invocation.caller], [Invocation.callerAuthId], [Invocation.callerAuthRole].
     */
    public val discloseCaller: Boolean = b.discloseCaller

    /**
     * Asks the router to forward a call's `timeout` to this callee (`forward_timeout`) instead of timing the call
     * itself: the INVOCATION carries it ([Invocation.timeout]) and the session cancels the handler past it and
     * answers `wamp.error.timeout`.
     */
    public val forwardTimeout: Boolean = b.forwardTimeout

    /** Raw options added as they are, after the typed ones. */
    public val extra: Map<String, Any?> = LinkedHashMap(b.extra)

    /** The REGISTER options on the wire. */
    public fun toMap(): Map<String, Any?> = buildMap {
        match?.let { put("match", it.wire) }
        invoke?.let { put("invoke", it.wire) }
        if (discloseCaller) put("disclose_caller", true)
        if (forwardTimeout) put("forward_timeout", true)
        putAll(extra)
    }

    /** A builder starting from these options. */
    public fun toBuilder(): Builder = Builder().also {
        it.match = match
        it.invoke = invoke
        it.discloseCaller = discloseCaller
        it.forwardTimeout = forwardTimeout
        it.extra.putAll(extra)
    }

    override fun equals(other: Any?): Boolean = other is RegisterOptions && toMap() == other.toMap()
    override fun hashCode(): Int = toMap().hashCode()
    override fun toString(): String = "RegisterOptions(${toMap()})"

    /** Builds [RegisterOptions]. */
    public class Builder internal constructor() {
        internal var match: MatchPolicy? = null
        internal var invoke: InvokePolicy? = null
        internal var discloseCaller: Boolean = false
        internal var forwardTimeout: Boolean = false
        internal val extra: MutableMap<String, Any?> = LinkedHashMap()

        /** Sets [RegisterOptions.match] (null: the router's default, exact). */
        public fun match(policy: MatchPolicy?): Builder = apply { match = policy }

        /** Sets [RegisterOptions.invoke] (null: the router's default, single). */
        public fun invoke(policy: InvokePolicy?): Builder = apply { invoke = policy }

        /** Sets [RegisterOptions.discloseCaller]. */
        @JvmOverloads
        public fun discloseCaller(disclose: Boolean = true): Builder = apply { discloseCaller = disclose }

        /** Sets [RegisterOptions.forwardTimeout]. */
        @JvmOverloads
        public fun forwardTimeout(forward: Boolean = true): Builder = apply { forwardTimeout = forward }

        /** Adds a raw option [key] with [value] (the escape hatch). */
        public fun option(key: String, value: Any?): Builder = apply { extra[key] = value }

        /** Builds the options. */
        public fun build(): RegisterOptions = RegisterOptions(this)
    }

    /** The default options and the builder. */
    public companion object {
        /** No options: an exact, single registration. */
        @JvmField
        public val DEFAULT: RegisterOptions = Builder().build()

        /** A new builder. */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `RegisterOptions { match(MatchPolicy.PREFIX) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): RegisterOptions = Builder().apply(block).build()
    }
}
