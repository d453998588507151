package dev.tether.mux

import java.util.concurrent.atomic.LongAdder

/**
 * What a [MuxSession] has done since it was made, and what it holds now: a snapshot, take a new one with
 * [MuxSession.stats]. Counting costs an uncontended add per frame on the thread that handles it.
 *
 * @property streamsOpen streams open now, both ways: opened here and accepted by the peer, or opened by the peer and
 * accepted (or queued) here, until both sides have sent FIN or the session failed them.
 * @property incomingOpen of [streamsOpen], the streams the peer opened: what [MuxConfig.maxStreams] bounds.
 * @property acceptQueued streams the peer opened that wait for [MuxSession.accept] now.
 * @property streamsOpened streams this side opened that the peer accepted.
 * @property streamsAccepted streams the peer opened that this side accepted ([MuxSession.accept] or inline).
 * @property streamsRefused SYNs refused with FIN because [MuxConfig.maxStreams] streams of the peer were open.
 * @property framesIn frames received (whole binary messages that decoded).
 * @property framesOut frames handed to the WebSocket.
 * @property bytesIn stream bytes received (DAT payloads).
 * @property bytesOut stream bytes sent (DAT payloads).
 * @property acksIn ACK frames received (accepts and credit).
 * @property acksOut ACK frames sent.
 * @property malformedFrames messages dropped because they were not a valid frame.
 * @property unknownStreamFrames frames dropped because their stream was unknown (never opened, or already gone).
 * @property overruns DATs dropped because the peer overran a stream's window (each fails its stream with
 * [NoCapacityException]).
 * @property keepAlivePings keepalive pings the session sent. Over a tether-core connection the connection pings by
 * itself and these stay 0: its `TransportObserver` sees the round trips.
 * @property keepAlivePongs pongs received for them (0 over a tether-core connection, as above).
 */
public data class MuxSessionStats(
    val streamsOpen: Int,
    val incomingOpen: Int,
    val acceptQueued: Int,
    val streamsOpened: Long,
    val streamsAccepted: Long,
    val streamsRefused: Long,
    val framesIn: Long,
    val framesOut: Long,
    val bytesIn: Long,
    val bytesOut: Long,
    val acksIn: Long,
    val acksOut: Long,
    val malformedFrames: Long,
    val unknownStreamFrames: Long,
    val overruns: Long,
    val keepAlivePings: Long,
    val keepAlivePongs: Long,
) {
    /** The session's running counts; adders, since frames go out from many threads at once. */
    internal class Counters {
        val streamsOpened = LongAdder()
        val streamsAccepted = LongAdder()
        val streamsRefused = LongAdder()
        val framesIn = LongAdder()
        val framesOut = LongAdder()
        val bytesIn = LongAdder()
        val bytesOut = LongAdder()
        val acksIn = LongAdder()
        val acksOut = LongAdder()
        val malformedFrames = LongAdder()
        val unknownStreamFrames = LongAdder()
        val overruns = LongAdder()
        val keepAlivePings = LongAdder()

        /** A DAT of [length] payload bytes went to the transport (sent as parts, not one encoded frame). */
        fun sentData(length: Int) {
            framesOut.increment()
            bytesOut.add(length.toLong())
        }

        /** One encoded frame went to the transport. */
        fun sent(message: ByteArray) {
            framesOut.increment()
            when (message[0].toInt()) {
                MuxProtocol.TYPE_DAT -> bytesOut.add((message.size - MuxProtocol.HEADER_SIZE).toLong())
                MuxProtocol.TYPE_ACK -> acksOut.increment()
            }
        }

        fun snapshot(outgoingOpen: Int, incomingOpen: Int, acceptQueued: Int, pongs: Long) = MuxSessionStats(
            streamsOpen = outgoingOpen + incomingOpen,
            incomingOpen = incomingOpen,
            acceptQueued = acceptQueued,
            streamsOpened = streamsOpened.sum(),
            streamsAccepted = streamsAccepted.sum(),
            streamsRefused = streamsRefused.sum(),
            framesIn = framesIn.sum(),
            framesOut = framesOut.sum(),
            bytesIn = bytesIn.sum(),
            bytesOut = bytesOut.sum(),
            acksIn = acksIn.sum(),
            acksOut = acksOut.sum(),
            malformedFrames = malformedFrames.sum(),
            unknownStreamFrames = unknownStreamFrames.sum(),
            overruns = overruns.sum(),
            keepAlivePings = keepAlivePings.sum(),
            keepAlivePongs = pongs,
        )
    }
}
