package dev.tether.mux

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf

private fun hex(s: String): ByteArray =
    s.split(' ').filter { it.isNotEmpty() }.map { it.toInt(16).toByte() }.toByteArray()
private fun ByteArray.hex(): String = joinToString(" ") { "%02x".format(it) }

class MuxFrameSpec : FunSpec({
    context("the spec's wire examples (§2), byte by byte") {
        test("01 00 00 00 00 = SYN id 0") {
            MuxFrame.Syn(0).encode().hex() shouldBe "01 00 00 00 00"
            MuxFrame.decode(hex("01 00 00 00 00")).shouldBeInstanceOf<MuxFrame.Syn>().streamId shouldBe 0
        }
        test("02 00 00 00 00 00 10 00 00 = ACK id 0, 4096") {
            MuxFrame.Ack(0, 4096).encode().hex() shouldBe "02 00 00 00 00 00 10 00 00"
            val ack = MuxFrame.decode(hex("02 00 00 00 00 00 10 00 00")).shouldBeInstanceOf<MuxFrame.Ack>()
            ack.streamId shouldBe 0
            ack.credit shouldBe 4096L
        }
        test("02 02 00 00 00 d2 00 00 00 = ACK id 2, 210") {
            MuxFrame.Ack(2, 210).encode().hex() shouldBe "02 02 00 00 00 d2 00 00 00"
            val ack = MuxFrame.decode(hex("02 02 00 00 00 d2 00 00 00")).shouldBeInstanceOf<MuxFrame.Ack>()
            ack.streamId shouldBe 2
            ack.credit shouldBe 210L
        }
        test("03 02 00 00 00 = FIN id 2") {
            MuxFrame.Fin(2).encode().hex() shouldBe "03 02 00 00 00"
            MuxFrame.decode(hex("03 02 00 00 00")).shouldBeInstanceOf<MuxFrame.Fin>().streamId shouldBe 2
        }
        test("00 00 00 00 00 47 45 54 20 = DAT id 0 \"GET \"") {
            MuxFrame.Data(0, "GET ".encodeToByteArray()).encode().hex() shouldBe "00 00 00 00 00 47 45 54 20"
            val dat = MuxFrame.decode(hex("00 00 00 00 00 47 45 54 20")).shouldBeInstanceOf<MuxFrame.Data>()
            dat.streamId shouldBe 0
            dat.payload().decodeToString() shouldBe "GET "
        }
    }

    test("stream ids are little-endian unsigned 32-bit") {
        MuxFrame.Syn(0x04030201).encode().hex() shouldBe "01 01 02 03 04"
        val top = MuxFrame.decode(hex("03 ff ff ff ff"))
        top.streamId shouldBe -1
        top.unsignedId shouldBe 0xFFFF_FFFFL
        MuxFrame.decode(hex("02 01 00 00 00 ff ff ff ff"))
            .shouldBeInstanceOf<MuxFrame.Ack>().credit shouldBe 0xFFFF_FFFFL
    }

    context("strict sender") {
        test("never an empty DAT") {
            shouldThrow<IllegalArgumentException> { MuxFrame.Data(1, ByteArray(0)) }
        }
        test("an ACK is always 9 bytes and its credit fits 32 bits") {
            MuxFrame.Ack(7, 0).encode().size shouldBe 9
            shouldThrow<IllegalArgumentException> { MuxFrame.Ack(7, 1L shl 32) }
            shouldThrow<IllegalArgumentException> { MuxFrame.Ack(7, -1) }
        }
        test("SYN and FIN carry no payload") {
            MuxFrame.Syn(1).encode().size shouldBe MuxProtocol.HEADER_SIZE
            MuxFrame.Fin(1).encode().size shouldBe MuxProtocol.HEADER_SIZE
        }
        test("a DAT slice encodes just its range") {
            MuxFrame.Data(3, "xxabcxx".encodeToByteArray(), 2, 3).encode().hex() shouldBe "00 03 00 00 00 61 62 63"
        }
    }

    context("tolerant receiver (§2 malformed cases)") {
        test("a message shorter than 5 bytes is rejected, not a crash") {
            for (n in 0..4) {
                shouldThrow<MalformedFrameException> { MuxFrame.decode(ByteArray(n) { 1 }) }
                    .message shouldContain "header"
            }
        }
        test("type > 3 is rejected (the old CLS 0x04 included)") {
            shouldThrow<MalformedFrameException> { MuxFrame.decode(hex("04 00 00 00 00")) }
            shouldThrow<MalformedFrameException> { MuxFrame.decode(hex("ff 01 00 00 00 01")) }
        }
        test("an ACK with fewer than 4 credit bytes is rejected (it crashes Go peers)") {
            for (extra in listOf("", "01", "01 02", "01 02 03")) {
                shouldThrow<MalformedFrameException> { MuxFrame.decode(hex("02 00 00 00 00 $extra")) }
            }
        }
        test("an ACK with more than 4 bytes uses the first 4") {
            MuxFrame.decode(hex("02 02 00 00 00 d2 00 00 00 ff ee"))
                .shouldBeInstanceOf<MuxFrame.Ack>().credit shouldBe 210L
        }
        test("SYN and FIN payloads are ignored") {
            MuxFrame.decode(hex("01 05 00 00 00 aa bb")).shouldBeInstanceOf<MuxFrame.Syn>().streamId shouldBe 5
            MuxFrame.decode(hex("03 05 00 00 00 aa")).shouldBeInstanceOf<MuxFrame.Fin>().streamId shouldBe 5
        }
        test("an empty DAT is rejected (Go's buffer would then read as full)") {
            shouldThrow<MalformedFrameException> { MuxFrame.decode(hex("00 01 00 00 00")) }
        }
        test("a decoded DAT shares the message, no copy") {
            val msg = hex("00 01 00 00 00 41 42")
            val dat = MuxFrame.decode(msg) as MuxFrame.Data
            (dat.bytes === msg) shouldBe true
            dat.offset shouldBe 5
            dat.length shouldBe 2
        }
    }

    test("constants match §14") {
        MuxProtocol.HEADER_SIZE shouldBe 5
        MuxProtocol.DEFAULT_CAPACITY shouldBe 1024
        MuxProtocol.ACCEPT_QUEUE_SIZE shouldBe 200
        MuxProtocol.DEFAULT_KEEPALIVE_INTERVAL_MILLIS shouldBe 20_000L
        MuxProtocol.DEFAULT_ACCEPT_DEADLINE_MILLIS shouldBe 30_000L
        MuxProtocol.DEAD_STREAM_SWEEP_MILLIS shouldBe 2_000L
        MuxConfig.DEFAULT.streamBufferSize shouldBe 1024
        MuxConfig.DEFAULT.keepAliveInterval.toMillis() shouldBe 20_000L
        MuxConfig.DEFAULT.streamAcceptDeadline.toMillis() shouldBe 30_000L
    }
})
