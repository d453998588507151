package dev.tether.core

import java.time.Duration
import javax.net.ssl.SSLContext
import javax.net.ssl.X509TrustManager
import kotlin.time.toJavaDuration

/**
 * How to open one WebSocket: where, with which headers and token, and the limits that keep a bad peer from
 * hanging or flooding the caller. Immutable; build it with [builder] (Java) or [DialerConfig.invoke] (Kotlin).
 *
 * @property url `ws://`, `wss://`, `http://` or `https://` (the last two are dialled as `ws`/`wss`).
 * @property headers extra headers for the upgrade request.
 * @property tokenProvider called before every dial; its token goes out as `Authorization: Bearer <token>`.
 * @property staticToken the token to use when there is no provider, or it failed and no token has worked yet.
 * @property dialTimeout bound on TCP connect + TLS + upgrade (default 10 s, as upstream).
 * @property maxMessageBytes largest inbound message accepted, after reassembling fragments (default 1 MiB).
 * @property pingInterval how often the client pings; [Duration.ZERO] disables client pings (default 30 s).
 * @property pongTimeout how long to wait for the pong before declaring the connection dead (default 10 s).
 * @property outgoingFrames frames that may queue for the socket before `send` suspends (default 64; Ktor's writer queue
 *   behind ours holds as many again).
 * @property trustManager overrides TLS trust (for a private CA); null uses the JVM's trust store. Verification is
 * never switched off by default.
 * @property sslContext a whole JDK TLS context (client certificates, a private CA, protocol limits); it takes
 * precedence over [trustManager]. Host names are still verified. Needs the Netty transport (or your own Ktor client).
 * @property transport the WebSocket stack ([WebSocketTransport.default]: Netty unless `-Dtether.transport=ktor`).
 * @property observer told of every dial, end, message and pong of this dialer's connections (for metrics); null (the
 * default) costs nothing.
 */
public class DialerConfig private constructor(b: Builder) {
    public val url: String = requireNotNull(b.url) { "url is required" }
    public val headers: Map<String, String> = b.headers.toMap()
    public val tokenProvider: TokenProvider? = b.tokenProvider
    public val staticToken: String? = b.staticToken
    public val dialTimeout: Duration = b.dialTimeout
    public val maxMessageBytes: Long = b.maxMessageBytes
    public val pingInterval: Duration = b.pingInterval
    public val pongTimeout: Duration = b.pongTimeout
    public val outgoingFrames: Int = b.outgoingFrames
    public val trustManager: X509TrustManager? = b.trustManager
    public val sslContext: SSLContext? = b.sslContext
    public val transport: WebSocketTransport = b.transport ?: WebSocketTransport.default()
    public val observer: TransportObserver? = b.observer

    init {
        require(!dialTimeout.isNegative && !dialTimeout.isZero) { "dialTimeout must be positive" }
        require(maxMessageBytes > 0) { "maxMessageBytes must be positive" }
        require(!pingInterval.isNegative) { "pingInterval must not be negative" }
        require(!pongTimeout.isNegative && !pongTimeout.isZero) { "pongTimeout must be positive" }
        require(outgoingFrames > 0) { "outgoingFrames must be positive" }
        val scheme = url.substringBefore("://", "").lowercase()
        require(scheme in setOf("ws", "wss", "http", "https")) {
            "url must start with ws://, wss://, http:// or https://: $url"
        }
    }

    /** A builder that starts from this configuration. */
    public fun toBuilder(): Builder = Builder().also {
        it.url = url
        it.headers.putAll(headers)
        it.tokenProvider = tokenProvider
        it.staticToken = staticToken
        it.dialTimeout = dialTimeout
        it.maxMessageBytes = maxMessageBytes
        it.pingInterval = pingInterval
        it.pongTimeout = pongTimeout
        it.outgoingFrames = outgoingFrames
        it.trustManager = trustManager
        it.sslContext = sslContext
        it.transport = transport
        it.observer = observer
    }

    /** Builds a [DialerConfig]; every setter returns the builder. */
    public class Builder {
        internal var url: String? = null
        internal val headers = LinkedHashMap<String, String>()
        internal var tokenProvider: TokenProvider? = null
        internal var staticToken: String? = null
        internal var dialTimeout: Duration = Duration.ofSeconds(10)
        internal var maxMessageBytes: Long = 1L shl 20
        internal var pingInterval: Duration = Duration.ofSeconds(30)
        internal var pongTimeout: Duration = Duration.ofSeconds(10)
        internal var outgoingFrames: Int = 64
        internal var trustManager: X509TrustManager? = null
        internal var sslContext: SSLContext? = null
        internal var transport: WebSocketTransport? = null
        internal var observer: TransportObserver? = null

        /** Where to dial (`ws`, `wss`, `http`, `https`); required. */
        public fun url(url: String): Builder = apply { this.url = url }

        /** Adds a header to the upgrade request (a second call with the same name replaces the first). */
        public fun header(name: String, value: String): Builder = apply { headers[name] = value }

        /** Asked for a bearer token before every dial; null removes it. */
        public fun tokenProvider(provider: TokenProvider?): Builder = apply { tokenProvider = provider }

        /** A fixed bearer token, used when there is no provider (or it failed before any token worked). */
        public fun token(token: String?): Builder = apply { staticToken = token }

        /** Bound on TCP connect + TLS + upgrade; positive (default 10 s). */
        public fun dialTimeout(timeout: Duration): Builder = apply { dialTimeout = timeout }

        /** Kotlin form of [dialTimeout]. */
        @JvmSynthetic public fun dialTimeout(timeout: kotlin.time.Duration): Builder = dialTimeout(
            timeout.toJavaDuration(),
        )

        /** Largest inbound message after reassembly; a bigger one ends the connection (default 1 MiB). */
        public fun maxMessageBytes(bytes: Long): Builder = apply { maxMessageBytes = bytes }

        /** How often the client pings; zero disables client pings (default 30 s). */
        public fun pingInterval(interval: Duration): Builder = apply { pingInterval = interval }

        /** Kotlin form of [pingInterval]. */
        @JvmSynthetic public fun pingInterval(interval: kotlin.time.Duration): Builder = pingInterval(
            interval.toJavaDuration(),
        )

        /** How long a ping may wait for its pong before the connection counts as dead (default 10 s). */
        public fun pongTimeout(timeout: Duration): Builder = apply { pongTimeout = timeout }

        /** Kotlin form of [pongTimeout]. */
        @JvmSynthetic public fun pongTimeout(timeout: kotlin.time.Duration): Builder = pongTimeout(
            timeout.toJavaDuration(),
        )

        /** Frames that may queue for the socket before `send` suspends (default 64). */
        public fun outgoingFrames(frames: Int): Builder = apply { outgoingFrames = frames }

        /** Trust for a private CA; null uses the JVM's trust store. Verification stays on either way. */
        public fun trustManager(manager: X509TrustManager?): Builder = apply { trustManager = manager }

        /** A whole TLS context (client certificates); takes precedence over [trustManager]. */
        public fun sslContext(context: SSLContext?): Builder = apply { sslContext = context }

        /** The WebSocket stack: [WebSocketTransport.netty] (default) or [WebSocketTransport.ktor]. */
        public fun transport(transport: WebSocketTransport): Builder = apply { this.transport = transport }

        /** Watches every connection of this dialer (metrics); null removes it. See [TransportObserver]. */
        public fun observer(observer: TransportObserver?): Builder = apply { this.observer = observer }

        /** The configuration; throws [IllegalArgumentException] on a missing url or an out-of-range value. */
        public fun build(): DialerConfig = DialerConfig(this)
    }

    public companion object {
        /** Starts a builder (Java). */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `DialerConfig("ws://…") { pingInterval(5.seconds) }`. */
        @JvmSynthetic
        public operator fun invoke(url: String, block: Builder.() -> Unit = {}): DialerConfig =
            Builder().url(url).apply(block).build()
    }
}
