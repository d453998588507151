package dev.tether.wamp.message

/**
 * WAMP v2 message type codes: the first element of every message array.
 *
 * ```
 * [ code, field1, field2, ..., Arguments|list?, ArgumentsKw|dict? ]
 *   |      '-- fields fixed per type (ids, dicts, uris)   '-- payload, omitted when empty
 *   '-- one of the constants below
 * ```
 */
public object MessageCodes {
    /** Client asks to join a realm. */
    public const val HELLO: Int = 1

    /** Router accepts the session. */
    public const val WELCOME: Int = 2

    /** Session refused or aborted. */
    public const val ABORT: Int = 3

    /** Router asks for authentication. */
    public const val CHALLENGE: Int = 4

    /** Client answers a challenge. */
    public const val AUTHENTICATE: Int = 5

    /** Either side closes the session. */
    public const val GOODBYE: Int = 6

    /** A request failed. */
    public const val ERROR: Int = 8

    /** Publish an event. */
    public const val PUBLISH: Int = 16

    /** Publish acknowledged. */
    public const val PUBLISHED: Int = 17

    /** Subscribe to a topic. */
    public const val SUBSCRIBE: Int = 32

    /** Subscription made. */
    public const val SUBSCRIBED: Int = 33

    /** Remove a subscription. */
    public const val UNSUBSCRIBE: Int = 34

    /** Subscription removed. */
    public const val UNSUBSCRIBED: Int = 35

    /** An event for a subscription. */
    public const val EVENT: Int = 36

    /** Call a procedure. */
    public const val CALL: Int = 48

    /** Cancel a call. */
    public const val CANCEL: Int = 49

    /** A call's (possibly progressive) result. */
    public const val RESULT: Int = 50

    /** Register a procedure. */
    public const val REGISTER: Int = 64

    /** Registration made. */
    public const val REGISTERED: Int = 65

    /** Remove a registration. */
    public const val UNREGISTER: Int = 66

    /** Registration removed. */
    public const val UNREGISTERED: Int = 67

    /** Router asks a callee to run a procedure. */
    public const val INVOCATION: Int = 68

    /** Router asks a callee to stop an invocation. */
    public const val INTERRUPT: Int = 69

    /** Callee's (possibly progressive) result. */
    public const val YIELD: Int = 70

    /** Every code, in ascending order. */
    @JvmField
    public val ALL: List<Int> = listOf(
        HELLO, WELCOME, ABORT, CHALLENGE, AUTHENTICATE, GOODBYE, ERROR, PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED,
        UNSUBSCRIBE, UNSUBSCRIBED, EVENT, CALL, CANCEL, RESULT, REGISTER, REGISTERED, UNREGISTER, UNREGISTERED,
        INVOCATION, INTERRUPT, YIELD,
    )

    /** The upper-case WAMP name of [code], e.g. `CALL`, or null for an unknown code. */
    @JvmStatic
    public fun nameOf(code: Int): String? = when (code) {
        HELLO -> "HELLO"
        WELCOME -> "WELCOME"
        ABORT -> "ABORT"
        CHALLENGE -> "CHALLENGE"
        AUTHENTICATE -> "AUTHENTICATE"
        GOODBYE -> "GOODBYE"
        ERROR -> "ERROR"
        PUBLISH -> "PUBLISH"
        PUBLISHED -> "PUBLISHED"
        SUBSCRIBE -> "SUBSCRIBE"
        SUBSCRIBED -> "SUBSCRIBED"
        UNSUBSCRIBE -> "UNSUBSCRIBE"
        UNSUBSCRIBED -> "UNSUBSCRIBED"
        EVENT -> "EVENT"
        CALL -> "CALL"
        CANCEL -> "CANCEL"
        RESULT -> "RESULT"
        REGISTER -> "REGISTER"
        REGISTERED -> "REGISTERED"
        UNREGISTER -> "UNREGISTER"
        UNREGISTERED -> "UNREGISTERED"
        INVOCATION -> "INVOCATION"
        INTERRUPT -> "INTERRUPT"
        YIELD -> "YIELD"
        else -> null
    }
}
