package dev.tether.core

import io.ktor.client.plugins.websocket.ClientWebSocketSession
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.FrameTooBigException
import io.ktor.websocket.readReason
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ClosedSendChannelException
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.isActive
import kotlinx.coroutines.delay
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.future.asCompletableFuture
import kotlinx.coroutines.future.future
import java.util.concurrent.CompletableFuture
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.coroutines.yield
import java.io.ByteArrayOutputStream
import java.util.concurrent.atomic.AtomicLong

/**
 * One open WebSocket made by [WebSocketDialer]: reassembled inbound messages on [incoming], suspending [send]s,
 * automatic pongs to server pings, client pings with a pong deadline, and one recorded reason for its end.
 */
public class WebSocketConnection internal constructor(
    private val session: ClientWebSocketSession,
    private val config: DialerConfig,
    private val listener: MessageListener? = null,
) {
    private val inbound = Channel<WsMessage>(INBOUND_QUEUE)

    /**
     * Data frames on their way to Ktor's outgoing queue, handed over in bursts by [pump]. Callers resumed together
     * (replies read in one go) send together; handing their frames over one by one woke Ktor's writer, and cost a
     * socket write and a thread wake-up, per frame (see docs/performance.md).
     */
    private val queued = Channel<Frame>(config.outgoingFrames)

    /** Set by [close]: the pump sends this close frame after the data frames queued before it. */
    @Volatile
    private var closing: CloseReason? = null
    private val end = CompletableDeferred<ConnectionException>()
    private val finished = CompletableDeferred<Unit>()
    private val pongs = Channel<ByteArray>(Channel.CONFLATED)
    private val pingsSent = AtomicLong()

    /** Java faces run here (a library dispatcher), tied to the session so they end with it. */
    private val javaFace = CoroutineScope(Dispatchers.Default + SupervisorJob(session.coroutineContext[Job]))

    /** Inbound data messages in arrival order; closed when the connection ends. */
    public val incoming: ReceiveChannel<WsMessage> get() = inbound

    /**
     * The value of the upgrade response's header [name] (case-insensitive; the first one when repeated), or null.
     * Protocols that answer registration data in the 101 response (webhooktunnel's client URL, the agreed
     * WebSocket subprotocol) read it here.
     */
    public fun handshakeHeader(name: String): String? = session.call.response.headers[name]

    /** True until the connection has ended. */
    public val isOpen: Boolean get() = !end.isCompleted

    /** Sends one text message. Suspends while the outgoing queue is full; throws if the connection has ended. */
    @JvmSynthetic
    public suspend fun send(text: String): Unit = sendFrame(Frame.Text(text))

    /**
     * Queues one text message without suspending: false when the outgoing queue is full (call [send] to wait for
     * room). Throws the connection's end cause if it has ended.
     */
    public fun trySend(text: String): Boolean {
        if (end.isCompleted) throw end.getCompleted()
        val result = queued.trySend(Frame.Text(text))
        if (result.isClosed) throw (if (end.isCompleted) end.getCompleted() else ConnectionClosedException(null, null, result.exceptionOrNull()))
        return result.isSuccess
    }

    /** Sends one binary message. */
    @JvmSynthetic
    public suspend fun send(bytes: ByteArray): Unit = sendFrame(Frame.Binary(true, bytes))

    /** Java face of [send] for text. */
    public fun sendAsync(text: String): CompletableFuture<Void?> = javaFace.future { send(text); null }

    /** Java face of [send] for bytes. */
    public fun sendAsync(bytes: ByteArray): CompletableFuture<Void?> = javaFace.future { send(bytes); null }

    /** Java: the next inbound message, or null once the connection has ended. */
    public fun receiveAsync(): CompletableFuture<WsMessage?> = javaFace.future { inbound.receiveCatching().getOrNull() }

    /** Java face of [close]. */
    @JvmOverloads
    public fun closeAsync(code: Short = CloseReason.Codes.NORMAL.code, reason: String = ""): CompletableFuture<ConnectionException> =
        javaFace.future { close(code, reason) }

    /** Java face of [awaitClosed]. */
    public fun closedFuture(): CompletableFuture<ConnectionException> = end.asCompletableFuture()

    private suspend fun sendFrame(frame: Frame) {
        if (end.isCompleted) throw end.getCompleted()
        try {
            queued.send(frame)
        } catch (e: ClosedSendChannelException) {
            throw (if (end.isCompleted) end.getCompleted() else ConnectionClosedException(null, null, e))
        } catch (e: CancellationException) {
            if (end.isCompleted) throw end.getCompleted()
            if (!currentCoroutineContext().isActive) throw e
            // Not this caller's cancellation: the pump stopped because the connection is ending; report why.
            throw end.await()
        }
    }

    /**
     * Closes the connection with [code] and [reason] and waits (at most 1 s) for it to end. Returns the reason
     * the connection ended.
     */
    @JvmSynthetic
    public suspend fun close(code: Short = CloseReason.Codes.NORMAL.code, reason: String = ""): ConnectionException {
        // The pump sends the close frame after the data frames already queued: what send accepted goes out first.
        closing = CloseReason(code, reason)
        ended(ConnectionClosedException(code.toInt(), reason))
        // The peer's answering close ends the read loop; a peer that never answers is cut off.
        if (withTimeoutOrNull(CLOSE_WAIT_MILLIS) { finished.await() } == null) session.cancel()
        return end.getCompleted()
    }

    /** Suspends until the connection ends; returns why (never throws for a normal end). */
    @JvmSynthetic
    public suspend fun awaitClosed(): ConnectionException = end.await()

    internal fun ended(cause: ConnectionException) {
        if (end.complete(cause)) {
            inbound.close()
            queued.close() // no new frames; the pump still hands over what is queued
        }
    }

    internal suspend fun run() {
        try {
            coroutineScope {
                val pump = launch { pump() }
                val pinger = if (config.pingInterval.isZero) null else launch { pingLoop() }
                try {
                    readLoop()
                } finally {
                    pinger?.cancel()
                    pump.cancel()
                }
            }
        } catch (e: KeepAliveFailure) {
            ended(e.exception)
        } catch (e: FrameTooBigException) {
            ended(MessageTooLargeException(config.maxMessageBytes))
        } catch (e: CancellationException) {
            ended(ConnectionClosedException(null, "cancelled"))
            throw e
        } catch (e: Exception) {
            ended(ConnectionClosedException(null, null, e))
        } finally {
            ended(ConnectionClosedException(null, null))
            finished.complete(Unit)
        }
    }

    private suspend fun readLoop() {
        var partial: ByteArrayOutputStream? = null
        var partialIsText = false
        for (frame in session.incoming) {
            when (frame) {
                is Frame.Ping -> session.outgoing.send(Frame.Pong(frame.data))
                is Frame.Pong -> pongs.trySend(frame.data)
                is Frame.Close -> {
                    val reason = frame.readReason()
                    ended(ConnectionClosedException(reason?.code?.toInt(), reason?.message))
                    session.outgoing.trySend(Frame.Close(reason ?: CloseReason(CloseReason.Codes.NORMAL, "")))
                    return
                }
                is Frame.Text, is Frame.Binary -> {
                    // Ktor applies maxFrameSize only after the upgrade completes, so an early frame can be larger.
                    if ((partial?.size() ?: 0).toLong() + frame.data.size > config.maxMessageBytes) {
                        ended(MessageTooLargeException(config.maxMessageBytes))
                        session.outgoing.trySend(Frame.Close(CloseReason(CloseReason.Codes.TOO_BIG, "message too big")))
                        return
                    }
                    if (partial == null && frame.fin) {
                        deliver(frame is Frame.Text, frame.data)
                        continue
                    }
                    val buffer = partial ?: ByteArrayOutputStream().also { partial = it; partialIsText = frame is Frame.Text }
                    buffer.write(frame.data)
                    if (frame.fin) {
                        partial = null
                        deliver(partialIsText, buffer.toByteArray())
                    }
                }
                else -> Unit
            }
        }
        // The reader stopped without a close frame; Ktor closes incoming with the failure, if any.
    }

    private suspend fun deliver(text: Boolean, data: ByteArray) {
        val message = if (text) WsMessage.Text(data.decodeToString()) else WsMessage.Binary(data)
        if (listener != null) {
            try {
                listener.onMessage(message)
            } catch (e: Exception) {
                log.warn("message listener threw; the message is dropped", e)
            }
            return
        }
        try {
            inbound.send(message)
        } catch (_: ClosedSendChannelException) {
            // The connection already ended; the consumer has been told why.
        }
    }

    /**
     * Hands queued frames to Ktor's outgoing queue. Woken by the first frame of a burst, it yields once, so that the
     * other callers already resumed on this worker queue theirs, then hands over everything queued in one go.
     */
    private suspend fun pump() {
        val out = session.outgoing
        try {
            while (true) {
                val first = queued.receiveCatching().getOrNull() ?: break
                yield()
                out.send(first)
                while (true) out.send(queued.tryReceive().getOrNull() ?: break)
            }
            closing?.let { out.send(Frame.Close(it)) } // waits for room: close() bounds the wait
        } catch (_: ClosedSendChannelException) {
            // Ktor's side ended; the read loop reports why.
        } finally {
            queued.cancel() // senders waiting for room must not wait for a pump that is gone
        }
    }

    private suspend fun pingLoop() {
        val interval = config.pingInterval.toMillis()
        val timeout = config.pongTimeout.toMillis()
        while (true) {
            delay(interval)
            val payload = pingsSent.incrementAndGet().toString().encodeToByteArray()
            session.outgoing.send(Frame.Ping(payload))
            val answered = withTimeoutOrNull(timeout) {
                while (!pongs.receive().contentEquals(payload)) { /* a late pong of an earlier ping */ }
            }
            if (answered == null) {
                val expired = KeepAliveExpiredException(timeout)
                ended(expired) // first, so the peer's echo of our close cannot claim to be the cause
                session.outgoing.trySend(Frame.Close(CloseReason(CloseReason.Codes.GOING_AWAY, "ping failed")))
                throw KeepAliveFailure(expired)
            }
        }
    }

    private class KeepAliveFailure(val exception: KeepAliveExpiredException) : Exception(exception.message, null, false, false)

    private companion object {
        private val log = org.slf4j.LoggerFactory.getLogger(WebSocketConnection::class.java)
        const val INBOUND_QUEUE = 256
        const val CLOSE_WAIT_MILLIS = 1_000L
    }
}
