package dev.tether.tunnel

import dev.tether.mux.Stream
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withContext
import java.io.IOException
import java.net.InetSocketAddress
import java.net.Socket
import java.net.URI

/** Where [TunnelClient.forward] connects: a host and port on the local machine (or anywhere reachable). */
internal class OriginAddress(val host: String, val port: Int) {
    companion object {
        /** Parses `http://host:port`, `ws://host:port`, `https://…` (port 443 default) or `host:port`. */
        fun parse(origin: String): OriginAddress {
            val uri = URI(if (origin.contains("://")) origin else "tcp://$origin")
            val host = requireNotNull(uri.host) { "origin has no host: $origin" }
            val port = when {
                uri.port >= 0 -> uri.port
                uri.scheme == "https" || uri.scheme == "wss" -> 443
                uri.scheme == "http" || uri.scheme == "ws" -> 80
                else -> throw IllegalArgumentException("origin has no port: $origin")
            }
            return OriginAddress(host, port)
        }
    }
}

/**
 * Copies bytes between one viewer stream and a fresh TCP connection to the origin, in both directions, keeping
 * interim 1xx responses out of the stream ([InterimResponses]). The proxy's FIN becomes a TCP half-close towards
 * the origin; the origin's EOF becomes our FIN. The socket is closed
 * when both directions are done or either fails (a session drop fails the stream read and so ends the pipe).
 */
internal class OriginPipe(private val stream: Stream, private val origin: OriginAddress) {
    suspend fun run() {
        val socket = withContext(ORIGIN_IO) {
            Socket().apply {
                tcpNoDelay = true
                connect(InetSocketAddress(origin.host, origin.port), CONNECT_TIMEOUT_MILLIS)
            }
        }
        try {
            coroutineScope {
                // origin -> stream: blocking socket reads, interruptible so that a failed upstream ends it.
                val down = launch(ORIGIN_IO) {
                    val input = socket.getInputStream()
                    val buffer = ByteArray(BUFFER)
                    val interim = ResponseHeadFilter()
                    while (true) {
                        val n = try {
                            runInterruptible { input.read(buffer) }
                        } catch (e: IOException) {
                            -1
                        }
                        if (n < 0) break
                        if (interim.passing) stream.write(buffer, 0, n) else stream.writeAll(interim.filter(buffer, 0, n))
                    }
                    stream.writeAll(interim.finish())
                    stream.close() // FIN: the response is complete
                }
                // stream -> origin
                val output = socket.getOutputStream()
                val buffer = ByteArray(BUFFER)
                val expect = RequestHeadFilter()
                try {
                    while (true) {
                        val n = stream.read(buffer)
                        if (n < 0) break
                        val bytes = if (expect.passing) null else expect.filter(buffer, 0, n)
                        runInterruptible(ORIGIN_IO) {
                            if (bytes == null) output.write(buffer, 0, n) else output.write(bytes)
                            output.flush()
                        }
                    }
                    val rest = expect.finish()
                    if (rest.isNotEmpty()) runInterruptible(ORIGIN_IO) { output.write(rest); output.flush() }
                    runInterruptible(ORIGIN_IO) { if (!socket.isClosed) socket.shutdownOutput() }
                } catch (e: Exception) {
                    down.cancel()
                    socket.close() // unblocks the read of the other direction
                    throw e
                }
                down.join()
            }
        } finally {
            withContext(ORIGIN_IO) { socket.close() }
        }
    }

    private suspend fun Stream.writeAll(bytes: ByteArray) {
        if (bytes.isNotEmpty()) write(bytes)
    }

    private companion object {
        /**
         * Blocking origin socket I/O, one blocked read per open viewer stream. A view of the IO pool with its own
         * (large) limit: with the shared 64-thread limit, 64 viewers blocked in reads left no thread for the
         * writes that would answer them.
         */
        @OptIn(kotlinx.coroutines.ExperimentalCoroutinesApi::class)
        val ORIGIN_IO = Dispatchers.IO.limitedParallelism(4096)
        const val BUFFER = 16 * 1024
        const val CONNECT_TIMEOUT_MILLIS = 10_000
    }
}
