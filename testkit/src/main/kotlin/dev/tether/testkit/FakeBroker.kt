@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.testkit

import dev.tether.core.MessageAssembler
import dev.tether.core.MessageTooLargeException
import dev.tether.core.WsMessage
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.MalformedEnvelopeException
import io.ktor.http.HttpHeaders
import io.ktor.http.HttpMethod
import io.ktor.http.HttpStatusCode
import io.ktor.server.application.ApplicationCallPipeline
import io.ktor.server.application.call
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.embeddedServer
import io.ktor.server.plugins.origin
import io.ktor.server.request.httpMethod
import io.ktor.server.request.path
import io.ktor.server.response.respondText
import io.ktor.server.routing.get
import io.ktor.server.routing.route
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSocketServerSession
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.FrameTooBigException
import io.ktor.websocket.readReason
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.jsonObject
import org.slf4j.LoggerFactory
import java.net.URI
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.toKotlinDuration

/**
 * A real nexus-style broker on 127.0.0.1 (ephemeral port) serving `/connect` as specs/nexus-wsclient.md describes:
 * bearer or `?token=` auth against a rotatable token set, connection caps, `register`/`deregister`, an `echo`
 * request kind (answered `echo.result` with the same payload), server-initiated `turn` requests, server pings, and
 * the bad-frame rules. [faults] and [rotateCredentials] break it on purpose.
 *
 * ```
 * FakeBroker.start().use { broker -> WsClient(WsClientConfig(broker.url, handler) { authToken(broker.token) }) }
 * ```
 */
public class FakeBroker private constructor(
    /** The settings this broker started with. */
    public val config: FakeBrokerConfig,
) : FakeServer<FakeBrokerFaults> {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("fake-broker"))
    private val tokens = ConcurrentHashMap.newKeySet<String>().apply { addAll(config.tokens) }
    private val connections = ConcurrentHashMap.newKeySet<Connection>()
    private val perIp = ConcurrentHashMap<String, AtomicInteger>()
    private val registry = ConcurrentHashMap<String, Registration>()

    // The most recent frames only: a long-running broker must not grow without bound, nor copy on every frame.
    private val receivedFrames = ArrayDeque<Envelope>()
    private val liveCount = MutableStateFlow(0)
    private val acceptedUpgrades = MutableStateFlow(0L)
    private val refusedUpgrades = AtomicLong()
    private val answeredPings = MutableStateFlow(0L)
    private val authHeaders = CopyOnWriteArrayList<String>()
    private val closed = AtomicBoolean(false)

    /** Fault controls: drops, keepalive silence, refusals, latency, black hole. */
    override val faults: FakeBrokerFaults = FakeBrokerFaults { dropAllConnections() }

    private val server: EmbeddedServer<*, *> = embeddedServer(CIO, port = config.port, host = FakeServer.LOOPBACK) {
        install(WebSockets) {
            maxFrameSize = config.maxMessageBytes
        }
        intercept(ApplicationCallPipeline.Plugins) {
            if (call.request.path() != PATH) return@intercept
            val rejection = gate(call)
            if (rejection != null) {
                refusedUpgrades.incrementAndGet()
                call.respondText(rejection.second, status = HttpStatusCode.fromValue(rejection.first))
                finish()
            }
        }
        routing {
            route(PATH) {
                webSocketRaw { serve(this) }
                get { call.respondText("upgrade required\n", status = HttpStatusCode.UpgradeRequired) }
            }
        }
    }.start(wait = false)

    override val host: String = FakeServer.LOOPBACK

    /** The port the broker listens on. */
    override val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }

    /** `ws://127.0.0.1:PORT/connect`. */
    override val url: String = "ws://$host:$port$PATH"

    /** The first valid token (what a test client should send). */
    public val token: String get() = tokens.first()

    /** Live connections right now. */
    public val connectionCount: StateFlow<Int> get() = liveCount

    /** Upgrades accepted since start. */
    public fun acceptedUpgrades(): Long = acceptedUpgrades.value

    /** Suspends until [count] upgrades have been accepted since start, each one's connection registered. */
    @JvmSynthetic
    public suspend fun awaitUpgrades(count: Long) {
        acceptedUpgrades.first { it >= count }
    }

    /** Server pings answered with their pong since start, over every connection (keepalive tests wait on it). */
    public fun answeredPings(): Long = answeredPings.value

    /** Suspends until [count] server pings have been answered since start. */
    @JvmSynthetic
    public suspend fun awaitAnsweredPings(count: Long) {
        answeredPings.first { it >= count }
    }

    /** Java face of [awaitAnsweredPings], bounded by [timeout]. */
    public fun awaitAnsweredPingsAsync(count: Long, timeout: Duration): CompletableFuture<Void?> = scope.future {
        withTimeout(timeout.toKotlinDuration()) { awaitAnsweredPings(count) }
        null
    }

    /** Upgrades refused (401, 403, 503, injected refusals) since start. */
    public fun refusedUpgrades(): Long = refusedUpgrades.get()

    /** The `Authorization` header of every upgrade attempt, in order (tests check what clients send). */
    public fun authorizationHeaders(): List<String> = authHeaders.snapshot()

    /** The frames the broker decoded, in arrival order: the last [FakeBrokerConfig.recordFrames] of them. */
    public fun received(): List<Envelope> = synchronized(receivedFrames) { receivedFrames.toList() }

    /** Names currently registered. */
    public fun registeredNames(): Set<String> = registry.keys.snapshot().toSet()

    /**
     * Token rotation: from now on only [newTokens] are accepted for new upgrades; connections already up stay up.
     * Clients holding an old token get 401 on their next dial.
     */
    public fun rotateCredentials(vararg newTokens: String) {
        require(newTokens.isNotEmpty()) { "give at least one token" }
        tokens.clear()
        tokens.addAll(newTokens)
    }

    /** Suspends until [count] connections are live (bound it with `withTimeout`). */
    @JvmSynthetic
    public suspend fun awaitConnections(count: Int) {
        liveCount.first { it >= count }
    }

    /** Java face of [awaitConnections], bounded by [timeout]. */
    public fun awaitConnectionsAsync(count: Int, timeout: Duration): CompletableFuture<Void?> = scope.future {
        withTimeout(timeout.toKotlinDuration()) { awaitConnections(count) }
        null
    }

    /** Sends [envelope] to every live connection (a server push the client's handler should see). */
    @JvmSynthetic
    public suspend fun broadcast(envelope: Envelope) {
        val text = envelope.encode()
        for (c in connections) c.sendText(text)
    }

    /** Sends raw [text] (valid or not) to every live connection: for bad-input tests. */
    @JvmSynthetic
    public suspend fun broadcastRaw(text: String) {
        for (c in connections) c.sendText(text)
    }

    /** Sends a binary frame to every live connection (the protocol is text only). */
    @JvmSynthetic
    public suspend fun broadcastBinary(bytes: ByteArray) {
        for (c in connections) c.session.outgoing.send(Frame.Binary(true, bytes))
    }

    /** Java face of [awaitUpgrades], bounded by [timeout]. */
    public fun awaitUpgradesAsync(count: Long, timeout: Duration): CompletableFuture<Void?> = scope.future {
        withTimeout(timeout.toKotlinDuration()) { awaitUpgrades(count) }
        null
    }

    /** Java face of [broadcastBinary]. */
    public fun broadcastBinaryAsync(bytes: ByteArray): CompletableFuture<Void?> = scope.future {
        broadcastBinary(bytes)
        null
    }

    /** Java face of [broadcast]. */
    public fun broadcastAsync(envelope: Envelope): CompletableFuture<Void?> = scope.future {
        broadcast(envelope)
        null
    }

    /** Java face of [broadcastRaw]. */
    public fun broadcastRawAsync(text: String): CompletableFuture<Void?> = scope.future {
        broadcastRaw(text)
        null
    }

    /**
     * Sends a server-initiated `turn` request to the connection registered as [name] and waits up to [timeout] for
     * its `turn.result` or `turn.error` reply.
     */
    @JvmSynthetic
    public suspend fun turn(
        name: String,
        payloadJson: String,
        timeout: kotlin.time.Duration,
        targetAspect: String = name,
    ): Envelope {
        val reg = registry[name] ?: throw IllegalStateException("no connection registered as $name")
        val request = Envelope.request("turn", payloadJson).withTargetAspect(targetAspect)
        val reply = CompletableDeferred<Envelope>()
        val id = request.id!!
        reg.connection.pending[id] = reply
        try {
            reg.connection.sendText(request.encode())
            return withTimeout(timeout) { reply.await() }
        } finally {
            reg.connection.pending.remove(id)
        }
    }

    /** Java face of [turn]. */
    public fun turnAsync(name: String, payloadJson: String, timeout: Duration): CompletableFuture<Envelope> =
        scope.future { turn(name, payloadJson, timeout.toKotlinDuration(), name) }

    /** Stops the server and drops every connection. */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        scope.cancel()
        server.stop(0, 1_000)
    }

    private fun dropAllConnections(): Int = connections.dropEach { it.session }

    /** Decides whether an upgrade may proceed: null to accept, or (status, body) to refuse. */
    private suspend fun gate(call: io.ktor.server.application.ApplicationCall): Pair<Int, String>? {
        val request = call.request
        if (faults.isBlackHoled) awaitCancellation()
        if (faults.latency > 0) delay(faults.latency)
        if (request.httpMethod != HttpMethod.Get) return 405 to "method not allowed\n"
        val upgrade = request.headers[HttpHeaders.Upgrade]
        if (upgrade == null || !upgrade.equals("websocket", ignoreCase = true)) return null // plain GET: 426 route
        faults.takeRefusal()?.let { return it to "refused by fault injection\n" }
        val origin = request.headers[HttpHeaders.Origin]
        if (origin != null && runCatching { URI(origin).authority }.getOrNull() != request.headers[HttpHeaders.Host]) {
            return 403 to "origin not allowed\n"
        }
        val header = request.headers[HttpHeaders.Authorization]
        authHeaders.add(header.orEmpty())
        // The Bearer prefix is case-sensitive; the query token counts only when the header yields none.
        val bearer =
            header?.takeIf { it.startsWith("Bearer ") }?.removePrefix("Bearer ")?.trim()?.takeIf { it.isNotEmpty() }
        val presented = bearer ?: request.queryParameters["token"]
        if (config.requireAuth && !secretMatchesAny(presented, tokens)) return 401 to "unauthorized\n"
        val ip = call.request.origin.remoteHost
        if (connections.size >= config.maxConnections || (perIp[ip]?.get() ?: 0) >= config.maxConnectionsPerIp) {
            return 503 to "too many connections\n"
        }
        return null
    }

    private suspend fun serve(session: WebSocketServerSession) {
        val ip = session.call.request.origin.remoteHost
        val connection = Connection(session)
        connections.add(connection)
        perIp.computeIfAbsent(ip) { AtomicInteger() }.incrementAndGet()
        acceptedUpgrades.update { it + 1 }
        liveCount.value = connections.size
        val pinger = session.launch { pingLoop(connection) }
        try {
            readLoop(connection)
        } catch (e: FrameTooBigException) {
            connection.closeWith(CloseReason.Codes.TOO_BIG, "message too big")
        } catch (e: Exception) {
            log.debug("connection ended: {}", e.toString())
        } finally {
            pinger.cancel()
            connections.remove(connection)
            perIp[ip]?.decrementAndGet()
            registry.entries.removeIf { it.value.connection === connection }
            liveCount.value = connections.size
        }
    }

    private suspend fun readLoop(c: Connection) {
        val assembler = MessageAssembler(config.maxMessageBytes)
        for (frame in c.session.incoming) {
            if ((frame is Frame.Text || frame is Frame.Binary) && faults.frameArrived()) {
                // Replies to the earlier frames were already sent: let them reach the wire, then cut.
                withTimeoutOrNull(1_000) { runCatching { c.session.flush() } }
                c.session.cancel()
                return
            }
            if (faults.latency > 0) delay(faults.latency)
            when (frame) {
                is Frame.Ping -> if (faults.answersPings) c.session.outgoing.send(Frame.Pong(frame.data))

                is Frame.Pong -> c.pongs.trySend(frame.data)

                is Frame.Close -> {
                    val reason = frame.readReason() ?: CloseReason(CloseReason.Codes.NORMAL, "")
                    c.session.outgoing.trySend(Frame.Close(reason))
                    return
                }

                is Frame.Binary -> {
                    c.closeWith(CloseReason.Codes.CANNOT_ACCEPT, "text frames only")
                    return
                }

                is Frame.Text -> {
                    // Ktor hands continuations on as text frames; core's assembler joins and bounds them.
                    val message = try {
                        assembler.add(true, frame.fin, frame.data)
                    } catch (e: MessageTooLargeException) {
                        c.closeWith(CloseReason.Codes.TOO_BIG, "message too big")
                        return
                    } ?: continue
                    if (!handleText(c, (message as WsMessage.Text).text)) return
                }

                else -> Unit
            }
        }
    }

    /** Handles one text frame; false when the connection was closed because of it. */
    private suspend fun handleText(c: Connection, text: String): Boolean {
        val envelope = try {
            Envelope.decode(text)
        } catch (e: MalformedEnvelopeException) {
            if (++c.badFrames >= config.badFrameLimit) {
                c.closeWith(CloseReason.Codes.VIOLATED_POLICY, "too many bad frames")
                return false
            }
            return true
        }
        c.badFrames = 0
        synchronized(receivedFrames) {
            receivedFrames.addLast(envelope)
            if (receivedFrames.size > config.recordFrames) receivedFrames.removeFirst()
        }
        val replyTo = envelope.inReplyTo
        if (!replyTo.isNullOrEmpty()) {
            c.pending.remove(replyTo)?.complete(envelope)
            return true
        }
        when (envelope.kind) {
            "register" -> register(c, envelope)

            "deregister" -> {
                registry.entries.removeIf { it.value.connection === c }
                c.sendText(Envelope.response("deregister", envelope.id.orEmpty()).encode())
            }

            "echo" -> c.sendText(Envelope.response("echo.result", envelope.id.orEmpty(), envelope.payload).encode())

            else -> Unit // unknown kinds are dropped silently, as the real broker does
        }
        return true
    }

    private suspend fun register(c: Connection, envelope: Envelope) {
        val id = envelope.id.orEmpty()
        val payload = envelope.payload?.let { runCatching { Json.parseToJsonElement(it).jsonObject }.getOrNull() }
        val error = validateRegistration(payload)
        if (error != null) {
            c.sendText(errorReply("register.error", id, error))
            return
        }
        val name = (payload!!["name"] as JsonPrimitive).content
        val session = (payload["session_id"] as JsonPrimitive).content
        val existing = registry[name]
        if (existing != null && existing.connection !== c && existing.sessionId != session) {
            c.sendText(errorReply("register.error", id, "name $name already registered by another session"))
            return
        }
        registry[name] = Registration(c, session)
        c.sendText(Envelope.response("register.ack", id, """{"heartbeat_interval_s":10,"stale_after_s":30}""").encode())
    }

    private fun validateRegistration(p: JsonObject?): String? {
        if (p == null) return "payload required"
        for (field in listOf("name", "session_id", "provider", "context_mode")) {
            val v = (p[field] as? JsonPrimitive)?.takeIf { it.isString }?.contentOrNull
            if (v.isNullOrEmpty()) return "$field required"
        }
        val mode = (p["context_mode"] as JsonPrimitive).content
        if (mode !in setOf("global", "thread", "stateless")) return "context_mode must be global, thread or stateless"
        val port = p["port"]
        if (port != null) {
            val n = (port as? JsonPrimitive)?.intOrNull
            if (n == null || n !in 0..65535) return "port must be 0-65535"
        }
        return null
    }

    private fun errorReply(kind: String, id: String, message: String): String = Envelope.response(
        kind,
        id,
        Json.encodeToString(JsonObject.serializer(), JsonObject(mapOf("error" to JsonPrimitive(message)))),
    ).encode()

    private suspend fun pingLoop(c: Connection) {
        var counter = 0L
        val interval = config.pingInterval.toMillis()
        if (interval <= 0) return
        while (true) {
            delay(interval)
            val payload = (++counter).toString().encodeToByteArray()
            c.session.outgoing.send(Frame.Ping(payload))
            val answered = withTimeoutOrNull(config.pongTimeout.toMillis()) {
                while (!c.pongs.receive().contentEquals(payload)) { /* an older pong */ }
            }
            if (answered == null) {
                c.closeWith(CloseReason.Codes.GOING_AWAY, "ping failed")
                withTimeoutOrNull(1_000) { runCatching { c.session.flush() } } // let the close frame reach the wire
                c.session.cancel()
                return
            }
            answeredPings.update { it + 1 }
        }
    }

    private inner class Connection(val session: WebSocketServerSession) {
        val pongs = Channel<ByteArray>(Channel.CONFLATED)
        val pending = ConcurrentHashMap<String, CompletableDeferred<Envelope>>()
        var badFrames = 0

        suspend fun sendText(text: String) {
            runCatching { session.outgoing.send(Frame.Text(text)) }
        }

        suspend fun closeWith(code: CloseReason.Codes, reason: String) {
            runCatching { session.outgoing.send(Frame.Close(CloseReason(code, reason))) }
        }
    }

    private class Registration(val connection: FakeBroker.Connection, val sessionId: String)

    /** Starting one: the endpoint path and the factories. */
    public companion object {
        /** The endpoint path of the real broker. */
        public const val PATH: String = "/connect"
        private val log = LoggerFactory.getLogger(FakeBroker::class.java)

        /** Starts a broker with the real broker's defaults. */
        @JvmStatic
        public fun start(): FakeBroker = FakeBroker(FakeBrokerConfig.DEFAULT)

        /** Starts a broker with [config]. */
        @JvmStatic
        public fun start(config: FakeBrokerConfig): FakeBroker = FakeBroker(config)

        /** Kotlin: `FakeBroker.start { pingInterval(Duration.ofMillis(200)) }`. */
        @JvmSynthetic
        public fun start(block: FakeBrokerConfig.Builder.() -> Unit): FakeBroker = FakeBroker(FakeBrokerConfig(block))
    }
}
