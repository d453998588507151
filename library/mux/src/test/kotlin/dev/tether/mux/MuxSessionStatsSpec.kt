package dev.tether.mux

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import java.time.Duration

/** MuxSession.stats(): what a session counts, frame by frame, against a scripted peer. */
class MuxSessionStatsSpec : FunSpec({
    test("streams, frames, stream bytes and ACKs both ways") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true)
            s.stats() shouldBe MuxSessionStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // nothing ran yet

            val opened = openAccepted(s, t, credit = 1024) // out: SYN; in: ACK (no extra grant at equal sizes)
            opened.write(ByteArray(300)) // out: DAT 300
            runCurrent()
            t.nextSent() as MuxFrame.Data
            val accepted = acceptFromPeer(s, t, 0) // in: SYN; out: ACK
            t.deliver(MuxFrame.Data(0, ByteArray(700))) // in: DAT 700
            t.deliver(MuxFrame.Ack(opened.rawId, 300)) // in: ACK (credit)
            runCurrent()
            accepted.read(ByteArray(1024)) shouldBe 700 // out: ACK 700 (over half the window)
            runCurrent()

            val stats = s.stats()
            stats.streamsOpen shouldBe 2
            stats.incomingOpen shouldBe 1
            stats.streamsOpened shouldBe 1
            stats.streamsAccepted shouldBe 1
            stats.framesOut shouldBe 4 // SYN, DAT, ACK (accept), ACK (credit)
            stats.framesIn shouldBe 4 // ACK (accept), SYN, DAT, ACK (credit)
            stats.bytesOut shouldBe 300
            stats.bytesIn shouldBe 700
            stats.acksOut shouldBe 2
            stats.acksIn shouldBe 2
        }
    }

    test("dropped frames by why: malformed, for an unknown stream, over the window") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = true)
            val stream = acceptFromPeer(s, t, 0)
            t.deliver(byteArrayOf(0x09, 0, 0, 0, 0)) // type 9: no such frame
            t.deliver(byteArrayOf(1, 2)) // shorter than a header
            t.deliver(MuxFrame.Fin(42))
            t.deliver(MuxFrame.Data(0, ByteArray(stream.receiveCapacity + 1)))
            runCurrent()
            val stats = s.stats()
            stats.malformedFrames shouldBe 2
            stats.unknownStreamFrames shouldBe 1
            stats.overruns shouldBe 1
            stats.framesIn shouldBe 3 // SYN, FIN, DAT decoded; the malformed two are not frames
        }
    }

    test("keepalive pings sent and pongs received, in virtual time") {
        muxTest {
            val t = ScriptedTransport()
            val s = session(t, client = false, MuxConfig { keepAliveInterval(Duration.ofSeconds(20)) })
            runCurrent()
            advanceTimeBy(40_001)
            runCurrent()
            s.stats().keepAlivePings shouldBe 3
            s.stats().keepAlivePongs shouldBe 3
            t.answerPings = false
            advanceTimeBy(20_000)
            runCurrent()
            s.stats().keepAlivePings shouldBe 4
            s.stats().keepAlivePongs shouldBe 3
        }
    }
})
