package dev.tether.benchmarks

import java.io.DataInputStream
import java.io.InputStream
import java.io.OutputStream
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicLong

/**
 * A WAMP RawSocket proxy on 127.0.0.1 (ephemeral port) in front of a router at [routerPort] that drops EVENT
 * messages on their way to the client, as a router does to a subscriber that falls behind (nexus: "Dropped EVENT …
 * blocked"). [drop] decides by the index of the EVENT on its connection (0, 1, 2, … in the order the router sent
 * them). MessagePack only: an EVENT is a message whose array's first element is the positive fixint 36.
 */
internal class LossyRawSocketProxy(
    private val routerPort: Int,
    private val drop: (index: Long) -> Boolean,
) : AutoCloseable {
    private val server = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val sockets = CopyOnWriteArrayList<Socket>()
    private val dropped = AtomicLong()

    val url: String = "tcp://127.0.0.1:${server.localPort}"

    /** EVENTs dropped so far, over every connection. */
    fun droppedEvents(): Long = dropped.get()

    init {
        daemon("lossy-accept") {
            while (!server.isClosed) {
                val client = runCatching { server.accept() }.getOrNull() ?: break
                val router = Socket(InetAddress.getLoopbackAddress(), routerPort)
                client.tcpNoDelay = true
                router.tcpNoDelay = true
                sockets += client
                sockets += router
                daemon("lossy-up") { pipe(client.getInputStream(), router.getOutputStream(), filter = false) }
                daemon("lossy-down") { pipe(router.getInputStream(), client.getOutputStream(), filter = true) }
            }
        }
    }

    /** Copies the 4-byte handshake, then frame by frame; drops EVENTs chosen by [drop] when [filter]. */
    private fun pipe(from: InputStream, to: OutputStream, filter: Boolean) {
        val input = DataInputStream(from)
        try {
            val handshake = ByteArray(4)
            input.readFully(handshake)
            to.write(handshake)
            to.flush()
            var events = 0L
            val header = ByteArray(4)
            while (true) {
                input.readFully(header)
                val length = ((header[1].toInt() and 0xff) shl 16) or
                    ((header[2].toInt() and 0xff) shl 8) or
                    (header[3].toInt() and 0xff)
                val frame = ByteArray(4 + length)
                header.copyInto(frame)
                input.readFully(frame, 4, length)
                val isEvent = (header[0].toInt() and 0x07) == 0 &&
                    length >= 2 &&
                    (frame[4].toInt() and 0xf0) == 0x90 &&
                    frame[5].toInt() == EVENT
                if (filter && isEvent && drop(events++)) {
                    dropped.incrementAndGet()
                    continue
                }
                to.write(frame) // one write per frame: with TCP_NODELAY, no frame waits for the previous one's ACK
                to.flush()
            }
        } catch (_: Exception) {
            // either side closed: close both
        } finally {
            runCatching { from.close() }
            runCatching { to.close() }
        }
    }

    private fun daemon(name: String, body: () -> Unit) {
        Thread(body, name).apply { isDaemon = true }.start()
    }

    override fun close() {
        server.close()
        for (s in sockets) runCatching { s.close() }
    }

    private companion object {
        const val EVENT = 36
    }
}
