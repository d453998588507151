package dev.tether.core

import io.netty.buffer.ByteBuf
import io.netty.channel.EventLoop
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ClosedSendChannelException
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.future.asCompletableFuture
import kotlinx.coroutines.future.future
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.Executor

/**
 * One open WebSocket made by [WebSocketDialer]: whole inbound messages (fragments joined) on [incoming] or to a
 * [MessageListener], suspending [send]s with backpressure, automatic pongs to server pings, client pings with a pong
 * deadline, and one recorded reason for its end ([awaitClosed]).
 *
 * Threading: the transport reads the socket on one I/O thread ([dispatcher]). A [MessageListener] runs there, inline;
 * [incoming] is filled from there and stops the socket's reading while its consumer is behind. [send] may be called
 * from any thread; frames leave in the order their sends were accepted. Java futures complete on a library thread
 * (use `thenApplyAsync` with your own executor for slow work).
 */
public class WebSocketConnection internal constructor(
    private val config: DialerConfig,
    listener: MessageListener?,
) {
    @Volatile private var listener: MessageListener? = listener
    private val observer: ObserverCalls? = config.observer?.let(::ObserverCalls)

    /** 0 dialing, 1 open, 2 ended after being open: [TransportObserver.connected] and `closed` exactly once each. */
    private var life = 0
    private lateinit var link: Link
    private val inbound = Channel<WsMessage>(INBOUND_QUEUE)
    private val end = CompletableDeferred<ConnectionException>()
    private val released = CompletableDeferred<Unit>()

    // Messages the I/O thread could not hand to [inbound] at once, in order; guarded by itself.
    private val backlog = ArrayDeque<WsMessage>()

    /** The connection ended while [draining]: the drain closes [incoming] when it is done. Guarded by [backlog]. */
    private var closeWhenDrained = false

    /**
     * Bumped each time [incoming]'s consumer falls behind or catches up, so odd while it is behind; a keepalive reads
     * it ([behindMark]) to tell whether the socket went unread during a pong wait. Guarded by [backlog].
     */
    private var behindChanges = 0

    /** [incoming]'s consumer is behind: messages wait for room in it (and the socket is not read). */
    private val draining: Boolean get() = behindChanges and 1 != 0

    /** Java faces and the backlog drain run here (each ends by itself once the connection has ended). */
    private val scope = CoroutineScope(Dispatchers.Default + SupervisorJob())

    internal fun attach(link: Link): WebSocketConnection = apply { this.link = link }

    /** Inbound data messages in arrival order; closed when the connection ends. Empty when a listener was given. */
    public val incoming: ReceiveChannel<WsMessage> get() = inbound

    /**
     * The value of the upgrade response's header [name] (case-insensitive; the first one when repeated), or null.
     * Protocols that answer registration data in the 101 response (webhooktunnel's client URL, the agreed
     * WebSocket subprotocol) read it here.
     */
    public fun handshakeHeader(name: String): String? = link.handshakeHeader(name)

    /**
     * The I/O thread that reads this connection, as a dispatcher. Latency-critical code that only does short,
     * non-blocking work may run here (`withContext(connection.dispatcher) { … }`): its sends and the replies that
     * resume it then need no thread hand-off. Never block on it: while code runs here, the socket is not read.
     */
    public val dispatcher: CoroutineDispatcher get() = link.dispatcher

    /** Java face of [dispatcher]: the I/O thread as an executor (`thenApplyAsync(fn, connection.getExecutor())`). */
    public val executor: Executor get() = link.dispatcher.asExecutor()

    /**
     * The Netty event loop that reads this connection (null on the Ktor transport): other sockets of a protocol
     * (the tunnel's origin connections) join it, so that their bytes cross no thread.
     */
    @InternalTetherApi
    public val eventLoop: EventLoop? get() = link.eventLoop

    /** True until the connection has ended. */
    public val isOpen: Boolean get() = !end.isCompleted

    /** Sends one text message. Suspends while the outgoing queue is full; throws if the connection has ended. */
    @JvmSynthetic
    public suspend fun send(text: String): Unit = sendFrame(OutFrame.Text(text.encodeToByteArray()))

    /**
     * Sends one text message given as UTF-8 (not checked here: the peer closes the connection on invalid UTF-8).
     * Saves the String round trip for protocols that encode straight to bytes. The bytes must not change afterwards.
     */
    @JvmSynthetic
    public suspend fun sendText(utf8: ByteArray): Unit = sendFrame(OutFrame.Text(utf8))

    /** Sends one binary message. Suspends while the outgoing queue is full; throws if the connection has ended. */
    @JvmSynthetic
    public suspend fun send(bytes: ByteArray): Unit = sendFrame(OutFrame.Binary(bytes))

    /**
     * Sends one binary message made of [head] followed by [length] bytes of [body] from [offset] (a protocol's frame
     * header in front of a caller's bytes), without joining them into one array first: the Netty transport masks both
     * straight into its outbound buffer on the calling thread, so [body] may be reused once this returns. Suspends
     * while the outgoing queue is full; throws if the connection has ended.
     */
    @InternalTetherApi
    @JvmSynthetic
    public suspend fun sendBinary(head: ByteArray, body: ByteArray, offset: Int, length: Int) {
        require(offset >= 0 && length >= 0 && offset + length <= body.size) { "range out of bounds" }
        sendFrame(OutFrame.BinaryParts(head, body, offset, length))
    }

    /**
     * Queues one text message without suspending: false when the outgoing queue is full (call [send] to wait for
     * room). Throws the connection's end cause if it has ended.
     */
    public fun trySend(text: String): Boolean = trySendFrame(OutFrame.Text(text.encodeToByteArray()))

    /** [trySend] for a text message given as UTF-8 (see [sendText]). */
    public fun trySendText(utf8: ByteArray): Boolean = trySendFrame(OutFrame.Text(utf8))

    /** [trySend] for a binary message. */
    public fun trySend(bytes: ByteArray): Boolean = trySendFrame(OutFrame.Binary(bytes))

    private fun trySendFrame(frame: OutFrame): Boolean {
        if (end.isCompleted) throw end.getCompleted()
        return link.trySend(frame).also { if (it) observer?.sent(frame) }
    }

    /** Java face of [send] for text: completed at once when the queue has room, else when it has. */
    public fun sendAsync(text: String): CompletableFuture<Void?> = sendAsync(OutFrame.Text(text.encodeToByteArray()))

    /** Java face of [sendText]. */
    public fun sendTextAsync(utf8: ByteArray): CompletableFuture<Void?> = sendAsync(OutFrame.Text(utf8))

    /** Java face of [send] for bytes: completed at once when the queue has room, else when it has. */
    public fun sendAsync(bytes: ByteArray): CompletableFuture<Void?> = sendAsync(OutFrame.Binary(bytes))

    private fun sendAsync(frame: OutFrame): CompletableFuture<Void?> {
        // The common case needs no coroutine (and no thread hand-off): there is room in the queue.
        if (!end.isCompleted && link.trySend(frame)) {
            observer?.sent(frame)
            return CompletableFuture.completedFuture(null)
        }
        return scope.future {
            sendFrame(frame)
            null
        }
    }

    /** Java: the next inbound message, or null once the connection has ended. */
    public fun receiveAsync(): CompletableFuture<WsMessage?> = scope.future { inbound.receiveCatching().getOrNull() }

    /** Java face of [close]. */
    @JvmOverloads
    public fun closeAsync(code: Short = NORMAL_CLOSURE, reason: String = ""): CompletableFuture<ConnectionException> =
        scope.future { close(code, reason) }

    /** Java face of [awaitClosed]. */
    public fun closedFuture(): CompletableFuture<ConnectionException> = end.asCompletableFuture()

    private suspend fun sendFrame(frame: OutFrame) {
        if (end.isCompleted) throw end.getCompleted()
        link.send(frame)
        observer?.sent(frame)
    }

    /**
     * Closes the connection with [code] and [reason] and waits (at most 1 s) for it to end. Every message whose send
     * was accepted before goes out first. Returns the reason the connection ended.
     */
    @JvmSynthetic
    public suspend fun close(code: Short = NORMAL_CLOSURE, reason: String = ""): ConnectionException {
        if (!end.isCompleted) link.sendClose(code, reason)
        ended(ConnectionClosedException(code.toInt(), reason))
        // The peer's answering close ends the socket; a peer that never answers is cut off.
        if (withTimeoutOrNull(CLOSE_WAIT_MILLIS) { released.await() } == null) link.abort()
        return end.getCompleted()
    }

    /** Suspends until the connection ends; returns why (never throws for a normal end). */
    @JvmSynthetic
    public suspend fun awaitClosed(): ConnectionException = end.await()

    // ---- transport side --------------------------------------------------------------------------------------

    /**
     * Records why the connection ended (the first cause wins) and closes [incoming], behind the messages that were
     * received before the end and still wait for room in it.
     */
    internal fun ended(cause: ConnectionException) {
        if (end.complete(cause)) {
            val now = synchronized(backlog) {
                // A drain (or a reader waiting for room) is under way: it closes [incoming] once it has handed over.
                if (draining) closeWhenDrained = true
                !draining
            }
            if (now) inbound.close()
            observer?.let { o ->
                synchronized(o) {
                    if (life == 1) {
                        life = 2
                        o.closed(cause)
                    }
                }
            }
        }
    }

    /** The dial succeeded (called by [WebSocketDialer] once the connection is handed out). */
    internal fun opened() {
        val o = observer ?: return
        synchronized(o) {
            if (life != 0) return
            life = 1
            o.connected()
            // Ended before the dialer got here: still one `closed` after the `connected`.
            if (end.isCompleted) {
                life = 2
                o.closed(end.getCompleted())
            }
        }
    }

    /** A pong answered the client's ping after [roundTripNanos]. */
    internal fun pongReceived(roundTripNanos: Long) {
        observer?.pong(roundTripNanos)
    }

    /** Under the [backlog] lock. */
    private fun setDraining(value: Boolean) {
        if (draining != value) behindChanges++
    }

    /**
     * Where [incoming]'s consumer stands now, for [wasBehindSince]: a keepalive must not count a pong missing that may
     * be waiting unread.
     */
    internal fun behindMark(): Int = synchronized(backlog) { behindChanges }

    /** True when the consumer was behind at any moment between [mark] (from [behindMark]) and now. */
    internal fun wasBehindSince(mark: Int): Boolean = mark and 1 != 0 || behindMark() != mark

    /** Why the connection ended, once it has. */
    internal val endCause: ConnectionException? get() = if (end.isCompleted) end.getCompleted() else null

    /** The socket is gone and its resources released. */
    internal fun released() {
        ended(ConnectionClosedException(null, null))
        released.complete(Unit)
    }

    /**
     * Hands inbound messages to [listener] from now on, inline on the I/O thread, starting with those already queued
     * for [incoming] (in order). For protocols layered on a connection they did not dial
     * (`MuxSession.client(connection)`).
     * Returns false, changing nothing, when [incoming] is behind its reader or a listener is already set: the caller
     * then keeps reading [incoming].
     */
    @InternalTetherApi
    public fun listen(listener: MessageListener): Boolean {
        synchronized(backlog) {
            if (this.listener != null || draining) return false
            while (true) notify(listener, inbound.tryReceive().getOrNull() ?: break)
            this.listener = listener
        }
        return true
    }

    /**
     * [listen], and from then on every whole binary message the Netty transport reads goes to [buffers] in the buffer
     * it was read into (see [BinaryBufferListener]); text, fragmented messages and the Ktor transport's messages
     * still reach [listener]. Returns false, changing nothing, as [listen] does.
     */
    @InternalTetherApi
    public fun listen(listener: MessageListener, buffers: BinaryBufferListener): Boolean = synchronized(backlog) {
        // Set under the same lock as the listener: the reader sees both, or the listener alone for a message
        // that was already on its way, in order either way (it delivers one message at a time).
        listen(listener).also { if (it) bufferListener = buffers }
    }

    /** Set by [listen] with buffers; read by the Netty link for every whole binary message. */
    @OptIn(InternalTetherApi::class)
    @Volatile
    internal var bufferListener: BinaryBufferListener? = null
        private set

    /** A whole binary message for [bufferListener], lent for the call (from the Netty link's reader). */
    @OptIn(InternalTetherApi::class)
    internal fun deliverBuffer(listener: BinaryBufferListener, content: ByteBuf) {
        observer?.receivedBytes(content.readableBytes())
        try {
            listener.onBinary(content)
        } catch (e: Exception) {
            log.warn("message listener threw; the message is dropped", e)
        }
    }

    /**
     * One whole inbound message, from the transport's reader (one thread at a time, never blocking): to the listener,
     * or to [incoming]. When [incoming] is full the socket stops being read until its consumer catches up.
     */
    internal fun deliver(message: WsMessage) {
        observer?.received(message)
        listener?.let {
            notify(it, message)
            return
        }
        var start = false
        synchronized(backlog) {
            listener?.let {
                notify(it, message)
                return
            }
            if (!draining) {
                if (inbound.trySend(message).isSuccess || inbound.isClosedForSend) return
                setDraining(true)
                start = true
                link.pauseReading()
            }
            backlog.addLast(message)
        }
        if (start) scope.launch(Dispatchers.Unconfined) { drain() }
    }

    /** [deliver] for transports whose reader is a coroutine: waits for room instead of pausing the socket. */
    internal suspend fun deliverSuspending(message: WsMessage) {
        observer?.received(message)
        listener?.let {
            notify(it, message)
            return
        }
        synchronized(backlog) {
            listener?.let {
                notify(it, message)
                return
            }
            if (inbound.trySend(message).isSuccess || inbound.isClosedForSend) return
            setDraining(true) // keeps [listen] from switching while this message waits for room
        }
        try {
            inbound.send(message)
        } catch (_: ClosedSendChannelException) {
            // The connection already ended; the consumer has been told why.
        } finally {
            val close = synchronized(backlog) {
                setDraining(false)
                closeWhenDrained
            }
            if (close) inbound.close()
        }
    }

    private fun notify(listener: MessageListener, message: WsMessage) {
        try {
            listener.onMessage(message)
        } catch (e: Exception) {
            log.warn("message listener threw; the message is dropped", e)
        }
    }

    private suspend fun drain() {
        while (true) {
            var close = false
            val next = synchronized(backlog) {
                backlog.firstOrNull() ?: run {
                    setDraining(false)
                    close = closeWhenDrained
                    if (!close) link.resumeReading()
                    null
                }
            }
            if (next == null) {
                if (close) inbound.close()
                return
            }
            try {
                inbound.send(next)
            } catch (_: ClosedSendChannelException) {
                synchronized(backlog) {
                    backlog.clear()
                    setDraining(false)
                }
                return
            }
            synchronized(backlog) { backlog.removeFirst() }
        }
    }

    internal companion object {
        private val log = LoggerFactory.getLogger(WebSocketConnection::class.java)

        /** Close code 1000. */
        const val NORMAL_CLOSURE: Short = 1000

        /** Messages [incoming] holds before the socket stops being read. */
        const val INBOUND_QUEUE = 256
        const val CLOSE_WAIT_MILLIS = 1_000L
    }
}
