package dev.tether.wamp

import dev.tether.core.ConnectionException
import dev.tether.wamp.error.ProgressBufferOverflowException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.transport.WampTransport
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.time.toKotlinDuration

/**
 * One progressive call invocation on the caller's side ([WampSession.callStreaming]): every chunk goes out as a
 * CALL with the same request id, the last without `progress`; the reply, progressive results and abandonment
 * (CANCEL) go through the session's [RequestCorrelator].
 */
internal class StreamingCall(
    private val peer: WampTransport,
    private val config: SessionConfig,
    private val correlator: RequestCorrelator,
    private val sessionId: Long,
    private val checkOpen: () -> Unit,
    /** True when the router announced progressive call invocations. */
    private val routerStreams: () -> Boolean,
    private val procedure: String,
    options: CallOptions,
    private val onProgress: (suspend (CallResult) -> Unit)?,
) {
    private val cancelMode = options.cancelMode ?: config.cancelMode
    private val receive: Map<String, Any?> =
        if (onProgress != null) mapOf("receive_progress" to true) else emptyMap()
    private val firstOptions =
        WampValues.normalizeMap(options.toMap()) - "progress" - "receive_progress" + receive

    // The call's passthru options (CallOptions.payloadPassthru): every chunk without its own carries them.
    private val callPassthru = firstOptions.filterKeys { it in PayloadPassthru.KEYS }
    private val requestId = correlator.nextRequestId()
    private val reply = CompletableDeferred<Message>()
    private val progress = if (onProgress != null) correlator.progressChannel() else null

    // Set once a CALL may have reached the router: from then on, abandoning the call needs CANCEL.
    private val started = AtomicBoolean(false)

    /** Streams [chunks] and returns the final result (see [WampSession.callStreaming]). */
    suspend fun run(chunks: Flow<CallChunk>): CallResult {
        checkOpen()
        correlator.expect(requestId, RequestCorrelator.Pending(MessageCodes.CALL, reply, progress))
        val answer = coroutineScope {
            val consumer = if (progress == null || onProgress == null) {
                null
            } else {
                launch(CoroutineName("wamp-progress-$procedure")) { for (p in progress) onProgress(p) }
            }
            val sender = launch(CoroutineName("wamp-stream-$procedure")) {
                var held: CallChunk? = null
                var first = true
                chunks.collect { next ->
                    held?.let {
                        send(it, first, last = false)
                        first = false
                    }
                    held = next
                }
                send(held ?: CallChunk.EMPTY, first, last = true)
            }
            val answer = try {
                awaitAnswer(sender)
            } catch (e: ProgressBufferOverflowException) {
                // Progress came faster than the callback took it: the call is given up, as a cancelled one is.
                withContext(NonCancellable) {
                    stopSending(sender)
                    if (started.get()) correlator.cancelAndAwaitError(requestId, reply, cancelMode)
                }
                throw e
            } catch (e: CancellationException) {
                // The caller gave up, the chunk flow failed, a chunk could not be sent, or a progress callback threw.
                withContext(NonCancellable) {
                    stopSending(sender)
                    if (started.get()) correlator.cancelAndAwaitError(requestId, reply, cancelMode)
                }
                throw e
            } finally {
                correlator.forget(requestId)
                sender.cancel() // answered before the last chunk: the rest is not sent
                progress?.close()
            }
            consumer?.join() // progress received before the final result is delivered before returning
            answer
        }
        if (answer is ResultMessage) return CallResult(answer.args, answer.kwargs, answer.details)
        RequestCorrelator.fail(answer)
    }

    private suspend fun awaitAnswer(sender: Job): Message {
        val timeout = config.callTimeout ?: return reply.await()
        return withTimeoutOrNull(timeout.toKotlinDuration()) { reply.await() } ?: run {
            stopSending(sender)
            if (started.get()) correlator.cancelAndAwaitError(requestId, reply, cancelMode, timedOut = true)
            throw ResponseTimeoutException("CALL $requestId", timeout.toMillis())
        }
    }

    private suspend fun send(chunk: CallChunk, first: Boolean, last: Boolean) {
        if (!last && !routerStreams()) {
            throw RpcException(
                "wamp.error.feature_not_supported",
                listOf("the router did not announce progressive_call_invocations"),
            )
        }
        // Later chunks repeat only receive_progress (the router keeps the first's options) and their passthru.
        val passthru = chunk.payloadPassthru?.toMap() ?: callPassthru
        val base = if (first) firstOptions - PayloadPassthru.KEYS + passthru else receive + passthru
        val opts = if (last) base else base + ("progress" to true)
        PayloadPassthru.checkPayload(opts, chunk.args, chunk.kwargs)
        checkOpen()
        @Suppress("UNCHECKED_CAST")
        val args = WampValues.normalize(chunk.args) as List<Any?>
        val message = Call(requestId, opts, procedure, args, WampValues.normalizeMap(chunk.kwargs))
        try {
            peer.send(message)
        } catch (e: ConnectionException) {
            throw WampConnectionLostException("WAMP session $sessionId: connection lost while sending CALL", e)
        } catch (e: CancellationException) {
            started.set(true) // it may have gone out
            throw e
        }
        started.set(true)
    }

    private suspend fun stopSending(sender: Job) {
        // No CALL may follow the CANCEL; a flow that ignores cancellation is not waited for long.
        withTimeoutOrNull(config.responseTimeout.toKotlinDuration()) { sender.cancelAndJoin() }
    }
}
