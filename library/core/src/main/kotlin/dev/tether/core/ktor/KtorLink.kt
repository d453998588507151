package dev.tether.core.ktor

import dev.tether.core.ConnectionClosedException
import dev.tether.core.DialerConfig
import dev.tether.core.InternalTetherApi
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.Link
import dev.tether.core.MessageAssembler
import dev.tether.core.MessageTooLargeException
import dev.tether.core.OutFrame
import dev.tether.core.WebSocketConnection
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.FrameTooBigException
import io.ktor.websocket.WebSocketSession
import io.ktor.websocket.readReason
import io.netty.channel.EventLoop
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ClosedSendChannelException
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.coroutines.yield
import java.util.concurrent.atomic.AtomicLong

/**
 * One WebSocket on a Ktor session (raw: Ktor answers nothing itself): a read loop, a pump that hands queued frames to
 * Ktor's outgoing channel in bursts, and a ping loop, all coroutines of the socket's own job. [upgradeHeader] looks
 * up a header of the 101 answer.
 */
@OptIn(InternalTetherApi::class)
internal class KtorLink(
    private val session: WebSocketSession,
    private val upgradeHeader: (String) -> String?,
    private val config: DialerConfig,
    private val connection: WebSocketConnection,
) : Link {
    /**
     * Data frames on their way to Ktor's outgoing queue, handed over in bursts by [pump]. Callers resumed together
     * (replies read in one go) send together; handing their frames over one by one woke Ktor's writer, and cost a
     * socket write and a thread wake-up, per frame (see docs/performance.md).
     */
    private val queued = Channel<Frame>(config.outgoingFrames)

    /** Set by [sendClose]: the pump sends this close frame after the data frames queued before it. */
    @Volatile private var closing: CloseReason? = null
    private val pongs = Channel<ByteArray>(Channel.CONFLATED)
    private val pingsSent = AtomicLong()

    override val dispatcher: CoroutineDispatcher get() = Dispatchers.Default
    override val eventLoop: EventLoop? get() = null

    override fun handshakeHeader(name: String): String? = upgradeHeader(name)

    override suspend fun send(frame: OutFrame) {
        try {
            queued.send(ktorFrame(frame))
        } catch (e: ClosedSendChannelException) {
            throw connection.endCause ?: ConnectionClosedException(null, null, e)
        } catch (e: CancellationException) {
            connection.endCause?.let { throw it }
            if (!currentCoroutineContext().isActive) throw e
            // Not this caller's cancellation: the pump stopped because the connection is ending; report why.
            throw connection.awaitClosed()
        }
    }

    override fun trySend(frame: OutFrame): Boolean {
        val result = queued.trySend(ktorFrame(frame))
        if (result.isClosed) {
            throw connection.endCause ?: ConnectionClosedException(
                null,
                null,
                result.exceptionOrNull(),
            )
        }
        return result.isSuccess
    }

    private fun ktorFrame(frame: OutFrame): Frame = when (frame) {
        is OutFrame.Text -> Frame.Text(true, frame.utf8)
        is OutFrame.Binary -> Frame.Binary(true, frame.bytes)
        is OutFrame.BinaryParts -> Frame.Binary(true, frame.joined())
    }

    override fun sendClose(code: Short, reason: String) {
        closing = CloseReason(code, reason)
        queued.close() // no new frames; the pump still hands over what is queued, then the close
    }

    override fun abort() {
        session.cancel()
    }

    // The read loop suspends on a full inbound queue instead (deliverSuspending).
    override fun pauseReading() = Unit

    override fun resumeReading() = Unit

    suspend fun run() {
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
            connection.ended(e.exception)
        } catch (e: FrameTooBigException) {
            connection.ended(MessageTooLargeException(config.maxMessageBytes))
        } catch (e: CancellationException) {
            connection.ended(ConnectionClosedException(null, "cancelled"))
            throw e
        } catch (e: Exception) {
            connection.ended(ConnectionClosedException(null, null, e))
        } finally {
            queued.cancel()
            connection.released()
        }
    }

    private suspend fun readLoop() {
        val assembler = MessageAssembler(config.maxMessageBytes)
        for (frame in session.incoming) {
            when (frame) {
                // Never waits for room: a peer that pings and never reads would stall this loop (and every data
                // message behind its pings). While the outgoing queue is full the ping goes unanswered; RFC 6455
                // 5.5.3 lets a pong answer only the latest ping.
                is Frame.Ping -> session.outgoing.trySend(Frame.Pong(frame.data))

                is Frame.Pong -> pongs.trySend(frame.data)

                is Frame.Close -> {
                    val reason = frame.readReason()
                    connection.ended(ConnectionClosedException(reason?.code?.toInt(), reason?.message))
                    session.outgoing.trySend(Frame.Close(reason ?: CloseReason(CloseReason.Codes.NORMAL, "")))
                    return
                }

                is Frame.Text, is Frame.Binary -> {
                    // Ktor's reader bounds each frame (maxFrameSize, set when the session is made); the assembler
                    // bounds the message its fragments add up to.
                    val message = try {
                        assembler.add(frame is Frame.Text, frame.fin, frame.data)
                    } catch (e: MessageTooLargeException) {
                        connection.ended(e)
                        session.outgoing.trySend(Frame.Close(CloseReason(CloseReason.Codes.TOO_BIG, "message too big")))
                        return
                    }
                    if (message != null) connection.deliverSuspending(message)
                }

                else -> Unit
            }
        }
        // The reader stopped without a close frame; Ktor closes incoming with the failure, if any.
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
            val pingedAt = System.nanoTime()
            // While `incoming`'s consumer is behind, the reader waits for room and reads nothing, so the pong may be
            // waiting behind the messages it has not handed over: a slow consumer is not a dead peer. A wait during
            // which it was behind at all gets another whole timeout.
            var answered: Unit?
            do {
                val mark = connection.behindMark()
                answered = awaitPong(payload, timeout)
            } while (answered == null && connection.wasBehindSince(mark))
            if (answered != null) connection.pongReceived(System.nanoTime() - pingedAt)
            if (answered == null) {
                val expired = KeepAliveExpiredException(timeout)
                connection.ended(expired) // first, so the peer's echo of our close cannot claim to be the cause
                session.outgoing.trySend(Frame.Close(CloseReason(CloseReason.Codes.GOING_AWAY, "ping failed")))
                throw KeepAliveFailure(expired)
            }
        }
    }

    /** The pong of [payload] within [timeout] millis (Unit), or null; late pongs of earlier pings are skipped. */
    private suspend fun awaitPong(payload: ByteArray, timeout: Long): Unit? = withTimeoutOrNull(timeout) {
        while (!pongs.receive().contentEquals(payload)) { /* a late pong of an earlier ping */ }
    }

    private class KeepAliveFailure(val exception: KeepAliveExpiredException) : Exception(
        exception.message,
        null,
        false,
        false,
    )
}
