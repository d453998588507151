@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.WampException
import dev.tether.wamp.message.Abort
import dev.tether.wamp.message.ErrorMessage
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Interrupt
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.MessageCodes
import dev.tether.wamp.message.Published
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Unregistered
import dev.tether.wamp.message.Unsubscribed
import dev.tether.wamp.transport.Peer
import dev.tether.wamp.transport.PeerListener
import dev.tether.wamp.transport.WampTransport
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.slf4j.Logger
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.time.toKotlinDuration

/**
 * A session's inbound traffic: it reads the connection (pushed inline on the transport's I/O thread when the peer
 * can push, else pulled by one reader coroutine), routes every message to the part of the session it is for, and
 * ends the session on GOODBYE, ABORT, a protocol error or the connection's end. It never runs user code.
 */
internal class SessionInbound(
    private val peer: WampTransport,
    private val scope: CoroutineScope,
    private val config: SessionConfig,
    private val log: Logger,
    private val sessionId: Long,
    private val correlator: RequestCorrelator,
    private val subscriptions: Subscriptions,
    private val callee: Callee,
    /** True once the session's owner has started to leave: a GOODBYE then answers ours. */
    private val isLeaving: () -> Boolean,
    /** Ends the session for a reason; a cause that is not a [WampException] means the connection was lost. */
    private val end: (reason: String, cause: Exception?) -> Unit,
) {
    /** Completed with the router's GOODBYE that answers ours. */
    val goodbyeReceived: CompletableDeferred<Goodbye> = CompletableDeferred()

    /** Set once the push path has stopped handling inbound traffic (the session ended). */
    private val inlineDone = AtomicBoolean(false)

    /** Why and how a message ended the session: the reason, and a reply to send before closing (GOODBYE's). */
    private class Ending(val reason: String, val reply: Message?)

    /** Starts reading; last in the session's construction, as a pushing peer may deliver at once. */
    fun start() {
        if (!((peer as? Peer)?.listen(Inline()) ?: false)) {
            scope.launch(CoroutineName("wamp-read")) { readLoop() }
        }
    }

    /** The pull path, for transports that cannot push: one coroutine reads and dispatches. */
    private suspend fun readLoop() {
        var reason = "connection closed"
        var cause: Exception? = null
        try {
            while (true) {
                val ending = dispatch(peer.receive()) ?: continue
                reason = ending.reason
                ending.reply?.let { runCatching { peer.send(it) } }
                break
            }
        } catch (e: CancellationException) {
            reason = "session closed"
            throw e
        } catch (e: ConnectionException) {
            reason = "connection lost: ${e.message}"
            cause = e
        } catch (e: WampException) {
            reason = "protocol error: ${e.message}"
            cause = e
            log.warn("WAMP session {}: {}; closing", sessionId, e.message)
            withContext(NonCancellable) { runCatching { peer.send(protocolAbort(e)) } }
        } catch (e: Exception) {
            // A user-supplied WampTransport may fail with any exception: treat it as a lost connection.
            reason = "connection lost: ${e.message ?: e::class.java.name}"
            cause = e
            log.warn("WAMP session {}: transport {} failed: {}", sessionId, peer.description, e.toString())
        } finally {
            end(reason, cause)
            withContext(NonCancellable) { runCatching { peer.close() } }
        }
    }

    /**
     * The push path: the peer hands each message over on its I/O thread, where [dispatch] runs inline. Whatever
     * has to wait (the farewell message, closing the socket) goes to a coroutine.
     */
    private inner class Inline : PeerListener {
        override fun onMessage(message: Message) {
            if (inlineDone.get()) return
            val ending = try {
                dispatch(message)
            } catch (e: WampException) {
                protocolError(e)
                return
            } ?: return
            finish(ending.reason, ending.reply, null)
        }

        override fun onEnd(cause: Exception) {
            if (inlineDone.get()) return
            when (cause) {
                is ConnectionException -> finish("connection lost: ${cause.message}", null, cause)
                is WampException -> protocolError(cause)
                else -> finish("connection lost: ${cause.message ?: cause::class.java.name}", null, cause)
            }
        }

        private fun protocolError(e: WampException) {
            log.warn("WAMP session {}: {}; closing", sessionId, e.message)
            finish("protocol error: ${e.message}", protocolAbort(e), e)
        }

        /** Ends the session now; sends [reply] (if any) and closes the connection off this thread. */
        private fun finish(reason: String, reply: Message?, cause: Exception?) {
            if (!inlineDone.compareAndSet(false, true)) return
            end(reason, cause)
            // ATOMIC and NonCancellable: the connection is closed even when the session's scope is cancelled now.
            scope.launch(CoroutineName("wamp-end-$sessionId"), start = CoroutineStart.ATOMIC) {
                withContext(NonCancellable) {
                    if (reply != null) {
                        withTimeoutOrNull(config.responseTimeout.toKotlinDuration()) {
                            runCatching { peer.send(reply) }
                        }
                    }
                    runCatching { peer.close() }
                }
            }
        }
    }

    private fun protocolAbort(e: WampException): Message =
        Abort(mapOf("message" to (e.message ?: "")), "wamp.error.protocol_violation")

    /**
     * Handles one inbound message without suspending or running user code; returns how the session ends when this
     * message ends it (GOODBYE, ABORT), else null. Throws [ProtocolViolationException] for a message that has no
     * place in an established session.
     */
    private fun dispatch(m: Message): Ending? {
        when (m) {
            is ResultMessage ->
                if (m.details["progress"] == true) {
                    correlator.progress(m)
                } else {
                    correlator.reply(m.request, m, MessageCodes.CALL)
                }

            is Published -> correlator.reply(m.request, m, MessageCodes.PUBLISH)

            is Subscribed -> correlator.reply(m.request, m, MessageCodes.SUBSCRIBE)

            is Unsubscribed ->
                if (m.request == 0L && m.details != null) {
                    subscriptions.revoke(m.details)
                } else {
                    correlator.reply(m.request, m, MessageCodes.UNSUBSCRIBE)
                }

            is Registered -> correlator.reply(m.request, m, MessageCodes.REGISTER)

            is Unregistered ->
                if (m.request == 0L && m.details != null) {
                    callee.revoke(m.details)
                } else {
                    correlator.reply(m.request, m, MessageCodes.UNREGISTER)
                }

            is ErrorMessage -> correlator.reply(m.request, m, m.requestType)

            is EventMessage -> subscriptions.deliver(m)

            is InvocationMessage -> callee.invoke(m)

            is Interrupt -> callee.interrupt(m)

            is Goodbye -> return goodbye(m)

            is Abort -> {
                log.warn("WAMP session {}: router sent ABORT {} {}", sessionId, m.reason, m.details["message"] ?: "")
                return Ending(if (isLeaving()) "session closed" else "session ended by router (${m.reason})", null)
            }

            else -> throw ProtocolViolationException(
                "unexpected ${MessageCodes.nameOf(m.code)} in an established session",
            )
        }
        return null
    }

    private fun goodbye(m: Goodbye): Ending {
        if (isLeaving()) {
            goodbyeReceived.complete(m)
            return Ending("session closed", null)
        }
        log.info("WAMP session {}: router said GOODBYE {}", sessionId, m.reason)
        return Ending("session ended by router (${m.reason})", Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
    }
}
