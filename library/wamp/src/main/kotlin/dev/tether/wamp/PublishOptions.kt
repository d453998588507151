package dev.tether.wamp

import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.message.WampValues

/**
 * Typed PUBLISH options: acknowledgement, publisher exclusion, subscriber black- and whitelisting and publisher
 * disclosure, each without knowing its option key, with [option] as the escape hatch for anything else (it wins
 * over a typed setting of the same key).
 *
 * The router delivers an event to a subscriber only if no exclusion list names it and every eligible list that is
 * set names it: lists of different kinds combine with "and", ids within one list with "or".
 *
 * ```kotlin
 * session.publish("com.chat", listOf("hi"), options = PublishOptions { acknowledge(); eligibleAuthRole("admin") })
 * ```
 * ```java
 * session.publishAsync("com.chat", List.of("hi"), Map.of(),
 *     PublishOptions.builder().acknowledge(true).excludeMe(false).build());
 * ```
 */
public class PublishOptions private constructor(b: Builder) {
    /**
     * Asks the router to acknowledge the publication (`acknowledge`): `publish` then waits for PUBLISHED and returns
     * the publication id, and a refusal becomes a [WampErrorException]. Without it `publish` returns once the message
     * is sent and a refusal is silent.
     */
    public val acknowledge: Boolean = b.acknowledge

    /**
     * Whether the publisher itself is left out (`exclude_me`); true is the WAMP default, false delivers the event to
     * this session too when it is subscribed. Sent only when false.
     */
    public val excludeMe: Boolean = b.excludeMe

    /** Session ids that do not receive the event (`exclude`); null: none excluded by id. */
    public val exclude: List<Long>? = b.exclude

    /** The only session ids that may receive the event (`eligible`); null: any. An empty list: nobody. */
    public val eligible: List<Long>? = b.eligible

    /** Sessions with one of these authids do not receive the event (`exclude_authid`); null: none. */
    public val excludeAuthId: List<String>? = b.excludeAuthId

    /** Only sessions with one of these authids may receive the event (`eligible_authid`); null: any. */
    public val eligibleAuthId: List<String>? = b.eligibleAuthId

    /** Sessions with one of these authroles do not receive the event (`exclude_authrole`); null: none. */
    public val excludeAuthRole: List<String>? = b.excludeAuthRole

    /** Only sessions with one of these authroles may receive the event (`eligible_authrole`); null: any. */
    public val eligibleAuthRole: List<String>? = b.eligibleAuthRole

    /**
     * Asks the router to disclose this session to the subscribers (`disclose_me`): EVENT details `publisher`,
     * `publisher_authid`, `publisher_authrole` ([Event.publisher], ...). A realm may refuse it.
     */
    public val discloseMe: Boolean = b.discloseMe

    /**
     * Payload passthru options (`ppt_scheme`, `ppt_serializer`, ...); null: an ordinary publication. With a
     * non-native serializer the arguments must be exactly one [ByteArray] and no kwargs (else publishing throws
     * IllegalArgumentException); the router hands them to subscribers unchanged ([Event.payloadPassthru]) and skips
     * subscribers that did not announce `payload_passthru_mode`.
     */
    public val payloadPassthru: PayloadPassthru? = b.payloadPassthru

    /** Raw options added as they are, after the typed ones. */
    public val extra: Map<String, Any?> = LinkedHashMap(b.extra)

    init {
        for (ids in listOfNotNull(exclude, eligible)) {
            for (id in ids) require(id in 1..WampValues.MAX_ID) { "session ids lie in [1, 2^53], was $id" }
        }
    }

    /** The PUBLISH options on the wire. */
    public fun toMap(): Map<String, Any?> = buildMap {
        if (acknowledge) put("acknowledge", true)
        if (!excludeMe) put("exclude_me", false)
        exclude?.let { put("exclude", it) }
        eligible?.let { put("eligible", it) }
        excludeAuthId?.let { put("exclude_authid", it) }
        eligibleAuthId?.let { put("eligible_authid", it) }
        excludeAuthRole?.let { put("exclude_authrole", it) }
        eligibleAuthRole?.let { put("eligible_authrole", it) }
        if (discloseMe) put("disclose_me", true)
        payloadPassthru?.let { putAll(it.toMap()) }
        putAll(extra)
    }

    /** A builder starting from these options. */
    public fun toBuilder(): Builder = Builder().also {
        it.acknowledge = acknowledge
        it.excludeMe = excludeMe
        it.exclude = exclude
        it.eligible = eligible
        it.excludeAuthId = excludeAuthId
        it.eligibleAuthId = eligibleAuthId
        it.excludeAuthRole = excludeAuthRole
        it.eligibleAuthRole = eligibleAuthRole
        it.discloseMe = discloseMe
        it.payloadPassthru = payloadPassthru
        it.extra.putAll(extra)
    }

    override fun equals(other: Any?): Boolean = other is PublishOptions && toMap() == other.toMap()
    override fun hashCode(): Int = toMap().hashCode()
    override fun toString(): String = "PublishOptions(${toMap()})"

    /** Builds [PublishOptions]. Each list setter replaces the list set before; null clears it. */
    public class Builder internal constructor() {
        internal var acknowledge: Boolean = false
        internal var excludeMe: Boolean = true
        internal var exclude: List<Long>? = null
        internal var eligible: List<Long>? = null
        internal var excludeAuthId: List<String>? = null
        internal var eligibleAuthId: List<String>? = null
        internal var excludeAuthRole: List<String>? = null
        internal var eligibleAuthRole: List<String>? = null
        internal var discloseMe: Boolean = false
        internal var payloadPassthru: PayloadPassthru? = null
        internal val extra: MutableMap<String, Any?> = LinkedHashMap()

        /** Sets [PublishOptions.acknowledge]. */
        @JvmOverloads
        public fun acknowledge(acknowledge: Boolean = true): Builder = apply { this.acknowledge = acknowledge }

        /** Sets [PublishOptions.excludeMe] (default true: the publisher does not receive its own event). */
        public fun excludeMe(exclude: Boolean): Builder = apply { excludeMe = exclude }

        /** Sets [PublishOptions.exclude]. */
        public fun exclude(vararg sessionIds: Long): Builder = exclude(sessionIds.toList())

        /** Sets [PublishOptions.exclude] (null: none). */
        public fun exclude(sessionIds: Collection<Long>?): Builder = apply { exclude = sessionIds?.toList() }

        /** Sets [PublishOptions.eligible]. */
        public fun eligible(vararg sessionIds: Long): Builder = eligible(sessionIds.toList())

        /** Sets [PublishOptions.eligible] (null: any session). */
        public fun eligible(sessionIds: Collection<Long>?): Builder = apply { eligible = sessionIds?.toList() }

        /** Sets [PublishOptions.excludeAuthId]. */
        public fun excludeAuthId(vararg authIds: String): Builder = excludeAuthId(authIds.toList())

        /** Sets [PublishOptions.excludeAuthId] (null: none). */
        public fun excludeAuthId(authIds: Collection<String>?): Builder = apply { excludeAuthId = authIds?.toList() }

        /** Sets [PublishOptions.eligibleAuthId]. */
        public fun eligibleAuthId(vararg authIds: String): Builder = eligibleAuthId(authIds.toList())

        /** Sets [PublishOptions.eligibleAuthId] (null: any). */
        public fun eligibleAuthId(authIds: Collection<String>?): Builder = apply { eligibleAuthId = authIds?.toList() }

        /** Sets [PublishOptions.excludeAuthRole]. */
        public fun excludeAuthRole(vararg authRoles: String): Builder = excludeAuthRole(authRoles.toList())

        /** Sets [PublishOptions.excludeAuthRole] (null: none). */
        public fun excludeAuthRole(authRoles: Collection<String>?): Builder =
            apply { excludeAuthRole = authRoles?.toList() }

        /** Sets [PublishOptions.eligibleAuthRole]. */
        public fun eligibleAuthRole(vararg authRoles: String): Builder = eligibleAuthRole(authRoles.toList())

        /** Sets [PublishOptions.eligibleAuthRole] (null: any). */
        public fun eligibleAuthRole(authRoles: Collection<String>?): Builder =
            apply { eligibleAuthRole = authRoles?.toList() }

        /** Sets [PublishOptions.discloseMe]. */
        @JvmOverloads
        public fun discloseMe(disclose: Boolean = true): Builder = apply { discloseMe = disclose }

        /** Sets [PublishOptions.payloadPassthru] (null: none). */
        public fun payloadPassthru(options: PayloadPassthru?): Builder = apply { payloadPassthru = options }

        /** Adds a raw option [key] with [value] (the escape hatch). */
        public fun option(key: String, value: Any?): Builder = apply { extra[key] = value }

        /** Builds the options; throws IllegalArgumentException for a session id outside [1, 2^53]. */
        public fun build(): PublishOptions = PublishOptions(this)
    }

    /** The default options and the builder. */
    public companion object {
        /** No options: unacknowledged, the publisher excluded, every subscriber eligible, the publisher undisclosed. */
        @JvmField
        public val DEFAULT: PublishOptions = Builder().build()

        /** A new builder. */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `PublishOptions { acknowledge(); excludeMe(false) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): PublishOptions = Builder().apply(block).build()
    }
}
