package dev.tether.tunnel

import dev.tether.core.InternalTetherApi
import dev.tether.core.netty.TetherEventLoops
import io.netty.bootstrap.Bootstrap
import io.netty.buffer.ByteBuf
import io.netty.buffer.Unpooled
import io.netty.channel.Channel
import io.netty.channel.ChannelFuture
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelInboundHandlerAdapter
import io.netty.channel.ChannelOption
import io.netty.channel.EventLoop
import io.netty.channel.socket.ChannelInputShutdownEvent
import io.netty.channel.socket.SocketChannel
import io.netty.resolver.NoopAddressResolverGroup
import io.netty.util.ReferenceCountUtil
import kotlinx.coroutines.CancellableContinuation
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.suspendCancellableCoroutine
import java.io.IOException
import java.net.ConnectException
import java.net.InetSocketAddress
import kotlin.coroutines.resume

/**
 * A TCP connection to the origin on a Netty event loop, used by one coroutine that runs on that same loop (all state
 * here is touched on the loop only). Reads are pulled: the socket is read once per [read] that finds nothing
 * buffered (auto-read off), so a reader that stops calling [read] stops the socket, and the origin with it. A
 * write completes when the socket took the bytes. The origin's half-close (its EOF) is seen as the end of input
 * while writing goes on ([ChannelOption.ALLOW_HALF_CLOSURE]); [shutdownOutput] is ours.
 */
@OptIn(InternalTetherApi::class)
internal class OriginChannel private constructor(private val loop: EventLoop) : ChannelInboundHandlerAdapter() {
    private lateinit var channel: Channel
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

    /** Half-closes towards the origin (TCP FIN): the request is complete, the answer may still come. */
    suspend fun shutdownOutput() {
        val ch = channel as SocketChannel
        if (!ch.isActive || ch.isOutputShutdown) return
        ch.shutdownOutput().awaitDone()
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
        if (evt is ChannelInputShutdownEvent) {
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

        /**
         * Connects to [address] (already resolved: nothing resolves names on the loop) with a socket on [loop].
         * Throws [ConnectException] (or another [IOException]) when the origin cannot be reached.
         */
        suspend fun connect(loop: EventLoop, address: InetSocketAddress): OriginChannel {
            val origin = OriginChannel(loop)
            val connecting = Bootstrap().group(loop).channel(TetherEventLoops.socketChannel(loop))
                .resolver(NoopAddressResolverGroup.INSTANCE)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
                .handler(origin)
                .connect(address)
            origin.channel = connecting.channel()
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
            return origin
        }

        /** Suspends until the future completes (at once when it already has); cancelling does not cancel the I/O. */
        private suspend fun ChannelFuture.awaitDone() {
            if (isDone) return
            suspendCancellableCoroutine { c -> addListener { c.resume(Unit) } }
        }
    }
}
