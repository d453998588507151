package dev.tether.cli

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

class OutboxSpec : FunSpec({
    test("everything held goes out as one message, and stays held until the write succeeded") {
        val box = Outbox(16)
        box.put("one\n".encodeToByteArray()) shouldBe true
        box.put("two\n".encodeToByteArray()) shouldBe true
        box.held shouldBe 8
        box.heldLines shouldBe 2
        val message = withTimeout(5.seconds) { box.next() }!!
        message.decodeToString() shouldBe "one\ntwo\n"
        // The write failed (the peer went away): nothing was forgotten, and more input joins it.
        box.put("3\n".encodeToByteArray()) shouldBe true
        withTimeout(5.seconds) { box.next() }!!.decodeToString() shouldBe "one\ntwo\n3\n"
        box.sent(8) // a write of the first 8 succeeded while "3\n" came in
        withTimeout(5.seconds) { box.next() }!!.decodeToString() shouldBe "3\n"
    }

    test("a full outbox makes the reader wait (and says so while the peer is away) until a write frees room") {
        val box = Outbox(8)
        box.put("12345678".encodeToByteArray()) shouldBe true
        val told = CountDownLatch(1)
        val reader = async(Dispatchers.IO) { box.put("9\n".encodeToByteArray()) { told.countDown() } }
        told.await(10, TimeUnit.SECONDS) shouldBe true
        reader.isCompleted shouldBe false
        box.sent(withTimeout(5.seconds) { box.next() }!!.size)
        withTimeout(10.seconds) { reader.await() } shouldBe true
        box.held shouldBe 2
    }

    test("a full outbox while the peer is up waits silently") {
        val box = Outbox(4)
        box.isPeerUp = true
        box.put("abcd".encodeToByteArray()) shouldBe true
        var told = false
        val reader = async(Dispatchers.IO) { box.put("e".encodeToByteArray()) { told = true } }
        box.sent(withTimeout(5.seconds) { box.next() }!!.size)
        withTimeout(10.seconds) { reader.await() } shouldBe true
        told shouldBe false
    }

    test("end of input: next gives what is left, then null; drained completes once all was sent") {
        val box = Outbox(8)
        box.put("bye".encodeToByteArray())
        box.end()
        box.drained.isCompleted shouldBe false
        box.sent(withTimeout(5.seconds) { box.next() }!!.size)
        box.drained.isCompleted shouldBe true
        withTimeout(5.seconds) { box.next() } shouldBe null

        val empty = Outbox(8)
        empty.end()
        empty.drained.isCompleted shouldBe true
    }

    test("close releases a reader waiting for room, and a chunk larger than the outbox is refused") {
        val box = Outbox(2)
        box.put("ab".encodeToByteArray())
        val waiting = CountDownLatch(1)
        val reader = async(Dispatchers.IO) { box.put("c".encodeToByteArray()) { waiting.countDown() } }
        waiting.await(10, TimeUnit.SECONDS) shouldBe true
        box.close()
        withTimeout(10.seconds) { reader.await() } shouldBe false
        shouldThrow<IllegalArgumentException> { Outbox(2).put("abc".encodeToByteArray()) }
    }
})
