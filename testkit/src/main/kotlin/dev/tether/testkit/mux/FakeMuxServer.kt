package dev.tether.testkit.mux

import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxProtocol
import dev.tether.mux.MuxSession
import dev.tether.mux.NoCapacityException
import dev.tether.mux.Stream
import dev.tether.testkit.FakeServer
import dev.tether.testkit.dropEach
import dev.tether.testkit.snapshot
import io.ktor.http.HttpHeaders
import io.ktor.http.HttpStatusCode
import io.ktor.server.application.ApplicationCallPipeline
import io.ktor.server.application.call
import io.ktor.server.application.install
import io.ktor.server.cio.CIO
import io.ktor.server.engine.EmbeddedServer
import io.ktor.server.engine.embeddedServer
import io.ktor.server.response.respondText
import io.ktor.server.routing.routing
import io.ktor.server.websocket.WebSocketServerSession
import io.ktor.server.websocket.WebSockets
import io.ktor.server.websocket.webSocketRaw
import io.ktor.websocket.Frame
import io.ktor.websocket.WebSocketSession
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.slf4j.LoggerFactory
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.toKotlinDuration

/**
 * A wsmux peer on 127.0.0.1 (ephemeral port): every WebSocket upgrade on any path becomes a wsmux **server**
 * session (even ids) that accepts streams and serves them with a [StreamBehaviour] (echo by default, or per
 * stream id with [behaviourFor]). [faults] break it on purpose; [sessions] let a test open streams from the server
 * side.
 *
 * ```
 * FakeMuxServer.start().use { fake -> val conn = WebSocketDialer(DialerConfig(fake.url)).dial();
 * MuxSession.client(conn) }
 * ```
 */
public class FakeMuxServer private constructor(
    /** The settings this fake started with. */
    public val config: FakeMuxServerConfig,
) : FakeServer<FakeMuxServerFaults> {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("fake-mux"))
    private val live = CopyOnWriteArrayList<Connection>()
    private val liveCount = MutableStateFlow(0)
    private val upgrades = MutableStateFlow(0)
    private val perStream = ConcurrentHashMap<Long, StreamBehaviour>()
    private val acceptedIds = CopyOnWriteArrayList<Long>()
    private val sunk = AtomicLong()
    private val overruns = AtomicLong()
    private val streamErrors = AtomicLong()

    /** Fault controls. */
    override val faults: FakeMuxServerFaults = FakeMuxServerFaults(this)
    private val closed = AtomicBoolean(false)

    private val server: EmbeddedServer<*, *> = embeddedServer(CIO, port = config.port, host = FakeServer.LOOPBACK) {
        install(WebSockets)
        intercept(ApplicationCallPipeline.Plugins) {
            if (!call.request.headers[HttpHeaders.Upgrade].equals("websocket", ignoreCase = true)) return@intercept
            val status = faults.takeRefusal() ?: return@intercept
            call.respondText("refused by fault injection\n", status = HttpStatusCode.fromValue(status))
            finish()
        }
        routing {
            webSocketRaw("/") { serve(this) }
            webSocketRaw("{path...}") { serve(this) }
        }
    }.start(wait = false)

    override val host: String = FakeServer.LOOPBACK

    /** The port the fake listens on. */
    override val port: Int = runBlocking { server.engine.resolvedConnectors().first().port }

    /** `ws://127.0.0.1:PORT/`. */
    override val url: String = "ws://$host:$port/"

    /** The server sessions of the live connections, oldest first. */
    public fun sessions(): List<MuxSession> = live.map { it.session }

    /** Upgrades accepted since start. */
    public fun upgrades(): Int = upgrades.value

    /** Ids of the streams the fake accepted, in order. */
    public fun acceptedStreamIds(): List<Long> = acceptedIds.snapshot()

    /** Bytes read by [StreamBehaviour.SINK] streams. */
    public fun bytesSunk(): Long = sunk.get()

    /** Streams of the fake that failed because the client overran their window (must stay 0 for a correct client). */
    public fun overrunsSeen(): Long = overruns.get()

    /** Streams of the fake that failed for any other reason while serving. */
    public fun streamErrors(): Long = streamErrors.get()

    /**
     * Serves the next stream accepted with id [streamId] (on any connection) with [behaviour] instead of
     * [FakeMuxServerConfig.behaviour]; one-shot, so later sessions reusing the id get the default again.
     */
    public fun behaviourFor(streamId: Long, behaviour: StreamBehaviour) {
        perStream[streamId] = behaviour
    }

    /** Suspends until [count] connections are live. */
    @JvmSynthetic
    public suspend fun awaitSessions(count: Int) {
        liveCount.first { it >= count }
    }

    /** Java face of [awaitSessions], bounded by [timeout]. */
    public fun awaitSessionsAsync(count: Int, timeout: Duration): CompletableFuture<Void?> = scope.future {
        withTimeout(timeout.toKotlinDuration()) { awaitSessions(count) }
        null
    }

    /** Stops the server and drops every connection. */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        for (c in live) c.session.close()
        scope.cancel()
        server.stop(0, 1_000)
    }

    internal fun dropAll(): Int = live.dropEach { it.raw }

    internal fun sendMalformed(frame: MalformedFrame, streamId: Int): Int {
        val bytes = frame.bytes(streamId)
        val message =
            if (frame == MalformedFrame.TEXT_MESSAGE) Frame.Text(bytes.decodeToString()) else Frame.Binary(true, bytes)
        var n = 0
        for (c in live) if (c.raw.outgoing.trySend(message).isSuccess) n++
        return n
    }

    private suspend fun serve(raw: WebSocketServerSession) {
        val filtered = Channel<Frame>(Channel.BUFFERED)
        // The session reads through a filter so pings can be swallowed and frames delayed on demand.
        raw.launch(CoroutineName("fake-mux-filter")) {
            try {
                for (frame in raw.incoming) {
                    val wait = faults.latency
                    if (wait > 0) delay(wait)
                    if (frame is Frame.Ping && !faults.answersPings) continue
                    filtered.send(frame)
                }
                filtered.close()
            } catch (e: Exception) {
                filtered.close(e)
            }
        }
        val config = MuxConfig {
            streamBufferSize(config.streamBufferSize)
            peerCapacity(config.peerCapacity)
            keepAliveInterval(config.keepAliveInterval)
            streamAcceptDeadline(config.streamAcceptDeadline)
        }
        val session = MuxSession.server(FilteredSession(raw, filtered), config)
        val connection = Connection(raw, session)
        live.add(connection)
        liveCount.value = live.size
        upgrades.value++
        val acceptor = raw.launch(CoroutineName("fake-mux-accept")) { acceptLoop(connection) }
        try {
            session.awaitClosed()
        } finally {
            acceptor.cancel()
            live.remove(connection)
            liveCount.value = live.size
        }
    }

    private suspend fun acceptLoop(c: Connection) {
        while (true) {
            if (!faults.accepting) {
                delay(POLL_MILLIS)
                continue
            }
            val stream = try {
                c.session.accept()
            } catch (e: MuxException) {
                return
            }
            acceptedIds.add(stream.id)
            scope.launch(CoroutineName("fake-mux-stream-${stream.id}")) { behave(c, stream) }
        }
    }

    private suspend fun behave(c: Connection, stream: Stream) {
        val overrun = faults.overrunBytes.get()
        if (overrun > 0) {
            val frame = MuxFrame.Data(stream.id.toInt(), ByteArray(overrun)).encode()
            runCatching { c.raw.outgoing.send(Frame.Binary(true, frame)) }
            return
        }
        val behaviour = perStream.remove(stream.id) ?: config.behaviour
        try {
            when (behaviour) {
                StreamBehaviour.ECHO -> {
                    val buffer = ByteArray(config.streamBufferSize.coerceAtMost(64 * 1024))
                    while (true) {
                        val n = stream.read(buffer)
                        if (n < 0) break
                        stream.write(buffer, 0, n)
                    }
                    stream.close()
                }

                StreamBehaviour.SINK -> {
                    val buffer = ByteArray(8192)
                    while (true) {
                        val n = stream.read(buffer)
                        if (n < 0) break
                        sunk.addAndGet(n.toLong())
                    }
                    stream.close()
                }

                StreamBehaviour.SOURCE -> {
                    val chunk = ByteArray(8192)
                    var sent = 0L
                    while (sent < config.sourceBytes) {
                        val n = minOf(chunk.size.toLong(), config.sourceBytes - sent).toInt()
                        for (i in 0 until n) chunk[i] = ((sent + i) % 251).toInt().toByte()
                        stream.write(chunk, 0, n)
                        sent += n
                    }
                    stream.close()
                }

                StreamBehaviour.STALL -> Unit
            }
        } catch (e: NoCapacityException) {
            overruns.incrementAndGet()
            log.warn("client overran stream {}: {}", stream.id, e.message)
        } catch (e: MuxException) {
            if (c.session.isOpen) streamErrors.incrementAndGet()
            log.debug("stream {} ended: {}", stream.id, e.message)
        }
    }

    /** A raw session whose incoming frames come through the fault filter. */
    private class FilteredSession(
        raw: WebSocketServerSession,
        override val incoming: ReceiveChannel<Frame>,
    ) : WebSocketSession by raw

    private class Connection(val raw: WebSocketServerSession, val session: MuxSession)

    /** Starting one: the factories. */
    public companion object {
        private val log = LoggerFactory.getLogger(FakeMuxServer::class.java)
        private const val POLL_MILLIS = 20L

        /** Starts a fake with the proxy's defaults. */
        @JvmStatic
        public fun start(): FakeMuxServer = FakeMuxServer(FakeMuxServerConfig.DEFAULT)

        /** Starts a fake with [config]. */
        @JvmStatic
        public fun start(config: FakeMuxServerConfig): FakeMuxServer = FakeMuxServer(config)

        /** Kotlin: `FakeMuxServer.start { behaviour(StreamBehaviour.SINK) }`. */
        @JvmSynthetic
        public fun start(block: FakeMuxServerConfig.Builder.() -> Unit): FakeMuxServer =
            FakeMuxServer(FakeMuxServerConfig(block))
    }
}
