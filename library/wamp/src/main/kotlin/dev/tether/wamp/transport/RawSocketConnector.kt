@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.DialFailedException
import dev.tether.core.DialTimeoutException
import dev.tether.core.InternalTetherApi
import dev.tether.core.netty.TetherEventLoops
import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.rawsocket.Handshake
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.Serializer
import io.ktor.utils.io.ByteChannel
import io.ktor.utils.io.ByteReadChannel
import io.ktor.utils.io.ByteWriteChannel
import io.ktor.utils.io.availableForRead
import io.ktor.utils.io.cancel
import io.ktor.utils.io.close
import io.ktor.utils.io.jvm.javaio.toByteReadChannel
import io.ktor.utils.io.readAvailable
import io.ktor.utils.io.readFully
import io.ktor.utils.io.writeFully
import io.netty.channel.EventLoopGroup
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import javax.net.ssl.SSLContext
import javax.net.ssl.SSLSocket
import javax.net.ssl.X509TrustManager
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration

/**
 * Opens RawSocket connections (TCP, TLS over TCP, Unix domain socket) and performs the client handshake: on Netty's
 * event loops ([NettyRawSocketPeer]), or over a caller's own JDK socket when a [SocketDialer] is given.
 */
@InternalTetherApi
public object RawSocketConnector {
    /** Where to connect: `tcp`/`tcps` host and port, or a Unix socket path. */
    public sealed interface Target {
        /** TCP (optionally TLS) to [host]:[port]. */
        public data class Tcp(val host: String, val port: Int, val tls: Boolean) : Target

        /** A Unix domain socket at [path]. */
        public data class Unix(val path: String) : Target
    }

    /**
     * Connects to [target], sends the handshake announcing [recvLimit] (rounded up to a power of two) and
     * [serializer], and returns the peer once the router accepted. The dial and the handshake share
     * [dialTimeout]. TLS (tcps) verifies the host name and trusts [sslContext]'s trust managers (its key managers
     * present a client certificate), else [trustManager], else the JVM's trust store. With [pingInterval] positive
     * the peer PINGs that often and closes the connection when a PONG takes longer than [pongTimeout].
     *
     * The connection runs on Tether's Netty event loops and pushes inbound messages ([Peer.listen]); with a
     * [socketDialer] (tcp, tcps) it runs over the caller's JDK socket instead, read by a coroutine. [group] picks the
     * event loops (a reconnecting client pins one); null is the shared group. Throws
     * [DialFailedException], [DialTimeoutException] or [RawSocketHandshakeException].
     */
    public suspend fun connect(
        url: String,
        target: Target,
        serializer: Serializer,
        recvLimit: Long,
        dialTimeout: Duration,
        trustManager: X509TrustManager? = null,
        sslContext: SSLContext? = null,
        socketDialer: SocketDialer? = null,
        pingInterval: Duration = Duration.ZERO,
        pongTimeout: Duration = 10.seconds,
        group: EventLoopGroup? = null,
    ): Peer {
        // A caller's java.net.Socket cannot go on Netty: the custom dial keeps the JDK socket path.
        if (target is Target.Tcp && socketDialer != null) {
            val peer =
                connectBlocking(url, target, serializer, recvLimit, dialTimeout, trustManager, sslContext, socketDialer)
            if (pingInterval.isPositive()) peer.startKeepAlive(pingInterval, pongTimeout)
            return peer
        }
        return NettyRawSocketPeer.connect(
            url, target, serializer, recvLimit, dialTimeout, trustManager, sslContext, pingInterval, pongTimeout,
            group ?: TetherEventLoops.shared(),
        )
    }

    /** Sends this side's handshake, checks the router's reply and wraps the channels in a [RawSocketPeer]. */
    private suspend fun handshake(
        url: String,
        input: ByteReadChannel,
        output: ByteWriteChannel,
        serializer: Serializer,
        recvLimit: Long,
        onClose: suspend () -> Unit,
    ): RawSocketPeer {
        val exponent = RawSocketProtocol.exponentFor(recvLimit)
        output.writeFully(Handshake(exponent, serializer.serialization.rawSocketId).encode())
        output.flush()
        val replyBytes = ByteArray(RawSocketProtocol.HANDSHAKE_LENGTH)
        try {
            input.readFully(replyBytes)
        } catch (e: Exception) {
            if (e is kotlinx.coroutines.CancellationException) throw e
            throw RawSocketHandshakeException(0, "router at $url closed the connection during the RawSocket handshake")
        }
        val reply = Handshake.parseReply(replyBytes)
        if (reply.serializerId != serializer.serialization.rawSocketId) {
            throw ProtocolViolationException(
                "router at $url answered the handshake with serializer ${reply.serializerId}, " +
                    "not ${serializer.serialization.rawSocketId}",
            )
        }
        return RawSocketPeer(
            input,
            output,
            serializer,
            sendLimit = reply.maxLength,
            recvLimit = RawSocketProtocol.maxLengthOf(exponent),
            description = "rawsocket ${url.substringBefore('?')}",
            onClose = onClose,
        )
    }

    /**
     * The JDK-socket path: [socketDialer] (or a plain connect) opens the TCP connection, the JDK's TLS (from
     * [sslContext], or [trustManager], or the default context) runs over it with host name verification, and
     * two I/O-dispatcher pumps adapt the blocking streams to the channels [RawSocketPeer] reads and writes.
     */
    private suspend fun connectBlocking(
        url: String,
        target: Target.Tcp,
        serializer: Serializer,
        recvLimit: Long,
        dialTimeout: Duration,
        trustManager: X509TrustManager?,
        sslContext: SSLContext?,
        socketDialer: SocketDialer?,
    ): RawSocketPeer {
        val deadline = System.nanoTime() + dialTimeout.inWholeNanoseconds
        fun remainingMillis(): Int =
            ((deadline - System.nanoTime()) / 1_000_000).coerceIn(1, Int.MAX_VALUE.toLong()).toInt()
        var socket: java.net.Socket? = null
        val ioJob = Job()
        try {
            // Blocking calls are bounded by the timeouts they are given, not by coroutine cancellation.
            val plain = withContext(Dispatchers.IO) {
                try {
                    socketDialer?.dial(target.host, target.port, dialTimeout.toJavaDuration())
                        ?: java.net.Socket().apply {
                            connect(java.net.InetSocketAddress(target.host, target.port), remainingMillis())
                        }
                } catch (e: java.net.SocketTimeoutException) {
                    throw DialTimeoutException(url, dialTimeout.inWholeMilliseconds)
                } catch (e: Exception) {
                    if (e is kotlinx.coroutines.CancellationException) throw e
                    throw DialFailedException(url, e)
                }
            }
            socket = plain
            plain.tcpNoDelay = true
            val s: java.net.Socket = if (!target.tls) {
                plain
            } else {
                withContext(Dispatchers.IO) {
                    val context = sslContext ?: trustManager?.let { tm ->
                        SSLContext.getInstance("TLS").apply { init(null, arrayOf(tm), null) }
                    }
                        ?: SSLContext.getDefault()
                    try {
                        (context.socketFactory.createSocket(plain, target.host, target.port, true) as SSLSocket).apply {
                            socket = this
                            sslParameters = sslParameters.apply { endpointIdentificationAlgorithm = "HTTPS" }
                            soTimeout = remainingMillis()
                            startHandshake()
                            soTimeout = 0
                        }
                    } catch (e: java.net.SocketTimeoutException) {
                        throw DialTimeoutException(url, dialTimeout.inWholeMilliseconds)
                    } catch (e: Exception) {
                        throw DialFailedException(url, e)
                    }
                }
            }
            val input = s.getInputStream().toByteReadChannel(Dispatchers.IO + ioJob)
            val output = ByteChannel()
            val sink = s.getOutputStream()
            CoroutineScope(Dispatchers.IO + ioJob).launch(CoroutineName("rawsocket-write")) {
                val buf = ByteArray(16 * 1024)
                try {
                    while (true) {
                        val n = output.readAvailable(buf)
                        if (n < 0) break
                        sink.write(buf, 0, n)
                        if (output.availableForRead == 0) sink.flush()
                    }
                } catch (e: java.io.IOException) {
                    output.cancel(e)
                }
            }
            return withTimeout(remainingMillis().toLong()) {
                handshake(url, input, output, serializer, recvLimit) {
                    runCatching { s.close() }
                    output.close()
                    ioJob.cancel()
                }
            }
        } catch (e: Throwable) {
            runCatching { socket?.close() }
            ioJob.cancel()
            if (e is TimeoutCancellationException) throw DialTimeoutException(url, dialTimeout.inWholeMilliseconds)
            throw e
        }
    }
}
