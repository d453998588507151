package dev.tether.testkit.wamp

import dev.tether.wamp.MatchPolicy
import java.time.Duration

/**
 * Configuration of a [FakeWampRouter]. Build with [builder] (Java) or `FakeWampRouterConfig { realm("r") }` (Kotlin).
 * Defaults: realm `realm1` open to anonymous sessions, RawSocket receive limit 16 MiB, HELLO timeout 5 s.
 */
public class FakeWampRouterConfig private constructor(b: Builder) {
    /** Realm name -> whether anonymous sessions may join it. */
    public val realms: Map<String, Boolean> = b.realms.toMap()

    /** Users by authid. */
    public val users: List<RouterUser> = b.users.toList()

    /** The router's RawSocket receive limit (announced in its handshake reply). */
    public val rawSocketRecvLimit: Long = b.rawSocketRecvLimit

    /** A Unix domain socket path to serve RawSocket on as well, or null. */
    public val unixSocketPath: String? = b.unixSocketPath

    /** How long a new connection has to send HELLO. */
    public val helloTimeout: Duration = b.helloTimeout

    /** Largest WebSocket message the router accepts. */
    public val maxWebSocketMessage: Long = b.maxWebSocketMessage

    /** Whether the router also serves `wss` and `tcps` with the [FakeWampRouterTls] certificate. */
    public val tls: Boolean = b.tls

    /**
     * Whether `wss` and `tcps` require a client certificate: the client must present [FakeWampRouterTls]'s own
     * certificate (e.g. with `SessionConfig.sslContext(FakeWampRouterTls.clientSslContext())`).
     */
    public val tlsClientAuth: Boolean = b.tlsClientAuth

    /** The WebSocket port; 0 (default) picks an ephemeral one. */
    public val webSocketPort: Int = b.webSocketPort

    /** The RawSocket TCP port; 0 (default) picks an ephemeral one. */
    public val rawSocketPort: Int = b.rawSocketPort

    /**
     * Whether every realm offers the meta API (default true): the session, registration and subscription meta
     * procedures and events, and testaments, announced in WELCOME as `session_meta_api`, `registration_meta_api`,
     * `subscription_meta_api` and `testament_meta_api`. Off, a CALL to them is `wamp.error.no_such_procedure`.
     * The router has no session resumption, so a session is never detached without ending: when it ends (GOODBYE,
     * lost connection, killed) its `detached` testaments are published, then its `destroyed` ones.
     */
    public val metaApi: Boolean = b.metaApi

    /**
     * How many messages may wait for one session's connection (nexus: 64). An EVENT that finds its subscriber's queue
     * full is dropped, logged ("Dropped EVENT to session … blocked") and counted ([FakeWampRouter.eventStats]), as
     * nexus drops events to a subscriber that does not read its socket; every other message waits in the queue.
     */
    public val outboundQueueSize: Int = b.outboundQueueSize

    /** The topics whose events the router keeps for `wamp.subscription.get_events` (event history). */
    public val eventHistory: List<RouterHistoryTopic> = b.eventHistory.toList()

    /** Builder; every setter returns it. */
    public class Builder {
        internal val realms = LinkedHashMap<String, Boolean>()
        internal val users = ArrayList<RouterUser>()
        internal var rawSocketRecvLimit: Long = 16L shl 20
        internal var unixSocketPath: String? = null
        internal var helloTimeout: Duration = Duration.ofSeconds(5)
        internal var maxWebSocketMessage: Long = 16L shl 20
        internal var tls: Boolean = false
        internal var tlsClientAuth: Boolean = false
        internal var webSocketPort: Int = 0
        internal var rawSocketPort: Int = 0
        internal var metaApi: Boolean = true
        internal var outboundQueueSize: Int = DEFAULT_OUTBOUND_QUEUE_SIZE
        internal val eventHistory = ArrayList<RouterHistoryTopic>()

        /** Adds [name]; [anonymous] allows sessions without authentication. */
        @JvmOverloads
        public fun realm(name: String, anonymous: Boolean = true): Builder = apply { realms[name] = anonymous }

        /** Adds a user (any auth method). */
        public fun user(user: RouterUser): Builder = apply { users.add(user) }

        /** Adds a ticket user. */
        @JvmOverloads
        public fun ticketUser(authId: String, ticket: String, role: String = "user"): Builder =
            user(RouterUser.Ticket(authId, ticket, role))

        /** Adds a WAMP-CRA user with an unsalted secret. */
        @JvmOverloads
        public fun craUser(authId: String, secret: String, role: String = "user"): Builder =
            user(RouterUser.Cra(authId, secret, role))

        /** Adds a WAMP-CRA user whose key is derived with PBKDF2 (salt, iterations, key length). */
        @JvmOverloads
        public fun saltedCraUser(
            authId: String,
            secret: String,
            salt: String,
            iterations: Int = 1000,
            keyLength: Int = 32,
            role: String = "user",
        ): Builder = user(RouterUser.Cra(authId, secret, role, salt, iterations, keyLength))

        /** Adds a cryptosign user with an Ed25519 public key in hex. */
        @JvmOverloads
        public fun cryptosignUser(authId: String, publicKeyHex: String, role: String = "user"): Builder =
            user(RouterUser.Cryptosign(authId, publicKeyHex, role))

        /** Sets the router's RawSocket receive limit (rounded up to a power of two in the handshake). */
        public fun rawSocketRecvLimit(bytes: Long): Builder = apply { rawSocketRecvLimit = bytes }

        /** Also serves RawSocket on a Unix domain socket at this path (null: none). */
        public fun unixSocket(path: String?): Builder = apply { unixSocketPath = path }

        /** Sets how long a connection may take to send HELLO and to answer a CHALLENGE. */
        public fun helloTimeout(timeout: Duration): Builder = apply { helloTimeout = timeout }

        /** Sets the largest WebSocket frame the router accepts. */
        public fun maxWebSocketMessage(bytes: Long): Builder = apply { maxWebSocketMessage = bytes }

        /**
         * Also serves WebSocket over TLS (`wss`) and RawSocket over TLS (`tcps`) on their own ephemeral ports, with
         * the self-signed [FakeWampRouterTls] certificate for 127.0.0.1.
         */
        @JvmOverloads
        public fun tls(enabled: Boolean = true): Builder = apply { tls = enabled }

        /** Serves TLS (as [tls]) and requires the client to present the [FakeWampRouterTls] certificate. */
        @JvmOverloads
        public fun tlsClientAuth(required: Boolean = true): Builder = apply {
            tlsClientAuth = required
            if (required) tls = true
        }

        /**
         * Fixed ports for WebSocket and RawSocket TCP (0 = ephemeral, the default). Tests should keep ephemeral
         * ports; fixed ones are for `tether serve router` and external tools that need a known address.
         */
        public fun ports(webSocket: Int, rawSocket: Int): Builder = apply {
            require(webSocket in 0..65535 && rawSocket in 0..65535) { "ports must be in 0..65535" }
            webSocketPort = webSocket
            rawSocketPort = rawSocket
        }

        /** Sets [FakeWampRouterConfig.outboundQueueSize] (at least 1; default 64, as nexus). */
        public fun outboundQueueSize(messages: Int): Builder = apply {
            require(messages >= 1) { "outboundQueueSize must be at least 1, was $messages" }
            outboundQueueSize = messages
        }

        /**
         * Keeps the last [limit] events published to [topic] (matched by [match], as a subscription with that policy
         * would) for `wamp.subscription.get_events`, in [realm] (null: every realm), as nexus's
         * `TopicEventHistoryConfigs`. History is kept whether or not anyone is subscribed; publications restricted
         * by session id (`exclude`, `eligible`) are not kept.
         */
        @JvmOverloads
        public fun eventHistory(
            topic: String,
            limit: Int,
            match: MatchPolicy = MatchPolicy.EXACT,
            realm: String? = null,
        ): Builder = apply { eventHistory += RouterHistoryTopic(topic, match, limit, realm) }

        /** Sets [FakeWampRouterConfig.metaApi]: whether the realms offer the meta API and testaments. */
        @JvmOverloads
        public fun metaApi(enabled: Boolean = true): Builder = apply { metaApi = enabled }

        /** Builds the options; with no realm configured, `realm1` (anonymous) is added. */
        public fun build(): FakeWampRouterConfig {
            if (realms.isEmpty()) realms["realm1"] = true
            return FakeWampRouterConfig(this)
        }
    }

    /** Builder and defaults. */
    public companion object {
        /** The default [outboundQueueSize]: nexus's per-session queue of 64 messages. */
        public const val DEFAULT_OUTBOUND_QUEUE_SIZE: Int = 64

        /** Realm `realm1` open to anonymous sessions, and the other defaults. */
        @JvmField
        public val DEFAULT: FakeWampRouterConfig = Builder().build()

        /** Starts a builder (Java). */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `FakeWampRouterConfig { realm("r"); ticketUser("u", "t") }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): FakeWampRouterConfig = Builder().apply(block).build()
    }
}
