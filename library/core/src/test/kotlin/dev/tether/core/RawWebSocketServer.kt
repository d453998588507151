package dev.tether.core

import java.io.BufferedInputStream
import java.io.BufferedOutputStream
import java.io.DataInputStream
import java.io.EOFException
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.security.MessageDigest
import java.util.Base64
import java.util.concurrent.CompletableFuture
import kotlin.concurrent.thread

/**
 * A WebSocket server for one client on 127.0.0.1:0, written by hand on a blocking socket so that a test controls
 * every byte after the 101 (what a hostile server may send) and when the server reads at all. Its receive buffer is
 * small, so a client whose writes this server does not read fills its own buffers quickly.
 */
internal class RawWebSocketServer<T>(private val script: (RawPeer) -> T) : AutoCloseable {
    private val server = ServerSocket().apply {
        receiveBufferSize = 4096
        bind(InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
    }
    val url = "ws://127.0.0.1:${server.localPort}/ws"

    /** What the script returned, or how it failed. */
    val result = CompletableFuture<T>()

    private val worker = thread(isDaemon = true, name = "raw-ws-server") {
        try {
            server.accept().use { socket -> result.complete(script(RawPeer(socket).also { it.acceptUpgrade() })) }
        } catch (e: Throwable) {
            result.completeExceptionally(e)
        }
    }

    override fun close() {
        server.close()
        worker.interrupt()
    }
}

/** The server's end of one connection: frames written unmasked, frames read unmasked. */
internal class RawPeer(private val socket: Socket) {
    private val input = DataInputStream(BufferedInputStream(socket.getInputStream()))
    private val output = BufferedOutputStream(socket.getOutputStream(), 1 shl 16)

    /** Reads the upgrade request and writes the 101 answer, unflushed: the next frames go out in the same write. */
    fun acceptUpgrade() {
        var key: String? = null
        while (true) {
            val line = readLine()
            if (line.isEmpty()) break
            val colon = line.indexOf(':')
            if (colon > 0 && line.substring(0, colon).trim().equals("Sec-WebSocket-Key", ignoreCase = true)) {
                key = line.substring(colon + 1).trim()
            }
        }
        val accept = Base64.getEncoder().encodeToString(
            MessageDigest.getInstance("SHA-1")
                .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").toByteArray(Charsets.US_ASCII)),
        )
        val answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Accept: $accept\r\n\r\n"
        output.write(answer.toByteArray(Charsets.US_ASCII))
    }

    private fun readLine(): String {
        val line = StringBuilder()
        while (true) {
            val b = input.read()
            if (b < 0) throw EOFException("the client closed during the upgrade")
            if (b == '\n'.code) return line.toString().trimEnd('\r')
            line.append(b.toChar())
        }
    }

    /** Writes a frame header declaring [length] payload bytes; the payload is the caller's to write (or not). */
    fun header(opcode: Int, length: Long, fin: Boolean = true) {
        output.write((if (fin) 0x80 else 0) or opcode)
        when {
            length < 126 -> output.write(length.toInt())

            length <= 0xFFFF -> {
                output.write(126)
                output.write((length shr 8).toInt() and 0xFF)
                output.write(length.toInt() and 0xFF)
            }

            else -> {
                output.write(127)
                for (shift in 56 downTo 0 step 8) output.write((length shr shift).toInt() and 0xFF)
            }
        }
    }

    fun frame(opcode: Int, payload: ByteArray) {
        header(opcode, payload.size.toLong())
        output.write(payload)
    }

    fun flush() = output.flush()

    /** The next frame from the client (opcode, unmasked payload), or null at the end of the stream. */
    fun readFrame(): Pair<Int, ByteArray>? {
        val first = input.read()
        if (first < 0) return null
        val second = input.readUnsignedByte()
        var length = (second and 0x7F).toLong()
        if (length == 126L) length = input.readUnsignedShort().toLong()
        if (length == 127L) length = input.readLong()
        val mask = if (second and 0x80 != 0) ByteArray(4).also { input.readFully(it) } else null
        val payload = ByteArray(length.toInt())
        input.readFully(payload)
        if (mask != null) for (i in payload.indices) payload[i] = (payload[i].toInt() xor mask[i % 4].toInt()).toByte()
        return (first and 0x0F) to payload
    }

    companion object {
        const val TEXT = 0x1
        const val CLOSE = 0x8
        const val PING = 0x9
        const val PONG = 0xA
    }
}
