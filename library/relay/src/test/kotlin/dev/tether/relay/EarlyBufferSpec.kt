package dev.tether.relay

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe

/** The early-message buffer: one message per source, newest wins, TTL, capacity. Time is a fake nano clock. */
class EarlyBufferSpec : FunSpec({
    var now = 0L
    val ttl = RelayProtocol.EARLY_BUFFER_TTL_MILLIS * 1_000_000
    val a = PeerId.of("a")
    val b = PeerId.of("b")

    beforeTest { now = 0L }

    test("keeps the newest message per source and hands it over once") {
        val buf = EarlyBuffer(ttl, 10) { now }
        buf.put(a, byteArrayOf(1)) shouldBe true
        buf.put(a, byteArrayOf(2)) shouldBe true
        buf.replaced shouldBe 1
        buf.take(a)!!.toList() shouldBe listOf<Byte>(2)
        buf.take(a) shouldBe null
    }

    test("a message older than 5 s is not delivered and is counted as expired") {
        val buf = EarlyBuffer(ttl, 10) { now }
        buf.put(a, byteArrayOf(1))
        now = ttl
        buf.take(a)!!.size shouldBe 1
        buf.put(b, byteArrayOf(1))
        now += ttl + 1
        buf.take(b) shouldBe null
        buf.expired shouldBe 1
    }

    test("when full, expired entries make room; otherwise the new source is rejected and counted") {
        val buf = EarlyBuffer(ttl, 1) { now }
        buf.put(a, byteArrayOf(1)) shouldBe true
        buf.put(b, byteArrayOf(2)) shouldBe false
        buf.rejected shouldBe 1
        now = ttl + 1
        buf.put(b, byteArrayOf(3)) shouldBe true
        buf.expired shouldBe 1
        buf.take(b)!!.toList() shouldBe listOf<Byte>(3)
        RelayProtocol.EARLY_BUFFER_CAPACITY shouldBe 10_000
    }
})
