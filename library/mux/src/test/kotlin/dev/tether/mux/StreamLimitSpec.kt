package dev.tether.mux

import dev.tether.core.InternalTetherApi
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.test.currentTime
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.seconds

/**
 * MuxConfig.maxStreams: the peer's streams open at once are bounded, on the inline path (the tunnel's) and the
 * accept queue alike; a SYN over the bound is refused as upstream refuses a stream it will not take (FIN, no ACK),
 * counted, and the session goes on; a Tether opener refused that way fails at once with StreamRefusedException.
 */
@OptIn(InternalTetherApi::class)
class StreamLimitSpec : FunSpec({
    test("the default is 10 000 open streams of the peer, and a bound below 1 is refused") {
        MuxConfig.DEFAULT.maxStreams shouldBe 10_000
        MuxConfig { maxStreams(3) }.toBuilder().build().maxStreams shouldBe 3
        shouldThrow<IllegalArgumentException> { MuxConfig { maxStreams(0) } }
    }

    test("inline: a SYN over maxStreams is answered with FIN and no ACK, counted, and the session goes on") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true, MuxConfig { maxStreams(2) })
            val handed = CopyOnWriteArrayList<Stream>()
            s.acceptInline { handed += it }
            t.deliver(MuxFrame.Syn(0))
            t.deliver(MuxFrame.Syn(2))
            t.deliver(MuxFrame.Syn(4))
            runCurrent()
            handed.map { it.id } shouldContainExactly listOf(0L, 2L)
            val sent = t.drainSent()
            sent.map { it::class.simpleName to it.streamId } shouldContainExactly listOf(
                "Ack" to 0,
                "Ack" to 2,
                "Fin" to 4,
            )
            s.stats().streamsRefused shouldBe 1
            s.stats().incomingOpen shouldBe 2
            s.streamCount shouldBe 2 // the refused id is not kept
            s.isOpen shouldBe true

            // A DAT for the refused id is dropped like any frame for an unknown stream.
            t.deliver(MuxFrame.Data(4, byteArrayOf(1)))
            runCurrent()
            s.stats().unknownStreamFrames shouldBe 1

            // Stream 0 closed both ways frees a place at once (no wait for the sweep).
            handed[0].close()
            t.deliver(MuxFrame.Fin(0))
            runCurrent()
            s.stats().incomingOpen shouldBe 1
            t.deliver(MuxFrame.Syn(6))
            runCurrent()
            handed.map { it.id } shouldContainExactly listOf(0L, 2L, 6L)
            t.drainSent().map { it::class.simpleName to it.streamId } shouldContainExactly listOf(
                "Fin" to 0,
                "Ack" to 6,
            )
            s.stats().streamsRefused shouldBe 1
        }
    }

    test("a half-closed stream still counts: the peer may go on writing until its own FIN") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true, MuxConfig { maxStreams(1) })
            val handed = CopyOnWriteArrayList<Stream>()
            s.acceptInline { handed += it }
            t.deliver(MuxFrame.Syn(0))
            runCurrent()
            handed.single().close() // our FIN only
            t.deliver(MuxFrame.Syn(2))
            runCurrent()
            t.drainSent().last().shouldBeInstanceOf<MuxFrame.Fin>().streamId shouldBe 2
            s.stats().streamsRefused shouldBe 1
        }
    }

    test("queued: streams waiting for accept() count, and the refusal leaves the accept queue as it was") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = false, MuxConfig { maxStreams(1) })
            t.deliver(MuxFrame.Syn(1))
            t.deliver(MuxFrame.Syn(3))
            runCurrent()
            s.stats().acceptQueued shouldBe 1
            t.drainSent().map { it::class.simpleName to it.streamId } shouldContainExactly listOf("Fin" to 3)
            val accepted = async(start = CoroutineStart.UNDISPATCHED) { s.accept() }
            runCurrent()
            accepted.await().id shouldBe 1L
            (t.nextSent() as MuxFrame.Ack).streamId shouldBe 1
            s.stats().acceptQueued shouldBe 0
            s.stats().incomingOpen shouldBe 1
            s.stats().streamsAccepted shouldBe 1
        }
    }

    test("a session that ends kills its streams, which leave the count") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true, MuxConfig { maxStreams(5) })
            s.acceptInline { }
            t.deliver(MuxFrame.Syn(0))
            t.deliver(MuxFrame.Syn(2))
            runCurrent()
            s.stats().streamsOpen shouldBe 2
            s.closeAndJoin()
            s.stats().streamsOpen shouldBe 0
        }
    }

    test("the opener: a FIN instead of the first ACK fails open() at once with StreamRefusedException") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true)
            val opening = async(start = CoroutineStart.UNDISPATCHED) { runCatching { s.open() } }
            runCurrent()
            val syn = t.nextSent() as MuxFrame.Syn
            t.deliver(MuxFrame.Fin(syn.streamId))
            runCurrent()
            val refused = opening.await().exceptionOrNull().shouldBeInstanceOf<StreamRefusedException>()
            refused.streamId shouldBe syn.streamId.toLong()
            currentTime shouldBe 0L // not the 30 s accept deadline
            s.streamCount shouldBe 0
            s.stats().streamsOpened shouldBe 0
            s.isOpen shouldBe true
        }
    }

    test("two Tether sessions: the opener over the acceptor's bound is refused, and opens again once one closes") {
        val (client, server) = SessionPairs.pair(MuxConfig.DEFAULT, MuxConfig { maxStreams(1) })
        try {
            withTimeout(10.seconds) {
                val accepting = async { server.accept() } // open() returns once accept() has ACKed
                val first = client.open()
                val peer = accepting.await()
                shouldThrow<StreamRefusedException> { client.open() }
                server.stats().streamsRefused shouldBe 1
                client.stats().streamsOpened shouldBe 1

                first.close()
                peer.read(ByteArray(1)) shouldBe -1 // our FIN arrived
                peer.close()
                first.read(ByteArray(1)) shouldBe -1 // and theirs: the acceptor let the stream go before its FIN
                server.stats().incomingOpen shouldBe 0
                val acceptingAgain = async { server.accept() }
                val again = client.open()
                acceptingAgain.await().id shouldBe again.id
            }
        } finally {
            client.close()
            server.close()
        }
    }
})
