@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.javaFuture
import dev.tether.wamp.error.ProgressNotAcceptedException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.message.WampValues
import kotlinx.coroutines.CoroutineScope
import java.time.Duration
import java.util.concurrent.CompletableFuture

/** A call's final result: positional [args], keyword [kwargs] and the RESULT [details]. */
public data class CallResult(
    /** Positional results. */
    val args: List<Any?>,
    /** Keyword results. */
    val kwargs: Map<String, Any?>,
    /** RESULT details (`progress` on a progressive result). */
    val details: Map<String, Any?>,
) {
    /** The payload passthru options the callee answered with (RESULT details `ppt_*`), or null. */
    val payloadPassthru: PayloadPassthru? get() = PayloadPassthru.fromDetails(details)

    /** The single binary argument of a non-native passthru result ([PayloadPassthru.payloadOf]), else null. */
    val passthruPayload: ByteArray? get() = PayloadPassthru.payloadOf(args, details)
}

/**
 * A call routed to this session's registration: [args], [kwargs], and INVOCATION [details] (caller
 * identification, `procedure` for pattern registrations, `receive_progress`, `timeout`, ...), with typed accessors
 * for the advanced-profile details ([procedure], [caller], [timeout], ...).
 *
 * While the handler runs it may send progressive results with [sendProgress] when the caller asked for them
 * ([receiveProgress]); the handler's return value is the final result. A plain class, not a data class: an
 * invocation is tied to the session that received it (its progress channel), which a copy could not carry.
 * Tests of a handler may build one with the public constructor; it then has no session to send progress to.
 */
public class Invocation(
    /** The registration id the call was routed to. */
    public val registration: Long,
    /** Positional arguments (the first chunk of a progressive call). */
    public val args: List<Any?>,
    /** Keyword arguments (the first chunk of a progressive call). */
    public val kwargs: Map<String, Any?>,
    /** INVOCATION details. */
    public val details: Map<String, Any?>,
) {
    /** True when the caller asked for progressive results (INVOCATION details `receive_progress`). */
    public val receiveProgress: Boolean get() = details["receive_progress"] == true

    /**
     * True when the caller streams its arguments (progressive call invocations, INVOCATION details `progress`):
     * [args] and [kwargs] are the first chunk of several. A handler registered with [WampSession.registerStreaming]
     * receives them all; any other handler gets only this first chunk.
     */
    public val isProgressive: Boolean get() = details["progress"] == true

    // The procedure this session registered; set by the session before the handler runs.
    @Volatile
    internal var registeredProcedure: String? = null

    /**
     * The procedure that was called: INVOCATION details `procedure`, which the router adds for a prefix or wildcard
     * registration, else the procedure this session registered. Null only for an invocation that did not come from
     * a session.
     */
    public val procedure: String? get() = details["procedure"] as? String ?: registeredProcedure

    /**
     * The caller's session id (details `caller`) when the router disclosed it: the caller asked (`disclose_me`) or
     * the registration did ([RegisterOptions.discloseCaller]). Null otherwise.
     */
    public val caller: Long? get() = WampValues.asLong(details["caller"])

    /** The caller's authid (details `caller_authid`) when disclosed, else null. */
    public val callerAuthId: String? get() = details["caller_authid"] as? String

    /** The caller's authrole (details `caller_authrole`) when disclosed, else null. */
    public val callerAuthRole: String? get() = details["caller_authrole"] as? String

    /**
     * The call's timeout as the router forwarded it (details `timeout`, for a registration with
     * [RegisterOptions.forwardTimeout]); null when none was forwarded. The session enforces it: past it the handler
     * is cancelled and the caller gets `wamp.error.timeout`.
     */
    public val timeout: Duration?
        get() = WampValues.asLong(details["timeout"])?.takeIf { it > 0 }?.let { Duration.ofMillis(it) }

    /** The payload passthru options of the call (INVOCATION details `ppt_*`, copied by the router), or null. */
    public val payloadPassthru: PayloadPassthru? get() = PayloadPassthru.fromDetails(details)

    /** The single binary argument of a non-native passthru call ([PayloadPassthru.payloadOf]), else null. */
    public val passthruPayload: ByteArray? get() = PayloadPassthru.payloadOf(args, details)

    // Set by the session for invocations whose caller accepts progress; cleared once the handler has answered.
    @Volatile
    internal var progressSink: (suspend (InvokeResult) -> Unit)? = null

    // The owning session's scope, so the Java face's futures stay inside the session's structured concurrency.
    @Volatile
    internal var scope: CoroutineScope? = null

    @Volatile
    private var finished = false

    internal fun finish() {
        finished = true
        progressSink = null
    }

    /**
     * Sends one progressive result (YIELD with `progress: true`) to the caller; the caller receives them in the
     * order sent, before the final result. Throws [ProgressNotAcceptedException] when the caller did not ask for
     * progress ([receiveProgress] is false), when the handler has already returned, or for an invocation that did
     * not come from a session.
     */
    @JvmSynthetic
    public suspend fun sendProgress(args: List<Any?> = emptyList(), kwargs: Map<String, Any?> = emptyMap()) {
        sendProgress(InvokeResult(args, kwargs))
    }

    /**
     * Sends one progressive result with its YIELD options, e.g. a payload passthru chunk made with
     * [InvokeResult.passthru] (the router copies its `ppt_*` options into the caller's progressive RESULT). Throws
     * as the other [sendProgress] does.
     */
    @JvmSynthetic
    public suspend fun sendProgress(result: InvokeResult) {
        if (!receiveProgress) {
            throw ProgressNotAcceptedException("the caller did not ask for progressive results (no receive_progress)")
        }
        val sink = progressSink
        if (finished || sink == null) throw ProgressNotAcceptedException("the invocation has already been answered")
        sink(
            InvokeResult(
                WampValues.normalize(result.args) as List<Any?>,
                WampValues.normalizeMap(result.kwargs),
                result.options,
            ),
        )
    }

    /** Java face of [sendProgress]; completes once the progressive result is sent. */
    @JvmOverloads
    public fun sendProgressAsync(
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<Void?> = sendProgressAsync(InvokeResult(args, kwargs))

    /** Java face of [sendProgress] with a whole [InvokeResult] (its options too, e.g. payload passthru). */
    public fun sendProgressAsync(result: InvokeResult): CompletableFuture<Void?> {
        val owner = scope
            ?: return CompletableFuture.failedFuture(
                ProgressNotAcceptedException("the invocation did not come from a session"),
            )
        return owner.javaFuture {
            sendProgress(result)
            null
        }
    }

    override fun toString(): String =
        "Invocation(registration=$registration, args=$args, kwargs=$kwargs, details=$details)"
}

/** What an invocation handler returns: sent to the caller as YIELD. To fail, throw [RpcException]. */
public data class InvokeResult @JvmOverloads constructor(
    /** Positional results. */
    val args: List<Any?> = emptyList(),
    /** Keyword results. */
    val kwargs: Map<String, Any?> = emptyMap(),
    /** YIELD options. */
    val options: Map<String, Any?> = emptyMap(),
) {
    /** Shorthands for common results. */
    public companion object {
        /** A result with positional arguments only. */
        @JvmStatic
        public fun of(vararg args: Any?): InvokeResult = InvokeResult(args.toList())

        /**
         * A passthru result whose payload is one opaque binary value, already encoded as [options]' serializer
         * says (YIELD options `ppt_*`, copied by the router into the caller's RESULT details). Throws
         * IllegalArgumentException when [options] use the [PayloadPassthru.NATIVE] serializer: use the overload with
         * args then.
         */
        @JvmStatic
        public fun passthru(options: PayloadPassthru, payload: ByteArray): InvokeResult {
            require(!options.isNative) { "a binary passthru payload needs a non-native ppt_serializer" }
            return InvokeResult(listOf(payload), emptyMap(), options.toMap())
        }

        /**
         * A passthru result with a native payload ([args], [kwargs]); throws IllegalArgumentException when [options]
         * name a non-native serializer and the payload is not one [ByteArray] argument without kwargs.
         */
        @JvmStatic
        @JvmOverloads
        public fun passthru(
            options: PayloadPassthru,
            args: List<Any?>,
            kwargs: Map<String, Any?> = emptyMap(),
        ): InvokeResult {
            val wire = options.toMap()
            PayloadPassthru.checkPayload(wire, args, kwargs)
            return InvokeResult(args, kwargs, wire)
        }
    }
}

/**
 * An event delivered to a subscription: [args], [kwargs] and EVENT [details] (`topic` for pattern subscriptions,
 * publisher identification, ...), with typed accessors for them ([topic], [publisher], ...).
 */
public data class Event(
    /** The subscription id it was delivered for. */
    val subscription: Long,
    /** The publication id the router assigned. */
    val publication: Long,
    /** Positional arguments. */
    val args: List<Any?>,
    /** Keyword arguments. */
    val kwargs: Map<String, Any?>,
    /** EVENT details. */
    val details: Map<String, Any?>,
) {
    // The topic this session subscribed to; set by the session (a copy made with copy() has none).
    @Volatile
    internal var subscribedTopic: String? = null

    /**
     * The topic the event was published to: EVENT details `topic`, which the router adds for a prefix or wildcard
     * subscription, else the topic this session subscribed to. Null only for an event that did not come from a
     * session.
     */
    val topic: String? get() = details["topic"] as? String ?: subscribedTopic

    /** The publisher's session id (details `publisher`) when it asked to be disclosed, else null. */
    val publisher: Long? get() = WampValues.asLong(details["publisher"])

    /** The publisher's authid (details `publisher_authid`) when disclosed, else null. */
    val publisherAuthId: String? get() = details["publisher_authid"] as? String

    /** The publisher's authrole (details `publisher_authrole`) when disclosed, else null. */
    val publisherAuthRole: String? get() = details["publisher_authrole"] as? String

    /** The payload passthru options of the publication (EVENT details `ppt_*`, copied by the router), or null. */
    val payloadPassthru: PayloadPassthru? get() = PayloadPassthru.fromDetails(details)

    /** The single binary argument of a non-native passthru event ([PayloadPassthru.payloadOf]), else null. */
    val passthruPayload: ByteArray? get() = PayloadPassthru.payloadOf(args, details)
}
