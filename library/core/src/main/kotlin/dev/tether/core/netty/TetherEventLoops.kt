package dev.tether.core.netty

import dev.tether.core.InternalTetherApi
import io.netty.channel.Channel
import io.netty.channel.EventLoop
import io.netty.channel.EventLoopGroup
import io.netty.channel.IoEventLoop
import io.netty.channel.MultiThreadIoEventLoopGroup
import io.netty.channel.epoll.Epoll
import io.netty.channel.epoll.EpollDomainSocketChannel
import io.netty.channel.epoll.EpollIoHandler
import io.netty.channel.epoll.EpollSocketChannel
import io.netty.channel.nio.NioIoHandler
import io.netty.channel.socket.nio.NioDomainSocketChannel
import io.netty.channel.socket.nio.NioSocketChannel
import io.netty.channel.unix.DomainSocketAddress
import io.netty.util.concurrent.DefaultThreadFactory
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.asCoroutineDispatcher
import org.slf4j.LoggerFactory
import java.net.SocketAddress
import java.net.UnixDomainSocketAddress
import java.util.concurrent.ConcurrentHashMap

/**
 * The Netty event loops Tether's sockets run on. One group per process by default ([shared]): daemon threads named
 * `tether-io-N`, as many as `-Dtether.io.threads` says (default: the number of processors), never shut down, so a
 * forgotten client cannot keep the JVM alive. The shared group uses epoll where Netty's native library loads (Linux
 * x86_64) and NIO elsewhere, or everywhere with `-Dtether.io.epoll=false`. Pass your own group (NIO or epoll) to
 * `WebSocketTransport.netty(group)` to isolate clients from each other.
 *
 * Nothing that runs on these threads may block: a blocked loop stops every socket assigned to it.
 */
public object TetherEventLoops {
    private val log = LoggerFactory.getLogger(TetherEventLoops::class.java)

    /** True when the shared group runs on epoll (else NIO). */
    @JvmStatic
    public val isEpoll: Boolean by lazy {
        val wanted = System.getProperty("tether.io.epoll")?.toBooleanStrictOrNull() ?: true
        // Any failure to load the native part (another OS, another CPU, a noexec /tmp) means NIO.
        val available = wanted && runCatching { Epoll.isAvailable() }.getOrDefault(false)
        if (wanted && !available) {
            log.debug(
                "epoll unavailable ({}); Tether's event loops use NIO",
                runCatching {
                    Epoll.unavailabilityCause()?.toString()
                }.getOrNull(),
            )
        }
        available
    }

    private val sharedGroup: EventLoopGroup by lazy {
        val threads = System.getProperty("tether.io.threads")?.toIntOrNull()?.takeIf {
            it > 0
        } ?: Runtime.getRuntime().availableProcessors()
        val io = if (isEpoll) EpollIoHandler.newFactory() else NioIoHandler.newFactory()
        MultiThreadIoEventLoopGroup(threads, DefaultThreadFactory("tether-io", true), io)
    }

    private val dispatchers = ConcurrentHashMap<EventLoop, CoroutineDispatcher>()

    /** The process-wide event loop group (created on first use). */
    @JvmStatic
    public fun shared(): EventLoopGroup = sharedGroup

    /** [loop] as a coroutine dispatcher (one per loop, kept until the loop terminates). */
    @InternalTetherApi
    public fun dispatcher(loop: EventLoop): CoroutineDispatcher {
        dispatchers[loop]?.let { return it }
        val created = loop.asCoroutineDispatcher()
        // A caller's own group, shut down and made again (tests do it all day), must not leave its loops here; a
        // loop that cannot tell its end (Netty's embedded loop) is not kept at all.
        val termination = try {
            loop.terminationFuture()
        } catch (_: UnsupportedOperationException) {
            return created
        }
        dispatchers.putIfAbsent(loop, created)?.let { return it }
        termination.addListener { dispatchers.remove(loop) }
        return created
    }

    /**
     * True when [group]'s loops run epoll, whose channels differ from NIO's. Looks at the first loop through the
     * iterator: `next()` would advance the group's round-robin and shift which loop the dial then picks.
     */
    private fun epoll(group: EventLoopGroup): Boolean =
        (group.iterator().next() as? IoEventLoop)?.isIoType(EpollIoHandler::class.java) == true

    /** The TCP channel class for [group] (epoll or NIO). */
    @InternalTetherApi
    public fun socketChannel(group: EventLoopGroup): Class<out Channel> =
        if (epoll(group)) EpollSocketChannel::class.java else NioSocketChannel::class.java

    /** The Unix domain socket channel class for [group] (epoll, or NIO on JDK 16+). */
    @InternalTetherApi
    public fun domainSocketChannel(group: EventLoopGroup): Class<out Channel> =
        if (epoll(group)) EpollDomainSocketChannel::class.java else NioDomainSocketChannel::class.java

    /** The address of the Unix domain socket at [path] in the form [group]'s channels take. */
    @InternalTetherApi
    public fun domainSocketAddress(group: EventLoopGroup, path: String): SocketAddress =
        if (epoll(group)) DomainSocketAddress(path) else UnixDomainSocketAddress.of(path)
}
