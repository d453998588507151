package dev.tether.mux

import dev.tether.core.InternalTetherApi
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.test.runCurrent
import java.util.concurrent.CopyOnWriteArrayList

/**
 * MuxSession.acceptInline (the tunnel's forward and serve): streams accepted as their SYN arrives, ACKed before the
 * acceptor sees them, on the reader; the accept queue is handed over when the acceptor is set and used again when
 * it is cleared.
 */
@OptIn(InternalTetherApi::class)
class InlineAcceptSpec : FunSpec({
    test(
        "a SYN is ACKed with the stream buffer size and handed to the acceptor at once, on the reader, without " +
            "accept()",
    ) {
        muxTest {
            val t = ScriptedTransport().apply { immediate = true }
            val s = session(
                t,
                client = true,
                MuxConfig {
                    streamBufferSize(4096)
                    peerCapacity(4096)
                },
            )
            val seen = CopyOnWriteArrayList<Long>()
            var ackedBeforeHandOver = false
            s.acceptInline { stream ->
                // The ACK is already queued when the acceptor runs: whatever it writes follows the accept.
                val first = t.sent.tryReceive().getOrNull()?.let { MuxFrame.decode(it) }
                ackedBeforeHandOver = first is MuxFrame.Ack && first.streamId == stream.rawId && first.credit == 4096L
                seen += stream.id
            }
            t.deliver(MuxFrame.Syn(0))
            runCurrent()
            seen shouldContainExactly listOf(0L)
            ackedBeforeHandOver shouldBe true
            t.immediateSends.get() shouldBe 1 // straight into the transport's queue: no coroutine
            s.streamCount shouldBe 1
            s.closeAndJoin()
        }
    }

    test("streams already waiting in the accept queue are accepted and handed over when the acceptor is set") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true)
            t.deliver(MuxFrame.Syn(0))
            t.deliver(MuxFrame.Syn(2))
            runCurrent()
            t.drainSent().shouldBeEmpty() // B/C: nothing is ACKed before someone accepts
            val seen = CopyOnWriteArrayList<Long>()
            s.acceptInline { seen += it.id }
            runCurrent()
            seen shouldContainExactly listOf(0L, 2L)
            t.drainSent().map { (it as MuxFrame.Ack).streamId } shouldContainExactly listOf(0, 2)
            s.closeAndJoin()
        }
    }

    test("clearing the acceptor sends new streams to accept() again; accept() waiters get nothing meanwhile") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true)
            val seen = CopyOnWriteArrayList<Long>()
            val waiting = async(start = CoroutineStart.UNDISPATCHED) { s.accept() }
            s.acceptInline { seen += it.id }
            t.deliver(MuxFrame.Syn(0))
            runCurrent()
            seen shouldContainExactly listOf(0L)
            waiting.isCompleted shouldBe false
            s.acceptInline(null)
            t.deliver(MuxFrame.Syn(2))
            runCurrent()
            waiting.await().id shouldBe 2L
            seen shouldContainExactly listOf(0L)
            s.closeAndJoin()
        }
    }

    test("an acceptor that throws gets the stream closed (FIN), and the session goes on") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true)
            s.acceptInline { throw IllegalStateException("boom") }
            t.deliver(MuxFrame.Syn(0))
            runCurrent()
            val sent = t.drainSent()
            sent[0].shouldBeInstanceOf<MuxFrame.Ack>()
            sent[1].shouldBeInstanceOf<MuxFrame.Fin>().streamId shouldBe 0
            s.isOpen shouldBe true
            s.closeAndJoin()
        }
    }

    test("streams handed over inline die with the session like any other") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true)
            val streams = CopyOnWriteArrayList<Stream>()
            s.acceptInline { streams += it }
            t.deliver(MuxFrame.Syn(0))
            runCurrent()
            s.closeAndJoin()
            runCurrent()
            streams.single().isClosed shouldBe true
        }
    }
})
