package dev.tether.cli

import dev.tether.testkit.FakeBroker
import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.testkit.wamp.WampRouter
import dev.tether.testkit.wamp.WampRouterOptions
import picocli.CommandLine.Command
import picocli.CommandLine.Option
import java.time.Duration
import java.util.concurrent.Callable
import java.util.concurrent.CountDownLatch

/** `tether serve <fake>`: runs one of the testkit fakes until interrupted. */
@Command(name = "serve", description = ["Run a testkit fake on 127.0.0.1 until interrupted."], subcommands = [ServeBroker::class, ServeMux::class, ServeProxy::class, ServeRouter::class, ServeRelay::class])
class ServeCommand : Runnable {
    override fun run() {
        picocli.CommandLine(this).usage(System.out)
    }
}

@Command(name = "broker", description = ["The fake nexus broker (/connect): auth, register, echo, turn, pings."])
class ServeBroker : Callable<Int> {
    @Option(names = ["--token"], description = ["Accepted bearer token(s); default: test-token."], split = ",")
    var tokens: List<String> = listOf("test-token")

    @Option(names = ["--ping-interval"], description = ["Server ping interval in seconds (0 disables); default 30."])
    var pingSeconds: Long = 30

    override fun call(): Int {
        val broker = FakeBroker.start {
            tokens(*this@ServeBroker.tokens.toTypedArray())
            pingInterval(Duration.ofSeconds(pingSeconds))
        }
        println("fake broker listening at ${broker.url}")
        println("tokens: ${tokens.joinToString()}  (send 'Authorization: Bearer <token>' or ?token=)")
        return runUntilInterrupted(broker)
    }
}

/** Blocks until Ctrl-C, then closes [fake]. */
internal fun runUntilInterrupted(fake: AutoCloseable): Int {
    val stopped = CountDownLatch(1)
    Runtime.getRuntime().addShutdownHook(Thread { fake.close(); stopped.countDown() })
    println("press Ctrl-C to stop")
    stopped.await()
    return 0
}

@Command(name = "mux", description = ["A wsmux server (webhooktunnel framing): every stream it accepts echoes its bytes."])
class ServeMux : Callable<Int> {
    override fun call(): Int {
        val server = FakeMuxServer.start()
        println("fake wsmux server listening at ${server.url} (client sessions: odd stream ids; streams echo)")
        return runUntilInterrupted(server)
    }
}

@Command(name = "proxy", description = ["A webhooktunnel proxy: JWT registration on /, viewers at /<id>/..."])
class ServeProxy : Callable<Int> {
    @Option(names = ["--secret-a"], description = ["Signing secret A; default: test-secret."])
    var secretA: String = "test-secret"

    @Option(names = ["--secret-b"], description = ["Signing secret B; default: test-secret-b."])
    var secretB: String = "test-secret-b"

    override fun call(): Int {
        val proxy = FakeTunnelProxy.start { secrets(secretA, secretB) }
        println("fake tunnel proxy listening at ${proxy.url}")
        println("register with: tether tunnel --proxy ${proxy.url} --id ID --secret $secretA --to http://localhost:PORT")
        return runUntilInterrupted(proxy)
    }
}

@Command(name = "router", description = ["A WAMP router: WebSocket (json, msgpack, cbor) and RawSocket, realm realm1."])
class ServeRouter : Callable<Int> {
    @Option(names = ["--realm"], description = ["Realm open to anonymous clients; default: realm1."])
    var realm: String = "realm1"

    override fun call(): Int {
        val router = WampRouter.start(WampRouterOptions.builder().realm(realm).build())
        println("fake WAMP router: ${router.wsUrl} (WebSocket) and ${router.tcpUrl} (RawSocket), realm $realm")
        return runUntilInterrupted(router)
    }
}

@Command(name = "relay", description = ["A netbird relay server at rel://127.0.0.1:PORT (path /relay)."])
class ServeRelay : Callable<Int> {
    override fun call(): Int {
        val relay = FakeRelayServer.start()
        println("fake relay listening at ${relay.url} (ws://127.0.0.1:${relay.url.substringAfterLast(':')}/relay)")
        println("auth secret: ${relay.secret}")
        return runUntilInterrupted(relay)
    }
}
