package dev.tether.wsclient

import dev.tether.core.DialerConfig
import dev.tether.core.TokenProvider
import dev.tether.core.TransportObserver
import dev.tether.core.backoff.ExponentialBackoff
import java.time.Duration
import java.util.concurrent.Executor
import kotlin.time.toJavaDuration

/** Receives the frames no request is waiting for: server-initiated requests and late replies. */
public fun interface EnvelopeHandler {
    /**
     * Handles one frame. Called on a library thread, one frame at a time, in arrival order. It may block: that
     * delays later handler frames only, never replies to requests or keepalive. Frames wait for it in a queue of
     * [WsClientConfig.handlerQueueSize]; while that is full, new ones are dropped and counted
     * ([WsClientStats.handlerDrops]).
     */
    public fun handle(envelope: Envelope)
}

/**
 * Configuration of a [WsClient] (upstream `Config`). Build it with [builder] (Java) or [WsClientConfig.invoke]
 * (Kotlin). URL and handler are required.
 *
 * @property dialer where and how to dial: URL, token, token provider, dial timeout (10 s), max message size (1 MiB),
 * client ping interval and pong timeout.
 * @property handler receives uncorrelated frames.
 * @property failFirstConnect when true, [WsClient.connect] fails with [InitialConnectException] if the very first
 * dial fails, and the client ends. A drop after the first connection was up never ends the client.
 * @property backoff reconnect policy (1 s doubling to 60 s, with jitter).
 * @property requestTimeout default bound on [WsClient.request] (30 s); upstream had none, and the broker silently
 * drops frames it does not understand.
 * @property sendTimeout default bound on waiting for a connection in [WsClient.send] (30 s).
 * @property handlerExecutor where [handler] runs: null (the default) is a library thread where it may block; a
 * handler that never blocks may run on [WsClient.executor], the connection's I/O thread, and save a thread hand-off
 * per frame.
 * @property handlerQueueSize how many frames may wait for [handler] ([DEFAULT_HANDLER_QUEUE_SIZE]); a frame that
 * finds the queue full is dropped, counted in [WsClientStats.handlerDrops] and logged. The socket is read on
 * regardless, so replies and keepalive never wait for a slow handler.
 */
public class WsClientConfig private constructor(b: Builder) {
    /** Where and how to dial. */
    public val dialer: DialerConfig = b.dialer.build()

    /** Receives uncorrelated frames. */
    public val handler: EnvelopeHandler = requireNotNull(b.handler) { "handler is required" }

    /** Whether a failed very first dial ends the client. */
    public val failFirstConnect: Boolean = b.failFirstConnect

    /** The reconnect policy. */
    public val backoff: ExponentialBackoff = b.backoff

    /** Default bound on one request. */
    public val requestTimeout: Duration = b.requestTimeout

    /** Default bound on one send's wait for a connection. */
    public val sendTimeout: Duration = b.sendTimeout

    /** Where the handler runs; null: a library thread. */
    public val handlerExecutor: Executor? = b.handlerExecutor

    /** How many frames may wait for the handler before new ones are dropped. */
    public val handlerQueueSize: Int = b.handlerQueueSize

    init {
        require(handlerQueueSize > 0) { "handlerQueueSize must be positive, was $handlerQueueSize" }
        require(!requestTimeout.isNegative && !requestTimeout.isZero) { "requestTimeout must be positive" }
        require(!sendTimeout.isNegative && !sendTimeout.isZero) { "sendTimeout must be positive" }
    }

    /** Builds a [WsClientConfig]; every setter returns the builder. */
    public class Builder internal constructor() {
        internal val dialer = DialerConfig.builder()
        internal var handler: EnvelopeHandler? = null
        internal var failFirstConnect = false
        internal var backoff = ExponentialBackoff()
        internal var requestTimeout: Duration = Duration.ofSeconds(30)
        internal var sendTimeout: Duration = Duration.ofSeconds(30)
        internal var handlerExecutor: Executor? = null
        internal var handlerQueueSize = DEFAULT_HANDLER_QUEUE_SIZE

        /** The broker endpoint, e.g. `wss://nexus.example:7888/connect`. */
        public fun url(url: String): Builder = apply { dialer.url(url) }

        /** Receives the frames no request is waiting for (required). */
        public fun handler(handler: EnvelopeHandler): Builder = apply { this.handler = handler }

        /** Static bearer token; also the fallback before any token has been accepted. */
        public fun authToken(token: String?): Builder = apply { dialer.token(token) }

        /** Called before every dial for a fresh token; on failure the last accepted token is used. */
        public fun tokenProvider(provider: TokenProvider?): Builder = apply { dialer.tokenProvider(provider) }

        /** An extra HTTP header on every upgrade request. */
        public fun header(name: String, value: String): Builder = apply { dialer.header(name, value) }

        /** When true, a failed very first dial ends the client with [InitialConnectException]. */
        public fun failFirstConnect(fail: Boolean): Builder = apply { failFirstConnect = fail }

        /** The reconnect policy (default: 1 s doubling to 60 s, with jitter). */
        public fun backoff(policy: ExponentialBackoff): Builder = apply { backoff = policy }

        /** Upstream's MinReconnectDelay / MaxReconnectDelay. */
        public fun reconnectDelays(min: Duration, max: Duration): Builder =
            apply { backoff = backoff.toBuilder().minDelay(min).maxDelay(max).build() }

        /** Kotlin: [reconnectDelays] with Kotlin durations. */
        @JvmSynthetic
        public fun reconnectDelays(min: kotlin.time.Duration, max: kotlin.time.Duration): Builder =
            reconnectDelays(min.toJavaDuration(), max.toJavaDuration())

        /** Default bound on one request, waiting for a connection included (default 30 s). */
        public fun requestTimeout(timeout: Duration): Builder = apply { requestTimeout = timeout }

        /** Kotlin: [requestTimeout] with a Kotlin duration. */
        @JvmSynthetic
        public fun requestTimeout(timeout: kotlin.time.Duration): Builder = requestTimeout(timeout.toJavaDuration())

        /** Default bound on one send's wait for a connection (default 30 s). */
        public fun sendTimeout(timeout: Duration): Builder = apply { sendTimeout = timeout }

        /** Kotlin: [sendTimeout] with a Kotlin duration. */
        @JvmSynthetic
        public fun sendTimeout(timeout: kotlin.time.Duration): Builder = sendTimeout(timeout.toJavaDuration())

        /** Bound of one dial: TCP, TLS and the upgrade (default 10 s). */
        public fun dialTimeout(timeout: Duration): Builder = apply { dialer.dialTimeout(timeout) }

        /** Kotlin: [dialTimeout] with a Kotlin duration. */
        @JvmSynthetic
        public fun dialTimeout(timeout: kotlin.time.Duration): Builder = dialTimeout(timeout.toJavaDuration())

        /** The largest inbound message after joining fragments (default 1 MiB). */
        public fun maxMessageBytes(bytes: Long): Builder = apply { dialer.maxMessageBytes(bytes) }

        /** Client ping interval; [Duration.ZERO] disables client pings. */
        public fun pingInterval(interval: Duration): Builder = apply { dialer.pingInterval(interval) }

        /** Kotlin: [pingInterval] with a Kotlin duration. */
        @JvmSynthetic
        public fun pingInterval(interval: kotlin.time.Duration): Builder = pingInterval(interval.toJavaDuration())

        /** How long a client ping waits for its pong before the connection is declared dead. */
        public fun pongTimeout(timeout: Duration): Builder = apply { dialer.pongTimeout(timeout) }

        /** Kotlin: [pongTimeout] with a Kotlin duration. */
        @JvmSynthetic
        public fun pongTimeout(timeout: kotlin.time.Duration): Builder = pongTimeout(timeout.toJavaDuration())

        /** Where the handler runs (default: a library thread where it may block). */
        public fun handlerExecutor(executor: Executor?): Builder = apply { handlerExecutor = executor }

        /**
         * How many frames may wait for the handler (default [DEFAULT_HANDLER_QUEUE_SIZE]); while that many wait, new
         * ones are dropped and counted in [WsClientStats.handlerDrops].
         */
        public fun handlerQueueSize(frames: Int): Builder = apply { handlerQueueSize = frames }

        /** Watches every connection the client dials (metrics, e.g. tether-micrometer's `TransportMetrics`). */
        public fun observer(observer: TransportObserver?): Builder = apply { dialer.observer(observer) }

        /** Direct access to every dialer setting (TLS trust, outgoing queue, …). */
        public fun dialer(block: java.util.function.Consumer<DialerConfig.Builder>): Builder =
            apply { block.accept(dialer) }

        /** The configuration (validated: a missing URL or handler, a non-positive timeout or queue size, throws). */
        public fun build(): WsClientConfig = WsClientConfig(this)
    }

    /** Entry points: [builder] (Java) and the Kotlin block form. */
    public companion object {
        /** Frames that may wait for the handler by default. */
        public const val DEFAULT_HANDLER_QUEUE_SIZE: Int = 4096

        /** Starts a builder (Java). */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `WsClientConfig("ws://…/connect", handler) { failFirstConnect(true) }`. */
        @JvmSynthetic
        public operator fun invoke(
            url: String,
            handler: EnvelopeHandler,
            block: Builder.() -> Unit = {},
        ): WsClientConfig = Builder().url(url).handler(handler).apply(block).build()
    }
}
