package dev.tether.benchmarks

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxSession
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.io.BufferedInputStream
import java.io.ByteArrayOutputStream
import java.io.DataInputStream
import java.net.ConnectException
import java.net.Socket
import java.net.SocketTimeoutException

/**
 * A WebSocket client written frame by frame on a plain socket, so that a test can send what the benchmark's clients
 * never do (fragments, pings, a close with a status) and see every frame the peer answers with.
 */
private class WireClient(port: Int, path: String) : AutoCloseable {
    private val socket = Socket("127.0.0.1", port).apply {
        soTimeout = 10_000
        tcpNoDelay = true
    }
    private val input = DataInputStream(BufferedInputStream(socket.getInputStream()))
    private val output = socket.getOutputStream()

    /** The status line of the answer to the upgrade request. */
    val statusLine: String

    init {
        output.write(
            (
                "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).toByteArray(),
        )
        val head = StringBuilder()
        while (!head.endsWith("\r\n\r\n")) {
            head.append(
                input.read().also {
                    check(it >= 0) { "closed in the answer: $head" }
                }.toChar(),
            )
        }
        statusLine = head.toString().substringBefore("\r\n")
    }

    class WireFrame(val fin: Boolean, val opcode: Int, val payload: ByteArray) {
        val text: String get() = payload.decodeToString()
    }

    fun send(opcode: Int, payload: ByteArray, fin: Boolean = true) {
        val out = ByteArrayOutputStream(payload.size + 14)
        out.write((if (fin) 0x80 else 0) or opcode)
        val n = payload.size
        when {
            n < 126 -> out.write(0x80 or n)

            n <= 0xFFFF -> {
                out.write(0x80 or 126)
                out.write(n ushr 8)
                out.write(n and 0xFF)
            }

            else -> {
                out.write(0x80 or 127)
                for (shift in 56 downTo 0 step 8) out.write(((n.toLong() ushr shift) and 0xFF).toInt())
            }
        }
        val key = byteArrayOf(0x11, 0x22, 0x33, 0x44)
        out.write(key)
        for (i in payload.indices) out.write(payload[i].toInt() xor key[i and 3].toInt())
        output.write(out.toByteArray())
        output.flush()
    }

    /** The header of a masked frame announcing [length] payload bytes, and nothing of the payload. */
    fun sendHeader(opcode: Int, length: Long) {
        val out = ByteArrayOutputStream(14)
        out.write(0x80 or opcode)
        out.write(0x80 or 127)
        for (shift in 56 downTo 0 step 8) out.write(((length ushr shift) and 0xFF).toInt())
        out.write(byteArrayOf(0x11, 0x22, 0x33, 0x44))
        output.write(out.toByteArray())
        output.flush()
    }

    fun sendText(text: String, fin: Boolean = true) = send(TEXT, text.toByteArray(), fin)

    fun receive(): WireFrame {
        val b0 = input.readUnsignedByte()
        val b1 = input.readUnsignedByte()
        val length = when (val l = b1 and 0x7F) {
            126 -> input.readUnsignedShort().toLong()
            127 -> input.readLong()
            else -> l.toLong()
        }
        val payload = ByteArray(length.toInt())
        input.readFully(payload)
        return WireFrame(b0 and 0x80 != 0, b0 and 0x0F, payload)
    }

    /** Waits up to [millis] for a frame; null when none came. */
    fun receiveWithin(millis: Int): WireFrame? {
        socket.soTimeout = millis
        return try {
            receive()
        } catch (_: SocketTimeoutException) {
            null
        } finally {
            socket.soTimeout = 10_000
        }
    }

    /** True once the peer closed the socket. */
    fun atEnd(): Boolean = input.read() < 0

    override fun close() = socket.close()

    companion object {
        const val CONTINUATION = 0x0
        const val TEXT = 0x1
        const val BINARY = 0x2
        const val CLOSE = 0x8
        const val PING = 0x9
        const val PONG = 0xA

        fun closePayload(code: Int, reason: String) =
            byteArrayOf((code ushr 8).toByte(), code.toByte()) + reason.toByteArray()
        fun le32(n: Int) = RawBulkClient.creditMessage(n)
    }
}

/** The benchmark's Netty peers, endpoint by endpoint, on the wire. */
class PeerServerSpec : FunSpec({
    test(
        "/echo: text back byte for byte (a fragmented message joined), binary ignored, pings answered, a close " +
            "answered and the socket closed",
    ) {
        LoopbackServer().use { server ->
            WireClient(server.port, "/echo").use { c ->
                c.statusLine shouldStartWith "HTTP/1.1 101"
                c.sendText("hello")
                c.receive().let {
                    it.opcode shouldBe WireClient.TEXT
                    it.fin shouldBe true
                    it.text shouldBe "hello"
                }
                c.sendText("frag", fin = false)
                c.send(WireClient.PING, byteArrayOf(7)) // a control frame between fragments
                c.send(WireClient.CONTINUATION, "men".toByteArray(), fin = false)
                c.send(WireClient.CONTINUATION, "ted".toByteArray())
                c.receive().let {
                    it.opcode shouldBe WireClient.PONG
                    it.payload.toList() shouldBe listOf<Byte>(7)
                }
                c.receive().let {
                    it.opcode shouldBe WireClient.TEXT
                    it.text shouldBe "fragmented"
                }
                c.send(WireClient.BINARY, byteArrayOf(1, 2, 3))
                c.send(WireClient.CLOSE, WireClient.closePayload(1000, "done"))
                c.receive().let {
                    it.opcode shouldBe WireClient.CLOSE
                    it.payload.toList() shouldBe WireClient.closePayload(1000, "done").toList()
                }
                c.atEnd() shouldBe true
            }
        }
    }

    test("/envelope-echo answers a request with its id and payload and ignores one without an id") {
        LoopbackServer().use { server ->
            WireClient(server.port, "/envelope-echo").use { c ->
                c.sendText("""{"kind":"echo","ts":"x"}""")
                c.sendText("""{"kind":"echo","id":"A1","ts":"x","payload":{"n":1}}""")
                c.receive().text shouldBe server.leanReply("""{"kind":"echo","id":"A1","ts":"x","payload":{"n":1}}""")
                c.send(WireClient.CLOSE, ByteArray(0))
                c.receive().let {
                    it.opcode shouldBe WireClient.CLOSE
                    it.payload.toList() shouldBe WireClient.closePayload(1000, "").toList()
                }
            }
        }
    }

    test("/sink counts text and binary messages and their bytes; /window-sink counts binary ones and credits each") {
        LoopbackServer().use { server ->
            WireClient(server.port, "/sink").use { c ->
                c.sendText("abc")
                c.send(WireClient.BINARY, ByteArray(70_000))
                c.send(WireClient.BINARY, ByteArray(10), fin = false)
                c.send(WireClient.CONTINUATION, ByteArray(5))
                c.send(WireClient.PING, ByteArray(0))
                c.receive().opcode shouldBe WireClient.PONG // read in order: everything before it is counted
                server.sunkFrames() shouldBe 3
                server.sunkBytes() shouldBe 70_018
            }
            WireClient(server.port, "/window-sink").use { c ->
                c.sendText("not counted")
                c.send(WireClient.BINARY, ByteArray(5000))
                c.receive().let {
                    it.opcode shouldBe WireClient.BINARY
                    RawBulkClient.credit(it.payload) shouldBe 5000
                }
                server.sunkFrames() shouldBe 4
                server.sunkBytes() shouldBe 75_018
            }
        }
    }

    test("/source sends TOTAL bytes in messages of SIZE (the last one shorter), then answers the close") {
        LoopbackServer().use { server ->
            WireClient(server.port, "/source").use { c ->
                c.sendText("10000 4096")
                val sizes = List(3) { c.receive().also { it.opcode shouldBe WireClient.BINARY }.payload.size }
                sizes shouldBe listOf(4096, 4096, 1808)
                c.send(WireClient.CLOSE, WireClient.closePayload(1000, ""))
                c.receive().opcode shouldBe WireClient.CLOSE
            }
        }
    }

    test("/window-source never has more than the window unacknowledged, and goes on as credit comes") {
        LoopbackServer().use { server ->
            WireClient(server.port, "/window-source").use { c ->
                c.sendText("10000 1000 3000")
                List(3) { c.receive().payload.size } shouldBe listOf(1000, 1000, 1000)
                c.receiveWithin(300) shouldBe null
                c.send(WireClient.BINARY, WireClient.le32(1500))
                c.receive().payload.size shouldBe 1000
                c.receiveWithin(300) shouldBe null // 500 of credit left: not enough for a message
                c.send(WireClient.BINARY, WireClient.le32(100_000))
                List(6) { c.receive().payload.size }.sum() shouldBe 6000
                c.receiveWithin(300) shouldBe null
            }
        }
    }

    test("a source goes on when the socket drains: a client that reads late still gets every byte") {
        LoopbackServer().use { server ->
            WireClient(server.port, "/source").use { c ->
                val total = 64L shl 20 // far more than the socket buffers hold
                c.sendText("$total 65536")
                Thread.sleep(300)
                var got = 0L
                while (got < total) got += c.receive().payload.size
                got shouldBe total
                c.receiveWithin(200) shouldBe null
            }
        }
    }

    test("an unknown path is 404, a plain request 400, a message over 2 MiB closes with 1009") {
        LoopbackServer().use { server ->
            WireClient(server.port, "/nowhere").use { it.statusLine shouldStartWith "HTTP/1.1 404" }
            Socket("127.0.0.1", server.port).use { s ->
                s.getOutputStream().write("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n".toByteArray())
                s.getInputStream().bufferedReader().readLine() shouldStartWith "HTTP/1.1 400"
            }
            WireClient(server.port, "/echo").use { c ->
                c.send(WireClient.TEXT, ByteArray(2 shl 20) { 'a'.code.toByte() })
                c.receive().opcode shouldBe WireClient.TEXT // exactly 2 MiB is allowed
                // Only the header of a bigger one: the peer refuses it from the length alone.
                c.sendHeader(WireClient.TEXT, (2L shl 20) + 1)
                val close = c.receive()
                close.opcode shouldBe WireClient.CLOSE
                ((close.payload[0].toInt() and 0xFF) shl 8 or (close.payload[1].toInt() and 0xFF)) shouldBe 1009
            }
        }
    }

    test("/mux-ack answers every SYN with an ACK of the stream buffer size and nothing else") {
        MuxPeer(MuxConfig { streamBufferSize(4096) }).use { peer ->
            WireClient(peer.port, "/mux-ack").use { c ->
                c.send(WireClient.BINARY, MuxFrame.Data(1, byteArrayOf(1)).encode())
                c.send(WireClient.BINARY, MuxFrame.Syn(7).encode())
                c.send(WireClient.BINARY, MuxFrame.Syn(9).encode())
                MuxFrame.decode(c.receive().payload).toString() shouldBe "ACK(7, 4096)"
                MuxFrame.decode(c.receive().payload).toString() shouldBe "ACK(9, 4096)"
                c.receiveWithin(200) shouldBe null
            }
        }
    }

    test("/mux serves upload and download commands over a wsmux session") {
        val config = MuxConfig {
            streamBufferSize(4096)
            peerCapacity(4096)
        }
        MuxPeer(config).use { peer ->
            val dialer = WebSocketDialer(DialerConfig(peer.url("/mux")))
            try {
                runBlocking(Dispatchers.Default) {
                    val session = MuxSession.client(dialer.dial(), config)
                    try {
                        withTimeout(30_000) {
                            val up = session.open()
                            up.write(MuxPeer.command(upload = true, messageBytes = 1000, totalBytes = 300_000))
                            up.write(ByteArray(300_000))
                            up.close()
                            while (peer.receivedBytes() < 300_000) delay(5)
                            peer.receivedBytes() shouldBe 300_000

                            val down = session.open()
                            down.write(MuxPeer.command(upload = false, messageBytes = 1000, totalBytes = 250_500))
                            val buffer = ByteArray(8192)
                            var got = 0L
                            while (true) {
                                val n = down.read(buffer)
                                if (n < 0) break
                                got += n
                            }
                            got shouldBe 250_500
                        }
                    } finally {
                        session.close()
                    }
                }
            } finally {
                dialer.close()
            }
        }
    }

    test("closing a peer stops listening") {
        val port = MuxPeer(MuxConfig.DEFAULT).let { p ->
            p.close()
            p.port
        }
        shouldThrow<ConnectException> { Socket("127.0.0.1", port).close() }
        val loopback = LoopbackServer().let { s ->
            s.close()
            s.port
        }
        shouldThrow<ConnectException> { Socket("127.0.0.1", loopback).close() }
    }
})
