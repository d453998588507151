package dev.tether.mux

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import io.ktor.websocket.CloseReason
import io.ktor.websocket.Frame
import io.ktor.websocket.WebSocketExtension
import io.ktor.websocket.WebSocketSession
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import kotlin.coroutines.CoroutineContext

/** A raw WebSocket session whose frames the test feeds and reads. */
private class FrameSession : WebSocketSession {
    val job = Job()
    override val coroutineContext: CoroutineContext = job
    override var masking: Boolean = false
    override var maxFrameSize: Long = Long.MAX_VALUE
    override val incoming = Channel<Frame>(Channel.UNLIMITED)
    override val outgoing = Channel<Frame>(Channel.UNLIMITED)
    override val extensions: List<WebSocketExtension<*>> = emptyList()
    override suspend fun flush() = Unit

    @Deprecated("not used")
    override fun terminate() = Unit
}

class KtorSessionTransportSpec : FunSpec({
    test("pings are answered with the same payload, pongs counted, and neither reaches the session") {
        val raw = FrameSession()
        val t = KtorSessionTransport(raw, MuxConfig.DEFAULT.maxMessageBytes)
        raw.incoming.send(Frame.Ping(byteArrayOf(1, 2)))
        raw.incoming.send(Frame.Pong(ByteArray(0)))
        raw.incoming.send(Frame.Pong(ByteArray(0)))
        raw.incoming.send(Frame.Binary(true, MuxFrame.Syn(0).encode()))
        withTimeout(5_000) { t.receive() }!!.contentEquals(MuxFrame.Syn(0).encode()) shouldBe true
        t.pongs shouldBe 2L
        raw.outgoing.tryReceive().getOrNull().shouldBeInstanceOf<Frame.Pong>().data.toList() shouldBe listOf<Byte>(1, 2)
    }

    test("keepalive pings are empty ping frames; messages go out as one binary frame each") {
        val raw = FrameSession()
        val t = KtorSessionTransport(raw, MuxConfig.DEFAULT.maxMessageBytes)
        t.ping()
        raw.outgoing.tryReceive().getOrNull().shouldBeInstanceOf<Frame.Ping>().data.size shouldBe 0
        t.send(MuxFrame.Fin(2).encode())
        val out = raw.outgoing.tryReceive().getOrNull().shouldBeInstanceOf<Frame.Binary>()
        out.fin shouldBe true
        out.data.toList() shouldBe MuxFrame.Fin(2).encode().toList()
    }

    test("a fragmented message (a 4101-byte DAT split by gorilla) is reassembled; text messages are dropped") {
        val raw = FrameSession()
        val t = KtorSessionTransport(raw, MuxConfig.DEFAULT.maxMessageBytes)
        val dat = MuxFrame.Data(0, ByteArray(4096) { it.toByte() }).encode()
        raw.incoming.send(Frame.Text(false, "ab".encodeToByteArray()))
        raw.incoming.send(Frame.Text(true, "cd".encodeToByteArray()))
        raw.incoming.send(Frame.Binary(false, dat.copyOfRange(0, 4096)))
        raw.incoming.send(Frame.Binary(true, dat.copyOfRange(4096, dat.size)))
        val got = withTimeout(5_000) { t.receive() }!!
        got.contentEquals(dat) shouldBe true
        MuxFrame.decode(got).shouldBeInstanceOf<MuxFrame.Data>().length shouldBe 4096
    }

    test("a close frame ends the transport with SessionClosed naming the peer's close") {
        val raw = FrameSession()
        val t = KtorSessionTransport(raw, MuxConfig.DEFAULT.maxMessageBytes)
        raw.incoming.send(Frame.Close(CloseReason(1001, "bye")))
        withTimeout(5_000) { t.receive() } shouldBe null
        t.endReason().shouldBeInstanceOf<MuxSessionClosedException>().message shouldContain "1001"
    }

    test("a server session over a raw Ktor session serves a stream end to end") {
        val raw = FrameSession()
        val config = MuxConfig {
            keepAliveInterval(java.time.Duration.ZERO)
            ackEveryRead(true)
        }
        val session = MuxSession.server(raw, config)
        try {
            raw.incoming.send(Frame.Binary(true, MuxFrame.Syn(1).encode()))
            raw.incoming.send(Frame.Binary(true, MuxFrame.Data(1, "hi".encodeToByteArray()).encode()))
            val stream = withTimeout(5_000) { session.accept() }
            val buf = ByteArray(8)
            withTimeout(5_000) { stream.read(buf) } shouldBe 2
            val sent = List(2) { MuxFrame.decode((withTimeout(5_000) { raw.outgoing.receive() } as Frame.Binary).data) }
            sent.map { it.toString() } shouldBe listOf("ACK(1, 1024)", "ACK(1, 2)")
        } finally {
            session.close()
        }
        raw.job.isCancelled shouldBe true // closing drops the connection (no close frame)
    }
})
