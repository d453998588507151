package dev.tether.wamp.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.core.ConnectionClosedException
import dev.tether.core.InternalTetherApi
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.error.WampException
import dev.tether.wamp.message.Message
import dev.tether.wamp.rawsocket.FrameHeader
import dev.tether.wamp.rawsocket.Handshake
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.Serialization
import dev.tether.wamp.transport.NettyRawSocketPeer
import dev.tether.wamp.transport.PeerListener
import io.netty.buffer.Unpooled
import io.netty.channel.embedded.EmbeddedChannel
import org.junit.jupiter.api.Timeout
import kotlin.time.Duration

/**
 * Fuzzes the RawSocket client's reading of what a router sends (docs/fuzzing.md): the handshake reply, the
 * handshake request (as the testkit router classifies it), frame headers, and the whole inbound byte stream through
 * the client's Netty handler (handshake, then frames split across reads at fuzzed places). Every outcome is a
 * handshake, a typed refusal, decoded messages, or the connection's end with a [WampException] that says why: a
 * refused handshake, a frame over the announced limit, an undecodable message. An exception the handler did not
 * expect (it surfaces as a socket failure) is a finding, as is a message larger than the announced limit.
 *
 * Seeds: the RawSocket vectors of specs/wamp-test-vectors.txt §3 and malformed cases.
 */
@OptIn(InternalTetherApi::class)
class RawSocketFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun handshakeReply(bytes: ByteArray) {
        val reply = try {
            Handshake.parseReply(bytes)
        } catch (e: RawSocketHandshakeException) {
            check(e.errorCode in 0..15)
            return
        }
        check(reply.encode().contentEquals(bytes.copyOf(2) + byteArrayOf(0, 0))) { "$reply does not match its bytes" }
    }

    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun handshakeRequest(bytes: ByteArray) {
        when (val request = Handshake.parseRequest(bytes)) {
            is Handshake.Request.Valid -> check(request.handshake.encode().contentEquals(bytes)) {
                "$request does not match its bytes"
            }

            is Handshake.Request.Refuse -> check(
                Handshake.errorReply(request.errorCode).size == RawSocketProtocol.HANDSHAKE_LENGTH,
            )

            Handshake.Request.Drop -> {}
        }
    }

    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun frameHeader(bytes: ByteArray) {
        if (bytes.size < RawSocketProtocol.FRAME_HEADER_LENGTH) return
        val header = FrameHeader.decode(bytes)
        check(header.type in 0..RawSocketProtocol.TYPE_MASK && header.length in 0..RawSocketProtocol.MAX_FRAME_LENGTH)
        check(
            header.encode().contentEquals(
                bytes.copyOf(4).also {
                    it[0] = (it[0].toInt() and RawSocketProtocol.TYPE_MASK).toByte()
                },
            ),
        )
    }

    /**
     * Input: one byte of read size (0: one read), one byte choosing the client's length exponent (low four bits) and
     * serializer (high bits: JSON, MessagePack, CBOR), then the router's bytes.
     */
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun inboundStream(input: ByteArray) {
        if (input.size < 2) return
        val readSize = (input[0].toInt() and 0xff).let { if (it == 0) Int.MAX_VALUE else it }
        val exponent = input[1].toInt() and 0x0f
        val serialization = Serialization.entries[((input[1].toInt() and 0xff) ushr 4) % Serialization.entries.size]
        val peer =
            NettyRawSocketPeer("rs://fuzz", serialization.serializer(), exponent, "fuzz", Duration.ZERO, Duration.ZERO)
        val channel = EmbeddedChannel()
        val messages = ArrayList<Message>()
        var end: Exception? = null
        channel.pipeline().addLast(peer.bind(channel))
        peer.listen(object : PeerListener {
            override fun onMessage(message: Message) {
                messages += message
            }

            override fun onEnd(cause: Exception) {
                end = cause
            }
        })
        channel.pipeline().fireChannelActive()
        var at = 2
        while (at < input.size && channel.isOpen) {
            val n = minOf(readSize, input.size - at)
            channel.writeInbound(Unpooled.wrappedBuffer(input, at, n))
            at += n
        }
        channel.finishAndReleaseAll()
        when (val cause = end) {
            null, is RawSocketHandshakeException, is MessageTooLongException -> {}

            is ProtocolViolationException -> check(!cause.message.orEmpty().startsWith("undecodable message")) {
                "the ${serialization.name} serializer threw ${cause.cause}"
            }

            is ConnectionClosedException -> check(cause.cause == null || cause.cause is WampException) {
                "the RawSocket handler failed: ${cause.cause?.stackTraceToString()}"
            }

            else -> error("ended with ${cause::class.simpleName}: $cause")
        }
        check(messages.size <= input.size / (RawSocketProtocol.FRAME_HEADER_LENGTH + 1)) { "more messages than frames" }
    }
}
