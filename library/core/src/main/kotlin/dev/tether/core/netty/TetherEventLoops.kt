package dev.tether.core.netty

import dev.tether.core.InternalTetherApi
import io.netty.channel.Channel
import io.netty.channel.EventLoop
import io.netty.channel.EventLoopGroup
import io.netty.channel.MultiThreadIoEventLoopGroup
import io.netty.channel.nio.NioIoHandler
import io.netty.channel.socket.nio.NioDomainSocketChannel
import io.netty.channel.socket.nio.NioSocketChannel
import io.netty.util.concurrent.DefaultThreadFactory
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.asCoroutineDispatcher
import java.util.concurrent.ConcurrentHashMap

/**
 * The Netty event loops Tether's sockets run on. One group per process by default ([shared]): daemon threads named
 * `tether-io-N`, as many as `-Dtether.io.threads` says (default: the number of processors), never shut down, so a
 * forgotten client cannot keep the JVM alive. Pass your own group to `WebSocketTransport.netty(group)` to isolate
 * clients from each other.
 *
 * Nothing that runs on these threads may block: a blocked loop stops every socket assigned to it.
 */
public object TetherEventLoops {
    private val sharedGroup: EventLoopGroup by lazy {
        val threads = System.getProperty("tether.io.threads")?.toIntOrNull()?.takeIf { it > 0 } ?: Runtime.getRuntime().availableProcessors()
        MultiThreadIoEventLoopGroup(threads, DefaultThreadFactory("tether-io", true), NioIoHandler.newFactory())
    }

    private val dispatchers = ConcurrentHashMap<EventLoop, CoroutineDispatcher>()

    /** The process-wide NIO event loop group (created on first use). */
    @JvmStatic
    public fun shared(): EventLoopGroup = sharedGroup

    /** [loop] as a coroutine dispatcher (one per loop). */
    @InternalTetherApi
    public fun dispatcher(loop: EventLoop): CoroutineDispatcher = dispatchers.computeIfAbsent(loop) { it.asCoroutineDispatcher() }

    /** The TCP channel class for NIO groups. */
    @InternalTetherApi
    public val socketChannel: Class<out Channel> = NioSocketChannel::class.java

    /** The Unix domain socket channel class for NIO groups (JDK 16+). */
    @InternalTetherApi
    public val domainSocketChannel: Class<out Channel> = NioDomainSocketChannel::class.java
}
