package dev.tether.mux.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.mux.MuxException
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxSession
import dev.tether.mux.ScriptedTransport
import dev.tether.mux.virtualClock
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Timeout
import kotlin.time.Duration.Companion.seconds

/**
 * Fuzzes a [MuxSession] (server or client) fed every inbound message in a Netty buffer, as the Netty transports lend
 * them (docs/fuzzing.md): any sequence of frames (well-formed or not, for any stream, at any time) while streams are
 * accepted, opened, read in part or to the end, written, closed, and the session ends at any point. Each message is
 * in a buffer of its own kind: unpooled or pooled, heap or direct, starting past junk (non-zero reader index), a
 * slice, or a composite. What users rely on:
 * * every failure a stream or the session reports is a [MuxException] (anything else escaping fails the test);
 * * a DAT's bytes reach one stream whole, or none; a stream yields exactly the bytes of the DATs it took, in order,
 *   and, unless the peer overran its window, all of them by the time it is read to its end;
 * * once the session ended and everything is joined, every buffer handed over has been released exactly once
 *   (`refCnt` 0, and no release failed), whatever the session did with it.
 *
 * The session runs in virtual time with 64-byte windows. Input: a setup byte (`& 1` client session, `& 2` auto-tuned
 * windows, `& 4` an ACK per read, `& 8` at most 2 streams of the peer, `& 16` pings go unanswered), then one
 * operation after another (a missing byte reads as 0), `op % 12`:
 * 0 DAT (id, buffer kind, n = next & 0x7f payload bytes the harness makes up), 1 SYN (id, kind), 2 ACK (id, kind,
 * 4 bytes of credit, little-endian), 3 FIN (id, kind), 4 raw message (kind, n = next & 0x1f, n bytes), 5 wait
 * (next × 250 ms), 6 write (stream, next & 0x7f bytes), 7 close (stream), 8 read (stream, n = next & 0x7f: one read
 * of up to n bytes, 0 reads to the end), 9 open a stream, 10 end the session (next & 1: the peer drops the
 * connection, else [MuxSession.closeAndJoin]), 11 cancel a stream's pending read. An id is `next & 7`; a stream is
 * `next` modulo the streams so far; a buffer kind is `next` (see [BufferKinds]).
 */
class MuxBufferFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(20)
    fun session(input: ByteArray) = runTest(timeout = 15.seconds) {
        val ops = FuzzOps(input)
        val setup = ops.next()
        val transport = ScriptedTransport()
        transport.answerPings = setup and 16 == 0
        val config = fuzzConfig(setup, virtualClock())
        val session = MuxSession(transport, config, setup and 1 != 0, StandardTestDispatcher(testScheduler))
        val run = BufferRun(this, session, ScriptedPeer(transport))
        try {
            while (ops.hasMore()) run.step(ops)
            run.finish()
        } finally {
            session.closeAndJoin()
            run.stop()
        }
    }
}

/** The peer of [MuxBufferFuzzTest]: [ScriptedTransport] lends each message to the session in one buffer. */
private class ScriptedPeer(private val transport: ScriptedTransport) : FuzzPeer {
    private val buffers = BufferKinds()

    override val operations: Int get() = 12

    override fun deliver(message: ByteArray, kind: Int): ByteArray {
        transport.deliver(buffers.wrap(message, kind))
        return message
    }

    override fun sent(): List<MuxFrame> = transport.drainSent()

    override fun drop() = transport.close()

    override fun checkReleased(reason: MuxException) {
        transport.discardInbound()
        check(transport.lendFailures.isEmpty()) { "lending buffers failed: ${transport.lendFailures}" }
        buffers.checkAllReleased()
    }
}
