package dev.tether.mux

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import java.util.concurrent.CompletionException
import java.util.concurrent.atomic.AtomicInteger

class MuxSessionSpec : FunSpec({
    context("stream ids (§3)") {
        test("a client session opens odd ids from 1, +2 per open") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                openAccepted(s, t, 1024).id shouldBe 1L
                openAccepted(s, t, 1024).id shouldBe 3L
                openAccepted(s, t, 1024).id shouldBe 5L
                s.closeAndJoin()
            }
        }
        test("a server session opens even ids from 0") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = false)
                openAccepted(s, t, 1024).id shouldBe 0L
                openAccepted(s, t, 1024).id shouldBe 2L
                s.closeAndJoin()
            }
        }
        test("ids still in use are skipped (B/C), not a DuplicateStream failure") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = false)
                // The peer (misbehaving) opened id 2, which our next open would pick after 0.
                t.deliver(MuxFrame.Syn(2))
                runCurrent()
                openAccepted(s, t, 1024).id shouldBe 0L
                openAccepted(s, t, 1024).id shouldBe 4L
                s.closeAndJoin()
            }
        }
    }

    context("open / accept handshake (§4)") {
        test("the opener's window is the acceptor's first ACK") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val stream = openAccepted(s, t, 210)
                stream.sendWindow shouldBe 210L
                s.closeAndJoin()
            }
        }
        test(
            "open fails with AcceptTimeout after exactly the accept deadline; the stream is dropped and a late ACK " +
                "ignored",
        ) {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val opening = async { runCatching { s.open() } }
                runCurrent()
                t.nextSent().shouldBeInstanceOf<MuxFrame.Syn>()
                advanceTimeBy(29_999)
                runCurrent()
                opening.isCompleted shouldBe false
                advanceTimeBy(2)
                runCurrent()
                opening.await().exceptionOrNull()
                    .shouldBeInstanceOf<AcceptTimeoutException>().timeoutMillis shouldBe 30_000L
                s.streamCount shouldBe 0
                t.deliver(MuxFrame.Ack(1, 4096))
                runCurrent()
                s.isOpen shouldBe true
                s.streamCount shouldBe 0
                s.closeAndJoin()
            }
        }
        test("the acceptor ACKs with its own buffer size only when accept() is called (B/C)") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true, MuxConfig { streamBufferSize(4096) })
                t.deliver(MuxFrame.Syn(0))
                runCurrent()
                t.drainSent().shouldBeEmpty()
                val stream = s.accept()
                runCurrent()
                val ack = t.nextSent().shouldBeInstanceOf<MuxFrame.Ack>()
                ack.streamId shouldBe 0
                ack.credit shouldBe 4096L
                stream.isOpener shouldBe false
                s.closeAndJoin()
            }
        }
        test("a duplicate SYN is ignored") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                t.deliver(MuxFrame.Syn(4))
                t.deliver(MuxFrame.Syn(4))
                runCurrent()
                s.accept().id shouldBe 4L
                val second = async { runCatching { s.accept() } }
                runCurrent()
                second.isCompleted shouldBe false
                s.streamCount shouldBe 1
                s.closeAndJoin()
                runCurrent()
                second.isCompleted shouldBe true
            }
        }
        test("the accept queue holds 200 streams; the 201st SYN is FINed and aborts the session (TooManySyns)") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                for (i in 0 until 200) t.deliver(MuxFrame.Syn(i * 2))
                runCurrent()
                s.isOpen shouldBe true
                s.streamCount shouldBe 200
                t.deliver(MuxFrame.Syn(400))
                runCurrent()
                val fin = t.nextSent().shouldBeInstanceOf<MuxFrame.Fin>()
                fin.streamId shouldBe 400
                s.isOpen shouldBe false
                s.awaitClosed().shouldBeInstanceOf<TooManySynsException>()
                shouldThrow<TooManySynsException> { s.accept() }
            }
        }
    }

    context("keepalive (§7, B+ka/C)") {
        test("a ping goes out at t=0 and every interval while pongs come back") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = false, MuxConfig { keepAliveInterval(java.time.Duration.ofSeconds(20)) })
                runCurrent()
                t.pings.get() shouldBe 1
                advanceTimeBy(60_001)
                runCurrent()
                t.pings.get() shouldBe 4
                s.isOpen shouldBe true
                s.closeAndJoin()
            }
        }
        test("no pong since the previous ping aborts the session at the next tick with KeepAliveExpired") {
            muxTest {
                val t = ScriptedTransport()
                t.answerPings = false
                val s = session(t, client = false)
                val stream = acceptFromPeer(s, t, 1)
                advanceTimeBy(19_999)
                runCurrent()
                s.isOpen shouldBe true
                advanceTimeBy(2)
                runCurrent()
                s.isOpen shouldBe false
                s.awaitClosed().shouldBeInstanceOf<MuxKeepAliveExpiredException>().intervalMillis shouldBe 20_000L
                shouldThrow<MuxKeepAliveExpiredException> { stream.read(ByteArray(4)) }
                t.closed.get() shouldBe 1
            }
        }
        test("a peer that stops answering is cut off one to two intervals later") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = false)
                advanceTimeBy(30_000)
                t.answerPings = false // after the ping at 20 s was answered
                advanceTimeBy(9_999)
                runCurrent()
                s.isOpen shouldBe true
                advanceTimeBy(2) // the tick at 40 s sees the ping of 20 s answered... and 40 s ping unanswered
                runCurrent()
                s.isOpen shouldBe true
                advanceTimeBy(20_000)
                runCurrent()
                s.awaitClosed().shouldBeInstanceOf<MuxKeepAliveExpiredException>()
            }
        }
        test("keepalive can be disabled") {
            muxTest {
                val t = ScriptedTransport()
                t.answerPings = false
                val s = session(t, client = false, MuxConfig { keepAliveInterval(java.time.Duration.ZERO) })
                advanceTimeBy(100_000)
                runCurrent()
                t.pings.get() shouldBe 0
                s.isOpen shouldBe true
                s.closeAndJoin()
            }
        }
    }

    context("session close (§8)") {
        test(
            "close fails every stream without the peer's FIN, sends no FIN, fails accept and open, runs the callback " +
                "once",
        ) {
            muxTest {
                val t = ScriptedTransport()
                val calls = AtomicInteger()
                val s = session(t, client = true, MuxConfig { closeCallback { calls.incrementAndGet() } })
                val a = openAccepted(s, t, 1024)
                val b = acceptFromPeer(s, t, 2)
                val pendingRead = async(start = CoroutineStart.UNDISPATCHED) { runCatching { a.read(ByteArray(8)) } }
                s.closeAndJoin()
                s.closeAndJoin()
                runCurrent()
                pendingRead.await().exceptionOrNull().shouldBeInstanceOf<MuxSessionClosedException>()
                shouldThrow<MuxSessionClosedException> { b.read(ByteArray(8)) }
                shouldThrow<BrokenPipeException> { b.write(byteArrayOf(1)) }
                    .cause.shouldBeInstanceOf<MuxSessionClosedException>()
                shouldThrow<MuxSessionClosedException> { s.accept() }
                shouldThrow<MuxSessionClosedException> { s.open() }
                t.drainSent().shouldBeEmpty()
                calls.get() shouldBe 1
                t.closed.get() shouldBe 1
            }
        }
        test("a dropped WebSocket fails open streams; data that arrived before the peer's FIN still reads, then EOF") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val open = openAccepted(s, t, 1024)
                val finished = openAccepted(s, t, 1024)
                t.deliver(MuxFrame.Data(finished.rawId, "bye".encodeToByteArray()))
                t.deliver(MuxFrame.Fin(finished.rawId))
                runCurrent()
                t.inbound.close() // the network goes
                runCurrent()
                s.isOpen shouldBe false
                shouldThrow<MuxSessionClosedException> { open.read(ByteArray(8)) }
                val buf = ByteArray(8)
                finished.read(buf) shouldBe 3
                finished.read(buf) shouldBe -1
            }
        }
        test("closeAndJoin from two callers shuts down once; both return with the session's coroutines gone") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                val first = async(start = CoroutineStart.UNDISPATCHED) { s.closeAndJoin() }
                val second = async(start = CoroutineStart.UNDISPATCHED) { s.closeAndJoin() }
                first.await()
                second.await()
                t.closed.get() shouldBe 1
                s.isOpen shouldBe false
                s.awaitClosed().shouldBeInstanceOf<MuxSessionClosedException>().cause shouldBe null
                s.closedFuture().getNow(null).shouldBeInstanceOf<MuxSessionClosedException>()
                // The keepalive loop is gone: no ping goes out however long we wait.
                val pings = t.pings.get()
                advanceTimeBy(60_000)
                t.pings.get() shouldBe pings
                val late = s.openAsync()
                late.isCompletedExceptionally shouldBe true
                shouldThrow<CompletionException> { late.join() }.cause.shouldBeInstanceOf<MuxSessionClosedException>()
            }
        }

        test("after the peer ends the session, awaitClosed returns that reason and closeAndJoin still returns") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                t.inbound.close()
                runCurrent()
                s.awaitClosed().message shouldBe "session closed: test transport ended"
                s.closeAndJoin()
                s.awaitClosed().message shouldBe "session closed: test transport ended"
            }
        }
    }

    context("malformed input from the peer is dropped; the session goes on (§2)") {
        val bad = mapOf(
            "3-byte message" to byteArrayOf(2, 0, 0),
            "empty message" to ByteArray(0),
            "type 4 (CLS)" to byteArrayOf(4, 1, 0, 0, 0),
            "type 0xff" to byteArrayOf(-1, 1, 0, 0, 0, 9),
            "ACK with a 2-byte credit" to byteArrayOf(2, 1, 0, 0, 0, 0x10, 0),
            "empty DAT" to byteArrayOf(0, 1, 0, 0, 0),
            "DAT for an unknown stream" to MuxFrame.Data(99, byteArrayOf(1)).encode(),
            "ACK for an unknown stream" to MuxFrame.Ack(99, 10).encode(),
            "FIN for an unknown stream" to MuxFrame.Fin(99).encode(),
        )
        for ((name, bytes) in bad) {
            test(name) {
                muxTest {
                    val t = ScriptedTransport()
                    val s = session(t, client = true)
                    val stream = openAccepted(s, t, 1024)
                    t.deliver(bytes)
                    t.deliver(MuxFrame.Data(stream.rawId, "ok".encodeToByteArray()))
                    runCurrent()
                    s.isOpen shouldBe true
                    val buf = ByteArray(8)
                    stream.read(buf) shouldBe 2
                    buf.decodeToString(0, 2) shouldBe "ok"
                    stream.sendWindow shouldBe 1024L
                    s.closeAndJoin()
                }
            }
        }
        test("SYN and FIN with a payload act as plain SYN and FIN") {
            muxTest {
                val t = ScriptedTransport()
                val s = session(t, client = true)
                t.deliver(byteArrayOf(1, 6, 0, 0, 0, 7, 7, 7))
                runCurrent()
                val stream = s.accept()
                stream.id shouldBe 6L
                t.deliver(byteArrayOf(3, 6, 0, 0, 0, 1))
                runCurrent()
                stream.read(ByteArray(4)) shouldBe -1
                s.closeAndJoin()
            }
        }
    }
})
