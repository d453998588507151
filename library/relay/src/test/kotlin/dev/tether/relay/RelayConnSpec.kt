package dev.tether.relay

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import java.time.Instant
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger

/** RelayConn on its own: datagram reads, drops counted, backpressure, deadlines, close. */
class RelayConnSpec : FunSpec({
    val peer = PeerId.of("peerB")

    class RecordingLink(val block: Boolean = false) : RelayConn.Link {
        val sent = CopyOnWriteArrayList<ByteArray>()
        val released = AtomicInteger()
        override suspend fun send(peerId: PeerId, payload: ByteArray) {
            if (block) awaitCancellation()
            sent += payload
        }
        override fun release(conn: RelayConn) {
            released.incrementAndGet()
        }
    }

    fun conn(link: RelayConn.Link, queue: Int = 100, backpressure: Boolean = false) =
        RelayConn(peer, "rel://127.0.0.1:1", link, queue, backpressure, CoroutineScope(Dispatchers.Default))

    test("each read returns one whole message, in order; write hands each payload over once") {
        val link = RecordingLink()
        val c = conn(link)
        c.deliver("one".encodeToByteArray())
        c.deliver("two".encodeToByteArray())
        c.read().decodeToString() shouldBe "one"
        c.read().decodeToString() shouldBe "two"
        c.write("x".encodeToByteArray())
        link.sent.map { it.decodeToString() } shouldContainExactly listOf("x")
        c.stats() shouldBe RelayConnStats(received = 2, delivered = 2, dropped = 0, truncated = 0, sent = 1)
    }

    test("a message is counted received before a waiting reader can take it: stats never show more delivered") {
        val c = conn(RecordingLink())
        val seen = CompletableDeferred<RelayConnStats>()
        // Unconfined: the waiting reader resumes inside the hand-over itself, the earliest it can run.
        val reader = CoroutineScope(Dispatchers.Unconfined).launch {
            c.read()
            seen.complete(c.stats())
        }
        c.offer("one".encodeToByteArray()) shouldBe true
        val stats = withTimeout(5_000) { seen.await() }
        stats.delivered shouldBe 1
        stats.received shouldBe 1
        reader.join()
    }

    test("a read into a smaller buffer truncates and counts it") {
        val c = conn(RecordingLink())
        c.deliver("hello".encodeToByteArray())
        val buf = ByteArray(3)
        c.read(buf) shouldBe 3
        buf.decodeToString() shouldBe "hel"
        c.stats().truncated shouldBe 1
    }

    test("a full queue drops, counts and reports every drop (datagram mode)") {
        val c = conn(RecordingLink(), queue = 3)
        val reported = CopyOnWriteArrayList<Long>()
        c.onDrop { _, n -> reported += n }
        repeat(5) { c.deliver(byteArrayOf(it.toByte())) }
        c.stats().dropped shouldBe 2
        reported shouldContainExactly listOf(1L, 2L)
        (0 until 3).map { c.read()[0].toInt() } shouldContainExactly listOf(0, 1, 2)
    }

    test("backpressure mode suspends the deliverer instead of dropping") {
        val c = conn(RecordingLink(), queue = 2, backpressure = true)
        c.deliver(byteArrayOf(0))
        c.deliver(byteArrayOf(1))
        val third = CompletableDeferred<Unit>()
        val job = launch(Dispatchers.Default) {
            c.deliver(byteArrayOf(2))
            third.complete(Unit)
        }
        c.read()[0] shouldBe 0
        withTimeout(5_000) { third.await() }
        job.join()
        (1..2).map { c.read()[0].toInt() } shouldContainExactly listOf(1, 2)
        c.stats().dropped shouldBe 0
    }

    test("payloads over 8782 bytes are refused with PayloadTooLargeException") {
        val link = RecordingLink()
        val c = conn(link)
        shouldThrow<PayloadTooLargeException> { c.write(ByteArray(8783)) }
        c.write(ByteArray(8782))
        link.sent.size shouldBe 1
    }

    test("a passed read deadline fails the read and leaves the conn usable") {
        val c = conn(RecordingLink())
        c.setReadDeadline(Instant.now().minusSeconds(1))
        shouldThrow<DeadlineExceededException> { c.read() }
        c.setReadDeadline(Instant.now().plusMillis(50))
        shouldThrow<DeadlineExceededException> { withTimeout(5_000) { c.read() } }
        c.setReadDeadline(null)
        c.deliver("after".encodeToByteArray())
        c.read().decodeToString() shouldBe "after"
    }

    test("moving the read deadline into the past wakes a waiting read") {
        val c = conn(RecordingLink())
        val reader = async(Dispatchers.Default) { runCatching { c.read() } }
        c.setReadDeadline(Instant.now().plusSeconds(3600))
        c.setReadDeadline(Instant.now().minusSeconds(1))
        withTimeout(5_000) { reader.await() }.exceptionOrNull()!!::class shouldBe DeadlineExceededException::class
    }

    test("a write deadline bounds a write the socket does not take") {
        val c = conn(RecordingLink(block = true))
        c.setWriteDeadline(Instant.now().plusMillis(50))
        shouldThrow<DeadlineExceededException> { withTimeout(5_000) { c.write(byteArrayOf(1)) } }
        c.stats().sent shouldBe 0
    }

    test("close is local: reads and writes fail with ConnClosedException, the session is told once") {
        val link = RecordingLink()
        val c = conn(link)
        val reader = async(Dispatchers.Default) { runCatching { c.read() } }
        c.close()
        c.close()
        withTimeout(5_000) { reader.await() }.exceptionOrNull()!!::class shouldBe ConnClosedException::class
        shouldThrow<ConnClosedException> { c.write(byteArrayOf(1)) }
        link.released.get() shouldBe 1
        c.isOpen shouldBe false
    }

    test("when the remote side goes, queued messages are still read, then ConnClosedException") {
        val c = conn(RecordingLink())
        c.deliver("last".encodeToByteArray())
        c.remoteClosed("the remote peer went offline")
        c.read().decodeToString() shouldBe "last"
        val e = shouldThrow<ConnClosedException> { c.read() }
        e.reason shouldBe "the remote peer went offline"
        shouldThrow<ConnClosedException> { c.write(byteArrayOf(1)) }
    }
})
