@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionEvent
import dev.tether.core.ConnectionState
import dev.tether.core.ConnectionStatus
import dev.tether.core.Lifecycle
import dev.tether.core.javaFuture
import dev.tether.wamp.error.ReconnectExhaustedException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.error.WampException
import dev.tether.wamp.error.WampSessionClosedException
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.getAndUpdate
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.selects.select
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicBoolean
import java.util.function.Consumer
import java.util.function.Function
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.toKotlinDuration

/**
 * A WAMP session that survives connection loss: it joins [url]'s realm, and whenever the connection is lost (or the
 * router ends the session) it reconnects under its [ReconnectPolicy], joins again with the same realm and
 * authentication, and re-registers every procedure and re-subscribes every topic it had, with their options and
 * handlers, before it reports [ConnectionState.CONNECTED] again.
 *
 * * Calls, publishes and acknowledgements in flight when the connection drops fail with
 *   [WampConnectionLostException] (whether a call took effect is unknown, so nothing is repeated on its own).
 *   An operation started while the session is down waits up to [ReconnectPolicy.joinWait] for the rejoin.
 * * [state], [events] (Kotlin) and [onState], [onEvent] (Java) report every transition with tether-core's
 *   [ConnectionEvent]s: `Connecting(attempt)`, `Connected` once joined and restored, `DialFailed` for a failed
 *   attempt and `Disconnected` for a lost session (each with the wait before the next attempt), and `Closed`.
 * * After [ReconnectPolicy.maxAttempts] consecutive failed attempts the client closes; operations then fail with
 *   [ReconnectExhaustedException]. [closeAndJoin] ([close], [closeAsync]) leaves the realm and stops
 *   reconnecting; [awaitClosed] ([closedFuture]) waits for the end, whoever caused it.
 * * Keepalive: without a dead-peer bound a half-open connection would never be noticed, so the client pings as
 *   its [SessionConfig] says: every 30 s by default ([SessionConfig.pingInterval]), a pong due within
 *   [SessionConfig.pongTimeout]. A missing pong counts as a lost connection.
 *
 * Handlers run as on [WampSession] (see [SessionConfig.handlerExecutor]). Events published while the session is down
 * are not delivered. Everything else a [WampSession] offers is on [session], the currently joined one; what is
 * registered or subscribed directly there is not restored.
 *
 * ```
 * val client = WampClient("ws://127.0.0.1:8080/ws", SessionConfig("realm1"))
 * client.connect()
 * client.register("com.example.add") { inv -> InvokeResult.of((inv.args[0] as Long) + (inv.args[1] as Long)) }
 * ```
 */
public class WampClient @JvmOverloads constructor(
    /** The router's URL, as for [WampSession.connect]. */
    public val url: String,
    /** The configuration each session joins with. */
    private val config: SessionConfig,
    /** How this client reconnects. */
    public val policy: ReconnectPolicy = ReconnectPolicy.DEFAULT,
) : AutoCloseable {
    /** Every session of this client runs on one I/O thread, so [dispatcher] survives reconnects. */
    private val pin = Transports.pin(url, config)

    /**
     * The I/O thread every session of this client runs on, across reconnects, as a dispatcher: latency-critical
     * code that never blocks may run here (`withContext(client.dispatcher) { client.call(…) }`), so that its calls
     * and the replies that resume it need no thread hand-off. Blocking here stalls the client's connection. A Netty
     * event loop for ws/wss (the Netty transport), tcp, tcps and unix URLs; [Dispatchers.Default] where no loop
     * reads the connection (the Ktor transport, a [SessionConfig.socketDialer] socket). Each [session]'s
     * `dispatcher` is this one.
     */
    public val dispatcher: CoroutineDispatcher get() = pin.dispatcher

    /** Java face of [dispatcher]: the I/O thread as an executor (`thenApplyAsync(fn, client.getExecutor())`). */
    public val executor: Executor get() = pin.dispatcher.asExecutor()

    private val log = config.logger ?: LoggerFactory.getLogger(WampClient::class.java)
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("wamp-client"))
    private val status = ConnectionStatus(scope)
    private val live = MutableStateFlow<WampSession?>(null)
    private val closedReported = AtomicBoolean(false)

    /** The client's end: the error every later operation gets once it is finished (closed or gave up). */
    private val lifecycle = Lifecycle<WampException>(scope)

    /** True once the client is closing or finished: nothing is reconnected or restored any more. */
    private val stopping: Boolean get() = lifecycle.isClosing || lifecycle.isEnded

    /** What is restored on every new session, and the lock that keeps the live session and them in step. */
    private val restorables = Restorables()

    /** Testaments added again on every new session (the router forgets them with the old one). */
    private val testaments = ClientTestaments()
    private val restoreLock = Mutex()
    private val description = url.substringBefore('?')

    @Volatile private var loop: Job? = null

    /** Joins, failed attempts and the sessions' counters, for [stats]. */
    private val counters = ClientCounters()

    /**
     * What this client did so far: sessions joined (reconnects), failed attempts by cause, and its sessions' counters
     * ([WampClientStats.session]: counts are totals across reconnects, now-values the joined session's). Reads
     * counters only: cheap enough for every scrape.
     */
    public fun stats(): WampClientStats = counters.snapshot()

    /** The connection state (conflated view). */
    public val state: StateFlow<ConnectionState> get() = status.state

    /**
     * Every connection event from the moment collection starts, in order. A collector that falls more than
     * [ConnectionStatus.EVENT_BUFFER] events behind loses the oldest ones.
     */
    public val events: Flow<ConnectionEvent> get() = status.events

    /** Java: calls [listener] with every connection event from now on, in order, on a library thread. */
    public fun onEvent(listener: Consumer<ConnectionEvent>): AutoCloseable = status.onEvent(listener)

    /** Java: calls [listener] with the state after every transition, in order, on a library thread. */
    public fun onState(listener: Consumer<ConnectionState>): AutoCloseable = status.onState(listener)

    /** The currently joined session, or null while connecting or backing off. */
    public val session: WampSession? get() = live.value?.takeIf { it.isOpen }

    /** True while a session is joined: operations run at once instead of waiting for a rejoin. */
    public val isConnected: Boolean get() = session != null

    /** Procedures this client keeps registered, in registration order. */
    public val procedures: List<String> get() = restorables.procedures()

    /** Topics this client keeps subscribed, in subscription order. */
    public val topics: List<String> get() = restorables.topics()

    private val started = AtomicBoolean(false)

    private fun launch(first: CompletableDeferred<Unit>?): Boolean {
        if (!started.compareAndSet(false, true)) return false
        if (stopping) {
            first?.completeExceptionally(
                lifecycle.reason ?: WampSessionClosedException("WAMP client $description is closed"),
            )
            return true
        }
        loop = scope.launch(CoroutineName("wamp-reconnect")) { run(first) }
        return true
    }

    /**
     * Starts connecting in the background, retrying under [policy] from the first attempt, and returns at once
     * (subscribe to [events] before, to see every one). Watch [state] or use [awaitSession] to know when it is
     * joined. Does nothing when already started.
     */
    public fun start() {
        launch(null)
    }

    /**
     * Connects and joins, returns this client, then keeps the session joined under [policy]. The first attempt must
     * succeed: its failure
     * is thrown (as [WampSession.connect] throws), and the client is then closed, so a wrong URL, realm or
     * credential fails fast. Throws IllegalStateException when already started.
     */
    @JvmSynthetic
    public suspend fun connect(): WampClient {
        val first = CompletableDeferred<Unit>()
        check(launch(first)) { "WampClient for $description was already started" }
        try {
            first.await()
        } catch (e: CancellationException) {
            withContext(NonCancellable) { closeAndJoin() }
            throw e
        }
        return this
    }

    /**
     * Java face of [connect]: completes with this client once the first session is joined, or fails with the first
     * attempt's
     * failure (the client is then closed).
     */
    public fun connectAsync(): CompletableFuture<WampClient> {
        lifecycle.reason?.let { return CompletableFuture.failedFuture(it) }
        // Not lifecycle.future: a failed first attempt ends the client, and the caller gets that attempt's failure.
        return scope.javaFuture { connect() }
    }

    // ---------------------------------------------------------------- the reconnect loop

    private suspend fun run(first: CompletableDeferred<Unit>?) {
        val schedule = policy.backoff.newSchedule()
        var attempt = 0
        var failures = 0
        while (true) {
            attempt++
            status.emit(ConnectionEvent.Connecting(attempt))
            val session = try {
                joinAndRestore()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                counters.failed(e)
                if (first != null && !first.isCompleted) {
                    // connect(): the first attempt must succeed; its failure is the caller's.
                    finish(
                        e as? WampException ?: WampConnectionLostException(
                            "could not connect to $description: ${e.message}",
                            e,
                        ),
                        e,
                    )
                    first.completeExceptionally(e)
                    return
                }
                failures++
                if (policy.maxAttempts in 1..failures) return giveUp(failures, e)
                val wait = schedule.nextDelayAfterFailedDial()
                log.info(
                    "WAMP client {}: attempt {} failed ({}); retrying in {} ms",
                    description,
                    attempt,
                    e.message,
                    wait.inWholeMilliseconds,
                )
                pause(wait, ConnectionEvent.DialFailed(e, wait.inWholeMilliseconds))
                continue
            }
            attempt = 0
            counters.joined(session)
            val since = System.nanoTime()
            status.emit(ConnectionEvent.Connected(description))
            first?.complete(Unit) // after Connected: connect() returns with the state CONNECTED
            log.info("WAMP client {}: joined {} as session {}", description, config.realm, session.id)
            val cause = session.awaitClosed()
            live.compareAndSet(session, null)
            counters.ended(session)
            if (stopping) return
            val lived = (System.nanoTime() - since).nanoseconds
            val wait = schedule.nextDelayAfterDrop(lived)
            // A session that dropped at once counts as a failed attempt (the schedule backs off for it too).
            failures = if (wait.isPositive()) failures + 1 else 0
            if (policy.maxAttempts in 1..failures) return giveUp(failures, cause)
            log.info(
                "WAMP client {}: {}; reconnecting in {} ms",
                description,
                cause.message,
                wait.inWholeMilliseconds,
            )
            pause(wait, ConnectionEvent.Disconnected(cause, wait.inWholeMilliseconds))
        }
    }

    /**
     * Reports [event] and waits [wait] in [ReconnectPolicy.waitContext]. The wait is set up before the event goes
     * out, so whoever reacts to the event (a test advancing virtual time) finds the timer already running.
     */
    private suspend fun pause(wait: kotlin.time.Duration, event: ConnectionEvent) {
        val elapsed = CompletableDeferred<Unit>()
        // Not a child of this coroutine: cancelling the wait (close) must not depend on the wait context running
        // the timer's cancellation (a test dispatcher runs nothing until its scheduler is advanced).
        val timer = CoroutineScope(policy.waitContext).launch(start = CoroutineStart.UNDISPATCHED) {
            if (wait.isPositive()) delay(wait)
            elapsed.complete(Unit)
        }
        status.emit(event)
        try {
            elapsed.await()
        } finally {
            timer.cancel()
        }
    }

    /**
     * One attempt: connect, join, restore every registration and subscription, then publish the session as live,
     * all under [restoreLock] so that no register or subscribe of the caller's runs in between.
     */
    private suspend fun joinAndRestore(): WampSession {
        val session = WampSession.connect(url, config, pin)
        try {
            restoreLock.withLock {
                restorables.restoreOn(session)
                testaments.restoreOn(session)
                live.value = session
            }
        } catch (e: Throwable) {
            withContext(NonCancellable) { runCatching { session.leave() } }
            throw e
        }
        return session
    }

    private fun giveUp(attempts: Int, cause: Throwable) {
        val error = ReconnectExhaustedException(attempts, cause)
        log.warn("WAMP client {}: {}", description, error.message)
        finish(error, error)
    }

    /** The client is finished: later operations fail with [error]; the one Closed event says [cause]. */
    private fun finish(error: WampException, cause: Throwable?) {
        lifecycle.end(error)
        if (closedReported.compareAndSet(false, true)) {
            status.emit(ConnectionEvent.Closed(cause))
            status.complete()
        }
    }

    // ---------------------------------------------------------------- operations

    /**
     * The joined session: at once when there is one, else the next one within [ReconnectPolicy.joinWait]; throws
     * [WampConnectionLostException] when none comes in time, or the client's end ([WampSessionClosedException]
     * after [close], [ReconnectExhaustedException]).
     */
    @JvmSynthetic
    public suspend fun awaitSession(): WampSession {
        live.value?.let { if (it.isOpen) return it }
        lifecycle.checkNotEnded()
        val wait = policy.joinWait.toKotlinDuration()
        return withTimeoutOrNull(wait) { nextSession() } ?: throw WampConnectionLostException(
            "WAMP client $description: not joined within ${policy.joinWait.toMillis()} ms (the connection is down)",
        )
    }

    /** The next open session, or the client's end thrown. */
    private suspend fun nextSession(): WampSession = untilEnd { live.first { it != null && it.isOpen }!! }

    /** [block]'s result, or the client's end thrown if it ends first. */
    private suspend fun <T> untilEnd(block: suspend () -> T): T = coroutineScope {
        val next = async { block() }
        val end = async { lifecycle.awaitEnd() }
        select {
            next.onAwait {
                end.cancel()
                it
            }
            end.onAwait {
                next.cancel()
                throw it
            }
        }
    }

    /**
     * Suspends until a session is joined and restored (bound it with `withTimeout`); throws the client's end
     * ([WampSessionClosedException] after [close], [ReconnectExhaustedException]) if it ends first.
     */
    @JvmSynthetic
    public suspend fun awaitConnected() {
        lifecycle.checkNotEnded()
        untilEnd { state.first { it == ConnectionState.CONNECTED } }
    }

    /** Java face of [awaitConnected], bounded by [timeout] (fails with [WampConnectionLostException]). */
    public fun awaitConnectedAsync(timeout: Duration): CompletableFuture<Void?> = lifecycle.future {
        withTimeoutOrNull(timeout.toKotlinDuration()) { awaitConnected() }
            ?: throw WampConnectionLostException("WAMP client $description: not joined within ${timeout.toMillis()} ms")
        null
    }

    /** Java face of [awaitSession]. */
    public fun sessionAsync(): CompletableFuture<WampSession> = javaFuture { awaitSession() }

    /**
     * Calls [procedure] on the joined session ([WampSession.call]); fails with [WampConnectionLostException] if it
     * drops.
     */
    @JvmSynthetic
    public suspend fun call(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: CallOptions = CallOptions.DEFAULT,
    ): CallResult = awaitSession().call(procedure, args, kwargs, options)

    /** Java face of [call]; cancelling the future sends CANCEL. */
    @JvmOverloads
    public fun callAsync(
        procedure: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: CallOptions = CallOptions.DEFAULT,
    ): CompletableFuture<CallResult> = javaFuture { call(procedure, args, kwargs, options) }

    /** Publishes on the joined session ([WampSession.publish]); the publication id when acknowledged, else null. */
    @JvmSynthetic
    public suspend fun publish(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: PublishOptions = PublishOptions.DEFAULT,
    ): Long? = awaitSession().publish(topic, args, kwargs, options)

    /** Java face of [publish]. */
    @JvmOverloads
    public fun publishAsync(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: PublishOptions = PublishOptions.DEFAULT,
    ): CompletableFuture<Long?> = javaFuture { publish(topic, args, kwargs, options) }

    /**
     * Registers [handler] for [procedure] with [options], now and on every later session, and returns the current
     * session's registration id (it changes with each session: [WampSession.registrationId]). A procedure can be
     * registered once per client ([WampErrorException] `wamp.error.procedure_already_exists` otherwise). If the
     * connection drops before the router answers, the registration is made on the next session.
     */
    @JvmSynthetic
    public suspend fun register(
        procedure: String,
        options: RegisterOptions = RegisterOptions.DEFAULT,
        handler: suspend (Invocation) -> InvokeResult,
    ): Long = add(
        Restorable.Registration(UriKey.of(procedure, options.toMap())) { s -> s.register(procedure, options, handler) },
    )

    /** Java face of [register]: the handler returns a future of the result (fail it with [RpcException]). */
    @JvmOverloads
    public fun registerAsync(
        procedure: String,
        handler: Function<Invocation, CompletableFuture<InvokeResult>>,
        options: RegisterOptions = RegisterOptions.DEFAULT,
    ): CompletableFuture<Long> = javaFuture {
        add(
            Restorable.Registration(UriKey.of(procedure, options.toMap())) { s ->
                s.registerAsync(procedure, handler, options).await()
            },
        )
    }

    /**
     * Registers a streaming [handler] for [procedure] (progressive call invocations, see
     * [WampSession.registerStreaming]) with [options], now and on every later session, and returns the current
     * session's registration id. A procedure can be registered once per client and match policy.
     */
    @JvmSynthetic
    public suspend fun registerStreaming(
        procedure: String,
        options: RegisterOptions = RegisterOptions.DEFAULT,
        handler: suspend (Invocation, Flow<CallChunk>) -> InvokeResult,
    ): Long = add(
        Restorable.Registration(UriKey.of(procedure, options.toMap())) { s ->
            s.registerStreaming(procedure, options, handler)
        },
    )

    /** Java face of [registerStreaming], with the handler of [WampSession.registerStreamingAsync]. */
    @JvmOverloads
    public fun registerStreamingAsync(
        procedure: String,
        handler: java.util.function.BiFunction<
            Invocation,
            java.util.concurrent.Flow.Publisher<CallChunk>,
            CompletableFuture<InvokeResult>,
            >,
        options: RegisterOptions = RegisterOptions.DEFAULT,
    ): CompletableFuture<Long> = javaFuture {
        add(
            Restorable.Registration(UriKey.of(procedure, options.toMap())) { s ->
                s.registerStreamingAsync(procedure, handler, options).await()
            },
        )
    }

    /**
     * Subscribes [handler] to [topic] with [options], now and on every later session, and returns the current
     * session's subscription id. A topic can be subscribed once per client.
     */
    @JvmSynthetic
    public suspend fun subscribe(
        topic: String,
        options: SubscribeOptions = SubscribeOptions.DEFAULT,
        handler: suspend (Event) -> Unit,
    ): Long = add(
        Restorable.Subscription(UriKey.of(topic, options.toMap())) { s -> s.subscribe(topic, options, handler) },
    )

    /** Java face of [subscribe]; [handler] runs on the handler executor, one event at a time. */
    @JvmOverloads
    public fun subscribeAsync(
        topic: String,
        handler: Consumer<Event>,
        options: SubscribeOptions = SubscribeOptions.DEFAULT,
    ): CompletableFuture<Long> = javaFuture {
        add(
            Restorable.Subscription(UriKey.of(topic, options.toMap())) { s ->
                s.subscribeAsync(topic, handler, options).await()
            },
        )
    }

    private suspend fun add(r: Restorable): Long {
        while (true) {
            val s = awaitSession()
            restoreLock.withLock {
                if (live.value !== s || !s.isOpen) return@withLock // replaced meanwhile: try the new one
                restorables.checkAbsent(r)
                try {
                    val id = r.apply(s)
                    restorables.add(r)
                    return id
                } catch (e: WampSessionClosedException) {
                    // The session ended under it (connection lost, router GOODBYE): the next one gets it.
                    if (stopping) throw lifecycle.reason ?: e
                    log.debug(
                        "WAMP client {}: session ended while adding the {}; retrying on the next session",
                        description,
                        r,
                    )
                }
            }
        }
    }

    /**
     * Stops keeping [procedure] registered and unregisters it from the joined session, if any, whatever its match
     * policy. Throws [WampErrorException] `wamp.error.no_such_registration` when this client does not register it,
     * `dev.tether.error.ambiguous_uri` when it registers it with several match policies (use the other overload).
     */
    @JvmSynthetic
    public suspend fun unregister(procedure: String) {
        val r = restorables.registration(procedure, null)
        remove(r) { it.unregister(procedure, r.key.match) }
    }

    /** Stops keeping [procedure] with match policy [match] registered and unregisters it, as [unregister]. */
    @JvmSynthetic
    public suspend fun unregister(procedure: String, match: MatchPolicy) {
        remove(restorables.registration(procedure, match)) { it.unregister(procedure, match) }
    }

    /** Java face of [unregister]. */
    public fun unregisterAsync(procedure: String): CompletableFuture<Void?> = javaFuture {
        unregister(procedure)
        null
    }

    /** Java face of [unregister] by procedure and match policy. */
    public fun unregisterAsync(procedure: String, match: MatchPolicy): CompletableFuture<Void?> = javaFuture {
        unregister(procedure, match)
        null
    }

    /**
     * Stops keeping [topic] subscribed and unsubscribes it on the joined session, if any, whatever its match policy.
     * Throws [WampErrorException] `wamp.error.no_such_subscription` when this client does not subscribe it,
     * `dev.tether.error.ambiguous_uri` when it subscribes it with several match policies (use the other overload).
     */
    @JvmSynthetic
    public suspend fun unsubscribe(topic: String) {
        val r = restorables.subscription(topic, null)
        remove(r) { it.unsubscribe(topic, r.key.match) }
    }

    /** Stops keeping [topic] with match policy [match] subscribed and unsubscribes it, as [unsubscribe]. */
    @JvmSynthetic
    public suspend fun unsubscribe(topic: String, match: MatchPolicy) {
        remove(restorables.subscription(topic, match)) { it.unsubscribe(topic, match) }
    }

    /** Java face of [unsubscribe]. */
    public fun unsubscribeAsync(topic: String): CompletableFuture<Void?> = javaFuture {
        unsubscribe(topic)
        null
    }

    /** Java face of [unsubscribe] by topic and match policy. */
    public fun unsubscribeAsync(topic: String, match: MatchPolicy): CompletableFuture<Void?> = javaFuture {
        unsubscribe(topic, match)
        null
    }

    /**
     * The router's stored events for [subscriptionId] on the joined session ([WampSession.eventHistory]). Subscription
     * ids change with each session: take them from the current one ([WampSession.subscriptionId]).
     */
    @JvmSynthetic
    public suspend fun eventHistory(subscriptionId: Long, limit: Int? = null): EventHistory =
        awaitSession().eventHistory(subscriptionId, limit)

    /** Java face of [eventHistory]. */
    @JvmOverloads
    public fun eventHistoryAsync(subscriptionId: Long, limit: Int? = null): CompletableFuture<EventHistory> =
        javaFuture { eventHistory(subscriptionId, limit) }

    private suspend fun remove(r: Restorable, undo: suspend (WampSession) -> Unit) {
        restoreLock.withLock {
            restorables.remove(r)
            // On a live session it is undone there; otherwise the next session simply never gets it.
            val s = live.value?.takeIf { it.isOpen } ?: return
            try {
                undo(s)
            } catch (e: WampSessionClosedException) {
                log.debug("WAMP client {}: session ended while removing the {}", description, r)
            }
        }
    }

    // ---------------------------------------------------------------- meta API and testaments

    /**
     * The router's meta API on the joined session ([WampSession.meta]); each call waits for a session as [call]
     * does, and meta event subscriptions are kept across reconnects as [subscribe] keeps them.
     */
    public val meta: WampMeta by lazy { WampMeta.of(this) }

    /**
     * Adds a testament on the joined session ([WampSession.addTestament]) and again on every later one: the router
     * publishes a session's testaments when that session ends and forgets them with it, so after a reconnect the
     * new session gets the same testaments (in the order added) before it reports connected. The old session's
     * testaments were published when it was lost.
     */
    @JvmSynthetic
    public suspend fun addTestament(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: PublishOptions = PublishOptions.DEFAULT,
        scope: TestamentScope = TestamentScope.DESTROYED,
    ) {
        val t = Testament(topic, args, kwargs, options, scope)
        while (true) {
            val s = awaitSession()
            restoreLock.withLock {
                if (live.value === s && s.isOpen) {
                    try {
                        t.addTo(s)
                        testaments.add(t)
                        return
                    } catch (e: WampSessionClosedException) {
                        if (stopping) throw lifecycle.reason ?: e // else: the next session gets it
                    }
                }
            }
        }
    }

    /** Java face of [addTestament]. */
    @JvmOverloads
    public fun addTestamentAsync(
        topic: String,
        args: List<Any?> = emptyList(),
        kwargs: Map<String, Any?> = emptyMap(),
        options: PublishOptions = PublishOptions.DEFAULT,
        scope: TestamentScope = TestamentScope.DESTROYED,
    ): CompletableFuture<Void?> = javaFuture {
        addTestament(topic, args, kwargs, options, scope)
        null
    }

    /**
     * Stops adding testaments of [scope] to new sessions and flushes them on the joined session, if any
     * ([WampSession.flushTestaments]).
     */
    @JvmSynthetic
    public suspend fun flushTestaments(scope: TestamentScope = TestamentScope.DESTROYED) {
        restoreLock.withLock {
            testaments.flush(scope)
            val s = live.value?.takeIf { it.isOpen } ?: return
            try {
                Testament.flush(s, scope)
            } catch (e: WampSessionClosedException) {
                log.debug("WAMP client {}: session ended while flushing testaments", description)
            }
        }
    }

    /** Java face of [flushTestaments]. */
    @JvmOverloads
    public fun flushTestamentsAsync(scope: TestamentScope = TestamentScope.DESTROYED): CompletableFuture<Void?> =
        javaFuture {
            flushTestaments(scope)
            null
        }

    // ---------------------------------------------------------------- the end

    /**
     * Stops reconnecting and leaves the realm (GOODBYE, bounded by twice the response timeout), then releases
     * everything the client started. Operations then fail with [WampSessionClosedException] (or, after the client
     * gave up, [ReconnectExhaustedException]). Idempotent: a second caller waits for the same close.
     */
    @JvmSynthetic
    public suspend fun closeAndJoin() {
        lifecycle.close { shutdown() }
    }

    /** Java face of [closeAndJoin]. */
    public fun closeAsync(): CompletableFuture<Void?> = lifecycle.closeAsync { shutdown() }

    /** Blocking [closeAndJoin] for try-with-resources. */
    override fun close(): Unit = lifecycle.closeBlocking { shutdown() }

    private suspend fun shutdown() {
        lifecycle.end(WampSessionClosedException("WAMP client $description is closed"))
        loop?.cancelAndJoin()
        live.getAndUpdate { null }?.leave()
        finish(lifecycle.reason!!, null)
        scope.coroutineContext[Job]!!.cancelAndJoin()
    }

    /**
     * Suspends until the client has ended for good and returns why: [WampSessionClosedException] after a close,
     * [ReconnectExhaustedException] when it gave up, or the first attempt's failure when [connect] failed.
     */
    @JvmSynthetic
    public suspend fun awaitClosed(): WampException = lifecycle.awaitEnd()

    /** Java face of [awaitClosed]: completes normally with the reason once the client has ended. */
    public fun closedFuture(): CompletableFuture<WampException> = lifecycle.endFuture()

    override fun toString(): String = "WampClient($description, realm=${config.realm}, ${state.value})"

    /** As [WampSession]'s Java faces: runs in the caller's thread until it waits; fails with the client's end. */
    private fun <T> javaFuture(block: suspend () -> T): CompletableFuture<T> = lifecycle.future { block() }
}

/** A registration or subscription a [WampClient] makes on every session; [apply] makes it on one. */
internal sealed class Restorable(val key: UriKey, val apply: suspend (WampSession) -> Long) {
    class Registration(procedure: UriKey, apply: suspend (WampSession) -> Long) : Restorable(procedure, apply) {
        override fun toString(): String = "registration of ${key.uri} (match ${key.match.wire})"
    }

    class Subscription(topic: UriKey, apply: suspend (WampSession) -> Long) : Restorable(topic, apply) {
        override fun toString(): String = "subscription to ${key.uri} (match ${key.match.wire})"
    }
}

/** The client's registrations and subscriptions, in the order they were made; guarded by the client's lock. */
internal class Restorables {
    private val registrations = LinkedHashMap<UriKey, Restorable.Registration>()
    private val subscriptions = LinkedHashMap<UriKey, Restorable.Subscription>()

    @Synchronized fun procedures(): List<String> = registrations.keys.map { it.uri }

    @Synchronized fun topics(): List<String> = subscriptions.keys.map { it.uri }

    @Synchronized fun checkAbsent(r: Restorable) {
        when (r) {
            is Restorable.Registration -> if (r.key in registrations) {
                throw WampErrorException(
                    "wamp.error.procedure_already_exists",
                    listOf("this client already registers ${r.key.uri} (match ${r.key.match.wire})"),
                )
            }

            is Restorable.Subscription -> if (r.key in subscriptions) {
                throw WampErrorException(
                    "dev.tether.error.already_subscribed",
                    listOf("this client already subscribes to ${r.key.uri} (match ${r.key.match.wire})"),
                )
            }
        }
    }

    @Synchronized fun add(r: Restorable) {
        when (r) {
            is Restorable.Registration -> registrations[r.key] = r
            is Restorable.Subscription -> subscriptions[r.key] = r
        }
    }

    /** The registration of [procedure] with [match] (null: the only one of [procedure], whatever its policy). */
    @Synchronized fun registration(procedure: String, match: MatchPolicy?): Restorable =
        find(registrations, procedure, match, "registrations")
            ?: throw WampErrorException("wamp.error.no_such_registration", listOf("not registered: $procedure"))

    /** The subscription to [topic] with [match] (null: the only one of [topic], whatever its policy). */
    @Synchronized fun subscription(topic: String, match: MatchPolicy?): Restorable =
        find(subscriptions, topic, match, "subscriptions")
            ?: throw WampErrorException("wamp.error.no_such_subscription", listOf("not subscribed: $topic"))

    private fun <R : Restorable> find(all: Map<UriKey, R>, uri: String, match: MatchPolicy?, what: String): R? {
        if (match != null) return all[UriKey(uri, match)]
        // Several policies: UriKey.single throws the ambiguity error.
        return UriKey.single(uri, UriKey.byPolicy(uri, all), what)
    }

    @Synchronized fun remove(r: Restorable) {
        when (r) {
            is Restorable.Registration -> registrations.remove(r.key, r)
            is Restorable.Subscription -> subscriptions.remove(r.key, r)
        }
    }

    /** Makes every registration and subscription on [session], in order; the first failure fails the attempt. */
    suspend fun restoreOn(session: WampSession) {
        val all: List<Restorable> = synchronized(this) { registrations.values.toList() + subscriptions.values.toList() }
        for (r in all) {
            try {
                r.apply(session)
            } catch (e: WampErrorException) {
                throw WampErrorException(e.error, e.args, e.kwargs, e.details, "could not restore the $r: ${e.message}")
            }
        }
    }
}
