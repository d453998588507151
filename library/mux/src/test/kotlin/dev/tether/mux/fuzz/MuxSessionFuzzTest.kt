package dev.tether.mux.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxSession
import dev.tether.mux.ScriptedTransport
import dev.tether.mux.Stream
import dev.tether.mux.virtualClock
import kotlinx.coroutines.Job
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Timeout
import kotlin.time.Duration.Companion.seconds

/**
 * Fuzzes a server [MuxSession] with a scripted peer (docs/fuzzing.md): any sequence of frames (well-formed or not, for
 * any stream, at any time) while the session accepts streams, reads them to the end, writes to them and closes them.
 * Every failure a stream or the session reports must be a [MuxException]; a stream never yields more bytes than the
 * peer sent on it; when the peer's connection ends the session ends with a [MuxException] and every reader and
 * writer returns. An exception escaping any of the session's coroutines fails the test (runTest collects them).
 *
 * The session runs in virtual time with 64-byte windows, so short inputs reach overruns, accept deadlines and the
 * keepalive. Input, one operation after another (a missing byte reads as 0):
 * `op & 7`: 0 DAT (id, n = next & 0x7f, n bytes), 1 SYN (id), 2 ACK (id, 4 bytes of credit, little-endian), 3 FIN
 * (id), 4 raw message (n = next & 0x1f, n bytes), 5 wait (next × 250 ms), 6 write (stream index, next & 0x7f bytes),
 * 7 close (stream index). An id is `next & 7`.
 */
class MuxSessionFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(20)
    fun serverSession(input: ByteArray) = runTest(timeout = 15.seconds) {
        val transport = ScriptedTransport()
        val config = MuxConfig {
            clock(virtualClock())
            streamBufferSize(WINDOW)
            peerCapacity(WINDOW)
        }
        val session = MuxSession(transport, config, false, StandardTestDispatcher(testScheduler))
        val sentById = HashMap<Int, Long>()
        val readById = HashMap<Int, Long>()
        val accepted = ArrayList<Stream>()
        val workers = ArrayList<Job>()
        val acceptor = launch {
            while (true) {
                val stream = try {
                    session.accept()
                } catch (e: MuxException) {
                    break
                }
                accepted += stream
                workers += launch { readToEnd(stream, readById) }
            }
        }
        val ops = FuzzOps(input)
        while (ops.hasMore()) {
            val op = ops.next()
            when (op and 7) {
                0 -> {
                    val id = ops.next() and 7
                    val payload = ops.take(ops.next() and 0x7f)
                    if (payload.isNotEmpty()) sentById.merge(id, payload.size.toLong(), Long::plus)
                    transport.deliver(byteArrayOf(0, id.toByte(), 0, 0, 0) + payload)
                }

                1 -> transport.deliver(MuxFrame.Syn(ops.next() and 7))

                2 -> transport.deliver(byteArrayOf(2, (ops.next() and 7).toByte(), 0, 0, 0) + ops.take(4))

                3 -> transport.deliver(MuxFrame.Fin(ops.next() and 7))

                4 -> {
                    val raw = ops.take(ops.next() and 0x1f)
                    // a raw message may happen to be a well-formed DAT: count its bytes as sent
                    val frame = runCatching { MuxFrame.decode(raw) }.getOrNull()
                    if (frame is MuxFrame.Data) sentById.merge(frame.streamId, frame.length.toLong(), Long::plus)
                    transport.deliver(raw)
                }

                5 -> advanceTimeBy(ops.next() * 250L)

                6 -> accepted.pick(ops.next())?.let { stream ->
                    val bytes = ByteArray(ops.next() and 0x7f) { it.toByte() }
                    workers += launch {
                        try {
                            stream.write(bytes)
                        } catch (e: MuxException) {
                            // a failed or closed stream, or the session's end: typed, as it should be
                        }
                    }
                }

                7 -> accepted.pick(ops.next())?.close()
            }
            runCurrent()
        }
        transport.close()
        val reason = withTimeout(60_000) { session.awaitClosed() }
        check(reason is MuxException)
        withTimeout(60_000) {
            acceptor.join()
            workers.forEach { it.join() }
        }
        for ((id, read) in readById) {
            val sent = sentById[id] ?: 0
            check(read <= sent) { "stream $id yielded $read bytes, the peer sent $sent" }
        }
        session.closeAndJoin()
        acceptor.cancelAndJoin()
    }

    private suspend fun readToEnd(stream: Stream, readById: MutableMap<Int, Long>) {
        val buffer = ByteArray(48)
        try {
            while (true) {
                val n = stream.read(buffer)
                if (n < 0) return
                readById.merge(stream.id.toInt(), n.toLong(), Long::plus)
            }
        } catch (e: MuxException) {
            // overrun, keepalive expiry or the session's end: typed, as it should be
        }
    }

    private companion object {
        const val WINDOW = 64
    }
}
