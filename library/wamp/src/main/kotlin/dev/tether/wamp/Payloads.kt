package dev.tether.wamp

/** A call's final result: positional [args], keyword [kwargs] and the RESULT [details]. */
public data class CallResult(
    val args: List<Any?>,
    val kwargs: Map<String, Any?>,
    val details: Map<String, Any?>,
)

/**
 * A call routed to this session's registration: [args], [kwargs], and INVOCATION [details] (caller
 * identification, `procedure` for pattern registrations, ...).
 */
public data class Invocation(
    val registration: Long,
    val args: List<Any?>,
    val kwargs: Map<String, Any?>,
    val details: Map<String, Any?>,
)

/** What an invocation handler returns: sent to the caller as YIELD. To fail, throw [RpcException]. */
public data class InvokeResult @JvmOverloads constructor(
    val args: List<Any?> = emptyList(),
    val kwargs: Map<String, Any?> = emptyMap(),
    val options: Map<String, Any?> = emptyMap(),
) {
    public companion object {
        /** A result with positional arguments only. */
        @JvmStatic
        public fun of(vararg args: Any?): InvokeResult = InvokeResult(args.toList())
    }
}

/**
 * An event delivered to a subscription: [args], [kwargs] and EVENT [details] (`topic` for pattern subscriptions,
 * publisher identification, ...).
 */
public data class Event(
    val subscription: Long,
    val publication: Long,
    val args: List<Any?>,
    val kwargs: Map<String, Any?>,
    val details: Map<String, Any?>,
)
