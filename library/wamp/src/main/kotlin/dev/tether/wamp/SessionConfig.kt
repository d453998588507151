package dev.tether.wamp

import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.JsonBinaryForm
import dev.tether.wamp.serializer.JsonSerializer
import dev.tether.wamp.serializer.Serialization
import dev.tether.wamp.serializer.Serializer
import java.time.Duration
import javax.net.ssl.X509TrustManager
import kotlin.time.toJavaDuration

/**
 * Everything a [Session] needs to join a realm (nexus's ClientConfig). Build with [builder] (Java) or
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

    /** The longest a call waits for its result; null (default) waits as long as the caller does, as nexus. */
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

    /** Keepalive: PING this often when non-zero (RawSocket PING frames or WebSocket pings; nexus never pings, so idle clients should). */
    public val pingInterval: Duration = b.pingInterval

    /** Keepalive: a PONG must arrive within this; otherwise the session closes. */
    public val pongTimeout: Duration = b.pongTimeout

    init {
        require(realm.isNotBlank()) { "realm is required" }
        require(!responseTimeout.isNegative && !responseTimeout.isZero) { "responseTimeout must be positive" }
        require(!dialTimeout.isNegative && !dialTimeout.isZero) { "dialTimeout must be positive" }
        require(recvLimit >= 0) { "recvLimit must not be negative" }
    }

    /** The effective inbound limit: [recvLimit] or 16 MiB. */
    internal val effectiveRecvLimit: Long get() = if (recvLimit <= 0) RawSocketProtocol.DEFAULT_MAX_LENGTH.toLong() else recvLimit

    internal fun serializer(): Serializer = when (serialization) {
        Serialization.JSON -> JsonSerializer(jsonBinaryForm)
        else -> serialization.serializer()
    }

    /** A builder starting from this configuration. */
    public fun toBuilder(): Builder = Builder(realm).also {
        it.helloDetails.putAll(helloDetails); it.authHandlers.putAll(authHandlers); it.responseTimeout = responseTimeout
        it.callTimeout = callTimeout; it.serialization = serialization; it.jsonBinaryForm = jsonBinaryForm
        it.recvLimit = recvLimit; it.dialTimeout = dialTimeout; it.trustManager = trustManager
        it.pingInterval = pingInterval; it.pongTimeout = pongTimeout
    }

    /** Builds a [SessionConfig]; every setter returns the builder. */
    public class Builder(internal val realm: String) {
        internal val helloDetails = LinkedHashMap<String, Any?>()
        internal val authHandlers = LinkedHashMap<String, AuthHandler>()
        internal var responseTimeout: Duration = Duration.ofSeconds(5)
        internal var callTimeout: Duration? = null
        internal var serialization: Serialization = Serialization.JSON
        internal var jsonBinaryForm: JsonBinaryForm = JsonBinaryForm.WAMP
        internal var recvLimit: Long = 0
        internal var dialTimeout: Duration = Duration.ofSeconds(10)
        internal var trustManager: X509TrustManager? = null
        internal var pingInterval: Duration = Duration.ZERO
        internal var pongTimeout: Duration = Duration.ofSeconds(10)

        /** Adds one HELLO detail. */
        public fun helloDetail(key: String, value: Any?): Builder = apply { helloDetails[key] = value }
        /** Sets HELLO `authid`. */
        public fun authId(authId: String): Builder = helloDetail("authid", authId)
        /** Registers [handler] for auth [method] (`ticket`, `wampcra`, `cryptosign`, ...). */
        public fun authHandler(method: String, handler: AuthHandler): Builder = apply { authHandlers[method] = handler }
        /** Sets [SessionConfig.responseTimeout]. */
        public fun responseTimeout(timeout: Duration): Builder = apply { responseTimeout = timeout }
        /** Sets [SessionConfig.responseTimeout] (Kotlin duration). */
        @JvmSynthetic public fun responseTimeout(timeout: kotlin.time.Duration): Builder = responseTimeout(timeout.toJavaDuration())
        /** Sets [SessionConfig.callTimeout]; null waits as long as the caller does. */
        public fun callTimeout(timeout: Duration?): Builder = apply { callTimeout = timeout }
        /** Sets [SessionConfig.callTimeout] (Kotlin duration). */
        @JvmSynthetic public fun callTimeout(timeout: kotlin.time.Duration): Builder = callTimeout(timeout.toJavaDuration())
        /** Sets [SessionConfig.serialization]. */
        public fun serialization(serialization: Serialization): Builder = apply { this.serialization = serialization }
        /** Sets [SessionConfig.jsonBinaryForm]. */
        public fun jsonBinaryForm(form: JsonBinaryForm): Builder = apply { jsonBinaryForm = form }
        /** Sets [SessionConfig.recvLimit] in bytes (0 = 16 MiB). */
        public fun recvLimit(bytes: Long): Builder = apply { recvLimit = bytes }
        /** Sets [SessionConfig.dialTimeout]. */
        public fun dialTimeout(timeout: Duration): Builder = apply { dialTimeout = timeout }
        /** Sets [SessionConfig.dialTimeout] (Kotlin duration). */
        @JvmSynthetic public fun dialTimeout(timeout: kotlin.time.Duration): Builder = dialTimeout(timeout.toJavaDuration())
        /** Sets [SessionConfig.trustManager] for wss and tcps. */
        public fun trustManager(manager: X509TrustManager?): Builder = apply { trustManager = manager }
        /** Sets [SessionConfig.pingInterval]; zero disables keepalive pings. */
        public fun pingInterval(interval: Duration): Builder = apply { pingInterval = interval }
        /** Sets [SessionConfig.pingInterval] (Kotlin duration). */
        @JvmSynthetic public fun pingInterval(interval: kotlin.time.Duration): Builder = pingInterval(interval.toJavaDuration())
        /** Sets [SessionConfig.pongTimeout]. */
        public fun pongTimeout(timeout: Duration): Builder = apply { pongTimeout = timeout }
        /** Sets [SessionConfig.pongTimeout] (Kotlin duration). */
        @JvmSynthetic public fun pongTimeout(timeout: kotlin.time.Duration): Builder = pongTimeout(timeout.toJavaDuration())
        /** Builds the configuration; throws IllegalArgumentException on invalid values. */
        public fun build(): SessionConfig = SessionConfig(this)
    }

    public companion object {
        /** Starts a builder for [realm] (Java). */
        @JvmStatic
        public fun builder(realm: String): Builder = Builder(realm)

        /** Kotlin: `SessionConfig("realm1") { authId("u"); serialization(Serialization.CBOR) }`. */
        @JvmSynthetic
        public operator fun invoke(realm: String, block: Builder.() -> Unit = {}): SessionConfig = Builder(realm).apply(block).build()
    }
}
