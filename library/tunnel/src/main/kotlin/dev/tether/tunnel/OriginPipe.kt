package dev.tether.tunnel

import dev.tether.mux.Stream
import io.netty.channel.EventLoop
import io.netty.util.NetUtil
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withContext
import org.slf4j.LoggerFactory
import java.io.IOException
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.Socket
import java.net.URI
import javax.net.ssl.SSLException
import javax.net.ssl.SSLSocket

/**
 * Where [TunnelClient.forward] connects: a host and port on the local machine (or anywhere reachable), spoken to
 * over TLS when [tls] (an `https` or `wss` origin).
 */
internal class OriginAddress(val host: String, val port: Int, val tls: Boolean = false) {
    /** An IP literal needs no lookup at all. */
    private val literal: InetSocketAddress? =
        NetUtil.createByteArrayFromIpAddressString(host)
            ?.let { InetSocketAddress(InetAddress.getByAddress(host, it), port) }

    @Volatile private var cached: InetSocketAddress? = null

    @Volatile private var cachedUntil = 0L

    /**
     * The socket address to connect to. A name is looked up off the event loops (lookups block) and the answer
     * kept for [NAME_TTL_NANOS], so that most viewer requests need no lookup and no thread hand-off.
     */
    suspend fun resolve(): InetSocketAddress {
        literal?.let { return it }
        val now = System.nanoTime()
        cached?.let { if (now - cachedUntil < 0) return it }
        val fresh = withContext(Dispatchers.IO) { InetSocketAddress(InetAddress.getByName(host), port) }
        cached = fresh
        cachedUntil = now + NAME_TTL_NANOS
        return fresh
    }

    override fun toString(): String = if (tls) "https://$host:$port" else "$host:$port"

    companion object {
        /** How long a looked-up origin address is reused (the JDK's own positive cache keeps names 30 s). */
        const val NAME_TTL_NANOS = 30_000_000_000L

        /**
         * Parses `http://host:port`, `ws://host:port`, `https://…` or `wss://…` (TLS; port 443 by default) or
         * `host:port`.
         */
        fun parse(origin: String): OriginAddress {
            val uri = URI(if (origin.contains("://")) origin else "tcp://$origin")
            val host = requireNotNull(uri.host) { "origin has no host: $origin" }.removePrefix("[").removeSuffix("]")
            val scheme = uri.scheme.lowercase()
            val tls = scheme == "https" || scheme == "wss"
            val port = when {
                uri.port >= 0 -> uri.port
                tls -> 443
                scheme == "http" || scheme == "ws" -> 80
                else -> throw IllegalArgumentException("origin has no port: $origin")
            }
            return OriginAddress(host, port, tls)
        }
    }
}

/**
 * Copies bytes between one viewer stream and a fresh TCP connection to the origin, in both directions, on the event
 * loop that reads the tunnel's WebSocket ([loop]; the caller runs [run] on that loop's dispatcher), so that no byte
 * crosses a thread inside the client. What the blocking pipe did, the same way:
 * - interim 1xx responses stay out of the stream and `Expect: 100-continue` out of the origin ([InterimResponses]);
 * - the proxy's FIN becomes a TCP half-close towards the origin, the origin's EOF our FIN;
 * - either side failing closes both (a session drop fails the stream read and so ends the pipe).
 *
 * Flow control end to end: the origin is read only when the previous bytes went into the stream, which waits for
 * the proxy's credit (a slow viewer stops the origin's socket being read); a stream read, and so its ACK, follows
 * the origin's socket taking the previous read (a slow origin stops the credit). An origin that cannot be reached,
 * or whose TLS handshake fails ([tls] is given for an `https` origin), is answered with `502 Bad Gateway` at once.
 */
internal class OriginPipe(
    private val stream: Stream,
    private val origin: OriginAddress,
    private val loop: EventLoop,
    private val tls: OriginTls?,
    private val counters: TunnelStats.Counters,
) {
    suspend fun run() {
        val channel = try {
            OriginChannel.connect(loop, origin.resolve(), tls?.engine(origin.host, origin.port), origin.toString())
        } catch (e: IOException) {
            counters.originUnreachable.increment()
            badGateway(stream, origin, e)
            return
        } catch (e: OriginTlsException) {
            counters.originTlsFailures.increment()
            badGateway(stream, origin, e)
            return
        }
        counters.requestsForwarded.increment()
        PipeProbe.onStep?.invoke("connected", 0)
        try {
            coroutineScope {
                // origin -> stream (started here: it asks the origin's socket for its first read at once)
                val down = launch(start = CoroutineStart.UNDISPATCHED) {
                    val buffer = ByteArray(BUFFER)
                    val interim = ResponseHeadFilter()
                    while (true) {
                        val n = channel.read(buffer)
                        if (n < 0) break
                        if (interim.passing) {
                            stream.write(buffer, 0, n)
                        } else {
                            stream.writeAll(interim.filter(buffer, 0, n))
                        }
                        PipeProbe.onStep?.invoke("stream write", n)
                    }
                    stream.writeAll(interim.finish())
                    stream.close() // FIN: the response is complete
                }
                // stream -> origin
                val buffer = ByteArray(BUFFER)
                val expect = RequestHeadFilter()
                try {
                    while (true) {
                        val n = stream.read(buffer)
                        if (n < 0) break
                        PipeProbe.onStep?.invoke("stream read", n)
                        if (expect.passing) {
                            channel.write(buffer, 0, n)
                        } else {
                            val bytes = expect.filter(buffer, 0, n)
                            channel.write(bytes, 0, bytes.size)
                        }
                    }
                    val rest = expect.finish()
                    channel.write(rest, 0, rest.size)
                    channel.shutdownOutput()
                } catch (e: Exception) {
                    down.cancel()
                    channel.close()
                    throw e
                }
                down.join()
            }
        } finally {
            channel.close()
        }
    }

    private companion object {
        const val BUFFER = 16 * 1024
    }
}

/**
 * Test seam: called on the thread that runs it with each step of every [OriginPipe] and the bytes it moved:
 * "connected",
 * "socket read" (from the origin's socket into the client), "stream write" (into the stream, counted before any
 * interim head is dropped), "stream read", "origin write waits" (the origin's socket is full), "origin write".
 */
internal object PipeProbe {
    @Volatile var onStep: ((step: String, bytes: Int) -> Unit)? = null
}

/**
 * The viewer's answer when the origin cannot be reached (or its TLS fails): `502 Bad Gateway` and FIN, then the rest
 * of the request is read and dropped so that the proxy, which writes the whole request before it reads the answer,
 * is not left waiting for credit.
 */
internal suspend fun badGateway(stream: Stream, origin: OriginAddress, cause: Exception) {
    OriginPipeLog.log.info(
        "tunnel stream {}: the origin {} cannot be reached ({}); answering 502",
        stream.id,
        origin,
        cause.toString(),
    )
    val why = cause.message ?: cause::class.java.simpleName
    val body = "the tunnel client could not reach its origin $origin: $why\n".toByteArray()
    val head = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n" +
        "Content-Length: ${body.size}\r\nConnection: close\r\n\r\n"
    stream.write(head.toByteArray(Charsets.ISO_8859_1) + body)
    stream.close()
    val scratch = ByteArray(4096)
    while (stream.read(scratch) >= 0) Unit
}

private object OriginPipeLog {
    val log = LoggerFactory.getLogger(OriginPipe::class.java)
}

private suspend fun Stream.writeAll(bytes: ByteArray) {
    if (bytes.isNotEmpty()) write(bytes)
}

/**
 * [OriginPipe] for a connection without a Netty event loop (the Ktor transport): blocking socket I/O on threads of
 * their own. Copies bytes between one viewer stream and a fresh TCP connection to the origin, in both directions,
 * keeping interim 1xx responses out of the stream ([InterimResponses]). The proxy's FIN becomes a TCP half-close
 * towards
 * the origin; the origin's EOF becomes our FIN. The socket is closed
 * when both directions are done or either fails (a session drop fails the stream read and so ends the pipe).
 */
internal class BlockingOriginPipe(
    private val stream: Stream,
    private val origin: OriginAddress,
    private val tls: OriginTls?,
    private val counters: TunnelStats.Counters,
) {
    suspend fun run() {
        val socket = try {
            val address = origin.resolve()
            withContext(ORIGIN_IO) {
                val s = Socket()
                try {
                    s.tcpNoDelay = true
                    s.connect(address, CONNECT_TIMEOUT_MILLIS)
                    if (tls == null) s else handshake(tls.wrap(s, origin.host, origin.port))
                } catch (e: Exception) {
                    s.close()
                    throw e
                }
            }
        } catch (e: IOException) {
            counters.originUnreachable.increment()
            badGateway(stream, origin, e)
            return
        } catch (e: OriginTlsException) {
            counters.originTlsFailures.increment()
            badGateway(stream, origin, e)
            return
        }
        counters.requestsForwarded.increment()
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
                        if (interim.passing) {
                            stream.write(buffer, 0, n)
                        } else {
                            stream.writeAll(interim.filter(buffer, 0, n))
                        }
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
                    if (rest.isNotEmpty()) {
                        runInterruptible(ORIGIN_IO) {
                            output.write(rest)
                            output.flush()
                        }
                    }
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

    /** Runs the TLS handshake of [secure] within the connect bound; a failure is the typed [OriginTlsException]. */
    private fun handshake(secure: SSLSocket): Socket {
        secure.soTimeout = CONNECT_TIMEOUT_MILLIS
        try {
            secure.startHandshake()
        } catch (e: SSLException) {
            throw OriginTlsException(origin.toString(), e)
        }
        secure.soTimeout = 0
        return secure
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
