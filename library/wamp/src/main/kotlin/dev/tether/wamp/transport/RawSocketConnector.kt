@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.DialFailedException
import dev.tether.core.DialTimeoutException
import dev.tether.core.InternalTetherApi
import dev.tether.wamp.ProtocolViolationException
import dev.tether.wamp.RawSocketHandshakeException
import dev.tether.wamp.rawsocket.Handshake
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.Serializer
import io.ktor.network.selector.SelectorManager
import io.ktor.network.sockets.InetSocketAddress
import io.ktor.network.sockets.Socket
import io.ktor.network.sockets.SocketAddress
import io.ktor.network.sockets.UnixSocketAddress
import io.ktor.network.sockets.aSocket
import io.ktor.network.sockets.openReadChannel
import io.ktor.network.sockets.openWriteChannel
import io.ktor.network.tls.tls
import io.ktor.utils.io.readFully
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.withTimeout
import javax.net.ssl.X509TrustManager
import kotlin.time.Duration

/** Opens RawSocket connections (TCP, TLS over TCP, Unix domain socket) and performs the client handshake. */
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
     * [dialTimeout]. Throws [DialFailedException], [DialTimeoutException] or [RawSocketHandshakeException].
     */
    public suspend fun connect(
        url: String,
        target: Target,
        serializer: Serializer,
        recvLimit: Long,
        dialTimeout: Duration,
        trustManager: X509TrustManager? = null,
    ): RawSocketPeer {
        val selector = SelectorManager(Dispatchers.IO)
        var socket: Socket? = null
        // The TLS layer's coroutines must not be children of the withTimeout block below (it would wait for them
        // until the dial timeout); they live as long as the connection and are cancelled when it closes.
        val tlsJob = Job()
        try {
            return withTimeout(dialTimeout) {
                val address: SocketAddress = when (target) {
                    is Target.Tcp -> InetSocketAddress(target.host, target.port)
                    is Target.Unix -> UnixSocketAddress(target.path)
                }
                var s = try {
                    aSocket(selector).tcp().connect(address)
                } catch (e: Exception) {
                    if (e is kotlinx.coroutines.CancellationException) throw e
                    throw DialFailedException(url, e)
                }
                socket = s
                if (target is Target.Tcp && target.tls) {
                    s = try {
                        s.tls(Dispatchers.IO + tlsJob) {
                            serverName = target.host
                            if (trustManager != null) this.trustManager = trustManager
                        }
                    } catch (e: Exception) {
                        if (e is kotlinx.coroutines.CancellationException) throw e
                        throw DialFailedException(url, e)
                    }
                    socket = s
                }
                val input = s.openReadChannel()
                val output = s.openWriteChannel(autoFlush = false)
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
                    throw ProtocolViolationException("router at $url answered the handshake with serializer ${reply.serializerId}, not ${serializer.serialization.rawSocketId}")
                }
                val connected = s
                RawSocketPeer(
                    input, output, serializer,
                    sendLimit = reply.maxLength,
                    recvLimit = RawSocketProtocol.maxLengthOf(exponent),
                    description = "rawsocket ${url.substringBefore('?')}",
                ) {
                    runCatching { connected.close() }
                    tlsJob.cancel()
                    runCatching { selector.close() }
                }
            }
        } catch (e: Throwable) {
            runCatching { socket?.close() }
            tlsJob.cancel()
            runCatching { selector.close() }
            if (e is TimeoutCancellationException) throw DialTimeoutException(url, dialTimeout.inWholeMilliseconds)
            throw e
        }
    }
}
