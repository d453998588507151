package dev.tether.wamp.message

/** A WAMP dictionary (Java: `Map<String, Object>`), values from the neutral model of [WampValues]. */
public typealias Dict = Map<String, Any?>

/** A WAMP list (Java: `List<Object>`), values from the neutral model of [WampValues]. */
public typealias WampList = List<Any?>

/**
 * One WAMP v2 message. Each of the 24 types of the basic and advanced profiles is a data class; [code] is its
 * message type number on the wire. Ids are Longs in [0, 2^53]. Arguments and keyword arguments are empty when
 * absent; serializers omit them then (keyword arguments force an empty argument list).
 *
 * Public, not `@InternalTetherApi`: a [dev.tether.wamp.transport.WampTransport] of your own moves these objects (and a
 * [dev.tether.wamp.serializer.Serializer] turns them into bytes). Sessions never hand them to application code.
 * The classes that share a WAMP name with an application type carry a `Message` suffix ([EventMessage],
 * [InvocationMessage], [ErrorMessage], [ResultMessage]).
 */
public sealed interface Message {
    /** The message type code (first element of the wire array). */
    public val code: Int
}

/** A message that carries positional and keyword arguments. */
public sealed interface PayloadMessage : Message {
    /** Positional arguments, empty when absent. */
    public val args: WampList

    /** Keyword arguments, empty when absent. */
    public val kwargs: Dict
}

/** `[HELLO, Realm|uri, Details|dict]`: a client asks to join [realm]. */
public data class Hello(val realm: String, val details: Dict) : Message {
    override val code: Int get() = MessageCodes.HELLO
}

/** `[WELCOME, Session|id, Details|dict]`: the router accepted the session. */
public data class Welcome(val session: Long, val details: Dict) : Message {
    override val code: Int get() = MessageCodes.WELCOME
}

/** `[ABORT, Details|dict, Reason|uri]`: the session was refused or aborted. */
public data class Abort(val details: Dict, val reason: String) : Message {
    override val code: Int get() = MessageCodes.ABORT
}

/** `[CHALLENGE, AuthMethod|string, Extra|dict]`: the router asks the client to authenticate. */
public data class Challenge(val authMethod: String, val extra: Dict) : Message {
    override val code: Int get() = MessageCodes.CHALLENGE
}

/**
 * `[AUTHENTICATE, Signature|string, Extra|dict]`: the client's answer to a [Challenge]. The signature is a
 * credential (for ticket authentication it is the ticket itself): [toString] shows its length only.
 */
public data class Authenticate(val signature: String, val extra: Dict) : Message {
    override val code: Int get() = MessageCodes.AUTHENTICATE

    override fun toString(): String =
        "Authenticate(signature=<${signature.length} characters, not shown>, extra=$extra)"
}

/** `[GOODBYE, Details|dict, Reason|uri]`: either side closes the session; the other side answers in kind. */
public data class Goodbye(val details: Dict, val reason: String) : Message {
    override val code: Int get() = MessageCodes.GOODBYE
}

/** `[ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments|list, ArgumentsKw|dict]`. */
public data class ErrorMessage(
    val requestType: Int,
    val request: Long,
    val details: Dict,
    val error: String,
    override val args: WampList = emptyList(),
    override val kwargs: Dict = emptyMap(),
) : PayloadMessage {
    override val code: Int get() = MessageCodes.ERROR
}

/** `[PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list, ArgumentsKw|dict]`. */
public data class Publish(
    val request: Long,
    val options: Dict,
    val topic: String,
    override val args: WampList = emptyList(),
    override val kwargs: Dict = emptyMap(),
) : PayloadMessage {
    override val code: Int get() = MessageCodes.PUBLISH
}

/** `[PUBLISHED, PUBLISH.Request|id, Publication|id]`: acknowledges a publish that asked for it. */
public data class Published(val request: Long, val publication: Long) : Message {
    override val code: Int get() = MessageCodes.PUBLISHED
}

/** `[SUBSCRIBE, Request|id, Options|dict, Topic|uri]`. */
public data class Subscribe(val request: Long, val options: Dict, val topic: String) : Message {
    override val code: Int get() = MessageCodes.SUBSCRIBE
}

/** `[SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id]`. */
public data class Subscribed(val request: Long, val subscription: Long) : Message {
    override val code: Int get() = MessageCodes.SUBSCRIBED
}

/** `[UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id]`. */
public data class Unsubscribe(val request: Long, val subscription: Long) : Message {
    override val code: Int get() = MessageCodes.UNSUBSCRIBE
}

/**
 * `[UNSUBSCRIBED, UNSUBSCRIBE.Request|id]`, or `[UNSUBSCRIBED, 0, Details|dict]` when the router revokes a
 * subscription; [details] is null when the wire had none.
 */
public data class Unsubscribed(val request: Long, val details: Dict? = null) : Message {
    override val code: Int get() = MessageCodes.UNSUBSCRIBED
}

/** `[EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id, Details|dict, Arguments|list, ArgumentsKw|dict]`. */
public data class EventMessage(
    val subscription: Long,
    val publication: Long,
    val details: Dict,
    override val args: WampList = emptyList(),
    override val kwargs: Dict = emptyMap(),
) : PayloadMessage {
    override val code: Int get() = MessageCodes.EVENT
}

/** `[CALL, Request|id, Options|dict, Procedure|uri, Arguments|list, ArgumentsKw|dict]`. */
public data class Call(
    val request: Long,
    val options: Dict,
    val procedure: String,
    override val args: WampList = emptyList(),
    override val kwargs: Dict = emptyMap(),
) : PayloadMessage {
    override val code: Int get() = MessageCodes.CALL
}

/** `[CANCEL, CALL.Request|id, Options|dict]`. */
public data class Cancel(val request: Long, val options: Dict) : Message {
    override val code: Int get() = MessageCodes.CANCEL
}

/** `[RESULT, CALL.Request|id, Details|dict, Arguments|list, ArgumentsKw|dict]`. */
public data class ResultMessage(
    val request: Long,
    val details: Dict,
    override val args: WampList = emptyList(),
    override val kwargs: Dict = emptyMap(),
) : PayloadMessage {
    override val code: Int get() = MessageCodes.RESULT
}

/** `[REGISTER, Request|id, Options|dict, Procedure|uri]`. */
public data class Register(val request: Long, val options: Dict, val procedure: String) : Message {
    override val code: Int get() = MessageCodes.REGISTER
}

/** `[REGISTERED, REGISTER.Request|id, Registration|id]`. */
public data class Registered(val request: Long, val registration: Long) : Message {
    override val code: Int get() = MessageCodes.REGISTERED
}

/** `[UNREGISTER, Request|id, REGISTERED.Registration|id]`. */
public data class Unregister(val request: Long, val registration: Long) : Message {
    override val code: Int get() = MessageCodes.UNREGISTER
}

/**
 * `[UNREGISTERED, UNREGISTER.Request|id]`, or `[UNREGISTERED, 0, Details|dict]` when the router revokes a
 * registration; [details] is null when the wire had none.
 */
public data class Unregistered(val request: Long, val details: Dict? = null) : Message {
    override val code: Int get() = MessageCodes.UNREGISTERED
}

/** `[INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict, Arguments|list, ArgumentsKw|dict]`. */
public data class InvocationMessage(
    val request: Long,
    val registration: Long,
    val details: Dict,
    override val args: WampList = emptyList(),
    override val kwargs: Dict = emptyMap(),
) : PayloadMessage {
    override val code: Int get() = MessageCodes.INVOCATION
}

/** `[INTERRUPT, INVOCATION.Request|id, Options|dict]`. */
public data class Interrupt(val request: Long, val options: Dict) : Message {
    override val code: Int get() = MessageCodes.INTERRUPT
}

/** `[YIELD, INVOCATION.Request|id, Options|dict, Arguments|list, ArgumentsKw|dict]`. */
public data class Yield(
    val request: Long,
    val options: Dict,
    override val args: WampList = emptyList(),
    override val kwargs: Dict = emptyMap(),
) : PayloadMessage {
    override val code: Int get() = MessageCodes.YIELD
}
