package dev.tether.wamp

import kotlinx.coroutines.future.future

/** A call's final result: positional [args], keyword [kwargs] and the RESULT [details]. */
public data class CallResult(
    val args: List<Any?>,
    val kwargs: Map<String, Any?>,
    val details: Map<String, Any?>,
)

/**
 * A call routed to this session's registration: [args], [kwargs], and INVOCATION [details] (caller
 * identification, `procedure` for pattern registrations, `receive_progress`, ...).
 *
 * While the handler runs it may send progressive results with [sendProgress] when the caller asked for them
 * ([receiveProgress]); the handler's return value is the final result.
 */
public data class Invocation(
    val registration: Long,
    val args: List<Any?>,
    val kwargs: Map<String, Any?>,
    val details: Map<String, Any?>,
) {
    /** True when the caller asked for progressive results (INVOCATION details `receive_progress`). */
    val receiveProgress: Boolean get() = details["receive_progress"] == true

    // Set by the session for invocations whose caller accepts progress; cleared once the handler has answered.
    @Volatile
    internal var progressSink: (suspend (InvokeResult) -> Unit)? = null

    // The owning session's scope, so the Java face's futures stay inside the session's structured concurrency.
    @Volatile
    internal var scope: kotlinx.coroutines.CoroutineScope? = null

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
        if (!receiveProgress) throw ProgressNotAcceptedException("the caller did not ask for progressive results (no receive_progress)")
        val sink = progressSink
        if (finished || sink == null) throw ProgressNotAcceptedException("the invocation has already been answered")
        sink(InvokeResult(WampValues.normalize(args) as List<Any?>, WampValues.normalizeMap(kwargs)))
    }

    /** Java face of [sendProgress]; completes once the progressive result is sent. */
    @JvmOverloads
    public fun sendProgressAsync(args: List<Any?> = emptyList(), kwargs: Map<String, Any?> = emptyMap()): java.util.concurrent.CompletableFuture<Void?> {
        val owner = scope ?: return java.util.concurrent.CompletableFuture.failedFuture(ProgressNotAcceptedException("the invocation did not come from a session"))
        return owner.future { sendProgress(args, kwargs); null }
    }
}

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
