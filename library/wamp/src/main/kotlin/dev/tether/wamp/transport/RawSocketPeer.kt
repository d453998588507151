@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.ConnectionClosedException
import dev.tether.core.InternalTetherApi
import dev.tether.core.KeepAliveExpiredException
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.message.Message
import dev.tether.wamp.rawsocket.FrameHeader
import dev.tether.wamp.serializer.Serializer
import io.ktor.utils.io.ByteReadChannel
import io.ktor.utils.io.ByteWriteChannel
import io.ktor.utils.io.readFully
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.LoggerFactory
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicReference
import kotlin.coroutines.CoroutineContext
import kotlin.coroutines.EmptyCoroutineContext
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import dev.tether.wamp.rawsocket.RawSocketProtocol as P

/**
 * A WAMP peer over an established RawSocket (handshake done): frames messages with a 3-byte length, answers
 * PING with PONG, refuses to send more than [sendLimit] (the peer's announced maximum) and closes when the peer
 * sends a frame (a message, PING or PONG) longer than [recvLimit] (this side's announced maximum).
 *
 * It reads Ktor byte channels with a coroutine ([receive]): the testkit router's server side and the client over a
 * caller's own socket (`SessionConfig.socketDialer`). The client's other RawSockets run on Netty's event loops.
 */
@InternalTetherApi
public class RawSocketPeer(
    private val input: ByteReadChannel,
    private val output: ByteWriteChannel,
    private val serializer: Serializer,
    /** The maximum message length the peer announced. */
    public val sendLimit: Int,
    /** The maximum message length this side announced. */
    public val recvLimit: Int,
    override val description: String,
    private val onClose: suspend () -> Unit,
) : Peer {
    private val log = LoggerFactory.getLogger(RawSocketPeer::class.java)
    private val writeLock = Mutex()
    private val closed = AtomicBoolean(false)
    private val pendingPong = AtomicReference<Pair<ByteArray, CompletableDeferred<Unit>>?>(null)

    /** Owns what this peer runs besides the caller's reads (the keepalive); [close] cancels and joins it. */
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("rawsocket-peer"))

    @Volatile private var keepAliveExpired: KeepAliveExpiredException? = null

    /** When true, PINGs are not answered (a testkit fault: the peer looks dead). */
    @Volatile
    public var answerPings: Boolean = true

    override suspend fun send(message: Message) {
        val bytes = serializer.encode(message)
        if (bytes.size > minOf(sendLimit, P.MAX_FRAME_LENGTH)) {
            throw MessageTooLongException(
                bytes.size.toLong(),
                minOf(sendLimit, P.MAX_FRAME_LENGTH).toLong(),
                outbound = true,
            )
        }
        writeFrame(P.TYPE_MESSAGE, bytes)
    }

    private suspend fun writeFrame(type: Int, payload: ByteArray) {
        if (closed.get()) throw ConnectionClosedException(null, "RawSocket closed")
        try {
            writeLock.withLock {
                output.writeFully(FrameHeader(type, payload.size).encode())
                output.writeFully(payload)
                output.flush()
            }
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException && !closed.get()) throw e
            throw ConnectionClosedException(null, "RawSocket write failed", e)
        }
    }

    override suspend fun receive(): Message {
        while (true) {
            val header = try {
                val h = ByteArray(P.FRAME_HEADER_LENGTH)
                input.readFully(h)
                FrameHeader.decode(h)
            } catch (e: Exception) {
                if (e is kotlinx.coroutines.CancellationException && !closed.get()) throw e
                close()
                throw keepAliveExpired ?: ConnectionClosedException(null, "RawSocket closed by peer", e)
            }
            // Every frame, PING and PONG included, is refused from its header when over this side's limit: the
            // payload is never read (as NettyRawSocketPeer does).
            if (header.length > recvLimit) {
                log.warn(
                    "{}: peer sent a {}-byte frame over the {}-byte limit; closing",
                    description,
                    header.length,
                    recvLimit,
                )
                close()
                throw MessageTooLongException(header.length.toLong(), recvLimit.toLong(), outbound = false)
            }
            val payload = try {
                ByteArray(header.length).also { input.readFully(it) }
            } catch (e: Exception) {
                if (e is kotlinx.coroutines.CancellationException && !closed.get()) throw e
                close()
                throw ConnectionClosedException(null, "RawSocket closed in the middle of a frame", e)
            }
            when (header.type) {
                P.TYPE_MESSAGE -> return serializer.decode(payload)

                P.TYPE_PING -> if (answerPings) writeFrame(P.TYPE_PONG, payload)

                P.TYPE_PONG -> pendingPong.get()?.let { (expected, done) ->
                    if (expected.contentEquals(payload)) done.complete(Unit)
                }

                else -> log.debug("{}: ignoring RawSocket frame type {}", description, header.type)
            }
        }
    }

    /**
     * Sends a PING with [payload] and waits up to [timeout] for the matching PONG; false on timeout. Needs a
     * coroutine reading with [receive] at the same time (the session's read loop), since PONGs arrive there.
     */
    public suspend fun ping(payload: ByteArray, timeout: Duration): Boolean {
        val done = CompletableDeferred<Unit>()
        val entry = payload to done
        pendingPong.set(entry)
        writeFrame(P.TYPE_PING, payload)
        return try {
            withTimeout(timeout) { done.await() }
            true
        } catch (e: kotlinx.coroutines.TimeoutCancellationException) {
            false
        } finally {
            pendingPong.compareAndSet(entry, null)
        }
    }

    /**
     * Client keepalive: a PING every [interval] after the last answered one; no matching PONG within [timeout]
     * closes the peer, and [receive] then throws [KeepAliveExpiredException]. Needs a coroutine reading with
     * [receive] at the same time (PONGs arrive there). The loop is this peer's: [close] stops it, and it runs in
     * [context] (a test's virtual time) on top of the peer's own scope.
     */
    internal fun startKeepAlive(
        interval: Duration,
        timeout: Duration,
        context: CoroutineContext = EmptyCoroutineContext,
    ) {
        scope.launch(context + CoroutineName("rawsocket-keepalive")) {
            var n = 0L
            try {
                while (true) {
                    delay(interval)
                    if (!ping((++n).toString().toByteArray(), timeout)) {
                        log.warn("{}: no PONG within {}; closing", description, timeout)
                        keepAliveExpired = KeepAliveExpiredException(timeout.inWholeMilliseconds)
                        // Not close(): it joins this very coroutine.
                        withContext(NonCancellable) { closeConnection() }
                        return@launch
                    }
                }
            } catch (e: ConnectionClosedException) {
                // The connection ended first.
            }
        }
    }

    /** True while the keepalive loop runs (tests). */
    internal val keepAliveRunning: Boolean get() = scope.coroutineContext.job.children.any { it.isActive }

    /**
     * Closes the connection and stops the keepalive: once this returns no PING goes out any more. Idempotent;
     * waiting for the keepalive is bounded by [CLOSE_WAIT] (a write stuck in a dead socket is abandoned).
     */
    override suspend fun close() {
        closeConnection()
        withContext(NonCancellable) { withTimeoutOrNull(CLOSE_WAIT) { scope.coroutineContext.job.cancelAndJoin() } }
    }

    private suspend fun closeConnection() {
        if (closed.compareAndSet(false, true)) {
            runCatching { onClose() }
        }
    }

    private companion object {
        val CLOSE_WAIT: Duration = 1.seconds
    }
}
