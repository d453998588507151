package dev.tether.mux

import java.io.InputStream
import java.io.OutputStream
import java.time.Duration

/**
 * A `java.net.Socket`-shaped view of a [Stream] for blocking Java code: [getInputStream], [getOutputStream],
 * [setSoTimeout] (milliseconds, 0 = forever), [shutdownOutput] (FIN) and [close].
 *
 * Timeouts surface as `java.net.SocketTimeoutException` whose cause is the [ReadTimeoutException] /
 * [WriteTimeoutException]; every other failure is an `IOException` caused by the [MuxException].
 */
public class MuxSocket(public val stream: Stream) : AutoCloseable {
    private val input = stream.inputStream()
    private val output = stream.outputStream()

    /** Blocking reads; -1 at the peer's FIN. */
    public fun getInputStream(): InputStream = input

    /** Blocking writes; closing it half-closes the stream. */
    public fun getOutputStream(): OutputStream = output

    /** Bounds every read (0 = no bound), as `Socket.setSoTimeout`. */
    public fun setSoTimeout(millis: Int) {
        require(millis >= 0) { "timeout must not be negative" }
        stream.readTimeout = if (millis == 0) null else Duration.ofMillis(millis.toLong())
    }

    /** The read bound in milliseconds, 0 for none. */
    public fun getSoTimeout(): Int = stream.readTimeout?.toMillis()?.toInt() ?: 0

    /** Bounds each write's wait for send credit (null = no bound). */
    public fun setWriteTimeout(timeout: Duration?) {
        stream.writeTimeout = timeout
    }

    /** Sends FIN: no more writes, reads go on. */
    public fun shutdownOutput(): Unit = stream.close()

    /** True once output was shut down or the session ended. */
    public fun isClosed(): Boolean = stream.isClosed

    /** Half-closes the stream (wsmux has no reset: the peer still sees an orderly FIN). */
    override fun close(): Unit = stream.close()
}
