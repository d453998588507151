package dev.tether.mux.fuzz

import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxProtocol
import dev.tether.mux.MuxSession
import dev.tether.mux.NoCapacityException
import dev.tether.mux.Stream
import io.netty.buffer.ByteBuf
import io.netty.buffer.PooledByteBufAllocator
import io.netty.buffer.Unpooled
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream
import java.time.Clock
import java.time.Duration

/** Receive windows of the fuzzed sessions: small, so short inputs reach overruns. */
internal const val FUZZ_WINDOW = 64

/**
 * The configuration of a fuzzed session from the input's [setup] byte: `& 2` auto-tuned windows, `& 4` an ACK per
 * read, `& 8` at most 2 streams of the peer; 64-byte windows and a 5 s accept deadline on [clock].
 */
internal fun fuzzConfig(setup: Int, clock: Clock): MuxConfig = MuxConfig {
    clock(clock)
    streamBufferSize(FUZZ_WINDOW)
    peerCapacity(FUZZ_WINDOW)
    streamAcceptDeadline(Duration.ofSeconds(5))
    if (setup and 2 != 0) autoTuneMaxWindow(4 * FUZZ_WINDOW)
    if (setup and 4 != 0) ackEveryRead(true)
    if (setup and 8 != 0) maxStreams(2)
}

/** The other end of a fuzzed session's WebSocket, as [BufferRun] drives it. */
internal interface FuzzPeer {
    /** How many operations [BufferRun] reads an input as: 12, or 13 with [extra]. */
    val operations: Int

    /**
     * Sends one binary message, in buffers of the kind `kind` picks (see [BufferKinds.wrap]); returns the whole
     * binary message the session gets from it (null if none, or [message] after what the peer sent before it).
     */
    fun deliver(message: ByteArray, kind: Int): ByteArray?

    /** Something only this peer does (its bytes come from [ops]); returns a whole binary message as [deliver] does. */
    fun extra(ops: FuzzOps): ByteArray? = null

    /** The frames the session sent since the last call. */
    fun sent(): List<MuxFrame>

    /** The connection goes. */
    fun drop()

    /**
     * Once everything ended (the session for [reason]): nothing the peer handed over is held any more, and nothing
     * was released twice.
     */
    fun checkReleased(reason: MuxException)
}

/**
 * One fuzz input's run against a [session] whose inbound messages come from [peer]: the operations of the input
 * (see [MuxBufferFuzzTest]), the harness's view of the streams, and the checks.
 */
internal class BufferRun(
    private val scope: TestScope,
    private val session: MuxSession,
    private val peer: FuzzPeer,
) {
    private val tracked = ArrayList<Tracked>()
    private val workers = ArrayList<Job>()

    /**
     * DATs sent on the id of a stream this side is opening (its SYN went out, it is not tracked yet): the
     * stream may take them before the peer's ACK, and they are its first bytes once [MuxSession.open] returns.
     */
    private val opening = HashMap<Int, ArrayList<ByteArray>>()
    private var dats = 0

    init {
        workers += scope.launch {
            while (true) {
                val stream = try {
                    session.accept()
                } catch (e: MuxException) {
                    break
                }
                tracked += Tracked(stream)
            }
        }
    }

    fun step(ops: FuzzOps) {
        val before = tracked.map { it.arrived() }
        // The one whole binary message the session gets in this step, if any.
        var delivered: ByteArray? = null
        when (ops.next() % peer.operations) {
            0 -> {
                val id = ops.next() and 7
                val kind = ops.next()
                val payload = ByteArray(ops.next() and 0x7f) { ((dats * 31 + it * 7 + 1) and 0xff).toByte() }
                dats++
                delivered = peer.deliver(byteArrayOf(0, id.toByte(), 0, 0, 0) + payload, kind)
            }

            1 -> delivered = frame(ops) { MuxFrame.Syn(it).encode() }

            2 -> delivered = frame(ops) { byteArrayOf(2, it.toByte(), 0, 0, 0) + ops.take(4) }

            3 -> delivered = frame(ops) { MuxFrame.Fin(it).encode() }

            4 -> {
                val kind = ops.next()
                delivered = peer.deliver(ops.take(ops.next() and 0x1f), kind)
            }

            5 -> scope.advanceTimeBy(ops.next() * 250L)

            6 -> tracked.pick(ops.next())?.let { t ->
                val bytes = ByteArray(ops.next() and 0x7f) { it.toByte() }
                workers += scope.launch {
                    try {
                        t.stream.write(bytes)
                    } catch (e: MuxException) {
                        // a closed or failed stream, or the session's end: typed, as it should be
                    }
                }
            }

            7 -> tracked.pick(ops.next())?.stream?.close()

            8 -> tracked.pick(ops.next())?.let { t ->
                val n = ops.next() and 0x7f
                t.permit(if (n == 0) TO_THE_END else n)
            }

            9 -> workers += scope.launch {
                val stream = try {
                    session.open()
                } catch (e: MuxException) {
                    return@launch // refused, timed out or the session's end: typed
                }
                tracked += Tracked(stream)
            }

            10 -> if (ops.next() and 1 == 0) {
                peer.drop()
            } else {
                workers += scope.launch { session.closeAndJoin() }
            }

            11 -> tracked.pick(ops.next())?.restartReader()

            12 -> delivered = peer.extra(ops)
        }
        settle()
        // A message may happen to be a well-formed DAT, whatever made it.
        val dat = delivered?.let { runCatching { MuxFrame.decode(it) }.getOrNull() } as? MuxFrame.Data
        account(before, dat?.let { it.streamId to it.payload() })
    }

    /** Runs what is ready (the session, the harness's coroutines, the peer's side) and notes the SYNs sent. */
    private fun settle() {
        repeat(3) {
            scope.runCurrent()
            for (sent in peer.sent()) if (sent is MuxFrame.Syn) opening[sent.streamId] = ArrayList()
        }
    }

    private inline fun frame(ops: FuzzOps, encode: (Int) -> ByteArray): ByteArray? {
        val id = ops.next() and 7
        val kind = ops.next()
        return peer.deliver(encode(id), kind)
    }

    /**
     * Where this step's DAT went: to one tracked stream whole (its bytes arrived there: read or buffered), to a
     * stream being opened, or nowhere; and streams that became known in this step hold whole DATs sent since
     * their SYN.
     */
    private fun account(before: List<Long>, dat: Pair<Int, ByteArray>?) {
        var taken = false
        for (i in before.indices) {
            val t = tracked[i]
            val delta = t.arrived() - before[i]
            if (delta == 0L) continue
            check(dat != null && !taken && delta == dat.second.size.toLong() && t.stream.rawId == dat.first) {
                val from = dat?.let { "a DAT(${it.first}) of ${it.second.size} bytes" } ?: "no DAT"
                "stream ${t.stream.id} gained $delta bytes from $from"
            }
            t.expected.write(dat.second)
            taken = true
        }
        if (!taken && dat != null) opening[dat.first]?.add(dat.second)
        for (t in tracked.subList(before.size, tracked.size)) {
            val arrived = t.arrived()
            val sent = opening.remove(t.stream.rawId).orEmpty()
            if (arrived == 0L) continue
            var whole = 0L
            for (payload in sent) {
                if (whole == arrived) break
                whole += payload.size
                t.expected.write(payload)
            }
            check(whole == arrived) { "new stream ${t.stream.id} holds $arrived bytes, not whole DATs sent to it" }
        }
    }

    /** The peer drops the connection; every stream is read to its end; then the checks. */
    suspend fun finish() {
        for (t in tracked) t.permit(TO_THE_END)
        settle()
        peer.drop()
        settle()
        val reason = withTimeout(60_000) { session.awaitClosed() }
        settle()
        // Whatever the streams hold now is in arrays of their own: read it all.
        for (t in tracked) t.permit(TO_THE_END)
        settle()
        for (t in tracked) t.check()
        session.closeAndJoin()
        stop()
        peer.checkReleased(reason)
    }

    /** Ends every coroutine of the harness (readers wait for permits, writers for credit). */
    fun stop() {
        for (t in tracked) t.stopReader()
        for (w in workers) w.cancel()
    }

    /** A stream the harness holds, with a reader that reads when it gets a permit. */
    private inner class Tracked(val stream: Stream) {
        /** What reads yielded. */
        val read = ByteArrayOutputStream()

        /** The bytes of the DATs the stream took, in order. */
        val expected = ByteArrayOutputStream()
        private var overrun = false
        private val permits = Channel<Int>(Channel.UNLIMITED)
        private var reader = startReader()

        /** Bytes that reached the stream: read or still buffered (a read moves bytes from one to the other). */
        fun arrived(): Long = read.size().toLong() + stream.bufferedBytes

        fun permit(n: Int) {
            permits.trySend(n)
        }

        fun restartReader() {
            reader.cancel()
            reader = startReader()
        }

        fun stopReader() = reader.cancel()

        private fun startReader(): Job = scope.launch {
            val buffer = ByteArray(MuxProtocol.HEADER_SIZE + 0x7f)
            for (n in permits) {
                while (true) {
                    val got = try {
                        stream.read(buffer, 0, minOf(n, buffer.size))
                    } catch (e: MuxException) {
                        if (e is NoCapacityException) overrun = true
                        break
                    }
                    if (got < 0) break
                    read.write(buffer, 0, got)
                    if (n != TO_THE_END) break
                }
            }
        }

        fun check() {
            val got = read.toByteArray()
            val sent = expected.toByteArray()
            val prefix = got.size <= sent.size && got.contentEquals(sent.copyOf(got.size))
            check(prefix) { "stream ${stream.id} yielded ${got.size} bytes that are not the DATs it took" }
            // An overrun fails reads at once: what was buffered then is never read.
            check(overrun || got.size == sent.size) {
                "stream ${stream.id} read to its end yielded ${got.size} of the ${sent.size} bytes it took"
            }
        }
    }
}

private const val TO_THE_END = Int.MAX_VALUE

/**
 * The buffers a fuzz test hands over as inbound messages, each of a kind the Netty transports may lend, and every
 * buffer allocated for them, so a test can check that all were released.
 */
internal class BufferKinds {
    private val allocated = ArrayList<ByteBuf>()
    private val pooled = PooledByteBufAllocator.DEFAULT

    /**
     * [message] in a new buffer of kind `kind & 7`: 0 unpooled heap, 1 unpooled direct, 2 and 3 pooled heap and
     * direct with junk before (a non-zero reader index) and after, 4 a retained slice of a pooled buffer, 5 a slice
     * sharing its pooled parent's count, 6 and 7 composites of two and three parts (pooled and unpooled); `kind >> 3`
     * moves the cuts.
     */
    fun wrap(message: ByteArray, kind: Int): ByteBuf {
        val cut = if (message.isEmpty()) 0 else (kind shr 3) % (message.size + 1)
        return when (kind and 7) {
            0 -> keep(Unpooled.buffer(message.size)).writeBytes(message)

            1 -> keep(Unpooled.directBuffer(message.size)).writeBytes(message)

            2 -> padded(keep(pooled.heapBuffer()), message, cut)

            3 -> padded(keep(pooled.directBuffer()), message, cut)

            4 -> {
                val parent = padded(keep(pooled.buffer()), message, cut)
                keep(parent.retainedSlice()).also { parent.release() }
            }

            5 -> padded(keep(pooled.directBuffer()), message, cut).slice()

            6 -> keep(Unpooled.compositeBuffer()).addComponents(
                true,
                part(pooled.directBuffer(), message, 0, cut),
                part(Unpooled.buffer(), message, cut, message.size),
            )

            else -> {
                val second = minOf(message.size, cut + MuxProtocol.HEADER_SIZE)
                keep(pooled.compositeBuffer()).addComponents(
                    true,
                    part(Unpooled.directBuffer(), message, 0, cut),
                    part(pooled.heapBuffer(), message, cut, second),
                    part(pooled.directBuffer(), message, second, message.size),
                )
            }
        }
    }

    /** Every buffer is released (count 0): nothing leaked, and an over-release would have thrown where it happened. */
    fun checkAllReleased() {
        val held = allocated.filter { it.refCnt() != 0 }
        check(held.isEmpty()) { "${held.size} of ${allocated.size} buffers not released: $held" }
    }

    private fun <T : ByteBuf> keep(buffer: T): T = buffer.also { allocated += it }

    private fun part(buffer: ByteBuf, message: ByteArray, from: Int, to: Int): ByteBuf =
        keep(buffer).writeBytes(message, from, to - from)

    /** [message] between junk bytes in [buffer], whose readable bytes are exactly the message. */
    private fun padded(buffer: ByteBuf, message: ByteArray, junk: Int): ByteBuf {
        val start = 1 + junk % 7
        buffer.writeBytes(JUNK, 0, start).writeBytes(message).writeBytes(JUNK)
        return buffer.setIndex(start, start + message.size)
    }

    private companion object {
        val JUNK = ByteArray(8) { 0x5a }
    }
}
