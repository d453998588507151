@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionException
import dev.tether.core.Lifecycle
import dev.tether.core.TetherScope
import dev.tether.core.javaFuture
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.ChunkBufferOverflowException
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.error.WampException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Publish
import dev.tether.wamp.message.Published
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Unregister
import dev.tether.wamp.message.Unregistered
import dev.tether.wamp.message.Unsubscribe
import dev.tether.wamp.message.Unsubscribed
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.transport.Peer
import dev.tether.wamp.transport.WampTransport
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.cancelChildren
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.consumeAsFlow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.future.await
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CompletionException
import java.util.concurrent.Executor
import java.util.function.BiFunction
import java.util.function.Consumer
import java.util.function.Function
import kotlin.time.toKotlinDuration

/**
 * A joined WAMP session: RPC (call, register) and PubSub (publish, subscribe) over one peer connection (nexus's
 * Client). Create with [connect] (by URL scheme), [join] (over a [WampTransport] you connected yourself) or
 * `connectLocal` of the testkit router. A session does not reconnect: [WampClient] does.
 *
 * Threading: the session's per-message work (decoding, matching replies to requests, completing them, queueing
 * events and invocations) runs where the connection is read and never runs user code: inline on the transport's
 * I/O thread (a Netty event loop, `tether-io-N`) for the WebSocket and RawSocket transports of [connect], in one
 * reader coroutine for a [WampTransport] of your own or a [SessionConfig.socketDialer] socket. Invocation handlers
 * run on [Dispatchers.Default], each in its own coroutine; event handlers run on [Dispatchers.Default], one
 * coroutine per subscription, so events of one subscription arrive in order ([SessionConfig.handlerExecutor] picks
 * another executor). A reply completes its Java future on the I/O thread, so stages added with `thenApply` run
 * there: use `thenApplyAsync` for slow work. A suspended caller resumes on its own dispatcher; [dispatcher] is the
 * I/O thread for callers that never block.
 *
 * Progressive call results: [callProgress] asks for them and runs a callback per progressive RESULT, in order;
 * a handler sends them with [Invocation.sendProgress] when the caller asked. Progressive call invocations: a caller
 * streams its arguments in chunks with [callStreaming]; a handler registered with [registerStreaming] receives
 * them in order.
 *
 * Every request that has a reply is bounded: calls by [SessionConfig.callTimeout] (or the caller's own
 * cancellation, which sends CANCEL), everything else by [SessionConfig.responseTimeout]. Replies that arrive after
 * their request gave up are logged and dropped.
 *
 * Ending: [leave] (or [closeAndJoin], [close], [closeAsync]) leaves the realm with GOODBYE and releases
 * everything; [awaitClosed] and [closedFuture] wait for the end, whoever caused it. A session cannot be reused:
 * after its end every operation fails with [WampSessionClosedException] ([WampConnectionLostException] when the
 * connection was lost).
 */
public class WampSession private constructor(
    private val peer: WampTransport,
    private val config: SessionConfig,
    welcome: Welcome,
) : AutoCloseable {
    /** The session id the router assigned. */
    public val id: Long = welcome.session

    private val log = config.logger ?: LoggerFactory.getLogger(WampSession::class.java)
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("wamp-session-$id"))
    private val lifecycle = Lifecycle<WampSessionClosedException>(scope)

    /** Where invocation and event handlers run ([SessionConfig.handlerExecutor], else [Dispatchers.Default]). */
    private val handlerContext: CoroutineDispatcher =
        config.handlerExecutor?.asCoroutineDispatcher() ?: Dispatchers.Default

    private val correlator = RequestCorrelator(peer, config, log, id) { lifecycle.checkNotEnded() }
    private val subscriptions = Subscriptions(scope, handlerContext, config, log, id)
    private val callee = Callee(scope, handlerContext, correlator, peer, config, log, id)
    private val inbound = SessionInbound(
        peer, scope, config, log, id, correlator, subscriptions, callee,
        isLeaving = { lifecycle.isClosing },
        end = ::end,
    )

    /**
     * The I/O thread that reads this session's connection, as a dispatcher ([Dispatchers.Default] for a transport
     * without one): latency-critical code that never blocks may run here (`withContext(session.dispatcher) { … }`),
     * so that its calls and the replies that resume it need no thread hand-off. Blocking here stalls the session.
     */
    public val dispatcher: CoroutineDispatcher = (peer as? Peer)?.dispatcher ?: Dispatchers.Default

    /** Java face of [dispatcher]: the I/O thread as an executor. */
    public val executor: Executor get() = dispatcher.asExecutor()

    /** The WELCOME details: authid, authrole, authmethod, authprovider, the router's roles. */
    public val realmDetails: Map<String, Any?> = welcome.details

    /** The realm joined. */
    public val realm: String get() = config.realm

    /** WELCOME `authid`, if the router sent one. */
    public val authId: String? get() = realmDetails["authid"] as? String

    /** WELCOME `authrole`, if the router sent one. */
    public val authRole: String? get() = realmDetails["authrole"] as? String

    /** True until the session ended (GOODBYE, ABORT, connection loss, [leave]/[close]). */
    public val isOpen: Boolean get() = !lifecycle.isEnded

    init {
        // Last in the constructor: a pushing peer may deliver at once, on its own thread.
        inbound.start()
    }

    /**
     * Ends the session for [reason] (the first call wins); pending requests fail with the same error: a
     * [WampConnectionLostException] when [cause] is the connection's failure (not a protocol error), else a
     * [WampSessionClosedException].
     */
    private fun end(reason: String, cause: Exception?) {
        val lost = cause != null && cause !is WampException
        val error = if (lost) {
            WampConnectionLostException("WAMP session $id ended: $reason", cause)
        } else {
            WampSessionClosedException("WAMP session $id ended: $reason", cause)
        }
        if (!lifecycle.end(error)) return
        correlator.failAll(error)
        callee.closeStreams(error)
        subscriptions.closeAll()
    }

    // ---------------------------------------------------------------- calls

    /**
     * Calls [procedure] and returns its result. Throws [RpcException] with the ERROR's URI, args, kwargs and
     * details. Cancelling the calling coroutine, or [SessionConfig.callTimeout] passing, sends CANCEL (mode
     * [SessionConfig.cancelMode], `killnowait` by default) and then waits up to [SessionConfig.responseTimeout] for
     * the router's answer to it (nexus behaviour), so cancellation completes once the router has acknowledged it;
     * a later result is dropped.
     */
    @JvmSynthetic
    public suspend fun call(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
    ): CallResult = callWith(procedure, args, kwargs, options, null, config.cancelMode)

    /**
     * [call] with typed [options]: the router-side timeout, caller disclosure, and the [CancelMode] used when the
     * call is abandoned (else [SessionConfig.cancelMode]).
     */
    @JvmSynthetic
    public suspend fun call(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: CallOptions,
    ): CallResult = callWith(procedure, args, kwargs, options.toMap(), null, options.cancelMode ?: config.cancelMode)

    private suspend fun callWith(
        procedure: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: Map<String, Any?>,
        progress: Channel<CallResult>?,
        cancelMode: CancelMode,
    ): CallResult {
        PayloadPassthru.checkPayload(options, args, kwargs)
        @Suppress("UNCHECKED_CAST")
        val normalizedArgs = WampValues.normalize(args) as List<Any?>
        val reply = correlator.request(
            MessageCodes.CALL,
            config.callTimeout,
            progress,
            cancelOnAbandon = true,
            cancelMode = cancelMode,
        ) { id ->
            Call(id, WampValues.normalizeMap(options), procedure, normalizedArgs, WampValues.normalizeMap(kwargs))
        }
        if (reply is ResultMessage) return CallResult(reply.args, reply.kwargs, reply.details)
        RequestCorrelator.fail(reply)
    }

    /**
     * Calls [procedure] asking for progressive results (nexus's CallProgress): sends `receive_progress: true`, runs
     * [onProgress] for each progressive RESULT, in order and one at a time, then returns the final result. Every
     * progress callback has returned before this function returns, and none runs afterwards. The call timeout
     * ([SessionConfig.callTimeout]) covers the whole call, progress included. If [onProgress] throws, the call is
     * canceled (CANCEL with the session's or the options' cancel mode) and the exception is rethrown. A callee
     * that sends no progress is fine: the final result alone is returned.
     */
    @JvmSynthetic
    public suspend fun callProgress(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
        onProgress: suspend (CallResult) -> Unit,
    ): CallResult = callProgressWith(procedure, args, kwargs, options, config.cancelMode, onProgress)

    /** [callProgress] with typed [options] (see [CallOptions]). */
    @JvmSynthetic
    public suspend fun callProgress(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: CallOptions,
        onProgress: suspend (CallResult) -> Unit,
    ): CallResult {
        val cancelMode = options.cancelMode ?: config.cancelMode
        return callProgressWith(procedure, args, kwargs, options.toMap(), cancelMode, onProgress)
    }

    private suspend fun callProgressWith(
        procedure: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: Map<String, Any?>,
        cancelMode: CancelMode,
        onProgress: suspend (CallResult) -> Unit,
    ): CallResult = coroutineScope {
        val progress = correlator.progressChannel()
        val consumer = launch(CoroutineName("wamp-progress-$procedure")) {
            for (p in progress) onProgress(p)
        }
        val result = try {
            callWith(procedure, args, kwargs, options + ("receive_progress" to true), progress, cancelMode)
        } finally {
            progress.close()
        }
        consumer.join() // progress received before the final result is delivered before returning
        result
    }

    /**
     * Java face of [callProgress]: [onProgress] receives each progressive result in order (on a library thread,
     * never the socket's) before the future completes with the final result. Cancelling the future sends CANCEL.
     */
    @JvmOverloads
    public fun callProgressAsync(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
        onProgress: Consumer<CallResult>,
    ): CompletableFuture<CallResult> = lifecycle.future {
        // Off the caller's thread: the progress callbacks must not run where replies are read.
        withContext(Dispatchers.Default) {
            callProgress(procedure, args, kwargs, options) { onProgress.accept(it) }
        }
    }

    /** Java face of [callProgress] with typed [options]. */
    public fun callProgressAsync(
        procedure: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: CallOptions,
        onProgress: Consumer<CallResult>,
    ): CompletableFuture<CallResult> = lifecycle.future {
        withContext(Dispatchers.Default) {
            callProgress(procedure, args, kwargs, options) { onProgress.accept(it) }
        }
    }

    /** Java face of [call]; cancelling the future sends CANCEL. */
    @JvmOverloads
    public fun callAsync(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<CallResult> = lifecycle.future { call(procedure, args, kwargs, options) }

    /** Java face of [call] with typed [options]; cancelling the future sends CANCEL with their cancel mode. */
    public fun callAsync(
        procedure: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: CallOptions,
    ): CompletableFuture<CallResult> = lifecycle.future { call(procedure, args, kwargs, options) }

    /**
     * Calls [procedure] with its arguments streamed in [chunks] (progressive call invocations; nexus's
     * CallProgressive) and returns the final result. Every chunk goes out as a CALL with the same request id, in
     * order: all but the last with `progress: true`, the last, sent once the flow completes, without it (so one
     * chunk is held back until the next arrives or the flow ends). The first CALL carries [options] (timeout,
     * disclosure, ...); later ones only `progress` and `receive_progress`, as the router keeps the first's. Every
     * chunk carries payload passthru options: its own ([CallChunk.payloadPassthru], e.g. [CallChunk.passthru]), else
     * the call's ([CallOptions.payloadPassthru]); a non-native payload that is not one ByteArray argument throws
     * IllegalArgumentException before that chunk is sent. A flow of one chunk is a plain call; an empty flow calls
     * with no arguments.
     *
     * With [onProgress] the call asks for progressive results too and runs it for each, in order, as
     * [callProgress] does, so a callee can answer while the caller is still streaming. If the callee answers before
     * the last chunk, the result (or its error) is returned at once and the remaining chunks are not sent.
     *
     * The call ends with CANCEL ([CallOptions.cancelMode], else [SessionConfig.cancelMode], `killnowait` by
     * default) when the caller is cancelled, [SessionConfig.callTimeout] (which covers the whole stream) passes,
     * [chunks] throws, or a chunk cannot be sent (for example [MessageTooLongException]); that exception is
     * rethrown. A router that did not announce `progressive_call_invocations` would abort the session: then, before
     * anything is sent, this throws [RpcException] `wamp.error.feature_not_supported`. A callee without the feature
     * answers that error too. `progress` and `receive_progress` in [CallOptions.extra] are ignored: the session
     * sets them.
     */
    @JvmSynthetic
    public suspend fun callStreaming(
        procedure: String,
        chunks: Flow<CallChunk>,
        options: CallOptions = CallOptions.DEFAULT,
        onProgress: (suspend (CallResult) -> Unit)? = null,
    ): CallResult {
        lifecycle.checkNotEnded()
        val routerStreams = { routerAnnounces("dealer", "progressive_call_invocations") }
        val call = StreamingCall(
            peer, config, correlator, id, { lifecycle.checkNotEnded() }, routerStreams, procedure, options, onProgress,
        )
        return call.run(chunks)
    }

    /**
     * Java face of [callStreaming]: the chunks come from a `java.util.concurrent.Flow.Publisher`, requested one at
     * a time (a `SubmissionPublisher` you `submit` to and then `close`, or any Reactive Streams publisher through
     * its library's adapter); completing it sends the last chunk, failing it cancels the call. The subscription is
     * made before this returns, so a hot publisher may submit at once. [onProgress], when given, receives
     * progressive results in order on a library thread. Cancelling the future cancels the subscription and the
     * call (CANCEL).
     */
    @JvmOverloads
    public fun callStreamingAsync(
        procedure: String,
        chunks: java.util.concurrent.Flow.Publisher<CallChunk>,
        options: CallOptions = CallOptions.DEFAULT,
        onProgress: Consumer<CallResult>? = null,
    ): CompletableFuture<CallResult> {
        val subscriber = OneByOneSubscriber<CallChunk>()
        chunks.subscribe(subscriber)
        // ATOMIC: the body runs even if the session's scope is gone, so the subscription is always ended.
        return scope.future(start = CoroutineStart.ATOMIC) {
            try {
                val listener: (suspend (CallResult) -> Unit)? =
                    if (onProgress == null) null else { r -> onProgress.accept(r) }
                callStreaming(procedure, flow { subscriber.emitTo(this) }, options, listener)
            } finally {
                subscriber.cancel()
            }
        }
    }

    /** True when the router's WELCOME announced [feature] for [role] (`roles.<role>.features.<feature>`). */
    private fun routerAnnounces(role: String, feature: String): Boolean {
        val roles = realmDetails["roles"] as? Map<*, *> ?: return false
        val features = (roles[role] as? Map<*, *>)?.get("features") as? Map<*, *> ?: return false
        return features[feature] == true
    }

    // ---------------------------------------------------------------- registrations

    /**
     * Registers [handler] for [procedure] (options such as `match`, `invoke`) and returns the registration id.
     * The handler runs on [Dispatchers.Default]; its return value becomes YIELD, an [RpcException] becomes ERROR,
     * an INTERRUPT cancels it and answers `wamp.error.canceled`, and a call timeout the router forwarded
     * ([Invocation.timeout]) cancels it when it passes and answers `wamp.error.timeout`.
     */
    @JvmSynthetic
    public suspend fun register(
        procedure: String,
        options: Map<String, Any?> = emptyMap(),
        handler: suspend (Invocation) -> InvokeResult,
    ): Long = callee.register(procedure, options, streaming = false) { inv, _ -> handler(inv) }

    /**
     * [register] with typed [options]: pattern-based ([RegisterOptions.match]) and shared
     * ([RegisterOptions.invoke]) registration, caller disclosure, a forwarded call timeout.
     */
    @JvmSynthetic
    public suspend fun register(
        procedure: String,
        options: RegisterOptions,
        handler: suspend (Invocation) -> InvokeResult,
    ): Long = register(procedure, options.toMap(), handler)

    /**
     * Registers a handler that receives a progressive call's arguments as they arrive (progressive call
     * invocations, [callStreaming] on the caller's side): [handler] gets the invocation (details, caller, the first
     * chunk as [Invocation.args]) and a flow of every chunk in order, the first included, that completes after the
     * caller's last chunk; each chunk has the payload passthru options of its INVOCATION ([CallChunk.payloadPassthru],
     * [CallChunk.passthruPayload]). A call that does not stream is a flow of one chunk. Collect it once; the handler's
     * return value answers the call, whether or not it read every chunk (the rest are dropped), and it may send
     * progressive results meanwhile ([Invocation.sendProgress]).
     *
     * At most [SessionConfig.invocationChunkBuffer] chunks wait for the handler; past that the flow fails with
     * [ChunkBufferOverflowException] after the chunks it holds. An INTERRUPT, the session's end or a forwarded
     * timeout cancel the handler as for [register]. Handlers registered with [register] get only the first chunk
     * of a progressive call ([Invocation.isProgressive] tells them it is one); its later chunks are dropped.
     */
    @JvmSynthetic
    public suspend fun registerStreaming(
        procedure: String,
        options: RegisterOptions = RegisterOptions.DEFAULT,
        handler: suspend (Invocation, Flow<CallChunk>) -> InvokeResult,
    ): Long = callee.register(procedure, options.toMap(), streaming = true) { inv, chunks ->
        handler(inv, chunks!!.consumeAsFlow())
    }

    /**
     * Java face of [registerStreaming]: [handler] gets the invocation and a `Flow.Publisher` of its chunks (one
     * subscriber; chunks go out on demand, in order, on the handler executor, and the stream completes after the
     * caller's last chunk or fails with [ChunkBufferOverflowException]) and returns a future of the result.
     * [CallChunk.consume] reads the publisher one chunk at a time. Once the returned future completes the
     * publisher stops.
     */
    @JvmOverloads
    public fun registerStreamingAsync(
        procedure: String,
        handler: BiFunction<
            Invocation,
            java.util.concurrent.Flow.Publisher<CallChunk>,
            CompletableFuture<InvokeResult>,
            >,
        options: RegisterOptions = RegisterOptions.DEFAULT,
    ): CompletableFuture<Long> = lifecycle.future {
        callee.register(procedure, options.toMap(), streaming = true) { inv, chunks ->
            coroutineScope {
                try {
                    javaHandler { handler.apply(it, ChunkPublisher(chunks!!, this)) }(inv)
                } finally {
                    coroutineContext.cancelChildren() // the publisher's delivery, if the handler left it waiting
                }
            }
        }
    }

    /** Java face of [register]: the handler returns a future of the result (fail it with [RpcException]). */
    @JvmOverloads
    public fun registerAsync(
        procedure: String,
        handler: Function<Invocation, CompletableFuture<InvokeResult>>,
        options: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<Long> = lifecycle.future { register(procedure, options, javaHandler(handler)) }

    /** Java face of [register] with typed [options]. */
    public fun registerAsync(
        procedure: String,
        handler: Function<Invocation, CompletableFuture<InvokeResult>>,
        options: RegisterOptions,
    ): CompletableFuture<Long> = lifecycle.future { register(procedure, options.toMap(), javaHandler(handler)) }

    private fun javaHandler(
        handler: Function<Invocation, CompletableFuture<InvokeResult>>,
    ): suspend (Invocation) -> InvokeResult = { inv ->
        try {
            handler.apply(inv).await()
        } catch (e: CompletionException) {
            throw e.cause ?: e
        }
    }

    /**
     * Removes this session's registration of [procedure], whatever its match policy; throws [WampErrorException]
     * `wamp.error.no_such_registration` when there is none, `dev.tether.error.ambiguous_uri` when the session
     * registered [procedure] with several match policies (name the policy with the other overload), and the
     * router's error if it refuses.
     */
    @JvmSynthetic
    public suspend fun unregister(procedure: String) {
        val regId = UriKey.single(procedure, callee.idsOf(procedure), "registrations")
            ?: throw WampErrorException("wamp.error.no_such_registration", listOf("not registered: $procedure"))
        unregisterId(regId)
    }

    /** Removes this session's registration of [procedure] with match policy [match] (see [RegisterOptions.match]). */
    @JvmSynthetic
    public suspend fun unregister(procedure: String, match: MatchPolicy) {
        val regId = callee.idOf(procedure, match) ?: throw WampErrorException(
            "wamp.error.no_such_registration",
            listOf("not registered: $procedure (match ${match.wire})"),
        )
        unregisterId(regId)
    }

    private suspend fun unregisterId(regId: Long) {
        val reply = correlator.request(MessageCodes.UNREGISTER, config.responseTimeout) { Unregister(it, regId) }
        if (reply !is Unregistered) RequestCorrelator.fail(reply)
        callee.remove(regId)
    }

    /** Java face of [unregister]. */
    public fun unregisterAsync(procedure: String): CompletableFuture<Void?> = lifecycle.future {
        unregister(procedure)
        null
    }

    /** Java face of [unregister] by procedure and match policy. */
    public fun unregisterAsync(procedure: String, match: MatchPolicy): CompletableFuture<Void?> = lifecycle.future {
        unregister(procedure, match)
        null
    }

    /**
     * The registration id for [procedure], or null when not registered; when the session registered it with several
     * match policies, the exact one's, else null (name the policy with the other overload).
     */
    public fun registrationId(procedure: String): Long? = UriKey.preferred(callee.idsOf(procedure))

    /** The registration id for [procedure] with match policy [match], or null when not registered so. */
    public fun registrationId(procedure: String, match: MatchPolicy): Long? = callee.idOf(procedure, match)

    // ---------------------------------------------------------------- publish and subscribe

    /**
     * Publishes to [topic]. With option `acknowledge: true` waits for PUBLISHED and returns the publication id
     * (errors become [WampErrorException]); otherwise returns null once the message is sent.
     */
    @JvmSynthetic
    public suspend fun publish(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
    ): Long? {
        PayloadPassthru.checkPayload(options, args, kwargs)
        @Suppress("UNCHECKED_CAST")
        val normalizedArgs = WampValues.normalize(args) as List<Any?>
        val normalizedKwargs = WampValues.normalizeMap(kwargs)
        val opts = WampValues.normalizeMap(options)
        if (opts["acknowledge"] != true) {
            lifecycle.checkNotEnded()
            try {
                peer.send(Publish(correlator.nextRequestId(), opts, topic, normalizedArgs, normalizedKwargs))
            } catch (e: ConnectionException) {
                throw WampConnectionLostException("WAMP session $id: connection lost while publishing", e)
            }
            return null
        }
        val reply = correlator.request(MessageCodes.PUBLISH, config.responseTimeout) {
            Publish(it, opts, topic, normalizedArgs, normalizedKwargs)
        }
        if (reply !is Published) RequestCorrelator.fail(reply)
        return reply.publication
    }

    /**
     * [publish] with typed [options]: acknowledgement, publisher exclusion, subscriber black- and whitelists by
     * session id, authid and authrole, publisher disclosure. Returns the publication id when
     * [PublishOptions.acknowledge] is set, else null.
     */
    @JvmSynthetic
    public suspend fun publish(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: PublishOptions,
    ): Long? = publish(topic, args, kwargs, options.toMap())

    /** Java face of [publish]; the future holds the publication id when acknowledged, else null. */
    @JvmOverloads
    public fun publishAsync(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<Long?> = lifecycle.future { publish(topic, args, kwargs, options) }

    /** Java face of [publish] with typed [options]; the publication id when acknowledged, else null. */
    public fun publishAsync(
        topic: String,
        args: List<Any?>,
        kwargs: Map<String, Any?>,
        options: PublishOptions,
    ): CompletableFuture<Long?> = lifecycle.future { publish(topic, args, kwargs, options.toMap()) }

    /**
     * Subscribes [handler] to [topic] (options such as `match`) and returns the subscription id. Events of this
     * subscription reach the handler one at a time, in arrival order, on [Dispatchers.Default]. At most
     * [SessionConfig.eventBuffer] wait for it; later ones are dropped and counted in [stats].
     */
    @JvmSynthetic
    public suspend fun subscribe(
        topic: String,
        options: Map<String, Any?> = emptyMap(),
        handler: suspend (Event) -> Unit,
    ): Long {
        val pending = subscriptions.Pending(UriKey.of(topic, options), handler)
        val reply = try {
            correlator.request(MessageCodes.SUBSCRIBE, config.responseTimeout, onReply = pending.install) {
                Subscribe(it, WampValues.normalizeMap(options), topic)
            }
        } catch (e: Throwable) {
            pending.discard()
            throw e
        }
        if (reply !is Subscribed) RequestCorrelator.fail(reply)
        return reply.subscription
    }

    /** [subscribe] with typed [options]: pattern-based subscription ([SubscribeOptions.match]). */
    @JvmSynthetic
    public suspend fun subscribe(topic: String, options: SubscribeOptions, handler: suspend (Event) -> Unit): Long =
        subscribe(topic, options.toMap(), handler)

    /** Java face of [subscribe]. */
    @JvmOverloads
    public fun subscribeAsync(
        topic: String,
        handler: Consumer<Event>,
        options: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<Long> = lifecycle.future { subscribe(topic, options) { handler.accept(it) } }

    /** Java face of [subscribe] with typed [options]. */
    public fun subscribeAsync(
        topic: String,
        handler: Consumer<Event>,
        options: SubscribeOptions,
    ): CompletableFuture<Long> = lifecycle.future { subscribe(topic, options.toMap()) { handler.accept(it) } }

    /**
     * Removes this session's subscription to [topic], whatever its match policy; events already received are still
     * delivered. Throws [WampErrorException] `wamp.error.no_such_subscription` when there is none,
     * `dev.tether.error.ambiguous_uri` when the session subscribed [topic] with several match policies (name the
     * policy with the other overload), and the router's error if it refuses.
     */
    @JvmSynthetic
    public suspend fun unsubscribe(topic: String) {
        val subId = UriKey.single(topic, subscriptions.idsOf(topic), "subscriptions")
            ?: throw WampErrorException("wamp.error.no_such_subscription", listOf("not subscribed: $topic"))
        unsubscribeId(subId)
    }

    /** Removes this session's subscription to [topic] with match policy [match] (see [SubscribeOptions.match]). */
    @JvmSynthetic
    public suspend fun unsubscribe(topic: String, match: MatchPolicy) {
        val subId = subscriptions.idOf(topic, match) ?: throw WampErrorException(
            "wamp.error.no_such_subscription",
            listOf("not subscribed: $topic (match ${match.wire})"),
        )
        unsubscribeId(subId)
    }

    private suspend fun unsubscribeId(subId: Long) {
        val reply = correlator.request(MessageCodes.UNSUBSCRIBE, config.responseTimeout) { Unsubscribe(it, subId) }
        if (reply !is Unsubscribed) RequestCorrelator.fail(reply)
        subscriptions.remove(subId)
    }

    /** Java face of [unsubscribe]. */
    public fun unsubscribeAsync(topic: String): CompletableFuture<Void?> = lifecycle.future {
        unsubscribe(topic)
        null
    }

    /** Java face of [unsubscribe] by topic and match policy. */
    public fun unsubscribeAsync(topic: String, match: MatchPolicy): CompletableFuture<Void?> = lifecycle.future {
        unsubscribe(topic, match)
        null
    }

    /**
     * The subscription id for [topic], or null when not subscribed; when the session subscribed it with several
     * match policies, the exact one's, else null (name the policy with the other overload).
     */
    public fun subscriptionId(topic: String): Long? = UriKey.preferred(subscriptions.idsOf(topic))

    /** The subscription id for [topic] with match policy [match], or null when not subscribed so. */
    public fun subscriptionId(topic: String, match: MatchPolicy): Long? = subscriptions.idOf(topic, match)

    /**
     * The events the router stored for subscription [subscriptionId] (event history: the meta procedure
     * `wamp.subscription.get_events`, announced as the broker feature `event_history`), oldest first, at most
     * [limit] of them (the most recent; null: as many as the router returns). Any session may ask about any
     * subscription id (`wamp.subscription.lookup` finds one). Routers keep history only for the topics their
     * configuration names; for others the list is empty. nexus's Go-style keys (`Arguments`, `ArgumentsKw`, ...) and
     * lowercase ones are both read. Throws [WampErrorException] when the router refuses (e.g.
     * `wamp.error.no_such_procedure` from a router without event history) or answers in another shape, and
     * IllegalArgumentException for a [limit] below 1.
     */
    @JvmSynthetic
    public suspend fun eventHistory(subscriptionId: Long, limit: Int? = null): EventHistory {
        limit?.let { require(it >= 1) { "limit must be at least 1, was $it" } }
        val kwargs = if (limit == null) emptyMap() else mapOf("limit" to limit.toLong())
        val result = call(EventHistory.PROCEDURE, listOf(subscriptionId), kwargs)
        return EventHistory.parse(result, subscriptionId, limit)
    }

    /** Java face of [eventHistory]; [limit] null: as many as the router returns. */
    @JvmOverloads
    public fun eventHistoryAsync(subscriptionId: Long, limit: Int? = null): CompletableFuture<EventHistory> =
        lifecycle.future { eventHistory(subscriptionId, limit) }

    /**
     * What this session received, sent and dropped so far (events dropped for slow handlers:
     * [SessionConfig.eventBuffer]), how its calls ended, and what is pending and running now. Reads counters only:
     * cheap enough for every scrape.
     */
    public fun stats(): SessionStats = correlator.calls.addTo(
        subscriptions.counters.snapshot(),
        correlator.pendingCount,
        callee.running,
        callee.refused,
    )

    // ---------------------------------------------------------------- meta API and testaments

    /** The router's meta API (sessions, registrations, subscriptions, meta events) as typed calls. */
    public val meta: WampMeta by lazy { WampMeta.of(this) }

    /**
     * Adds a testament (`wamp.session.add_testament`): the router publishes [args] and [kwargs] to [topic] with
     * [options] when this session ends ([TestamentScope.DESTROYED]: GOODBYE, connection loss, killed) or is
     * detached ([TestamentScope.DETACHED]). The publication comes from the router: the publisher is disclosed only
     * if [options] ask for it. Throws [RpcException] when the router refuses (`wamp.error.no_such_procedure`
     * without the `testament_meta_api` feature).
     */
    @JvmSynthetic
    public suspend fun addTestament(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: PublishOptions = PublishOptions.DEFAULT,
        scope: TestamentScope = TestamentScope.DESTROYED,
    ): Unit = Testament(topic, args, kwargs, options, scope).addTo(this)

    /** Java face of [addTestament]. */
    @JvmOverloads
    public fun addTestamentAsync(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: PublishOptions = PublishOptions.DEFAULT,
        scope: TestamentScope = TestamentScope.DESTROYED,
    ): CompletableFuture<Void?> = lifecycle.future {
        addTestament(topic, args, kwargs, options, scope)
        null
    }

    /** Removes this session's testaments of [scope] from the router (`wamp.session.flush_testaments`). */
    @JvmSynthetic
    public suspend fun flushTestaments(scope: TestamentScope = TestamentScope.DESTROYED): Unit =
        Testament.flush(this, scope)

    /** Java face of [flushTestaments]. */
    @JvmOverloads
    public fun flushTestamentsAsync(scope: TestamentScope = TestamentScope.DESTROYED): CompletableFuture<Void?> =
        lifecycle.future {
            flushTestaments(scope)
            null
        }

    // ---------------------------------------------------------------- the end

    /**
     * Suspends until the session has ended (GOODBYE, ABORT, connection loss, [leave]) and returns why: a
     * [WampConnectionLostException] when the connection was lost, else a [WampSessionClosedException]; its message
     * says what ended it.
     */
    @JvmSynthetic
    public suspend fun awaitClosed(): WampSessionClosedException = lifecycle.awaitEnd()

    /**
     * Java face of [awaitClosed]: completes normally with the reason once the session has ended. It completes
     * where the end is noticed (possibly the I/O thread): chain slow work with `thenApplyAsync`.
     */
    public fun closedFuture(): CompletableFuture<WampSessionClosedException> = lifecycle.endFuture()

    /**
     * Leaves the realm: sends GOODBYE with [reason] (`wamp.close.close_realm` by default), waits up to twice the
     * response timeout for the router's GOODBYE, closes the connection and cancels everything the session started
     * (handlers included). Idempotent: a second caller waits for the same leave. Not cancellable, and bounded.
     * Do not call it from one of this session's own handlers, which it cancels and waits for: use [leaveAsync].
     */
    @JvmSynthetic
    public suspend fun leave(reason: String = CLOSE_REALM) {
        lifecycle.close { shutdown(reason) }
    }

    /** Java face of [leave]; completes once the session has left and released everything. */
    @JvmOverloads
    public fun leaveAsync(reason: String = CLOSE_REALM): CompletableFuture<Void?> =
        lifecycle.closeAsync { shutdown(reason) }

    /** [leave] with the default reason: the shape every Tether client ends with. */
    @JvmSynthetic
    public suspend fun closeAndJoin(): Unit = leave()

    /** Java face of [closeAndJoin]. */
    public fun closeAsync(): CompletableFuture<Void?> = leaveAsync()

    /** Blocking [leave] for try-with-resources; bounded by twice the response timeout. */
    override fun close(): Unit = lifecycle.closeBlocking { shutdown(CLOSE_REALM) }

    private suspend fun shutdown(reason: String) {
        if (!lifecycle.isEnded) {
            try {
                peer.send(Goodbye(emptyMap(), reason))
                withTimeout(config.responseTimeout.toKotlinDuration() * 2) { inbound.goodbyeReceived.await() }
            } catch (e: Exception) {
                log.debug("WAMP session {}: no GOODBYE reply: {}", id, e.message)
            }
        }
        end("session closed", null)
        // The connection first: a reader blocked in a transport of the caller's own then ends by itself.
        runCatching { peer.close() }
        scope.coroutineContext[Job]!!.cancelAndJoin()
    }

    override fun toString(): String = "WampSession(id=$id, realm=${config.realm}, ${peer.description})"

    /** Connecting and joining: [connect] by URL, [join] over a transport of your own. */
    public companion object {
        /** The GOODBYE reason of [leave] without one, and of [close]. */
        public const val CLOSE_REALM: String = "wamp.close.close_realm"

        /**
         * Connects to the router at [url] and joins [config]'s realm. The scheme picks the transport: `ws`, `wss`,
         * `http`, `https` (WebSocket), `tcp`, `tcps` (RawSocket), `unix:///path` (RawSocket over a Unix socket).
         * Throws [AbortException] if the router refuses, [ResponseTimeoutException] if it does not answer,
         * a [dev.tether.core.ConnectionException] if the connection fails.
         */
        @JvmSynthetic
        public suspend fun connect(url: String, config: SessionConfig): WampSession =
            join(Transports.open(url, config), config)

        /** [connect] on [pin]'s I/O thread: every session of one [WampClient] runs on the same one. */
        internal suspend fun connect(url: String, config: SessionConfig, pin: Transports.Pin): WampSession =
            join(Transports.open(url, config, pin), config)

        /** Java face of [connect]. */
        @JvmStatic
        public fun connectAsync(url: String, config: SessionConfig): CompletableFuture<WampSession> =
            TetherScope.javaFuture { connect(url, config) }

        /**
         * Joins [config]'s realm over an already connected [transport] (nexus's NewClient): HELLO, authentication,
         * WELCOME, bounded by [SessionConfig.responseTimeout]. The session then owns the transport and closes it
         * when it ends; the transport is closed too if joining fails. Transport settings of [config] (URLs, TLS,
         * dial, limits, keepalive) do not apply: the transport has them already. Throws as [connect].
         */
        @JvmSynthetic
        public suspend fun join(transport: WampTransport, config: SessionConfig): WampSession =
            WampSession(transport, config, SessionJoin.join(transport, config))

        /** Java face of [join]. */
        @JvmStatic
        public fun joinAsync(transport: WampTransport, config: SessionConfig): CompletableFuture<WampSession> =
            TetherScope.javaFuture { join(transport, config) }
    }
}
