package dev.tether.cli

import dev.tether.mux.MuxProtocol
import dev.tether.testkit.FakeBroker
import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.relay.FakeRelayServerConfig
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.testkit.tunnel.FakeTunnelProxyConfig
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import dev.tether.testkit.wamp.FakeWampRouterTls
import dev.tether.testkit.wamp.RouterUser
import dev.tether.tunnel.TunnelFlavour
import dev.tether.wamp.auth.CryptosignKey
import picocli.CommandLine.Command
import picocli.CommandLine.Option
import java.time.Duration
import java.util.concurrent.Callable
import java.util.concurrent.CountDownLatch

/** `tether serve <fake>`: runs one of the testkit fakes until interrupted. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = ["Run a testkit fake on 127.0.0.1 until interrupted."],
    subcommands = [ServeBroker::class, ServeMux::class, ServeProxy::class, ServeRouter::class, ServeRelay::class],
)
class ServeCommand : Runnable {
    override fun run() {
        picocli.CommandLine(this).usage(System.out)
    }
}

@Command(
    name = "broker",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = ["The fake nexus broker (/connect): auth, register, echo, turn, pings."],
)
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
    Runtime.getRuntime().addShutdownHook(
        Thread {
            fake.close()
            stopped.countDown()
        },
    )
    println("press Ctrl-C to stop")
    stopped.await()
    return 0
}

@Command(
    name = "mux",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = ["A wsmux server (webhooktunnel framing): every stream it accepts echoes its bytes."],
)
class ServeMux : Callable<Int> {
    @Option(
        names = ["--buffer"],
        description = ["Receive capacity per stream in bytes, announced in the ACK; default 4096 (the proxy's)."],
    )
    var buffer: Int = 4096

    @Option(
        names = ["--peer-capacity"],
        description = [
            "What a client opening a stream is assumed to hold: the first send window on it; default 1024 " +
                "(Go's wsmux.Config{}).",
        ],
    )
    var peerCapacity: Int = MuxProtocol.DEFAULT_CAPACITY

    override fun call(): Int {
        val server = FakeMuxServer.start {
            streamBufferSize(buffer)
            peerCapacity(this@ServeMux.peerCapacity)
        }
        println("fake wsmux server listening at ${server.url} (client sessions: odd stream ids; streams echo)")
        println("stream buffer $buffer bytes; first window towards an opener ${minOf(buffer, peerCapacity)} bytes")
        return runUntilInterrupted(server)
    }
}

@Command(
    name = "proxy",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = ["A webhooktunnel proxy: JWT registration on /, viewers at /<id>/..."],
)
class ServeProxy : Callable<Int> {
    @Option(names = ["--secret-a"], description = ["Signing secret A; default: test-secret."])
    var secretA: String = "test-secret"

    @Option(names = ["--secret-b"], description = ["Signing secret B; default: test-secret-b."])
    var secretB: String = "test-secret-b"

    @Option(
        names = ["--websocktunnel"],
        description = ["Behave as websocktunnel (v2): X-Websocktunnel-* headers, id check, /__lbheartbeat__."],
    )
    var websocktunnel: Boolean = false

    @Option(names = ["--hostname"], description = ["HOSTNAME of the client URLs; default: the listening address."])
    var hostname: String? = null

    @Option(
        names = ["--domain-style"],
        description = ["webhooktunnel with TLS: client URLs http://<id>.HOSTNAME, viewers routed by Host."],
    )
    var domainStyle: Boolean = false

    @Option(names = ["--url-prefix"], description = ["websocktunnel URL_PREFIX: client URLs are PREFIX/<id>."])
    var urlPrefix: String? = null

    @Option(names = ["--audience"], description = ["websocktunnel AUDIENCE: tokens must carry it in aud."])
    var audience: String? = null

    /** The fake's settings from the flags; refuses combinations no real proxy has. */
    fun options(): FakeTunnelProxyConfig {
        val b = FakeTunnelProxyConfig.builder().secrets(secretA, secretB)
        if (websocktunnel) b.flavour(TunnelFlavour.WEBSOCKTUNNEL)
        hostname?.let { b.hostname(it) }
        if (domainStyle) b.domainStyle(true)
        urlPrefix?.let { b.urlPrefix(it) }
        audience?.let { b.audience(it) }
        return b.build()
    }

    override fun call(): Int {
        val proxy = FakeTunnelProxy.start(options())
        println("fake tunnel proxy (${proxy.config.flavour.name.lowercase()}) listening at ${proxy.url}")
        val flavourFlag = if (proxy.config.flavour == TunnelFlavour.WEBSOCKTUNNEL) " --websocktunnel" else ""
        println(
            "register with: tether tunnel --proxy ${proxy.url}$flavourFlag --id ID --secret $secretA --to " +
                "http://localhost:PORT",
        )
        return runUntilInterrupted(proxy)
    }
}

@Command(
    name = "router",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = [
        "A WAMP router: WebSocket (json, msgpack, cbor) and RawSocket, optionally a Unix socket and TLS (wss, tcps),",
        "with ticket and WAMP-CRA users for authentication tests. Prints the URLs and the conformance-suite flags.",
    ],
)
class ServeRouter : Callable<Int> {
    @Option(names = ["--realm"], description = ["Realm to serve; default: realm1."])
    var realm: String = "realm1"

    @Option(
        names = ["--no-anonymous"],
        description = ["Close the realm to anonymous sessions (only --ticket/--cra users join)."],
    )
    var noAnonymous: Boolean = false

    @Option(names = ["--port"], description = ["WebSocket port; default 0 (ephemeral)."])
    var port: Int = 0

    @Option(names = ["--rawsocket-port"], description = ["RawSocket TCP port; default 0 (ephemeral)."])
    var rawSocketPort: Int = 0

    @Option(names = ["--unix"], paramLabel = "PATH", description = ["Also serve RawSocket on this Unix domain socket."])
    var unixPath: String? = null

    @Option(
        names = ["--tls"],
        description = ["Also serve wss and tcps with the testkit's self-signed certificate for 127.0.0.1."],
    )
    var tls: Boolean = false

    @Option(names = ["--ticket"], paramLabel = "USER:TICKET", description = ["A ticket user (repeatable)."])
    var tickets: List<String> = emptyList()

    @Option(
        names = ["--cra"],
        paramLabel = "USER:SECRET",
        description = ["A WAMP-CRA user with an unsalted secret (repeatable)."],
    )
    var craUsers: List<String> = emptyList()

    @Option(
        names = ["--cra-salted"],
        paramLabel = "USER:SECRET:SALT",
        description = ["A WAMP-CRA user with a salted secret (PBKDF2, 1000 iterations, 32 bytes; repeatable)."],
    )
    var saltedCraUsers: List<String> = emptyList()

    @Option(
        names = ["--cryptosign"],
        paramLabel = "USER:SEED",
        description = ["A cryptosign user given by the 64-hex-digit seed of its Ed25519 key (repeatable)."],
    )
    var cryptosignUsers: List<String> = emptyList()

    @Option(
        names = ["--auth-realm"],
        paramLabel = "REALM",
        description = ["Also serve this realm, closed to anonymous sessions (for the auth cases)."],
    )
    var authRealm: String? = null

    /** The router's settings from the flags; malformed USER:SECRET values are refused. */
    fun options(): FakeWampRouterConfig {
        val b = FakeWampRouterConfig.builder().realm(realm, !noAnonymous).ports(port, rawSocketPort)
        unixPath?.let { b.unixSocket(it) }
        if (tls) b.tls()
        for (t in tickets) credential("--ticket", t).let { (user, ticket) -> b.ticketUser(user, ticket) }
        for (c in craUsers) credential("--cra", c).let { (user, secret) -> b.craUser(user, secret) }
        for (c in saltedCraUsers) {
            val (user, rest) = credential("--cra-salted", c)
            val secret = rest.substringBefore(':', "")
            val salt = rest.substringAfter(':', "")
            require(secret.isNotEmpty() && salt.isNotEmpty()) { "--cra-salted takes USER:SECRET:SALT, got '$c'" }
            b.saltedCraUser(user, secret, salt)
        }
        for (c in cryptosignUsers) {
            val (user, seed) = credential("--cryptosign", c)
            b.cryptosignUser(user, CryptosignKey.fromSeedHex(seed).publicKeyHex)
        }
        authRealm?.let { b.realm(it, false) }
        return b.build()
    }

    private fun method(u: RouterUser): String = when (u) {
        is RouterUser.Ticket -> "ticket"
        is RouterUser.Cra -> if (u.salt == null) "wampcra" else "wampcra (salted)"
        is RouterUser.Cryptosign -> "cryptosign"
        else -> u::class.simpleName ?: "user"
    }

    private fun credential(flag: String, value: String): Pair<String, String> {
        val user = value.substringBefore(':', "")
        val secret = value.substringAfter(':', "")
        require(user.isNotEmpty() && secret.isNotEmpty()) { "$flag takes USER:SECRET, got '$value'" }
        return user to secret
    }

    override fun call(): Int {
        val options = options()
        val router = FakeWampRouter.start(options)
        val anonymous = if (noAnonymous) "closed to anonymous sessions" else "open to anonymous sessions"
        println("fake WAMP router, realm $realm ($anonymous)")
        println("  ${router.wsUrl}   WebSocket (also http://); subprotocols wamp.2.json, wamp.2.msgpack, wamp.2.cbor")
        println("  ${router.tcpUrl}   RawSocket")
        router.unixUrl?.let { println("  $it   RawSocket over a Unix socket") }
        router.wssUrl?.let {
            println("  $it   WebSocket over TLS (trust the testkit certificate: FakeWampRouterTls.trustManager)")
        }
        router.tcpsUrl?.let { println("  $it   RawSocket over TLS") }
        authRealm?.let { println("  realm $it: closed to anonymous sessions") }
        for (u in options.users) println("  user ${u.authId}: ${method(u)}")
        val flags = buildList {
            add("-Dtether.conformance.wamp.url=${router.wsUrl},${router.tcpUrl}")
            add("-Dtether.conformance.wamp.realm=$realm")
            authRealm?.let { add("-Dtether.conformance.wamp.auth.realm=$it") }
            val users = options.users
            users.filterIsInstance<RouterUser.Ticket>().firstOrNull()?.let {
                add("-Dtether.conformance.wamp.ticket.authid=${it.authId}")
                add("-Dtether.conformance.wamp.ticket=<ticket>")
            }
            users.filterIsInstance<RouterUser.Cra>().firstOrNull { it.salt == null }?.let {
                add("-Dtether.conformance.wamp.cra.authid=${it.authId}")
                add("-Dtether.conformance.wamp.cra.secret=<secret>")
            }
            users.filterIsInstance<RouterUser.Cra>().firstOrNull { it.salt != null }?.let {
                add("-Dtether.conformance.wamp.cra.salted.authid=${it.authId}")
                add("-Dtether.conformance.wamp.cra.salted.secret=<secret>")
            }
            users.filterIsInstance<RouterUser.Cryptosign>().firstOrNull()?.let {
                add("-Dtether.conformance.wamp.cryptosign.authid=${it.authId}")
                add("-Dtether.conformance.wamp.cryptosign.seed=<seed>")
            }
        }
        val suite = "mvn -pl conformance-tests test -Dtest='Wamp*'"
        println("conformance suite against it: $suite ${flags.joinToString(" ")}")
        return runUntilInterrupted(router)
    }
}

@Command(
    name = "relay",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = ["A netbird relay server at rel://127.0.0.1:PORT (path /relay)."],
)
class ServeRelay : Callable<Int> {
    @Option(names = ["--port"], description = ["Port on 127.0.0.1; default: an ephemeral one."])
    var port: Int = 0

    @Option(
        names = ["--secret"],
        description = ["Auth secret the peers sign their tokens with; default: a random one, printed."],
    )
    var secret: String? = null

    @Option(
        names = ["--instance-url"],
        description = ["Instance URL announced to peers (rel:// or rels://); default: the listening address."],
    )
    var instanceUrl: String? = null

    @Option(names = ["--health-interval"], description = ["Seconds between health checks; default: 25 (upstream)."])
    var healthIntervalSeconds: Long? = null

    @Option(
        names = ["--health-timeout"],
        description = [
            "Seconds without an answer to health checks before the relay closes a peer; default: 45 (upstream).",
        ],
    )
    var healthTimeoutSeconds: Long? = null

    /** The fake's settings from the flags. */
    fun options(): FakeRelayServerConfig {
        val b = FakeRelayServerConfig.builder().port(port)
        secret?.let { b.secret(it) }
        instanceUrl?.let { b.instanceUrl(it) }
        healthIntervalSeconds?.let {
            require(it > 0) { "--health-interval must be positive" }
            b.healthCheckInterval(Duration.ofSeconds(it))
        }
        healthTimeoutSeconds?.let {
            require(it > 0) { "--health-timeout must be positive" }
            b.healthCheckTimeout(Duration.ofSeconds(it))
        }
        return b.build()
    }

    override fun call(): Int {
        val relay = FakeRelayServer.start(options())
        println("fake relay listening at ${relay.url} (${relay.webSocketUrl})")
        println("auth secret: ${relay.secret}")
        println("connect with: tether relay --url ${relay.url} --secret ${relay.secret} --id ALICE --peer BOB")
        return runUntilInterrupted(relay)
    }
}
