package dev.tether.wsclient

import java.util.concurrent.atomic.AtomicLong

/**
 * What a [WsClient] has seen since it was created: frames it refused and why, replies nobody waited for, drops.
 * A snapshot; take a new one with [WsClient.stats].
 */
public data class WsClientStats(
    /** Text frames that were not a valid envelope (bad JSON, missing kind); dropped, connection kept. */
    val malformedFrames: Long,
    /** Binary frames; the protocol is text only, so they are ignored. */
    val binaryFrames: Long,
    /** Messages over the size limit; each closed its connection (1009) and the client reconnected. */
    val oversizeMessages: Long,
    /** Frames with `in_reply_to` that matched no pending request; handed to the handler. */
    val lateReplies: Long,
    /** Requests that timed out. */
    val requestsTimedOut: Long,
    /** Established connections that dropped. */
    val drops: Long,
    /** Exceptions thrown by the handler. */
    val handlerErrors: Long,
    /**
     * Frames for the handler dropped because [WsClientConfig.handlerQueueSize] frames were already waiting for it
     * (logged at WARN the first time and every thousandth).
     */
    val handlerDrops: Long,
    /** Connection events lost by a collector or listener that fell too far behind (the oldest go first). */
    val eventsDropped: Long,
    /** Requests waiting for a reply right now. */
    val pendingRequests: Int,
) {
    internal class Counters {
        val malformedFrames = AtomicLong()
        val binaryFrames = AtomicLong()
        val oversizeMessages = AtomicLong()
        val lateReplies = AtomicLong()
        val requestsTimedOut = AtomicLong()
        val drops = AtomicLong()
        val handlerErrors = AtomicLong()
        val handlerDrops = AtomicLong()

        fun snapshot(pending: Int, eventsDropped: Long) = WsClientStats(
            malformedFrames.get(),
            binaryFrames.get(),
            oversizeMessages.get(),
            lateReplies.get(),
            requestsTimedOut.get(),
            drops.get(),
            handlerErrors.get(),
            handlerDrops.get(),
            eventsDropped,
            pending,
        )
    }
}
