package dev.tether.tunnel

import dev.tether.core.InternalTetherApi
import dev.tether.core.netty.TetherEventLoops
import io.netty.bootstrap.Bootstrap
import io.netty.buffer.ByteBuf
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInboundHandlerAdapter
import io.netty.channel.ChannelInitializer
import io.netty.channel.ChannelOption
import io.netty.channel.EventLoop
import io.netty.channel.socket.ChannelInputShutdownEvent
import io.netty.channel.socket.SocketChannel
import io.netty.handler.ssl.SslCloseCompletionEvent
import io.netty.handler.ssl.SslHandler
import io.netty.resolver.NoopAddressResolverGroup
import io.netty.util.ReferenceCountUtil
import io.netty.util.concurrent.Future
import kotlinx.coroutines.CancellableContinuation
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.suspendCancellableCoroutine
import java.io.IOException
import java.net.ConnectException
import java.net.InetSocketAddress
import javax.net.ssl.SSLEngine
import kotlin.coroutines.resume

/**
 * A TCP connection to the origin on a Netty event loop, used by one coroutine that runs on that same loop (all state
 * here is touched on the loop only). Reads are pulled: the socket is read once per [read] that finds nothing
 * buffered (auto-read off), so a reader that stops calling [read] stops the socket, and the origin with it. A
 * write completes when the socket took the bytes. The origin's half-close (its EOF) is seen as the end of input
 * while writing goes on ([ChannelOption.ALLOW_HALF_CLOSURE]); [shutdownOutput] is ours. Over TLS (an `https`
 * origin) an [SslHandler] sits in front: the bytes here are the plain ones, and [shutdownOutput] is TLS's own
 * half-close (close_notify), after which the origin's answer can still arrive (TLS 1.3).
 */
@OptIn(InternalTetherApi::class)
internal class OriginChannel private constructor(private val loop: EventLoop) : ChannelInboundHandlerAdapter() {
    private lateinit var channel: Channel
    private var tls: SslHandler? = null
    private val inbound = ArrayDeque<ByteBuf>(2)
    private var ended = false
    private var reader: CancellableContinuation<Unit>? = null

    /**
     * Up to `dst.size` bytes into [dst]: what is buffered, else one read of the socket. -1 once the origin's
     * input has ended (its EOF, a reset, or [close]); as the blocking pipe did, a failed read counts as the end.
     */
    suspend fun read(dst: ByteArray): Int {
        while (true) {
            val head = inbound.firstOrNull()
            if (head != null) {
                val n = minOf(head.readableBytes(), dst.size)
                head.readBytes(dst, 0, n)
                if (!head.isReadable) {
                    inbound.removeFirst()
                    head.release()
                }
                return n
            }
            if (ended) return -1
            channel.read()
            if (inbound.isEmpty() && !ended) {
                // A cancelled reader stays registered until the next wake-up, which then resumes nothing.
                suspendCancellableCoroutine { c -> reader = c }
            }
        }
    }

    /** Writes [length] bytes of [bytes] from [offset] and returns once the socket took them (the origin's pace). */
    suspend fun write(bytes: ByteArray, offset: Int, length: Int) {
        if (length == 0) return
        val written = channel.writeAndFlush(Unpooled.wrappedBuffer(bytes, offset, length))
        if (!written.isDone) {
            PipeProbe.onStep?.invoke("origin write waits", length)
            written.awaitDone()
        }
        if (!written.isSuccess) {
            throw IOException("writing to the origin failed: ${written.cause()?.message}", written.cause())
        }
        PipeProbe.onStep?.invoke("origin write", length)
    }

    /**
     * Half-closes towards the origin (TCP FIN, or TLS close_notify): the request is complete, the answer may still
     * come.
     */
    suspend fun shutdownOutput() {
        val ch = channel as SocketChannel
        if (!ch.isActive || ch.isOutputShutdown) return
        val ssl = tls
        if (ssl != null) ssl.closeOutbound().awaitDone() else ch.shutdownOutput().awaitDone()
    }

    /** Closes the socket and drops what was read but not taken. */
    fun close() {
        channel.close()
        if (loop.inEventLoop()) release() else loop.execute(::release)
    }

    private fun release() {
        ended = true
        while (true) ReferenceCountUtil.release(inbound.removeFirstOrNull() ?: break)
    }

    private fun wake() {
        val c = reader ?: return
        reader = null
        c.resume(Unit)
    }

    // ---- Netty callbacks, on the loop --------------------------------------------------------------------------

    override fun channelRead(ctx: ChannelHandlerContext, msg: Any) {
        if (msg !is ByteBuf || ended) {
            ReferenceCountUtil.release(msg)
            return
        }
        PipeProbe.onStep?.invoke("socket read", msg.readableBytes())
        if (msg.isReadable) inbound.addLast(msg) else msg.release()
        wake()
    }

    override fun channelReadComplete(ctx: ChannelHandlerContext) {
        // A read that produced nothing (a spurious wake-up): ask again, the reader still waits.
        if (reader != null && inbound.isEmpty() && !ended) ctx.read()
    }

    override fun userEventTriggered(ctx: ChannelHandlerContext, evt: Any) {
        // The origin's close_notify ends its input as its FIN would.
        if (evt is ChannelInputShutdownEvent || evt is SslCloseCompletionEvent) {
            ended = true
            wake()
        }
        ctx.fireUserEventTriggered(evt)
    }

    override fun channelInactive(ctx: ChannelHandlerContext) {
        ended = true
        wake()
    }

    @Suppress("OVERRIDE_DEPRECATION")
    override fun exceptionCaught(ctx: ChannelHandlerContext, cause: Throwable) {
        ended = true
        wake()
        ctx.close()
    }

    companion object {
        /** Origin connections give up connecting after this long. */
        const val CONNECT_TIMEOUT_MILLIS = 10_000

        /** The TLS handshake with an `https` origin gives up after this long (Netty's default, made explicit). */
        const val TLS_HANDSHAKE_TIMEOUT_MILLIS = 10_000L

        /**
         * Connects to [address] (already resolved: nothing resolves names on the loop) with a socket on [loop], and
         * runs the TLS handshake of [tls] over it when given. Throws [ConnectException] (or another [IOException])
         * when the origin cannot be reached, [OriginTlsException] (naming [origin]) when the handshake fails.
         */
        suspend fun connect(
            loop: EventLoop,
            address: InetSocketAddress,
            tls: SSLEngine? = null,
            origin: String = address.toString(),
        ): OriginChannel {
            val pipe = OriginChannel(loop)
            val ssl = tls?.let { SslHandler(it).apply { handshakeTimeoutMillis = TLS_HANDSHAKE_TIMEOUT_MILLIS } }
            pipe.tls = ssl
            val handler = if (ssl == null) {
                pipe
            } else {
                object : ChannelInitializer<Channel>() {
                    override fun initChannel(ch: Channel) {
                        ch.pipeline().addLast(ssl, pipe)
                    }
                }
            }
            val connecting = Bootstrap().group(loop).channel(TetherEventLoops.socketChannel(loop))
                .resolver(NoopAddressResolverGroup.INSTANCE)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
                .handler(handler)
                .connect(address)
            pipe.channel = connecting.channel()
            try {
                connecting.awaitDone()
            } catch (e: CancellationException) {
                connecting.channel().close()
                throw e
            }
            if (!connecting.isSuccess) {
                val cause = connecting.cause()
                throw cause as? IOException
                    ?: ConnectException("could not connect to the origin $address: ${cause?.message}")
                        .also { it.initCause(cause) }
            }
            if (ssl != null) {
                val handshake = ssl.handshakeFuture()
                // With auto-read off nothing reads the server's handshake records: the first read is ours, and the
                // handler reads on by itself until the handshake is done.
                pipe.channel.read()
                try {
                    handshake.awaitDone()
                } catch (e: CancellationException) {
                    pipe.channel.close()
                    throw e
                }
                if (!handshake.isSuccess) {
                    pipe.channel.close()
                    throw OriginTlsException(origin, handshake.cause())
                }
            }
            return pipe
        }

        /** Suspends until the future completes (at once when it already has); cancelling does not cancel the I/O. */
        private suspend fun Future<*>.awaitDone() {
            if (isDone) return
            suspendCancellableCoroutine { c -> addListener { c.resume(Unit) } }
        }
    }
}
