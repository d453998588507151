package dev.tether.core.netty

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufUtil
import io.netty.buffer.UnpooledByteBufAllocator
import io.netty.channel.embedded.EmbeddedChannel
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig
import kotlin.random.Random

/** The client frames DataFrameEncoder writes, read back by Netty's server-side decoder (which requires masking). */
class DataFrameEncoderSpec : FunSpec({
    fun encode(data: OutData): ByteBuf {
        val channel = EmbeddedChannel(DataFrameEncoder())
        channel.writeOutbound(data)
        return channel.readOutbound<ByteBuf>()
    }

    fun decode(wire: ByteBuf): Any {
        val server = EmbeddedChannel(
            WebSocket13FrameDecoder(
                WebSocketDecoderConfig.newBuilder().expectMaskedFrames(true).maxFramePayloadLength(1 shl 20).build(),
            ),
        )
        server.writeInbound(wire)
        return server.readInbound<Any>()
    }

    test("binary payloads of every length class round-trip through a masking-strict decoder") {
        for (size in listOf(0, 1, 3, 7, 8, 9, 15, 16, 125, 126, 127, 1000, 65_535, 65_536, 70_001)) {
            val payload = Random(size).nextBytes(size)
            val wire = encode(OutData(OutData.OPCODE_BINARY, payload))
            // Header: FIN + opcode, MASK bit + the length class, then the 4-byte key.
            wire.getUnsignedByte(0).toInt() shouldBe 0x82
            val lengthByte = wire.getUnsignedByte(1).toInt()
            (lengthByte and 0x80) shouldBe 0x80
            (lengthByte and 0x7F) shouldBe when {
                size < 126 -> size
                size <= 0xFFFF -> 126
                else -> 127
            }
            val headerSize = 2 + (
                if (size < 126) {
                    0
                } else if (size <= 0xFFFF) {
                    2
                } else {
                    8
                }
                ) + 4
            wire.readableBytes() shouldBe headerSize + size
            val frame = decode(wire).shouldBeInstanceOf<BinaryWebSocketFrame>()
            frame.isFinalFragment shouldBe true
            ByteBufUtil.getBytes(frame.content()).contentEquals(payload) shouldBe true
            frame.release()
        }
    }

    test("a head and a slice of a body are one message: the key runs on across the join at every phase") {
        val body = Random(7).nextBytes(70_100)
        for (headSize in 0..9) {
            val head = Random(headSize).nextBytes(headSize)
            for ((offset, length) in listOf(0 to 0, 3 to 1, 1 to 13, 5 to 16_384, 11 to 65_530, 17 to 70_000)) {
                val wire = DataFrameEncoder.encode(
                    UnpooledByteBufAllocator.DEFAULT,
                    OutData.OPCODE_BINARY,
                    head,
                    body,
                    offset,
                    length,
                )
                val frame = decode(wire).shouldBeInstanceOf<BinaryWebSocketFrame>()
                val expected = head + body.copyOfRange(offset, offset + length)
                ByteBufUtil.getBytes(frame.content()).contentEquals(expected) shouldBe true
                frame.release()
            }
        }
    }

    test("text frames carry UTF-8 and a fresh key each time") {
        val text = "grüße, 世界"
        val frame = decode(
            encode(OutData(OutData.OPCODE_TEXT, text.toByteArray())),
        ).shouldBeInstanceOf<TextWebSocketFrame>()
        frame.text() shouldBe text
        frame.release()
        val keys =
            List(8) {
                encode(OutData(OutData.OPCODE_BINARY, ByteArray(4))).let { it.getInt(2).also { _ -> it.release() } }
            }
        (keys.toSet().size > 1) shouldBe true
    }
})
