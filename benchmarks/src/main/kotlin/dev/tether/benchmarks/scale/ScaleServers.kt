package dev.tether.benchmarks.scale

import dev.tether.mux.MuxConfig
import dev.tether.testkit.FakeBroker
import dev.tether.testkit.FakeBrokerConfig
import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import kotlin.system.exitProcess

/**
 * The servers of the load-at-scale run, in a JVM of their own so that the runner's heap and threads are its clients'
 * alone: FakeBroker (wsclient), a wsmux echo server, FakeWampRouter and FakeRelayServer, each on 127.0.0.1 with an
 * ephemeral port. Prints one `NAME URL [SECRET]` line per server, then [READY]; runs until its standard input ends
 * (the runner closes it, or the runner died), then stops the servers and exits.
 */
public object ScaleServers {
    internal const val READY: String = "ready"

    /** Starts the servers; see the object's description. */
    @JvmStatic
    public fun main(args: Array<String>) {
        val servers = ArrayList<AutoCloseable>()
        val code = try {
            val broker = FakeBroker.start(
                FakeBrokerConfig {
                    maxConnections(MAX_CONNECTIONS, MAX_CONNECTIONS) // every client dials from 127.0.0.1
                    recordFrames(0) // a record of frames would grow the broker, and tell nothing here
                },
            ).also { servers += it }
            val mux = MuxEchoServer(MuxConfig { maxStreams(MUX_MAX_STREAMS) }).also { servers += it }
            // The run measures how many events the clients take in, so the router must not be the one that loses
            // them: nexus's (and the fake's default) 64-message outbound queue drops EVENTs under a burst.
            val router = FakeWampRouter.start(
                FakeWampRouterConfig.builder().outboundQueueSize(ROUTER_OUTBOUND_QUEUE).build(),
            ).also { servers += it }
            val relay = FakeRelayServer.start().also { servers += it }
            println("broker ${broker.url} ${broker.token}")
            println("mux ${mux.url}")
            println("wamp ${router.wsUrl}")
            println("relay ${relay.url} ${relay.secret}")
            println(READY)
            System.out.flush()
            while (System.`in`.read() >= 0) {
                // nothing is sent; the end of input is the signal to stop
            }
            0
        } catch (e: Exception) {
            e.printStackTrace()
            1
        } finally {
            servers.asReversed().forEach { runCatching { it.close() } }
        }
        exitProcess(code) // the fakes' worker threads would keep the JVM alive a while
    }

    private const val MAX_CONNECTIONS = 1_000_000

    /** EVENTs the router may queue for one session before it drops: far above what the load puts in flight. */
    private const val ROUTER_OUTBOUND_QUEUE = 1_000_000

    /** Streams a client may hold open on one session here: headroom over the one-session load's 10,000. */
    private const val MUX_MAX_STREAMS = 2 * ScaleOptions.FULL_STREAMS
}
