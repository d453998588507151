package dev.tether.conformance.mux

import dev.tether.conformance.External
import dev.tether.mux.AcceptTimeoutException
import dev.tether.mux.BrokenPipeException
import dev.tether.mux.InvalidDeadlineException
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxKeepAliveExpiredException
import dev.tether.mux.MuxSession
import dev.tether.mux.NoCapacityException
import dev.tether.mux.ReadTimeoutException
import dev.tether.mux.Stream
import dev.tether.mux.WriteTimeoutException
import dev.tether.testkit.mux.FakeMuxServerFaults
import dev.tether.testkit.mux.MalformedFrame
import dev.tether.testkit.mux.StreamBehaviour
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.comparables.shouldBeGreaterThanOrEqualTo
import io.kotest.matchers.comparables.shouldBeLessThan
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.kotest.property.Arb
import io.kotest.property.arbitrary.int
import io.kotest.property.arbitrary.list
import io.kotest.property.checkAll
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Semaphore
import kotlinx.coroutines.sync.withPermit
import kotlinx.coroutines.withTimeout
import java.io.ByteArrayOutputStream
import java.time.Duration
import java.time.Instant

/** Reads until EOF. */
private suspend fun Stream.readToEnd(readSize: Int = 4096): ByteArray {
    val out = ByteArrayOutputStream()
    val buf = ByteArray(readSize)
    while (true) {
        val n = read(buf)
        if (n < 0) return out.toByteArray()
        out.write(buf, 0, n)
    }
}

private fun pattern(n: Int, seed: Int) = ByteArray(n) { ((it * 31 + seed) % 251).toByte() }

class MuxConformanceSpec : FunSpec({
    val subject = MuxSubject.open()
    afterSpec { subject.close() }
    afterTest { subject.fake?.faults?.reset() }
    val fakeOnly = MuxSubject.isFake

    suspend fun <T> withClient(config: MuxConfig = MuxConfig.DEFAULT, block: suspend (MuxSession) -> T): T {
        val s = subject.client(config)
        try {
            return withTimeout(45_000) { block(s) }
        } finally {
            s.close()
        }
    }

    context("open / accept and stream ids (§3, §4)") {
        test("a client session opens odd ids from 1 and the peer accepts them with its credit") {
            withClient { s ->
                val streams = List(3) { s.open() }
                streams.map { it.id } shouldBe listOf(1L, 3L, 5L)
                for (st in streams) (st.sendWindow > 0) shouldBe true
                subject.fake?.let { fake -> fake.acceptedStreamIds().takeLast(3) shouldBe listOf(1L, 3L, 5L) }
                // The proxy's acceptor window: what it announced, never above 4096 before more credit.
                subject.fake?.let { streams.first().sendWindow shouldBe 4096L }
            }
        }
        test("a server session opens even ids from 0; the client accepts them")
            .config(
                enabledOrReasonIf = External.needsFake(
                    fakeOnly,
                    "the fake's server sessions (it opens streams toward the client)",
                ),
            ) {
                withClient { s ->
                    val fake = subject.fake!!
                    fake.awaitSessions(1)
                    val server = fake.sessions().last()
                    coroutineScope {
                        val accepted = async { List(3) { s.accept() } }
                        val opened = List(3) { server.open() }
                        opened.map { it.id } shouldBe listOf(0L, 2L, 4L)
                        accepted.await().map { it.id } shouldBe listOf(0L, 2L, 4L)
                        // The acceptor (client, 1024) granted its own capacity.
                        opened.first().sendWindow shouldBe 1024L
                    }
                }
            }
        test("an open the peer never accepts fails with AcceptTimeout at the accept deadline")
            .config(
                enabledOrReasonIf = External.needsFake(fakeOnly, "the fake's fault controls (stop accepting streams)"),
            ) {
                subject.fake!!.faults.stopAccepting(true)
                withClient(MuxConfig { streamAcceptDeadline(Duration.ofMillis(300)) }) { s ->
                    val started = System.nanoTime()
                    shouldThrow<AcceptTimeoutException> { s.open() }
                    ((System.nanoTime() - started) / 1_000_000) shouldBeGreaterThanOrEqualTo 300L
                    s.streamCount shouldBe 0
                    s.isOpen shouldBe true
                }
            }
    }

    context("flow control (§5)") {
        test("property: random write and read sizes, both directions, several streams; the window is never exceeded") {
            withClient { s ->
                checkAll(25, Arb.list(Arb.int(1..6000), 1..6), Arb.int(1..3000), Arb.int(1..3)) {
                        writes,
                        readSize,
                        streams,
                    ->
                    coroutineScope {
                        (1..streams).map { k ->
                            async {
                                val stream = s.open()
                                val chunks = writes.mapIndexed { i, n -> pattern(n, i + k) }
                                val writer = launch {
                                    for (c in chunks) stream.write(c)
                                    stream.close()
                                }
                                val back = stream.readToEnd(readSize)
                                writer.join()
                                back.contentEquals(chunks.fold(ByteArray(0)) { a, b -> a + b }) shouldBe true
                            }
                        }.awaitAll()
                    }
                }
                // The fake fails a stream loudly when a client overruns it; none did, and the client saw none either.
                subject.fake?.let { it.overrunsSeen() shouldBe 0L }
                s.isOpen shouldBe true
            }
        }
        test("an auto-tuned client window grows under load and is never overrun") {
            withClient(MuxConfig { autoTuneMaxWindow(256 * 1024) }) { s ->
                val stream = s.open()
                val data = pattern(300_000, 5)
                coroutineScope {
                    launch {
                        stream.write(data)
                        stream.close()
                    }
                    stream.readToEnd(64 * 1024).contentEquals(data) shouldBe true
                }
                subject.fake?.let { it.overrunsSeen() shouldBe 0L }
            }
        }
        test("a peer that overruns the window makes that stream fail with NoCapacity; the session goes on")
            .config(
                enabledOrReasonIf = External.needsFake(fakeOnly, "the fake's fault controls (overrun the window)"),
            ) {
                subject.fake!!.faults.overrunWindows(8192) // more than the 4096 the fake granted and the client adopted
                withClient { s ->
                    val stream = s.open()
                    shouldThrow<NoCapacityException> { stream.readToEnd() }
                    shouldThrow<NoCapacityException> { stream.read(ByteArray(1)) } // sticky
                    subject.fake!!.faults.overrunWindows(0)
                    val ok = s.open()
                    ok.write("fine".encodeToByteArray())
                    ok.close()
                    ok.readToEnd().decodeToString() shouldBe "fine"
                }
            }
    }

    context("half-close and EOF (§6)") {
        test("FIN ends the peer's input; the peer's FIN gives EOF after the data; writes after close are BrokenPipe") {
            withClient { s ->
                val stream = s.open()
                stream.write("half".encodeToByteArray())
                stream.close()
                shouldThrow<BrokenPipeException> { stream.write(byteArrayOf(1)) }
                stream.readToEnd().decodeToString() shouldBe "half"
                stream.read(ByteArray(4)) shouldBe -1
            }
        }
    }

    context("deadlines (§6)") {
        test("a past deadline is InvalidDeadline; a read deadline gives ReadTimeout") {
            withClient { s ->
                val stream = s.open()
                shouldThrow<InvalidDeadlineException> { stream.setReadDeadline(Instant.now().minusSeconds(1)) }
                stream.setReadDeadline(Instant.now().plusMillis(200))
                shouldThrow<ReadTimeoutException> { stream.read(ByteArray(4)) }
                stream.setReadDeadline(null)
                stream.write(byteArrayOf(7))
                stream.read(ByteArray(4)) shouldBe 1
            }
        }
        test("a write deadline gives WriteTimeout when the peer stops granting credit")
            .config(
                enabledOrReasonIf = External.needsFake(
                    fakeOnly,
                    "the fake's per-stream behaviour (stop granting credit)",
                ),
            ) {
                withClient { s ->
                    val first = s.open()
                    // The behaviour is chosen when the fake accepts: register it for the next id, then open that.
                    subject.fake!!.behaviourFor(first.id + 2, StreamBehaviour.STALL)
                    val stalled = s.open()
                    stalled.id shouldBe first.id + 2
                    stalled.setWriteDeadline(Instant.now().plusMillis(300))
                    shouldThrow<WriteTimeoutException> { stalled.write(ByteArray(10_000)) }
                    stalled.sendWindow shouldBe 0L
                }
            }
    }

    context("keepalive (§7)") {
        test("a peer that stops answering pings is detected within ping interval + pong timeout")
            .config(
                enabledOrReasonIf = External.needsFake(fakeOnly, "the fake's fault controls (stop answering pings)"),
            ) {
                val s = subject.client(pingInterval = Duration.ofMillis(200), pongTimeout = Duration.ofMillis(300))
                try {
                    val stream = s.open()
                    subject.fake!!.faults.stopKeepalive(true)
                    val started = System.nanoTime()
                    val reason = withTimeout(10_000) { s.awaitClosed() }
                    val elapsed = (System.nanoTime() - started) / 1_000_000
                    reason.shouldBeInstanceOf<MuxKeepAliveExpiredException>()
                    elapsed shouldBeGreaterThanOrEqualTo 300L
                    elapsed shouldBeLessThan 2_000L
                    shouldThrow<MuxKeepAliveExpiredException> { stream.read(ByteArray(1)) }
                } finally {
                    s.close()
                }
            }
    }

    context("session failure (§8)") {
        test("a dropped connection fails every open stream with an error, never a silent EOF")
            .config(
                enabledOrReasonIf = External.needsFake(fakeOnly, "the fake's fault controls (drop every connection)"),
            ) {
                withClient { s ->
                    val streams = List(5) { s.open() }
                    subject.fake!!.faults.dropAll()
                    for (st in streams) {
                        shouldThrow<MuxException> { st.read(ByteArray(4)) }
                        shouldThrow<BrokenPipeException> { st.write(byteArrayOf(1)) }
                    }
                    s.isOpen shouldBe false
                    shouldThrow<MuxException> { s.open() }
                }
            }
    }

    context("malformed input is dropped and the session goes on (§2)") {
        for (kind in MalformedFrame.entries) {
            test(kind.description).config(
                enabledOrReasonIf = External.needsFake(
                    fakeOnly,
                    "the fake's fault controls (send malformed frames)",
                ),
            ) {
                withClient { s ->
                    val fake = subject.fake!!
                    fake.awaitSessions(1)
                    val before = s.open()
                    fake.faults.sendMalformed(kind, FakeMuxServerFaults.UNUSED_STREAM_ID) shouldBeGreaterThanOrEqualTo 1
                    if (kind == MalformedFrame.SYN_WITH_PAYLOAD) {
                        s.accept().id shouldBe FakeMuxServerFaults.UNUSED_STREAM_ID.toLong()
                    }
                    before.write("after".encodeToByteArray())
                    before.close()
                    before.readToEnd().decodeToString() shouldBe "after"
                    s.isOpen shouldBe true
                }
            }
        }
    }

    context("scale") {
        test("10 000 concurrent streams on one session") {
            withClient { s ->
                val count = 10_000
                val handshakes = Semaphore(64) // bounds un-accepted SYNs, far below the peer's 200-deep queue
                val streams = coroutineScope {
                    (0 until count).map { async { handshakes.withPermit { s.open() } } }.awaitAll()
                }
                s.streamCount shouldBe count
                coroutineScope {
                    streams.mapIndexed { i, st ->
                        async {
                            val msg = "stream-$i".encodeToByteArray()
                            st.write(msg)
                            st.close()
                            st.readToEnd(64).contentEquals(msg) shouldBe true
                        }
                    }.awaitAll()
                }
                s.isOpen shouldBe true
            }
        }
    }
})
