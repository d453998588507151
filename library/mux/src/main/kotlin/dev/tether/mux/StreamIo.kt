package dev.tether.mux

import io.ktor.utils.io.ByteReadChannel
import io.ktor.utils.io.ByteWriteChannel
import io.ktor.utils.io.readAvailable
import io.ktor.utils.io.reader
import io.ktor.utils.io.writeFully
import io.ktor.utils.io.writer
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.runBlocking
import java.io.IOException
import java.io.InputStream
import java.io.InterruptedIOException
import java.io.OutputStream
import java.net.SocketTimeoutException

/** Maps a stream failure to the `IOException` a blocking Java caller expects, keeping the typed cause. */
internal fun MuxException.asIoException(): IOException = when (this) {
    is ReadTimeoutException, is WriteTimeoutException -> SocketTimeoutException(message).also { it.initCause(this) }
    else -> IOException(message, this)
}

/** Runs a stream operation for a blocking caller; an interrupt ends the wait with [InterruptedIOException]. */
internal fun <T> blockingIo(block: suspend () -> T): T = try {
    runBlocking { block() }
} catch (e: MuxException) {
    throw e.asIoException()
} catch (e: InterruptedException) {
    Thread.currentThread().interrupt()
    throw InterruptedIOException("interrupted while waiting on a wsmux stream")
}

internal class StreamInputStream(private val stream: Stream) : InputStream() {
    private val one = ByteArray(1)

    override fun read(): Int = if (read(one, 0, 1) < 0) -1 else one[0].toInt() and 0xFF

    override fun read(b: ByteArray, off: Int, len: Int): Int {
        java.util.Objects.checkFromIndexSize(off, len, b.size)
        if (len == 0) return 0
        return blockingIo { stream.read(b, off, len) }
    }

    override fun available(): Int = stream.bufferedBytes

    /** Closing the input side alone sends nothing (there is no reset frame). */
    override fun close() = Unit
}

internal class StreamOutputStream(private val stream: Stream) : OutputStream() {
    override fun write(b: Int) = write(byteArrayOf(b.toByte()), 0, 1)

    override fun write(b: ByteArray, off: Int, len: Int) {
        java.util.Objects.checkFromIndexSize(off, len, b.size)
        if (len == 0) return
        blockingIo { stream.write(b, off, len) }
    }

    /** Half-closes the stream (FIN). */
    override fun close() = stream.close()
}

/**
 * A Ktor [ByteReadChannel] fed by this stream's reads, running in [scope]; it ends at the peer's FIN and fails
 * with the stream's error.
 */
public fun Stream.toByteReadChannel(scope: CoroutineScope): ByteReadChannel = scope.writer {
    val buffer = ByteArray(8192)
    while (true) {
        val n = read(buffer)
        if (n < 0) break
        channel.writeFully(buffer, 0, n)
        channel.flush()
    }
}.channel

/**
 * A Ktor [ByteWriteChannel] whose bytes are written to this stream, running in [scope]; closing the channel
 * half-closes the stream (FIN).
 */
public fun Stream.toByteWriteChannel(scope: CoroutineScope): ByteWriteChannel = scope.reader {
    val buffer = ByteArray(8192)
    try {
        while (true) {
            val n = channel.readAvailable(buffer, 0, buffer.size)
            if (n < 0) break
            if (n > 0) write(buffer, 0, n)
        }
    } finally {
        close()
    }
}.channel
