@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.rawsocket

import dev.tether.core.ConnectionClosedException
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.hex
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Publish
import dev.tether.wamp.serializer.CborSerializer
import dev.tether.wamp.serializer.JsonSerializer
import dev.tether.wamp.serializer.MsgPackSerializer
import dev.tether.wamp.serializer.Serializer
import dev.tether.wamp.toHex
import dev.tether.wamp.transport.RawSocketPeer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.ktor.utils.io.ByteChannel
import io.ktor.utils.io.readFully
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** wamp-test-vectors.txt §3: handshakes, error replies, framing, PING/PONG and the length limits. */
class RawSocketSpec : FunSpec({
    fun hs(limit: Long, serializer: Int) = Handshake(RawSocketProtocol.exponentFor(limit), serializer).encode().toHex()

    test("RS.hs: client handshakes for each serializer and receive limit") {
        hs(0, 1) shouldBe "7ff10000"
        hs(0, 2) shouldBe "7ff20000"
        hs(0, 3) shouldBe "7ff30000"
        hs(1L shl 20, 1) shouldBe "7fb10000"
        hs(1L shl 20, 2) shouldBe "7fb20000"
        hs(1L shl 20, 3) shouldBe "7fb30000"
        hs(1000, 1) shouldBe "7f110000"
        hs(1, 1) shouldBe "7f010000"
    }

    test("RS.router_limit: router replies announce the router's own limit") {
        hs(1048576, 1) shouldBe "7fb10000"
        hs(1048576, 2) shouldBe "7fb20000"
        hs(1048576, 3) shouldBe "7fb30000"
        hs(1000, 1) shouldBe "7f110000"
        hs(512, 1) shouldBe "7f010000"
        hs(1, 1) shouldBe "7f010000"
    }

    test("RecvLimit rounds up to a power of two between 512 B and 16 MiB") {
        RawSocketProtocol.roundRecvLimit(1) shouldBe 512
        RawSocketProtocol.roundRecvLimit(513) shouldBe 1024
        RawSocketProtocol.roundRecvLimit(1000) shouldBe 1024
        RawSocketProtocol.roundRecvLimit(1L shl 20) shouldBe (1 shl 20)
        RawSocketProtocol.roundRecvLimit((1L shl 20) + 1) shouldBe (1 shl 21)
        RawSocketProtocol.roundRecvLimit(0) shouldBe (16 shl 20)
        RawSocketProtocol.roundRecvLimit(-5) shouldBe (16 shl 20)
        RawSocketProtocol.roundRecvLimit(1L shl 30) shouldBe (16 shl 20)
        Handshake.parseReply(hex("7f020000")).maxLength shouldBe 512
    }

    test("RS.err: router-side classification of client handshakes, as nexus answers them") {
        Handshake.parseRequest(hex("7ff50000")) shouldBe Handshake.Request.Valid(Handshake(15, 5))
        Handshake.errorReply(RawSocketProtocol.ERROR_SERIALIZER_UNSUPPORTED).toHex() shouldBe "7f100000"
        Handshake.parseRequest(
            hex("7ff10001"),
        ) shouldBe Handshake.Request.Refuse(RawSocketProtocol.ERROR_RESERVED_BITS_USED)
        Handshake.errorReply(RawSocketProtocol.ERROR_RESERVED_BITS_USED).toHex() shouldBe "7f300000"
        Handshake.parseRequest(hex("7ff00000")) shouldBe Handshake.Request.Drop
        Handshake.parseRequest(hex("7ef10000")) shouldBe Handshake.Request.Drop
        Handshake.parseRequest(hex("7f020000")) shouldBe Handshake.Request.Valid(Handshake(0, 2))
    }

    test("client side: an error reply is a RawSocketHandshakeException carrying the code") {
        for (code in 1..4) {
            val e = shouldThrow<RawSocketHandshakeException> { Handshake.parseReply(Handshake.errorReply(code)) }
            e.errorCode shouldBe code
        }
        shouldThrow<RawSocketHandshakeException> { Handshake.parseReply(hex("00f10000")) }.errorCode shouldBe 0
        Handshake.parseReply(hex("7ff10000")) shouldBe Handshake(15, 1)
    }

    test("frame header: 24-bit big-endian length, only the low three type bits count") {
        FrameHeader(0, 300).encode().toHex() shouldBe "0000012c"
        FrameHeader.decode(hex("00100000")) shouldBe FrameHeader(0, 1 shl 20)
        FrameHeader.decode(hex("f9000003")) shouldBe FrameHeader(1, 3)
        FrameHeader(0, RawSocketProtocol.MAX_FRAME_LENGTH).encode().toHex() shouldBe "00ffffff"
    }

    class Wire(serializer: Serializer, sendLimit: Int = 1 shl 24, recvLimit: Int = 1 shl 24) {
        val toPeer = ByteChannel()
        val fromPeer = ByteChannel()
        val peer =
            RawSocketPeer(toPeer, fromPeer, serializer, sendLimit, recvLimit, "test") {
                toPeer.cancel(null)
                fromPeer.close()
            }

        suspend fun write(hexBytes: String) {
            toPeer.writeFully(hex(hexBytes))
            toPeer.flush()
        }

        suspend fun read(n: Int): String = ByteArray(n).also { fromPeer.readFully(it) }.toHex()
    }

    test("RS.frame300: a 300-byte JSON PUBLISH goes out as header 0000012c + serializer output") {
        val w = Wire(JsonSerializer())
        val publish = Publish(1, emptyMap(), "t", listOf("x".repeat(282)))
        JsonSerializer().encode(publish).size shouldBe 300
        withTimeout(5.seconds) {
            w.peer.send(publish)
            w.read(4) shouldBe "0000012c"
            w.read(300) shouldBe JsonSerializer().encode(publish).toHex()
        }
    }

    test("RS.goodbye: GOODBYE frames for each serializer") {
        val cases = listOf(
            JsonSerializer() to "0000001f" + """[6,{},"wamp.close.close_realm"]""".toByteArray().toHex(),
            MsgPackSerializer() to "0000001a930680b677616d702e636c6f73652e636c6f73655f7265616c6d",
            CborSerializer() to "0000001a8306a07677616d702e636c6f73652e636c6f73655f7265616c6d",
        )
        for ((s, expected) in cases) {
            val w = Wire(s)
            withTimeout(5.seconds) {
                w.peer.send(Goodbye(emptyMap(), "wamp.close.close_realm"))
                w.read(expected.length / 2) shouldBe expected
                // and the router's reply decodes
                val reply = s.encode(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                w.write(FrameHeader(0, reply.size).encode().toHex() + reply.toHex())
                w.peer.receive() shouldBe Goodbye(emptyMap(), "wamp.close.goodbye_and_out")
            }
        }
    }

    test("RS.ping: PING is answered with PONG echoing the payload, also when empty, without disturbing messages") {
        val w = Wire(JsonSerializer())
        withTimeout(5.seconds) {
            coroutineScope {
                val received = async { w.peer.receive() }
                w.write("01000003616263")
                w.read(7) shouldBe "02000003616263"
                w.write("01000000")
                w.read(4) shouldBe "02000000"
                val body = """[6,{},"wamp.close.goodbye_and_out"]""".toByteArray()
                w.write(FrameHeader(0, body.size).encode().toHex() + body.toHex())
                received.await().shouldBeInstanceOf<Goodbye>()
            }
        }
    }

    test("ping() completes when the matching PONG arrives and reports false without one") {
        val w = Wire(JsonSerializer())
        withTimeout(5.seconds) {
            coroutineScope {
                val reader = async { runCatching { w.peer.receive() } }
                val ok = async { w.peer.ping("hi".toByteArray(), 5.seconds) }
                w.read(6) shouldBe "000000026869".replaceFirst("00", "01")
                w.write("020000026869")
                ok.await() shouldBe true
                val lost = async { w.peer.ping("x".toByteArray(), kotlin.time.Duration.parse("100ms")) }
                w.read(5)
                lost.await() shouldBe false
                w.peer.close()
                reader.await()
            }
        }
    }

    test("receive limit: exactly the limit is accepted, one byte more closes the connection") {
        val w = Wire(JsonSerializer(), recvLimit = 512)
        val body = """[16,1,{},"t",["${"x".repeat(512 - 18)}"]]""".toByteArray()
        body.size shouldBe 512
        withTimeout(5.seconds) {
            w.write(FrameHeader(0, 512).encode().toHex() + body.toHex())
            w.peer.receive().shouldBeInstanceOf<Publish>()
            w.write("00000201")
            val e = shouldThrow<MessageTooLongException> { w.peer.receive() }
            e.limit shouldBe 512
            shouldThrow<ConnectionClosedException> { w.peer.send(Goodbye(emptyMap(), "x")) }
        }
    }

    test("send limit: a message over the peer's limit is refused and nothing is written") {
        val w = Wire(JsonSerializer(), sendLimit = 512)
        withTimeout(5.seconds) {
            val e =
                shouldThrow<MessageTooLongException> {
                    w.peer.send(Publish(1, emptyMap(), "t", listOf("x".repeat(600))))
                }
            e.limit shouldBe 512
            w.peer.send(Goodbye(emptyMap(), "wamp.close.close_realm"))
            w.read(4) shouldBe "0000001f"
        }
    }

    test("end of stream, also in the middle of a frame, is ConnectionClosedException") {
        val w = Wire(JsonSerializer())
        withTimeout(5.seconds) {
            w.write("000000ff7b")
            w.toPeer.close()
            shouldThrow<ConnectionClosedException> { w.peer.receive() }
        }
    }
})
