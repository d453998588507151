package dev.tether.mux

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.coroutines.CoroutineContext
import kotlin.time.Duration.Companion.seconds

class StreamSpec : FunSpec({
    context("flow control (§5)") {
        test("an acceptor's first send window is min(own capacity, the opener's assumed capacity): 1024 by default") {
            muxTest {
                val cases = listOf(
                    Triple(1024, 1024, 1024L),
                    Triple(4096, 1024, 1024L),
                    Triple(65536, 1024, 1024L),
                    Triple(100, 1024, 100L),
                    Triple(65536, 4096, 4096L),
                    Triple(4096, 4096, 4096L),
                    Triple(1024, 4096, 1024L),
                    Triple(65536, 65536, 65536L),
                )
                for ((capacity, peer, window) in cases) {
                    val t = ScriptedTransport()
                    val s = session(
                        t,
                        client = true,
                        MuxConfig {
                            streamBufferSize(capacity)
                            peerCapacity(peer)
                        },
                    )
                    acceptFromPeer(s, t, 0).sendWindow shouldBe window
                    s.closeAndJoin()
                }
                MuxConfig.DEFAULT.peerCapacity shouldBe 1024
            }
        }
        test("a write sends DATs no bigger than the credit, blocks at zero, and resumes by additive ACKs") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1000)
                val data = ByteArray(2500) { it.toByte() }
                val writing = async(start = CoroutineStart.UNDISPATCHED) { stream.write(data) }
                runCurrent()
                t.drainSent().map { (it as MuxFrame.Data).length } shouldContainExactly listOf(1000)
                writing.isCompleted shouldBe false
                stream.sendWindow shouldBe 0L
                t.deliver(MuxFrame.Ack(stream.rawId, 300))
                t.deliver(MuxFrame.Ack(stream.rawId, 400))
                runCurrent()
                // Credits add up: 300 + 400, sent as one or two DATs but never beyond 700.
                t.drainSent().sumOf { (it as MuxFrame.Data).length } shouldBe 700
                writing.isCompleted shouldBe false
                t.deliver(MuxFrame.Ack(stream.rawId, 5000))
                runCurrent()
                writing.await()
                val last = t.drainSent().map { it as MuxFrame.Data }
                last.sumOf { it.length } shouldBe 800
                stream.sendWindow shouldBe 4200L
                last.last().payload().last() shouldBe data.last()
            }
        }
        test("a write bigger than MAX_DATA_PAYLOAD goes out as DATs of at most 16 KiB, in order, within the credit") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 50_000)
                val data = ByteArray(40_000) { (it % 251).toByte() }
                stream.write(data)
                val dats = t.drainSent().map { it as MuxFrame.Data }
                dats.map { it.length } shouldContainExactly listOf(16_384, 16_384, 7_232)
                dats.flatMap { it.payload().toList() } shouldContainExactly data.toList()
                stream.sendWindow shouldBe 10_000L
                // A credit smaller than the cap still bounds each DAT.
                val rest = ByteArray(20_000) { 1 }
                val writing = async(start = CoroutineStart.UNDISPATCHED) { stream.write(rest) }
                runCurrent()
                t.drainSent().map { (it as MuxFrame.Data).length } shouldContainExactly listOf(10_000)
                t.deliver(MuxFrame.Ack(stream.rawId, 30_000))
                runCurrent()
                writing.await()
                t.drainSent().map { (it as MuxFrame.Data).length } shouldContainExactly listOf(10_000)
                MuxProtocol.MAX_DATA_PAYLOAD shouldBe 16_384
            }
        }
        test("with ackEveryRead, one ACK per application read, for exactly the bytes returned (upstream's pacing)") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(
                    t,
                    client = true,
                    MuxConfig {
                        clock(virtualClock())
                        ackEveryRead(true)
                    },
                )
                val stream = openAccepted(s, t, 1024)
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(300) { 7 }))
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(50) { 8 }))
                runCurrent()
                t.drainSent().shouldBeEmpty() // arrival alone grants nothing
                val buf = ByteArray(120)
                stream.read(buf) shouldBe 120
                stream.read(buf) shouldBe 120
                stream.read(buf) shouldBe 110 // across the two DATs
                runCurrent()
                t.drainSent().map { (it as MuxFrame.Ack).credit } shouldContainExactly listOf(120L, 120L, 110L)
                stream.read(ByteArray(0)) shouldBe 0
                runCurrent()
                t.drainSent().shouldBeEmpty()
                s.closeAndJoin()
            }
        }
        test("by default, credit is returned once half the window has been read, in one ACK for the reads so far") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(300) { 7 }))
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(50) { 8 }))
                runCurrent()
                val buf = ByteArray(120)
                stream.read(buf) shouldBe 120
                stream.read(buf) shouldBe 120
                stream.read(buf) shouldBe 110
                runCurrent()
                t.drainSent().shouldBeEmpty() // 350 read: the peer still has 674 of credit
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(200) { 9 }))
                runCurrent()
                stream.read(ByteArray(1024)) shouldBe 200
                runCurrent()
                t.drainSent().map { (it as MuxFrame.Ack).credit } shouldContainExactly listOf(550L) // 550 >= 512
                s.closeAndJoin()
            }
        }
        test("a window of four full DATs or more returns its credit by quarters, so a bulk sender keeps sending") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 64 * 1024L)
                stream.receiveCapacity shouldBe 64 * 1024
                val dat = MuxProtocol.MAX_DATA_PAYLOAD
                repeat(2) { t.deliver(MuxFrame.Data(stream.rawId, ByteArray(dat))) }
                runCurrent()
                val buf = ByteArray(dat)
                stream.read(buf, 0, dat - 1) shouldBe dat - 1
                runCurrent()
                t.drainSent().shouldBeEmpty() // under a quarter read: the peer still holds 48 KiB of credit
                stream.read(buf, 0, 1) shouldBe 1
                runCurrent()
                t.drainSent().map { (it as MuxFrame.Ack).credit } shouldContainExactly listOf(dat.toLong())
                s.closeAndJoin()
            }
        }
        test("a read returns its bytes without waiting for room to send the credit; the credit follows with room") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                val gate = CompletableDeferred<Unit>()
                t.sendGate = gate
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(1024) { 5 })) // the whole window: credit is due
                runCurrent()
                // The reader is cancelled as soon as its read returns: a read suspended in sending the credit would
                // throw instead, and the bytes it took would be lost to everyone.
                val reader = launch(start = CoroutineStart.UNDISPATCHED) {
                    val n = stream.read(ByteArray(2048))
                    cancel()
                    n shouldBe 1024
                    stream.bufferedBytes shouldBe 0
                }
                reader.isCompleted shouldBe true
                t.drainSent().shouldBeEmpty()
                gate.complete(Unit)
                runCurrent()
                t.drainSent().map { (it as MuxFrame.Ack).credit } shouldContainExactly listOf(1024L)
                s.closeAndJoin()
            }
        }
        test("an ACK does not wake a reader that waits for data, nor a DAT a writer that waits for credit") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 100)
                val reads = CountingDispatcher(StandardTestDispatcher(testScheduler))
                val reading = launch(reads) { stream.read(ByteArray(10)) }
                runCurrent()
                val readerStart = reads.dispatches
                t.deliver(MuxFrame.Ack(stream.rawId, 50)) // credit only: nothing for the reader
                runCurrent()
                reads.dispatches shouldBe readerStart
                reading.isActive shouldBe true

                val writes = CountingDispatcher(StandardTestDispatcher(testScheduler))
                val writing = launch(writes) { stream.write(ByteArray(300)) } // 150 of credit: waits for more
                runCurrent()
                (t.drainSent().sumOf { (it as MuxFrame.Data).length }) shouldBe 150
                val writerStart = writes.dispatches
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(5))) // data only: wakes the reader, not the writer
                runCurrent()
                reading.isCompleted shouldBe true
                writes.dispatches shouldBe writerStart
                writing.isActive shouldBe true
                t.deliver(MuxFrame.Ack(stream.rawId, 150))
                runCurrent()
                writing.isCompleted shouldBe true
                s.closeAndJoin()
            }
        }
        test("a peer that has spent its whole credit gets it back on the next read, however small") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(300)))
                runCurrent()
                stream.read(ByteArray(1024)) shouldBe 300
                runCurrent()
                t.drainSent().shouldBeEmpty()
                // 300 held back + 724 buffered: the peer's window is zero and it waits for credit.
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(724)))
                runCurrent()
                stream.read(ByteArray(10)) shouldBe 10
                runCurrent()
                t.drainSent().map { (it as MuxFrame.Ack).credit } shouldContainExactly listOf(310L)
                s.closeAndJoin()
            }
        }
        test("a reader that keeps reading never leaves a peer that writes as much as its credit allows stalled") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                // A scripted sender that always sends its whole credit in 100-byte DATs (the last one smaller).
                var credit = 1024L
                var delivered = 0L
                var read = 0L
                val buf = ByteArray(64)
                repeat(2_000) {
                    while (credit > 0) {
                        val n = minOf(credit, 100L).toInt()
                        t.deliver(MuxFrame.Data(stream.rawId, ByteArray(n)))
                        credit -= n
                        delivered += n
                    }
                    runCurrent()
                    read += withTimeout(5.seconds) { stream.read(buf) } // virtual time: a stall fails here
                    runCurrent()
                    for (frame in t.drainSent()) credit += (frame as MuxFrame.Ack).credit
                }
                read shouldBe 2_000L * 64
                // Everything read was returned as credit except less than half a window.
                val returned = credit + delivered - 1024
                (read - returned in 0L until 512L) shouldBe true
                s.closeAndJoin()
            }
        }
        test("an overrun drops the DAT and makes the stream fail with a sticky NoCapacity; the session goes on") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = false) // acceptor capacity 1024
                val stream = acceptFromPeer(s, t, 1)
                val other = acceptFromPeer(s, t, 3)
                t.deliver(MuxFrame.Data(1, ByteArray(1000)))
                t.deliver(MuxFrame.Data(1, ByteArray(25))) // 1025 > 1024
                t.deliver(MuxFrame.Data(3, ByteArray(1024)))
                runCurrent()
                stream.bufferedBytes shouldBe 1000
                val e = shouldThrow<NoCapacityException> { stream.read(ByteArray(10)) }
                e.streamId shouldBe 1L
                e.capacity shouldBe 1024
                shouldThrow<NoCapacityException> { stream.read(ByteArray(10)) }
                shouldThrow<NoCapacityException> { stream.write(byteArrayOf(1)) }
                other.read(ByteArray(2000)) shouldBe 1024
                s.isOpen shouldBe true
                s.closeAndJoin()
            }
        }
        test("an opener adopts the acceptor's larger capacity, so the acceptor's assumed window is honoured") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true) // own capacity 1024
                val stream = openAccepted(s, t, 4096)
                stream.receiveCapacity shouldBe 4096
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(4096)))
                runCurrent()
                stream.read(ByteArray(8192)) shouldBe 4096
                s.closeAndJoin()
            }
        }
    }

    context("opener's window grant at accept") {
        test("an opener grants the rest of its capacity at once, so a Tether acceptor is not held to its first 1024") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true, MuxConfig { streamBufferSize(65_536) })
                val stream = openAccepted(s, t, 65_536) // checks the extra ACK on the wire
                stream.acceptGrant shouldBe 65_536L - 1_024L
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(65_536))) // the acceptor's 1024 + the grant
                runCurrent()
                stream.bufferedBytes shouldBe 65_536
                s.closeAndJoin()
            }
        }
        test("a Go acceptor announcing 1024 (whclient's first session) is topped up to our capacity, no further") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true, MuxConfig { streamBufferSize(4_096) })
                val stream = openAccepted(s, t, 1_024)
                stream.acceptGrant shouldBe 3_072L
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(4_096)))
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(1)))
                runCurrent()
                stream.bufferedBytes shouldBe 4_096
                shouldThrow<NoCapacityException> { stream.read(ByteArray(10)) }
                s.closeAndJoin()
            }
        }
        test("a Go acceptor whose own window is above the assumed one may overshoot by that much without an overrun") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(
                    t,
                    client = true,
                    MuxConfig {
                        streamBufferSize(4_096)
                        peerCapacity(4_096)
                    },
                )
                val stream = openAccepted(s, t, 8_192) // Go starts sending with 8192; Tether would with 4096
                stream.receiveCapacity shouldBe 8_192
                stream.acceptGrant shouldBe 4_096L
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(8_192 + 4_096)))
                runCurrent()
                stream.bufferedBytes shouldBe 12_288
                t.deliver(MuxFrame.Data(stream.rawId, ByteArray(1)))
                runCurrent()
                shouldThrow<NoCapacityException> { stream.read(ByteArray(10)) }
                s.closeAndJoin()
            }
        }
        test(
            "no grant when the acceptor's first window already covers our capacity (the proxy facing a tunnel " +
                "client)",
        ) {
            muxTest {
                val t = ScriptedTransport()
                val s = session(
                    t,
                    client = false,
                    MuxConfig {
                        streamBufferSize(4_096)
                        peerCapacity(4_096)
                    },
                )
                val stream = openAccepted(s, t, 4_096)
                stream.acceptGrant shouldBe 0L
                runCurrent()
                t.drainSent().shouldBeEmpty()
                s.closeAndJoin()
            }
        }
        test("no grant when our capacity is what the acceptor assumes") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true, MuxConfig { streamBufferSize(1_024) })
                val stream = openAccepted(s, t, 1_024)
                stream.acceptGrant shouldBe 0L
                runCurrent()
                t.drainSent().shouldBeEmpty()
                s.closeAndJoin()
            }
        }
    }

    context("auto-tuned receive window") {
        test("a stream whose peer fills the window doubles its capacity up to the bound, granted as extra credit") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(
                    t,
                    client = false,
                    MuxConfig {
                        streamBufferSize(1024)
                        autoTuneMaxWindow(3000)
                    },
                )
                val stream = acceptFromPeer(s, t, 1)
                val credits = mutableListOf<Long>()
                for (size in listOf(1024, 2048, 3000, 3000)) {
                    t.deliver(MuxFrame.Data(1, ByteArray(size))) // exactly the window the peer was granted
                    runCurrent()
                    stream.read(ByteArray(size)) shouldBe size
                    runCurrent()
                    credits += (t.nextSent() as MuxFrame.Ack).credit
                }
                // 1024 read + 1024 growth, 2048 + 952 (bound 3000), then plain credit.
                credits shouldContainExactly listOf(2048L, 3000L, 3000L, 3000L)
                stream.receiveCapacity shouldBe 3000
            }
        }
        test("a stream that is not throughput-bound keeps its window; auto-tuning is off by default") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(
                    t,
                    client = false,
                    MuxConfig {
                        streamBufferSize(1024)
                        autoTuneMaxWindow(8192)
                    },
                )
                val stream = acceptFromPeer(s, t, 1)
                t.deliver(MuxFrame.Data(1, ByteArray(600)))
                runCurrent()
                stream.read(ByteArray(1024)) shouldBe 600
                runCurrent()
                (t.nextSent() as MuxFrame.Ack).credit shouldBe 600L
                stream.receiveCapacity shouldBe 1024
                val t2 = ScriptedTransport()
                val plain = acceptFromPeer(session(t2, client = false), t2, 3)
                t2.deliver(MuxFrame.Data(3, ByteArray(1024))) // full window, but tuning is off by default
                runCurrent()
                plain.read(ByteArray(1024)) shouldBe 1024
                runCurrent()
                (t2.nextSent() as MuxFrame.Ack).credit shouldBe 1024L
                plain.receiveCapacity shouldBe 1024
            }
        }
    }

    context("FIN and close (§6)") {
        test("close sends FIN once; writes then fail with BrokenPipe, reads go on until the peer's FIN") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                stream.close()
                stream.close()
                runCurrent()
                t.drainSent().map { it.toString() } shouldContainExactly listOf("FIN(1)")
                shouldThrow<BrokenPipeException> { stream.write(byteArrayOf(1)) }
                t.deliver(MuxFrame.Data(1, "tail".encodeToByteArray()))
                t.deliver(MuxFrame.Fin(1))
                runCurrent()
                val buf = ByteArray(16)
                stream.read(buf) shouldBe 4
                stream.read(buf) shouldBe -1
                stream.read(buf) shouldBe -1
                s.closeAndJoin()
            }
        }
        test("DATs after the peer's FIN are dropped: EOF stays EOF") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                t.deliver(MuxFrame.Data(1, "body".encodeToByteArray()))
                t.deliver(MuxFrame.Fin(1))
                t.deliver(MuxFrame.Data(1, "late".encodeToByteArray()))
                runCurrent()
                val buf = ByteArray(16)
                stream.read(buf) shouldBe 4
                buf.copyOf(4).decodeToString() shouldBe "body"
                stream.read(buf) shouldBe -1
                t.deliver(MuxFrame.Data(1, "later".encodeToByteArray()))
                runCurrent()
                stream.read(buf) shouldBe -1
                stream.bufferedBytes shouldBe 0
                s.closeAndJoin()
            }
        }
        test("after the peer's FIN, writing is still allowed") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                t.deliver(MuxFrame.Fin(1))
                runCurrent()
                stream.read(ByteArray(4)) shouldBe -1
                stream.write("still".encodeToByteArray())
                runCurrent()
                (t.nextSent() as MuxFrame.Data).payload().decodeToString() shouldBe "still"
                s.closeAndJoin()
            }
        }
        test("a pending read wakes with EOF at the peer's FIN") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                val reading = async(start = CoroutineStart.UNDISPATCHED) { stream.read(ByteArray(4)) }
                runCurrent()
                reading.isCompleted shouldBe false
                t.deliver(MuxFrame.Fin(1))
                runCurrent()
                reading.await() shouldBe -1
                s.closeAndJoin()
            }
        }
        test("the sweep forgets streams dead both ways and drained, every 2 s; the id is then free for a new SYN") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = false)
                val dead = acceptFromPeer(s, t, 1)
                val undrained = acceptFromPeer(s, t, 3)
                dead.close()
                undrained.close()
                t.deliver(MuxFrame.Fin(1))
                t.deliver(MuxFrame.Data(3, byteArrayOf(1)))
                t.deliver(MuxFrame.Fin(3))
                runCurrent()
                s.streamCount shouldBe 2
                advanceTimeBy(2_001)
                runCurrent()
                s.streamCount shouldBe 1
                undrained.read(ByteArray(4)) shouldBe 1
                advanceTimeBy(2_000)
                runCurrent()
                s.streamCount shouldBe 0
                // The 1 byte read is less than half a window: its credit is held back, and the peer's FIN means none is
                // due.
                t.drainSent().map { it.toString() } shouldContainExactly listOf("FIN(1)", "FIN(3)")
                val again = acceptFromPeer(s, t, 1)
                (again === dead) shouldBe false
                s.closeAndJoin()
            }
        }
    }

    context("deadlines (§6)") {
        test("a past deadline is InvalidDeadline") {
            muxTest {
                val t = ScriptedTransport()
                val clock = virtualClock()
                val s = session(t, client = true, MuxConfig { clock(clock) })
                val stream = openAccepted(s, t, 1024)
                val past = clock.instant().minusMillis(1)
                shouldThrow<InvalidDeadlineException> { stream.setReadDeadline(past) }
                shouldThrow<InvalidDeadlineException> { stream.setWriteDeadline(past) }
                shouldThrow<InvalidDeadlineException> { stream.setDeadline(past) }
                s.closeAndJoin()
            }
        }
        test(
            "a read deadline fails a waiting read with ReadTimeout when it passes, and every read after it until " +
                "reset",
        ) {
            muxTest {
                val t = ScriptedTransport()
                val clock = virtualClock()
                val s = session(t, client = true, MuxConfig { clock(clock) })
                val stream = openAccepted(s, t, 1024)
                stream.setReadDeadline(clock.instant().plusSeconds(5))
                val reading = async(start = CoroutineStart.UNDISPATCHED) { runCatching { stream.read(ByteArray(4)) } }
                advanceTimeBy(4_999)
                runCurrent()
                reading.isCompleted shouldBe false
                advanceTimeBy(2)
                runCurrent()
                reading.await().exceptionOrNull().shouldBeInstanceOf<ReadTimeoutException>()
                shouldThrow<ReadTimeoutException> { stream.read(ByteArray(4)) }
                stream.setReadDeadline(null) // cleared
                t.deliver(MuxFrame.Data(1, byteArrayOf(9)))
                runCurrent()
                stream.read(ByteArray(4)) shouldBe 1
                s.closeAndJoin()
            }
        }
        test("moving the deadline later while a read waits extends the wait") {
            muxTest {
                val t = ScriptedTransport()
                val clock = virtualClock()
                val s = session(t, client = true, MuxConfig { clock(clock) })
                val stream = openAccepted(s, t, 1024)
                stream.setReadDeadline(clock.instant().plusSeconds(1))
                val reading = async(start = CoroutineStart.UNDISPATCHED) { runCatching { stream.read(ByteArray(4)) } }
                advanceTimeBy(500)
                stream.setReadDeadline(clock.instant().plusSeconds(10))
                advanceTimeBy(1_000)
                runCurrent()
                reading.isCompleted shouldBe false
                t.deliver(MuxFrame.Data(1, byteArrayOf(1, 2)))
                runCurrent()
                reading.await().getOrThrow() shouldBe 2
                s.closeAndJoin()
            }
        }
        test("a write deadline fails a write waiting for credit with WriteTimeout") {
            muxTest {
                val t = ScriptedTransport()
                val clock = virtualClock()
                val s = session(t, client = true, MuxConfig { clock(clock) })
                val stream = openAccepted(s, t, 4)
                stream.setWriteDeadline(clock.instant().plusSeconds(3))
                val writing = async(start = CoroutineStart.UNDISPATCHED) { runCatching { stream.write(ByteArray(10)) } }
                advanceTimeBy(3_001)
                runCurrent()
                writing.await().exceptionOrNull().shouldBeInstanceOf<WriteTimeoutException>()
                t.drainSent().sumOf { (it as MuxFrame.Data).length } shouldBe 4 // what the credit allowed went out
                s.closeAndJoin()
            }
        }
        test("readTimeout bounds each read (Socket soTimeout)") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 1024)
                stream.readTimeout = Duration.ofMillis(250)
                shouldThrow<ReadTimeoutException> { stream.read(ByteArray(4)) }
                t.deliver(MuxFrame.Data(1, byteArrayOf(5)))
                runCurrent()
                stream.read(ByteArray(4)) shouldBe 1
                s.closeAndJoin()
            }
        }
    }
})

/** Passes every dispatch to [delegate] and counts them: how often a coroutine on it was resumed. */
private class CountingDispatcher(private val delegate: CoroutineDispatcher) : CoroutineDispatcher() {
    @Volatile var dispatches = 0

    override fun dispatch(context: CoroutineContext, block: Runnable) {
        dispatches++
        delegate.dispatch(context, block)
    }
}
