package dev.tether.cli

import dev.tether.core.ConnectionEvent
import dev.tether.core.TetherException
import dev.tether.tunnel.TunnelClient
import dev.tether.tunnel.TunnelConfig
import dev.tether.tunnel.TunnelFlavour
import dev.tether.tunnel.TunnelTokens
import kotlinx.coroutines.flow.drop
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import picocli.CommandLine.ArgGroup
import picocli.CommandLine.Command
import picocli.CommandLine.Option
import java.time.Duration
import java.util.concurrent.Callable

/** `tether tunnel`: exposes a local origin through a webhook proxy until interrupted. */
@Command(
    name = "tunnel",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = ["Expose a local HTTP/WebSocket server through a webhooktunnel proxy."],
)
class TunnelCommand : Callable<Int> {
    @Option(names = ["--proxy"], required = true, description = ["Proxy URL (http, https, ws or wss)."])
    lateinit var proxy: String

    @Option(names = ["--id"], required = true, description = ["Tunnel id (the token's tid claim)."])
    lateinit var id: String

    @ArgGroup(exclusive = true, multiplicity = "1")
    lateinit var credentials: Credentials

    class Credentials {
        @Option(names = ["--token"], description = ["A signed registration JWT."])
        var token: String? = null

        @Option(
            names = ["--secret"],
            description = ["The proxy's signing secret: tokens are made and renewed locally."],
        )
        var secret: String? = null
    }

    @Option(names = ["--to"], required = true, description = ["Local origin, e.g. http://localhost:8080."])
    lateinit var to: String

    @Option(names = ["--websocktunnel"], description = ["Use websocktunnel (v2) header names."])
    var websocktunnel: Boolean = false

    override fun call(): Int = runBlocking {
        val config = try {
            TunnelConfig(id, proxy) {
                credentials.token?.let { token(it) }
                credentials.secret?.let { tokenGenerator(TunnelTokens.generator(it, Duration.ofDays(1))) }
                if (websocktunnel) flavour(TunnelFlavour.WEBSOCKTUNNEL)
            }
        } catch (e: IllegalArgumentException) {
            System.err.println("tether tunnel: ${e.message}")
            return@runBlocking 2
        }
        val client = try {
            TunnelClient(config).connect()
        } catch (e: TetherException) {
            System.err.println("tether tunnel: ${e.message}")
            return@runBlocking 1
        }
        Runtime.getRuntime().addShutdownHook(Thread { client.close() })
        println("public URL: ${client.url}")
        println("forwarding to $to; press Ctrl-C to stop")
        launch {
            client.events.collect { e ->
                when (e) {
                    is ConnectionEvent.Disconnected -> println("session lost (${e.cause.message}); registering again")
                    is ConnectionEvent.Connected -> println("registered")
                    is ConnectionEvent.Closed -> e.cause?.let { println("gave up: ${it.message}") }
                    else -> Unit
                }
            }
        }
        launch { client.urls.drop(1).collect { println("public URL now: $it") } }
        try {
            client.forward(to)
            0
        } catch (e: TetherException) {
            System.err.println("tether tunnel: ${e.message}")
            1
        }.also { coroutineContext[kotlinx.coroutines.Job]?.children?.forEach { it.cancel() } }
    }
}
