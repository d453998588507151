package dev.tether.mux

import dev.tether.core.InternalTetherApi
import dev.tether.core.WebSocketConnection
import dev.tether.core.WsMessage
import io.ktor.websocket.Frame
import io.ktor.websocket.WebSocketSession
import io.ktor.websocket.readReason
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import org.slf4j.LoggerFactory
import java.io.ByteArrayOutputStream
import java.util.concurrent.atomic.AtomicLong

/** What a [Session] needs from a WebSocket: whole binary messages both ways, pings, and an abrupt close. */
internal interface MuxTransport {
    /**
     * Starts handing every whole inbound binary message (fragments joined; text dropped) to [onMessage], one at a
     * time in order, on the transport's reader, which must not block; then the reason the connection ended to
     * [onEnd], once. Coroutines it needs run in [scope].
     */
    fun start(scope: CoroutineScope, onMessage: (ByteArray) -> Unit, onEnd: (MuxException) -> Unit)

    /** Sends one binary message; throws once the connection ended. */
    suspend fun send(message: ByteArray)

    /**
     * Queues one binary message if that needs no waiting, behind everything [send] queued before; false when it
     * would have to wait (call [send]). Throws once the connection ended.
     */
    fun trySend(message: ByteArray): Boolean = false

    /** True when the connection checks liveness itself, so the session sends no pings of its own. */
    val keepsAliveItself: Boolean

    /** Sends an empty ping (only called when [keepsAliveItself] is false). */
    suspend fun ping()

    /** Pongs received so far. */
    val pongs: Long

    /** Drops the connection now. */
    fun close()
}

/**
 * A transport whose reader is a coroutine that pulls messages ([receive]); [start] runs that loop in the session's
 * scope.
 */
internal abstract class PullTransport : MuxTransport {
    /** The next whole binary message, or null once the connection ended. */
    abstract suspend fun receive(): ByteArray?

    /** Why the connection ended, once [receive] returned null. */
    abstract suspend fun endReason(): MuxException

    override fun start(scope: CoroutineScope, onMessage: (ByteArray) -> Unit, onEnd: (MuxException) -> Unit) {
        scope.launch(CoroutineName("wsmux-reader")) {
            val reason = try {
                while (true) onMessage(receive() ?: break)
                endReason()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                SessionClosedException("session closed: the WebSocket failed (${e.message})", e)
            }
            onEnd(reason)
        }
    }
}

/**
 * A client [WebSocketConnection] of tether-core. Frames are handled inline on the connection's I/O thread when the
 * connection lets the session listen ([WebSocketConnection.listen]), otherwise read from its incoming channel. It
 * pings by itself (DialerConfig.pingInterval / pongTimeout), so its keepalive expiry ends the session with
 * [KeepAliveExpiredException].
 */
@OptIn(InternalTetherApi::class)
internal class ConnectionTransport(private val connection: WebSocketConnection) : MuxTransport {
    override val keepsAliveItself: Boolean get() = true
    override val pongs: Long get() = 0

    override fun start(scope: CoroutineScope, onMessage: (ByteArray) -> Unit, onEnd: (MuxException) -> Unit) {
        val inline = connection.listen { m -> if (m is WsMessage.Binary) onMessage(m.bytes) else ignored(m) }
        scope.launch(CoroutineName("wsmux-reader")) {
            if (!inline) {
                while (true) {
                    when (val m = connection.incoming.receiveCatching().getOrNull() ?: break) {
                        is WsMessage.Binary -> onMessage(m.bytes)
                        else -> ignored(m)
                    }
                }
            }
            onEnd(endReason(connection.awaitClosed()))
        }
    }

    private fun ignored(m: WsMessage) {
        if (m is WsMessage.Text) log.debug("text message of {} chars ignored", m.text.length)
    }

    override suspend fun send(message: ByteArray) = connection.send(message)

    override fun trySend(message: ByteArray): Boolean = connection.trySend(message)

    override suspend fun ping() = Unit

    private fun endReason(e: dev.tether.core.ConnectionException): MuxException = when (e) {
        is dev.tether.core.KeepAliveExpiredException -> KeepAliveExpiredException(e.timeoutMillis, e)
        else -> SessionClosedException("session closed: the WebSocket ended (${e.message})", e)
    }

    override fun close() {
        // Upstream closes TCP without a close frame; core sends one but we do not wait for the echo.
        connection.closeAsync()
    }

    private companion object {
        private val log = LoggerFactory.getLogger(ConnectionTransport::class.java)
    }
}

/**
 * A raw Ktor [WebSocketSession] (server `webSocketRaw`, or a raw client session): this transport answers pings,
 * counts pongs and joins fragments itself.
 */
internal class KtorSessionTransport(private val session: WebSocketSession) : PullTransport() {
    private val pongCount = AtomicLong()
    @Volatile private var peerClose: String? = null
    @Volatile private var failure: Throwable? = null
    private var partial: ByteArrayOutputStream? = null
    private var partialIsText = false

    override val keepsAliveItself: Boolean get() = false
    override val pongs: Long get() = pongCount.get()

    override suspend fun receive(): ByteArray? {
        while (true) {
            val result = session.incoming.receiveCatching()
            val frame = result.getOrNull() ?: run { failure = result.exceptionOrNull(); return null }
            when (frame) {
                is Frame.Ping -> session.outgoing.send(Frame.Pong(frame.data))
                is Frame.Pong -> pongCount.incrementAndGet()
                is Frame.Close -> {
                    val reason = frame.readReason()
                    peerClose = reason?.let { "${it.code} ${it.message}".trim() } ?: "no status"
                    return null
                }
                is Frame.Text, is Frame.Binary -> {
                    val text = frame is Frame.Text
                    if (partial == null && frame.fin) {
                        if (text) log.debug("text message ignored") else return frame.data
                        continue
                    }
                    val buffer = partial ?: ByteArrayOutputStream().also { partial = it; partialIsText = text }
                    buffer.write(frame.data)
                    if (frame.fin) {
                        partial = null
                        if (partialIsText) log.debug("text message ignored") else return buffer.toByteArray()
                    }
                }
                else -> Unit
            }
        }
    }

    override suspend fun send(message: ByteArray) = session.outgoing.send(Frame.Binary(true, message))

    override suspend fun ping() = session.outgoing.send(Frame.Ping(ByteArray(0)))

    override suspend fun endReason(): MuxException {
        peerClose?.let { return SessionClosedException("session closed: the peer sent a close frame ($it)") }
        val f = failure
        return SessionClosedException("session closed: the WebSocket ended${f?.let { " (${it.message})" } ?: ""}", f)
    }

    override fun close() {
        // As upstream: no close frame, the connection just goes.
        session.cancel()
    }

    private companion object {
        private val log = LoggerFactory.getLogger(KtorSessionTransport::class.java)
    }
}
