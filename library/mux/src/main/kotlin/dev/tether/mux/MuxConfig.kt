package dev.tether.mux

import java.time.Clock
import java.time.Duration
import kotlin.time.toJavaDuration

/**
 * Run-time parameters of a [MuxSession] (upstream `wsmux.Config`). Immutable; Java builds it with [builder], Kotlin
 * with `MuxConfig { keepAliveInterval(5.seconds) }`; [DEFAULT] holds upstream's defaults.
 *
 * @property keepAliveInterval ping period and pong deadline (default 20 s); [Duration.ZERO] disables keepalive.
 * @property streamAcceptDeadline how long [MuxSession.open] waits for the peer's first ACK (default 30 s).
 * @property streamBufferSize receive capacity per stream, announced in the ACK that accepts a stream (default 1024,
 * Go's DefaultCapacity; the proxy uses 4096).
 * @property peerCapacity the receive capacity assumed of a peer that opens a stream to this session, which the wire
 * never announces (default 1024, Go's DefaultCapacity; 4096 where the opener is the webhooktunnel proxy). As the
 * acceptor this session starts sending with min([streamBufferSize], [peerCapacity]) so a Go opener is never overrun;
 * as the opener it expects a Tether acceptor to start with that much and grants the rest of its own capacity at once.
 * @property closeCallback runs once when the session ends, on a library thread.
 * @property clock reads "now" for [Stream.setReadDeadline] / [Stream.setWriteDeadline].
 * @property autoTuneMaxWindow 0 (default) keeps every stream's receive window at its capacity; a larger value lets a
 * stream whose peer keeps filling the whole window (throughput-bound) double its capacity, up to this many bytes, by
 * granting the extra as additional ACK credit (legal because credits are additive; peers need no change).
 * @property ackEveryRead true sends one ACK per [Stream.read], as upstream does; false (default) returns the credit
 * of reads together once half the window has been read (a quarter of a window of four full DATs or more) or the peer
 * has none left, which is the same credit in fewer frames (credits are additive, and the peer's window never drops
 * below half while nothing is buffered).
 * @property maxStreams how many streams the peer may have open here at once (default 10 000): streams it opened
 * that this side accepted or holds in the accept queue, until both sides have sent FIN or the session fails them.
 * A SYN beyond it is refused as upstream refuses a stream it will not take (FIN, no ACK); the session goes on and
 * counts it ([MuxSessionStats.streamsRefused]).
 */
public class MuxConfig private constructor(b: Builder) {
    /** Ping period and pong deadline; zero disables keepalive. */
    public val keepAliveInterval: Duration = b.keepAliveInterval

    /** How long an open waits for the peer's first ACK. */
    public val streamAcceptDeadline: Duration = b.streamAcceptDeadline

    /** Receive capacity per stream in bytes. */
    public val streamBufferSize: Int = b.streamBufferSize

    /** Receive capacity assumed of a peer that opens a stream here. */
    public val peerCapacity: Int = b.peerCapacity

    /** Runs once when the session ends, or null. */
    public val closeCallback: Runnable? = b.closeCallback

    /** Reads "now" for absolute deadlines. */
    public val clock: Clock = b.clock

    /** Upper bound of the auto-tuned receive window; 0: no auto-tuning. */
    public val autoTuneMaxWindow: Int = b.autoTuneMaxWindow

    /** One ACK per read (upstream's pacing) instead of batched credit. */
    public val ackEveryRead: Boolean = b.ackEveryRead

    /** Most streams opened by the peer that may be open here at once; a SYN beyond it is refused with FIN. */
    public val maxStreams: Int = b.maxStreams

    /**
     * The largest whole WebSocket message a session of this configuration takes from its peer: a DAT frame is at
     * most one window long, so anything bigger is a broken or hostile peer and ends the session.
     */
    internal val maxMessageBytes: Long
        get() = MuxProtocol.HEADER_SIZE + maxOf(MAX_MESSAGE_FLOOR, streamBufferSize, autoTuneMaxWindow).toLong()

    init {
        require(!keepAliveInterval.isNegative) { "keepAliveInterval must not be negative" }
        require(!streamAcceptDeadline.isNegative && !streamAcceptDeadline.isZero) {
            "streamAcceptDeadline must be positive"
        }
        require(streamBufferSize >= 1) { "streamBufferSize must be at least 1" }
        require(peerCapacity >= 1) { "peerCapacity must be at least 1" }
        require(autoTuneMaxWindow >= 0) { "autoTuneMaxWindow must not be negative" }
        require(maxStreams >= 1) { "maxStreams must be at least 1" }
    }

    /** A builder that starts from this configuration. */
    public fun toBuilder(): Builder = Builder().also {
        it.keepAliveInterval = keepAliveInterval
        it.streamAcceptDeadline = streamAcceptDeadline
        it.streamBufferSize = streamBufferSize
        it.peerCapacity = peerCapacity
        it.closeCallback = closeCallback
        it.clock = clock
        it.autoTuneMaxWindow = autoTuneMaxWindow
        it.ackEveryRead = ackEveryRead
        it.maxStreams = maxStreams
    }

    /** Builds a [MuxConfig]; every setter returns the builder. */
    public class Builder internal constructor() {
        internal var keepAliveInterval: Duration = Duration.ofMillis(MuxProtocol.DEFAULT_KEEPALIVE_INTERVAL_MILLIS)
        internal var streamAcceptDeadline: Duration = Duration.ofMillis(MuxProtocol.DEFAULT_ACCEPT_DEADLINE_MILLIS)
        internal var streamBufferSize: Int = MuxProtocol.DEFAULT_CAPACITY
        internal var peerCapacity: Int = MuxProtocol.DEFAULT_CAPACITY
        internal var closeCallback: Runnable? = null
        internal var clock: Clock = Clock.systemUTC()
        internal var autoTuneMaxWindow: Int = 0
        internal var ackEveryRead: Boolean = false
        internal var maxStreams: Int = MuxProtocol.DEFAULT_MAX_STREAMS

        /** Ping period and pong deadline; zero disables keepalive. */
        public fun keepAliveInterval(interval: Duration): Builder = apply { keepAliveInterval = interval }

        /** Kotlin: [keepAliveInterval] with a Kotlin duration. */
        @JvmSynthetic
        public fun keepAliveInterval(interval: kotlin.time.Duration): Builder =
            keepAliveInterval(interval.toJavaDuration())

        /** How long an open waits for the peer's accept. */
        public fun streamAcceptDeadline(deadline: Duration): Builder = apply { streamAcceptDeadline = deadline }

        /** Kotlin: [streamAcceptDeadline] with a Kotlin duration. */
        @JvmSynthetic
        public fun streamAcceptDeadline(deadline: kotlin.time.Duration): Builder =
            streamAcceptDeadline(deadline.toJavaDuration())

        /** Receive capacity per stream in bytes. */
        public fun streamBufferSize(bytes: Int): Builder = apply { streamBufferSize = bytes }

        /** Receive capacity assumed of a peer that opens a stream here (1024 by default; 4096 for the proxy). */
        public fun peerCapacity(bytes: Int): Builder = apply { peerCapacity = bytes }

        /** Called once when the session ends. */
        public fun closeCallback(callback: Runnable?): Builder = apply { closeCallback = callback }

        /** Clock for absolute deadlines (tests pass a controllable one). */
        public fun clock(clock: Clock): Builder = apply { this.clock = clock }

        /** Upper bound of the auto-tuned receive window; 0 disables auto-tuning. */
        public fun autoTuneMaxWindow(bytes: Int): Builder = apply { autoTuneMaxWindow = bytes }

        /** One ACK per read (upstream's pacing) instead of credit batched by half windows. */
        public fun ackEveryRead(enabled: Boolean): Builder = apply { ackEveryRead = enabled }

        /**
         * Most streams opened by the peer that may be open here at once (default 10 000); a SYN beyond it is answered
         * with FIN and no ACK, and the session goes on.
         */
        public fun maxStreams(count: Int): Builder = apply { maxStreams = count }

        /** The configuration (validated: a negative or zero bound throws [IllegalArgumentException]). */
        public fun build(): MuxConfig = MuxConfig(this)
    }

    /** Entry points: [builder], [DEFAULT] and the Kotlin block form. */
    public companion object {
        /** The smallest message bound, whatever the windows: room for any frame a sane peer sends. */
        private const val MAX_MESSAGE_FLOOR = 1 shl 20

        /** Starts a builder (Java). */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /**
         * Upstream's defaults: 20 s keepalive, 30 s accept deadline, 1024-byte streams and peers; and at most 10 000
         * streams opened by the peer at once.
         */
        @JvmField
        public val DEFAULT: MuxConfig = Builder().build()

        /** Kotlin: `MuxConfig { streamBufferSize(4096) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit = {}): MuxConfig = Builder().apply(block).build()
    }
}
