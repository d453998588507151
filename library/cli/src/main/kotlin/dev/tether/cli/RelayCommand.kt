package dev.tether.cli

import dev.tether.core.TetherException
import dev.tether.relay.AuthToken
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayProtocol
import dev.tether.relay.TokenStore
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import picocli.CommandLine.Command
import picocli.CommandLine.Option
import java.util.concurrent.Callable

/** `tether relay`: a relayed netcat, standard input to the peer and the peer's messages to standard output. */
@Command(name = "relay", description = ["Pipe standard input and output to a peer through a netbird relay."])
class RelayCommand : Callable<Int> {
    @Option(names = ["--url"], required = true, description = ["Relay URL, rel://host:port or rels://host:port."])
    lateinit var url: String

    @Option(names = ["--secret"], required = true, description = ["The relay's auth secret (tokens are made locally)."])
    lateinit var secret: String

    @Option(names = ["--id"], required = true, description = ["This peer's key."])
    lateinit var id: String

    @Option(names = ["--peer"], required = true, description = ["The other peer's key."])
    lateinit var peer: String

    override fun call(): Int = runBlocking {
        val client = RelayClient(url, TokenStore(AuthToken.generate(secret)), id)
        try {
            client.connect()
            System.err.println("connected to ${client.serverInstanceUrl()} as ${client.peerId}; waiting for $peer")
            val conn = client.openConn(peer)
            System.err.println("connected to $peer; type away (Ctrl-D ends)")
            val printer = launch(Dispatchers.IO) {
                while (true) {
                    val message = try { conn.read() } catch (e: TetherException) { break }
                    System.out.write(message)
                    System.out.flush()
                }
            }
            val buffer = ByteArray(RelayProtocol.MAX_PAYLOAD_SIZE)
            while (true) {
                val n = withContext(Dispatchers.IO) { System.`in`.read(buffer) }
                if (n < 0) break
                if (n > 0) conn.write(buffer.copyOf(n))
            }
            printer.cancel()
            conn.close()
            0
        } catch (e: TetherException) {
            System.err.println("tether relay: ${e.message}")
            1
        } finally {
            client.close()
        }
    }
}
