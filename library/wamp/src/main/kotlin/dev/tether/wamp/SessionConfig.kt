@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.TransportObserver
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.error.ChunkBufferOverflowException
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.JsonBinaryForm
import dev.tether.wamp.serializer.JsonSerializer
import dev.tether.wamp.serializer.Serialization
import dev.tether.wamp.serializer.Serializer
import dev.tether.wamp.transport.SocketDialer
import org.slf4j.Logger
import java.time.Duration
import java.util.concurrent.Executor
import javax.net.ssl.SSLContext
import javax.net.ssl.X509TrustManager
import kotlin.time.toJavaDuration

/**
 * Everything a [WampSession] needs to join a realm (nexus's ClientConfig). Build with [builder] (Java) or
 * `SessionConfig("realm1") { ... }` (Kotlin).
 */
public class SessionConfig private constructor(b: Builder) {
    /** The realm URI to join. */
    public val realm: String = b.realm

    /** Extra HELLO details (e.g. `authid`, `authextra`); roles and authmethods are added unless present. */
    public val helloDetails: Map<String, Any?> = b.helloDetails.toMap()

    /** Auth handlers by method name; their names become HELLO `authmethods`. */
    public val authHandlers: Map<String, AuthHandler> = b.authHandlers.toMap()

    /**
     * How long to wait for the router's reply to HELLO/authentication, SUBSCRIBE, UNSUBSCRIBE, REGISTER,
     * UNREGISTER, acknowledged PUBLISH and GOODBYE (default 5 s). Calls wait for [callTimeout] instead.
     */
    public val responseTimeout: Duration = b.responseTimeout

    /**
     * The longest a call waits for its result (default 60 s, [DEFAULT_CALL_TIMEOUT]): past it the call is cancelled
     * (CANCEL) and fails with [dev.tether.wamp.error.ResponseTimeoutException]. Null waits as long as the caller does,
     * as nexus; only for routers and callees you trust to answer.
     */
    public val callTimeout: Duration? = b.callTimeout

    /** The serialization to use (default JSON). */
    public val serialization: Serialization = b.serialization

    /** How JSON writes byte arrays (default the WAMP `"\u0000"`+base64 form). */
    public val jsonBinaryForm: JsonBinaryForm = b.jsonBinaryForm

    /** Largest inbound message in bytes; RawSocket rounds it up to a power of two. 0 means 16 MiB. */
    public val recvLimit: Long = b.recvLimit

    /** How long connecting (TCP, TLS, upgrade or RawSocket handshake) may take (default 10 s). */
    public val dialTimeout: Duration = b.dialTimeout

    /** Trust manager for wss/tcps; null uses the JVM's default trust store (verification stays on). */
    public val trustManager: X509TrustManager? = b.trustManager

    /**
     * The TLS context for wss/https/tcps (nexus's TlsCfg): its key managers present a client certificate, its trust
     * managers verify the router. When set it replaces [trustManager]; host names are still verified. Null (the
     * default) uses [trustManager] or the JVM's trust store and no client certificate.
     */
    public val sslContext: SSLContext? = b.sslContext

    /**
     * Watches the WebSocket connections of ws/wss URLs (metrics, e.g. tether-micrometer's `TransportMetrics`): dials,
     * ends, messages, ping round trips. RawSocket and Unix-socket sessions are not observed. Null by default.
     */
    public val observer: TransportObserver? = b.observer

    /**
     * Opens the TCP connection for `tcp://` and `tcps://` URLs (nexus's Dial): dial through a proxy or a custom
     * network. TLS (tcps) and the RawSocket handshake then run over the returned socket. Null (the default)
     * connects directly. Not used for WebSocket or `unix://` URLs.
     */
    public val socketDialer: SocketDialer? = b.socketDialer

    /**
     * The SLF4J logger for this session's messages (late replies, handler failures, protocol errors, keepalive);
     * null (the default) logs to `dev.tether.wamp.WampSession`. Secrets are never logged.
     */
    public val logger: Logger? = b.logger

    /**
     * Keepalive: PING this often (RawSocket PING frames or WebSocket pings; default 30 s, [DEFAULT_PING_INTERVAL]).
     * Nexus never pings, so without it a half-open connection would never be noticed. [Duration.ZERO] turns keepalive
     * off.
     */
    public val pingInterval: Duration = b.pingInterval

    /** Keepalive: a PONG must arrive within this; otherwise the session closes. */
    public val pongTimeout: Duration = b.pongTimeout

    /**
     * Where invocation and event handlers run: null (the default) is [kotlinx.coroutines.Dispatchers.Default]. A
     * direct executor (`Runnable::run`) runs them inline where the message is read, the connection's I/O thread for
     * the transports of [WampSession.connect], and saves a thread hand-off per message: only for handlers that never
     * block, since the connection is not read while one runs.
     */
    public val handlerExecutor: Executor? = b.handlerExecutor

    /** How an abandoned call (cancelled, or past [callTimeout]) is cancelled, unless its [CallOptions] say. */
    public val cancelMode: CancelMode = b.cancelMode

    /**
     * How many chunks of one progressive call may wait for a streaming handler ([WampSession.registerStreaming]) that
     * has not taken them yet (default 256). Past it the handler's chunk stream fails with
     * [ChunkBufferOverflowException]: memory stays bounded however fast a caller streams.
     */
    public val invocationChunkBuffer: Int = b.invocationChunkBuffer

    /**
     * How many events of one subscription may wait for its handler (default 4096). The session reads its connection
     * without waiting for handlers; an event that finds its subscription's queue full is dropped, logged and counted
     * in [WampSession.stats]. Memory stays bounded however slow a handler is.
     */
    public val eventBuffer: Int = b.eventBuffer

    /**
     * How many progressive results of one call ([WampSession.callProgress], [WampSession.callStreaming] with a
     * progress callback) may wait for its callback (default 256). The session reads its connection without waiting
     * for callbacks; past the bound the call fails with [dev.tether.wamp.error.ProgressBufferOverflowException] and is
     * cancelled, so memory stays bounded however fast a callee sends progress.
     */
    public val progressBuffer: Int = b.progressBuffer

    /**
     * How many invocations of this session's registered procedures may run at once (default 1024). An INVOCATION
     * beyond it is answered at once with ERROR [TOO_MANY_INVOCATIONS] and its handler does not run, so a caller
     * flooding a callee cannot make it start handlers without limit. Later chunks of a running progressive
     * invocation do not count.
     */
    public val maxConcurrentInvocations: Int = b.maxConcurrentInvocations

    init {
        require(realm.isNotBlank()) { "realm is required" }
        require(!responseTimeout.isNegative && !responseTimeout.isZero) { "responseTimeout must be positive" }
        require(!dialTimeout.isNegative && !dialTimeout.isZero) { "dialTimeout must be positive" }
        require(recvLimit >= 0) { "recvLimit must not be negative" }
        require(invocationChunkBuffer >= 1) { "invocationChunkBuffer must be at least 1, was $invocationChunkBuffer" }
        require(eventBuffer >= 1) { "eventBuffer must be at least 1, was $eventBuffer" }
        require(progressBuffer >= 1) { "progressBuffer must be at least 1, was $progressBuffer" }
        require(maxConcurrentInvocations >= 1) {
            "maxConcurrentInvocations must be at least 1, was $maxConcurrentInvocations"
        }
        require(!pingInterval.isNegative) { "pingInterval must not be negative" }
        require(callTimeout == null || (!callTimeout.isNegative && !callTimeout.isZero)) {
            "callTimeout must be positive (null: no timeout)"
        }
    }

    /** The effective inbound limit: [recvLimit] or 16 MiB. */
    internal val effectiveRecvLimit: Long
        get() = if (recvLimit <= 0) RawSocketProtocol.DEFAULT_MAX_LENGTH.toLong() else recvLimit

    internal fun serializer(): Serializer = when (serialization) {
        Serialization.JSON -> JsonSerializer(jsonBinaryForm)
        else -> serialization.serializer()
    }

    /** A builder starting from this configuration. */
    public fun toBuilder(): Builder = Builder(realm).also {
        it.handlerExecutor = handlerExecutor
        it.cancelMode = cancelMode
        it.helloDetails.putAll(helloDetails)
        it.authHandlers.putAll(authHandlers)
        it.responseTimeout = responseTimeout
        it.callTimeout = callTimeout
        it.serialization = serialization
        it.jsonBinaryForm = jsonBinaryForm
        it.recvLimit = recvLimit
        it.dialTimeout = dialTimeout
        it.trustManager = trustManager
        it.pingInterval = pingInterval
        it.pongTimeout = pongTimeout
        it.sslContext = sslContext
        it.observer = observer
        it.socketDialer = socketDialer
        it.logger = logger
        it.invocationChunkBuffer = invocationChunkBuffer
        it.eventBuffer = eventBuffer
        it.progressBuffer = progressBuffer
        it.maxConcurrentInvocations = maxConcurrentInvocations
    }

    /** Builds a [SessionConfig]; every setter returns the builder. */
    public class Builder(internal val realm: String) {
        internal val helloDetails = LinkedHashMap<String, Any?>()
        internal val authHandlers = LinkedHashMap<String, AuthHandler>()
        internal var responseTimeout: Duration = Duration.ofSeconds(5)
        internal var callTimeout: Duration? = DEFAULT_CALL_TIMEOUT
        internal var serialization: Serialization = Serialization.JSON
        internal var jsonBinaryForm: JsonBinaryForm = JsonBinaryForm.WAMP
        internal var recvLimit: Long = 0
        internal var dialTimeout: Duration = Duration.ofSeconds(10)
        internal var trustManager: X509TrustManager? = null
        internal var pingInterval: Duration = DEFAULT_PING_INTERVAL
        internal var pongTimeout: Duration = Duration.ofSeconds(10)
        internal var handlerExecutor: Executor? = null
        internal var cancelMode: CancelMode = CancelMode.KILL_NO_WAIT
        internal var sslContext: SSLContext? = null
        internal var observer: TransportObserver? = null
        internal var socketDialer: SocketDialer? = null
        internal var logger: Logger? = null
        internal var invocationChunkBuffer: Int = 256
        internal var eventBuffer: Int = 4096
        internal var progressBuffer: Int = 256
        internal var maxConcurrentInvocations: Int = 1024

        /** Adds one HELLO detail. */
        public fun helloDetail(key: String, value: Any?): Builder = apply { helloDetails[key] = value }

        /** Sets HELLO `authid`. */
        public fun authId(authId: String): Builder = helloDetail("authid", authId)

        /** Registers [handler] for auth [method] (`ticket`, `wampcra`, `cryptosign`, ...). */
        public fun authHandler(method: String, handler: AuthHandler): Builder = apply { authHandlers[method] = handler }

        /** Sets [SessionConfig.responseTimeout]. */
        public fun responseTimeout(timeout: Duration): Builder = apply { responseTimeout = timeout }

        /** Sets [SessionConfig.responseTimeout] (Kotlin duration). */
        @JvmSynthetic public fun responseTimeout(timeout: kotlin.time.Duration): Builder = responseTimeout(
            timeout.toJavaDuration(),
        )

        /** Sets [SessionConfig.callTimeout] (default 60 s); null waits as long as the caller does. */
        public fun callTimeout(timeout: Duration?): Builder = apply { callTimeout = timeout }

        /** Sets [SessionConfig.callTimeout] (Kotlin duration). */
        @JvmSynthetic public fun callTimeout(timeout: kotlin.time.Duration): Builder = callTimeout(
            timeout.toJavaDuration(),
        )

        /** Sets [SessionConfig.serialization]. */
        public fun serialization(serialization: Serialization): Builder = apply { this.serialization = serialization }

        /** Sets [SessionConfig.jsonBinaryForm]. */
        public fun jsonBinaryForm(form: JsonBinaryForm): Builder = apply { jsonBinaryForm = form }

        /** Sets [SessionConfig.recvLimit] in bytes (0 = 16 MiB). */
        public fun recvLimit(bytes: Long): Builder = apply { recvLimit = bytes }

        /** Sets [SessionConfig.dialTimeout]. */
        public fun dialTimeout(timeout: Duration): Builder = apply { dialTimeout = timeout }

        /** Sets [SessionConfig.dialTimeout] (Kotlin duration). */
        @JvmSynthetic public fun dialTimeout(timeout: kotlin.time.Duration): Builder = dialTimeout(
            timeout.toJavaDuration(),
        )

        /** Sets [SessionConfig.trustManager] for wss and tcps. */
        public fun trustManager(manager: X509TrustManager?): Builder = apply { trustManager = manager }

        /** Sets [SessionConfig.sslContext] for wss, https and tcps (client certificates, custom trust). */
        public fun sslContext(context: SSLContext?): Builder = apply { sslContext = context }

        /** Sets [SessionConfig.observer] (ws/wss connections only). */
        public fun observer(observer: TransportObserver?): Builder = apply { this.observer = observer }

        /** Sets [SessionConfig.socketDialer], used to open tcp and tcps connections. */
        public fun socketDialer(dialer: SocketDialer?): Builder = apply { socketDialer = dialer }

        /** Sets [SessionConfig.logger] for this session's log messages. */
        public fun logger(logger: Logger?): Builder = apply { this.logger = logger }

        /** Sets [SessionConfig.pingInterval] (default 30 s); zero disables keepalive pings. */
        public fun pingInterval(interval: Duration): Builder = apply { pingInterval = interval }

        /** Sets [SessionConfig.pingInterval] (Kotlin duration). */
        @JvmSynthetic public fun pingInterval(interval: kotlin.time.Duration): Builder = pingInterval(
            interval.toJavaDuration(),
        )

        /** Sets [SessionConfig.pongTimeout]. */
        public fun pongTimeout(timeout: Duration): Builder = apply { pongTimeout = timeout }

        /** Sets [SessionConfig.pongTimeout] (Kotlin duration). */
        @JvmSynthetic public fun pongTimeout(timeout: kotlin.time.Duration): Builder = pongTimeout(
            timeout.toJavaDuration(),
        )

        /** Where invocation and event handlers run (default: [kotlinx.coroutines.Dispatchers.Default]). */
        public fun handlerExecutor(executor: Executor?): Builder = apply { handlerExecutor = executor }

        /** Sets [SessionConfig.cancelMode] (default [CancelMode.KILL_NO_WAIT], as nexus). */
        public fun cancelMode(mode: CancelMode): Builder = apply { cancelMode = mode }

        /** Sets [SessionConfig.invocationChunkBuffer] (at least 1). */
        public fun invocationChunkBuffer(chunks: Int): Builder = apply { invocationChunkBuffer = chunks }

        /** Sets [SessionConfig.eventBuffer] (at least 1). */
        public fun eventBuffer(events: Int): Builder = apply { eventBuffer = events }

        /** Sets [SessionConfig.progressBuffer] (at least 1). */
        public fun progressBuffer(results: Int): Builder = apply { progressBuffer = results }

        /** Sets [SessionConfig.maxConcurrentInvocations] (at least 1). */
        public fun maxConcurrentInvocations(invocations: Int): Builder =
            apply { maxConcurrentInvocations = invocations }

        /** Builds the configuration; throws IllegalArgumentException on invalid values. */
        public fun build(): SessionConfig = SessionConfig(this)
    }

    /** Builders of a [SessionConfig], and its defaults. */
    public companion object {
        /** The default [pingInterval]: 30 s, as tether-core's WebSocket dialer. */
        @JvmField
        public val DEFAULT_PING_INTERVAL: Duration = Duration.ofSeconds(30)

        /** The default [callTimeout]: 60 s. */
        @JvmField
        public val DEFAULT_CALL_TIMEOUT: Duration = Duration.ofSeconds(60)

        /** The error URI an INVOCATION over [maxConcurrentInvocations] is answered with. */
        public const val TOO_MANY_INVOCATIONS: String = "dev.tether.error.too_many_invocations"

        /** Starts a builder for [realm] (Java). */
        @JvmStatic
        public fun builder(realm: String): Builder = Builder(realm)

        /** Kotlin: `SessionConfig("realm1") { authId("u"); serialization(Serialization.CBOR) }`. */
        @JvmSynthetic
        public operator fun invoke(realm: String, block: Builder.() -> Unit = {}): SessionConfig =
            Builder(realm).apply(block).build()
    }
}
