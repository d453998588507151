package dev.tether.mux.fuzz

import dev.tether.mux.AcceptTimeoutException
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxSession
import dev.tether.mux.ScriptedTransport
import dev.tether.mux.StreamRefusedException
import dev.tether.mux.virtualClock
import io.netty.buffer.ByteBuf
import io.netty.buffer.PooledByteBufAllocator
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** What fuzzing found in the wsmux session, pinned as plain unit tests (the inputs are also in the seed corpus). */
class MuxFuzzFindingsTest {
    @Test
    fun `DATs the peer sent before refusing a stream are released when the open fails`() = runTest {
        // MuxBufferFuzzTestInputs/session/client-dat-before-ack-then-refused: the buffer stayed retained for ever
        val (session, transport) = clientSession()
        // Closed whatever happens: a live session's timers would keep runTest's virtual time running for ever.
        try {
            val opening = async(start = CoroutineStart.UNDISPATCHED) { runCatching { session.open() } }
            runCurrent()
            val id = (transport.nextSent() as MuxFrame.Syn).streamId
            val dat = datBuffer(id, 10)
            transport.deliver(dat)
            transport.deliver(MuxFrame.Fin(id))
            runCurrent()
            assertTrue(opening.await().exceptionOrNull() is StreamRefusedException)
            assertEquals(0, dat.refCnt(), "the DAT's buffer is released while the session goes on")
            assertTrue(session.isOpen)
        } finally {
            session.closeAndJoin()
        }
    }

    @Test
    fun `DATs the peer sent before an open timed out are released, and so are later ones for that stream`() = runTest {
        // MuxBufferFuzzTestInputs/session/client-dat-before-ack-then-timeout
        val (session, transport) = clientSession()
        try {
            val opening = async(start = CoroutineStart.UNDISPATCHED) { runCatching { session.open() } }
            runCurrent()
            val id = (transport.nextSent() as MuxFrame.Syn).streamId
            val early = datBuffer(id, 10)
            transport.deliver(early)
            runCurrent()
            advanceTimeBy(ACCEPT_DEADLINE_MILLIS + 1)
            assertTrue(opening.await().exceptionOrNull() is AcceptTimeoutException)
            val late = datBuffer(id, 10)
            transport.deliver(late)
            runCurrent()
            assertEquals(0, early.refCnt(), "a DAT before the timeout")
            assertEquals(0, late.refCnt(), "a DAT after it (an unknown stream by then)")
        } finally {
            session.closeAndJoin()
        }
    }

    private fun TestScope.clientSession(): Pair<MuxSession, ScriptedTransport> {
        val transport = ScriptedTransport()
        val config = MuxConfig {
            clock(virtualClock())
            streamAcceptDeadline(java.time.Duration.ofMillis(ACCEPT_DEADLINE_MILLIS))
        }
        return MuxSession(transport, config, true, StandardTestDispatcher(testScheduler)) to transport
    }

    /** A DAT of [length] bytes for stream [id] in a pooled buffer, as the Netty transports lend one. */
    private fun datBuffer(id: Int, length: Int): ByteBuf =
        PooledByteBufAllocator.DEFAULT.buffer().writeBytes(MuxFrame.Data(id, ByteArray(length) { 7 }).encode())

    private companion object {
        const val ACCEPT_DEADLINE_MILLIS = 5_000L
    }
}
