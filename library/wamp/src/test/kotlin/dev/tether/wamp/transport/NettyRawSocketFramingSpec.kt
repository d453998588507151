@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.ConnectionClosedException
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.hex
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.Publish
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.rawsocket.FrameHeader
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.JsonSerializer
import dev.tether.wamp.toHex
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufUtil
import io.netty.buffer.Unpooled
import io.netty.channel.embedded.EmbeddedChannel
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * The Netty RawSocket client's byte handling, fed by hand through an [EmbeddedChannel] (every read is a chunk the
 * test chose): the handshake, frames split at every possible offset, several frames in one read, PING answered,
 * the receive limit, undecodable input.
 */
class NettyRawSocketFramingSpec : FunSpec({
    val json = JsonSerializer()

    class Harness(recvLimit: Long = 0) {
        val peer =
            NettyRawSocketPeer(
                "tcp://router.test:1",
                json,
                RawSocketProtocol.exponentFor(recvLimit),
                "test",
                Duration.ZERO,
                10.seconds,
            )
        val channel = EmbeddedChannel(false, false).also {
            it.pipeline().addLast(peer.bind(it))
            it.register()
        }
        val messages = mutableListOf<Message>()
        val ends = mutableListOf<Exception>()

        fun listen() = peer.listen(object : PeerListener {
            override fun onMessage(message: Message) {
                messages += message
            }
            override fun onEnd(cause: Exception) {
                ends += cause
            }
        })

        fun feed(bytes: ByteArray) {
            channel.writeInbound(Unpooled.wrappedBuffer(bytes))
        }

        fun written(): String {
            val out = StringBuilder()
            while (true) {
                val buf = channel.readOutbound<ByteBuf>() ?: break
                out.append(ByteBufUtil.hexDump(buf))
                buf.release()
            }
            return out.toString()
        }
    }

    fun frame(type: Int, payload: ByteArray) = FrameHeader(type, payload.size).encode() + payload
    fun message(m: Message) = frame(RawSocketProtocol.TYPE_MESSAGE, json.encode(m))

    test("the client handshake goes out on connect; the router's acceptance opens the peer with the router's limit") {
        val h = Harness(recvLimit = 1000)
        h.written() shouldBe "7f110000" // 1000 rounds up to 1024 (exponent 1), serializer 1 (JSON)
        h.feed(hex("7fb1"))
        h.feed(hex("0000")) // the reply itself split across reads
        withTimeout(5.seconds) { h.peer.awaitOpen() }
        h.peer.sendLimit shouldBe (1 shl 20)
        h.peer.recvLimit shouldBe 1024
    }

    test("a refusing or malformed handshake reply fails the open with RawSocketHandshakeException and closes") {
        for ((reply, code) in listOf("7f100000" to 1, "7f400000" to 4, "00f10000" to 0)) {
            val h = Harness()
            h.feed(hex(reply))
            withTimeout(5.seconds) {
                shouldThrow<RawSocketHandshakeException> { h.peer.awaitOpen() }.errorCode shouldBe code
            }
            h.channel.isOpen shouldBe false
        }
    }

    test("an acceptance naming another serializer is a ProtocolViolationException") {
        val h = Harness()
        h.feed(hex("7ff20000"))
        withTimeout(5.seconds) { shouldThrow<ProtocolViolationException> { h.peer.awaitOpen() } }
    }

    test(
        "frames split at every offset, and several frames in one read, arrive whole and in order; PINGs are answered " +
            "in between",
    ) {
        val first = ResultMessage(1, emptyMap(), listOf("x".repeat(300)))
        val second = ResultMessage(2, emptyMap(), listOf("second"))
        val third = Goodbye(emptyMap(), "wamp.close.system_shutdown")
        val stream = message(
            first,
        ) + frame(RawSocketProtocol.TYPE_PING, "abc".toByteArray()) + message(second) + message(third)
        // One split point anywhere, then every pair of split points in the first 40 bytes (header and payload start).
        val splits = (1 until stream.size).map {
            listOf(it)
        } + (1 until 40).flatMap { a -> (a + 1 until 40).map { b -> listOf(a, b) } }
        for (points in splits + listOf(emptyList())) {
            val h = Harness()
            h.feed(hex("7ff10000"))
            h.listen() shouldBe true
            h.written()
            var from = 0
            for (p in points + stream.size) {
                h.feed(stream.copyOfRange(from, p))
                from = p
            }
            h.messages shouldBe listOf(first, second, third)
            h.written() shouldBe "02000003616263" // the PONG echoes the PING's payload
            h.ends shouldBe emptyList()
        }
    }

    test("messages that came before listen() are delivered first, in order; then new ones inline") {
        val h = Harness()
        h.feed(hex("7ff10000") + message(ResultMessage(1, emptyMap())) + message(ResultMessage(2, emptyMap())))
        withTimeout(5.seconds) { h.peer.receive() shouldBe ResultMessage(1, emptyMap()) }
        h.listen()
        h.messages shouldBe listOf(ResultMessage(2, emptyMap()))
        h.feed(message(ResultMessage(3, emptyMap())))
        h.messages shouldBe listOf(ResultMessage(2, emptyMap()), ResultMessage(3, emptyMap()))
    }

    test("a frame over the receive limit is refused from its header: MessageTooLongException, connection closed") {
        val h = Harness(recvLimit = 512)
        val body = """[16,1,{},"t",["${"x".repeat(512 - 18)}"]]""".toByteArray()
        body.size shouldBe 512
        h.feed(hex("7ff10000") + frame(0, body))
        withTimeout(5.seconds) { h.peer.receive().shouldBeInstanceOf<Publish>() }
        h.listen()
        h.feed(hex("00000201")) // 513 bytes announced; no payload needed to refuse it
        val e = h.ends.single().shouldBeInstanceOf<MessageTooLongException>()
        e.length shouldBe 513
        e.limit shouldBe 512
        h.channel.isOpen shouldBe false
        withTimeout(5.seconds) { shouldThrow<ConnectionClosedException> { h.peer.send(Goodbye(emptyMap(), "x")) } }
    }

    test(
        "an undecodable message ends delivery with ProtocolViolationException; the connection stays open for the ABORT",
    ) {
        val h = Harness()
        h.feed(hex("7ff10000"))
        h.listen()
        h.written()
        h.feed(frame(0, "[99, oops".toByteArray()) + message(ResultMessage(1, emptyMap())))
        h.ends.single().shouldBeInstanceOf<ProtocolViolationException>()
        h.messages shouldBe emptyList()
        h.channel.isOpen shouldBe true
        withTimeout(5.seconds) { h.peer.send(Goodbye(emptyMap(), "x")) }
        h.channel.runPendingTasks()
        h.written() shouldBe FrameHeader(
            0,
            json.encode(Goodbye(emptyMap(), "x")).size,
        ).encode().toHex() + json.encode(Goodbye(emptyMap(), "x")).toHex()
    }

    test("send frames a message with its 4-byte header and refuses one over the router's limit") {
        val h = Harness()
        h.feed(hex("7f010000")) // the router takes at most 512 bytes
        withTimeout(5.seconds) {
            h.peer.awaitOpen()
            h.written() shouldBe "7ff10000"
            val publish = Publish(1, emptyMap(), "t", listOf("x".repeat(282)))
            h.peer.send(publish)
            h.channel.runPendingTasks()
            h.written() shouldBe "0000012c" + json.encode(publish).toHex()
            val e =
                shouldThrow<MessageTooLongException> {
                    h.peer.send(Publish(1, emptyMap(), "t", listOf("x".repeat(600))))
                }
            e.limit shouldBe 512
            h.written() shouldBe ""
        }
    }

    test("receive() waits for a message and fails once the socket closes") {
        val h = Harness()
        h.feed(hex("7ff10000"))
        withTimeout(5.seconds) {
            coroutineScope {
                val next = async { runCatching { h.peer.receive() } }
                h.feed(message(ResultMessage(7, emptyMap())))
                next.await().getOrThrow() shouldBe ResultMessage(7, emptyMap())
                val after = async { runCatching { h.peer.receive() } }
                h.channel.close()
                after.await().exceptionOrNull().shouldBeInstanceOf<ConnectionClosedException>()
            }
        }
    }
})
