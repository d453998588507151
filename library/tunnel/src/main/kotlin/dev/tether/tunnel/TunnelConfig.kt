package dev.tether.tunnel

import dev.tether.core.TransportObserver
import dev.tether.core.backoff.RetryConfig
import java.time.Duration
import java.util.concurrent.Executor
import javax.net.ssl.SSLContext
import javax.net.ssl.X509TrustManager
import kotlin.time.toJavaDuration

/** Which proxy generation the client registers with: they differ only in header names. */
public enum class TunnelFlavour(
    /** Request header carrying the tunnel id. */
    public val idHeader: String,
    /** 101-response header carrying the public URL of the tunnel. */
    public val clientUrlHeader: String,
    /** Header the proxy adds to forwarded requests with the viewer's original path. */
    public val originalPathHeader: String,
) {
    /** taskcluster webhooktunnel (whproxy). */
    WEBHOOKTUNNEL("X-Webhooktunnel-Id", "X-Webhooktunnel-Client-Url", "X-Webhooktunnel-Original-Path"),

    /** taskcluster websocktunnel (v2 and later). */
    WEBSOCKTUNNEL("X-Websocktunnel-Id", "X-Websocktunnel-Client-Url", "X-Websocktunnel-Original-Path"),
}

/**
 * Configuration of a [TunnelClient] (upstream `whclient.Config`). Build it with [builder] (Java) or
 * [TunnelConfig.invoke] (Kotlin). The tunnel id and the proxy URL are required, and a token or a token
 * generator (or both: the generator renews the token when it expires).
 */
public class TunnelConfig private constructor(b: Builder) {
    /** The tunnel id; the proxy checks it against the token's `tid` claim. */
    public val id: String =
        requireNotNull(b.id) { "id is required" }.also { require(it.isNotEmpty()) { "id must not be empty" } }

    /** Where to register, as given (`http`/`https` are rewritten to `ws`/`wss` like upstream). */
    public val proxyUrl: String = requireNotNull(b.proxyUrl) { "proxyUrl is required" }

    /** The token to start with, if any. */
    public val token: String? = b.token

    /** Makes a new token when the current one is missing or no longer valid. */
    public val tokenGenerator: TunnelTokenGenerator? = b.tokenGenerator

    /** Retry policy of registration and reconnects (webhooktunnel §13 defaults). */
    public val retry: RetryConfig = b.retry

    /** Header names of the proxy generation. */
    public val flavour: TunnelFlavour = b.flavour

    /** Bound of one registration dial (upstream: gorilla's 45 s handshake timeout). */
    public val dialTimeout: Duration = b.dialTimeout

    /** Trust for `wss` proxies with a private CA; the JDK default trust store otherwise (verification stays on). */
    public val trustManager: X509TrustManager? = b.trustManager

    /**
     * Where the [TunnelHandler] of [TunnelClient.serve] runs: null (the default) is a library thread where it may
     * block. A handler that never blocks may run on [TunnelClient.executor], the tunnel connection's I/O thread, and
     * save two thread hand-offs per request (there, while it runs, no viewer's bytes move).
     */
    public val handlerExecutor: Executor? = b.handlerExecutor

    /** Watches the proxy WebSocket's dials, ends and traffic (metrics; see [TransportObserver]); null by default. */
    public val observer: TransportObserver? = b.observer

    /**
     * Most viewer streams open at once (default 1 000): a viewer stream over it is refused the way wsmux refuses a
     * stream it will not take (FIN instead of an ACK; the proxy answers that viewer once its own accept deadline
     * passes, 500 after 30 s for webhooktunnel) and counted in [TunnelStats.viewersRefused]. It replaces the
     * [dev.tether.mux.MuxConfig.maxStreams] of the mux configuration given to [TunnelClient]. Each viewer that
     * [TunnelClient.forward] serves holds an origin connection and two 16 KiB buffers, hence a lower default than
     * wsmux's.
     */
    public val maxStreams: Int = b.maxStreams

    /**
     * How long [TunnelClient.serve] waits for a viewer's request head (request line and headers) before it answers
     * `408 Request Timeout` and closes the stream (default 30 s).
     */
    public val requestHeadTimeout: Duration = b.requestHeadTimeout

    /**
     * How long [TunnelClient.serve] waits, once a viewer's request head has arrived, for the rest of the request
     * (its body, to the end of its Content-Length or its last chunk) before it answers `408 Request Timeout` and
     * closes the stream (default 60 s). With [requestHeadTimeout] it bounds how long a viewer that trickles its
     * request holds a stream and its buffered body; a viewer without a body is not affected.
     */
    public val requestBodyTimeout: Duration = b.requestBodyTimeout

    /**
     * Trust for `https` origins of [TunnelClient.forward] with a private CA or a self-signed certificate (a local
     * development server); the JDK default trust store otherwise. Verification stays on: the chain and the host name
     * are always checked.
     */
    public val originTrustManager: X509TrustManager? = b.originTrustManager

    /**
     * A whole JDK TLS context for `https` origins (client certificates, protocol limits); wins over
     * [originTrustManager]. Host names are verified whatever it holds.
     */
    public val originSslContext: SSLContext? = b.originSslContext

    init {
        require(token != null || tokenGenerator != null) { "a token or a tokenGenerator is required" }
        val scheme = proxyUrl.substringBefore("://", "").lowercase()
        require(scheme in setOf("http", "https", "ws", "wss")) {
            "proxyUrl must be http(s):// or ws(s)://, was $proxyUrl"
        }
        if (flavour == TunnelFlavour.WEBSOCKTUNNEL) {
            require(WEBSOCKTUNNEL_ID.matches(id)) {
                "websocktunnel ids match ${WEBSOCKTUNNEL_ID.pattern}; \"$id\" does not"
            }
        }
        require(!dialTimeout.isNegative && !dialTimeout.isZero) { "dialTimeout must be positive" }
        require(maxStreams >= 1) { "maxStreams must be at least 1" }
        require(!requestHeadTimeout.isNegative && !requestHeadTimeout.isZero) { "requestHeadTimeout must be positive" }
        require(!requestBodyTimeout.isNegative && !requestBodyTimeout.isZero) { "requestBodyTimeout must be positive" }
    }

    /** The WebSocket URL the client dials: upstream's prefix rewrite "http" -> "ws". */
    public val dialUrl: String
        get() = if (proxyUrl.startsWith("http", ignoreCase = true)) "ws" + proxyUrl.substring(4) else proxyUrl

    /** A builder holding this configuration, to derive a changed copy. */
    public fun toBuilder(): Builder = Builder().also {
        it.id = id
        it.proxyUrl = proxyUrl
        it.token = token
        it.tokenGenerator = tokenGenerator
        it.retry = retry
        it.flavour = flavour
        it.dialTimeout = dialTimeout
        it.trustManager = trustManager
        it.handlerExecutor = handlerExecutor
        it.observer = observer
        it.maxStreams = maxStreams
        it.requestHeadTimeout = requestHeadTimeout
        it.requestBodyTimeout = requestBodyTimeout
        it.originTrustManager = originTrustManager
        it.originSslContext = originSslContext
    }

    /** Builder of [TunnelConfig]. */
    public class Builder {
        internal var id: String? = null
        internal var proxyUrl: String? = null
        internal var token: String? = null
        internal var tokenGenerator: TunnelTokenGenerator? = null
        internal var retry: RetryConfig = RetryConfig()
        internal var flavour: TunnelFlavour = TunnelFlavour.WEBHOOKTUNNEL
        internal var dialTimeout: Duration = Duration.ofSeconds(45)
        internal var trustManager: X509TrustManager? = null
        internal var handlerExecutor: Executor? = null
        internal var observer: TransportObserver? = null
        internal var maxStreams: Int = DEFAULT_MAX_STREAMS
        internal var requestHeadTimeout: Duration = DEFAULT_REQUEST_HEAD_TIMEOUT
        internal var requestBodyTimeout: Duration = DEFAULT_REQUEST_BODY_TIMEOUT
        internal var originTrustManager: X509TrustManager? = null
        internal var originSslContext: SSLContext? = null

        /** The tunnel id. */
        public fun id(id: String): Builder = apply { this.id = id }

        /** The proxy URL (`http`, `https`, `ws` or `wss`). */
        public fun proxyUrl(url: String): Builder = apply { this.proxyUrl = url }

        /** A token to start with. */
        public fun token(token: String): Builder = apply { this.token = token }

        /** A generator for new tokens (see [TunnelTokens.generator]). */
        public fun tokenGenerator(generator: TunnelTokenGenerator): Builder = apply { this.tokenGenerator = generator }

        /** Retry policy of registration and reconnects. */
        public fun retry(retry: RetryConfig): Builder = apply { this.retry = retry }

        /** The proxy generation (header names). */
        public fun flavour(flavour: TunnelFlavour): Builder = apply { this.flavour = flavour }

        /** Bound of one registration dial. */
        public fun dialTimeout(timeout: Duration): Builder = apply { this.dialTimeout = timeout }

        /** Trust for a private CA. */
        public fun trustManager(trustManager: X509TrustManager): Builder = apply { this.trustManager = trustManager }

        /** Where the in-process handler runs (default null: a library thread where it may block). */
        public fun handlerExecutor(executor: Executor?): Builder = apply { this.handlerExecutor = executor }

        /** Watches the proxy WebSocket (metrics); null (default) removes it. */
        public fun observer(observer: TransportObserver?): Builder = apply { this.observer = observer }

        /** Most viewer streams open at once (default 1 000); one more is refused. */
        public fun maxStreams(count: Int): Builder = apply { this.maxStreams = count }

        /** How long [TunnelClient.serve] waits for a request head before answering 408 (default 30 s). */
        public fun requestHeadTimeout(timeout: Duration): Builder = apply { this.requestHeadTimeout = timeout }

        /** Kotlin: [requestHeadTimeout] with a Kotlin duration. */
        @JvmSynthetic
        public fun requestHeadTimeout(timeout: kotlin.time.Duration): Builder =
            requestHeadTimeout(timeout.toJavaDuration())

        /**
         * How long [TunnelClient.serve] waits for a request's body once its head arrived, before answering 408
         * (default 60 s).
         */
        public fun requestBodyTimeout(timeout: Duration): Builder = apply { this.requestBodyTimeout = timeout }

        /** Kotlin: [requestBodyTimeout] with a Kotlin duration. */
        @JvmSynthetic
        public fun requestBodyTimeout(timeout: kotlin.time.Duration): Builder =
            requestBodyTimeout(timeout.toJavaDuration())

        /** Trust for `https` origins with a private CA or a self-signed certificate (verification stays on). */
        public fun originTrustManager(trustManager: X509TrustManager?): Builder =
            apply { this.originTrustManager = trustManager }

        /** A JDK TLS context for `https` origins; wins over [originTrustManager]. */
        public fun originSslContext(context: SSLContext?): Builder = apply { this.originSslContext = context }

        /** The configuration. @throws IllegalArgumentException when a required setting is missing or invalid. */
        public fun build(): TunnelConfig = TunnelConfig(this)
    }

    /** Entry points: the builder and the Kotlin block form. */
    public companion object {
        private val WEBSOCKTUNNEL_ID = Regex("^[a-zA-Z0-9_~.%-]+$")

        /** Default of [maxStreams]. */
        public const val DEFAULT_MAX_STREAMS: Int = 1_000

        /** Default of [requestHeadTimeout]: 30 s. */
        @JvmField
        public val DEFAULT_REQUEST_HEAD_TIMEOUT: Duration = Duration.ofSeconds(30)

        /** Default of [requestBodyTimeout]: 60 s. */
        @JvmField
        public val DEFAULT_REQUEST_BODY_TIMEOUT: Duration = Duration.ofSeconds(60)

        /** Java: a new builder. */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `TunnelConfig(id, proxyUrl) { tokenGenerator(...) }`. */
        public operator fun invoke(id: String, proxyUrl: String, block: Builder.() -> Unit = {}): TunnelConfig =
            Builder().id(id).proxyUrl(proxyUrl).apply(block).build()
    }
}
