package dev.tether.cli

import dev.tether.core.ConnectionEvent
import dev.tether.relay.AuthToken
import dev.tether.relay.Manager
import dev.tether.relay.ManagerConfig
import dev.tether.relay.PeerId
import dev.tether.relay.PeerNotOnlineException
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayConn
import dev.tether.relay.RelayException
import dev.tether.relay.RelayProtocol
import dev.tether.relay.TokenStore
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.selects.select
import kotlinx.coroutines.withContext
import picocli.CommandLine.Command
import picocli.CommandLine.Option
import java.io.IOException
import java.io.InputStream
import java.io.InterruptedIOException
import java.io.OutputStream
import java.io.PrintStream
import java.util.concurrent.Callable
import kotlin.concurrent.thread
import kotlin.time.Duration.Companion.hours
import kotlin.time.Duration.Companion.seconds

/**
 * `tether relay`: a relayed netcat, standard input to the peer and the peer's messages to standard output.
 *
 * The relay session is a [Manager]'s home relay, so its guard redials the relay after every drop (quick reconnect,
 * then backoff). When the peer connection ends (the relay restarted, or the peer went offline) the command waits for
 * the relay and the peer to come back, reopens the connection and keeps piping; with `--once` it ends with exit 1
 * instead. Input read while the peer is away is held in an [Outbox] (one relay message) and sent when it is back;
 * when that is full, standard input is not read until then. Streams are parameters so tests can drive the command.
 */
@Command(
    name = "relay",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = [
        "Pipe standard input and output to a peer through a netbird relay.",
        "If the relay restarts or the peer goes away, wait for both to come back",
        "(the relay is redialled with backoff) and keep piping. Input typed meanwhile",
        "is held, up to ${RelayProtocol.MAX_PAYLOAD_SIZE} bytes (one relay message), and sent then; more",
        "waits unread. With --once the command ends (exit 1) instead.",
    ],
)
class RelayCommand(
    private val stdin: InputStream = System.`in`,
    private val stdout: OutputStream = System.out,
    private val stderr: PrintStream = System.err,
) : Callable<Int> {
    @Option(names = ["--url"], required = true, description = ["Relay URL, rel://host:port or rels://host:port."])
    lateinit var url: String

    @Option(names = ["--secret"], required = true, description = ["The relay's auth secret (tokens are made locally)."])
    lateinit var secret: String

    @Option(names = ["--id"], required = true, description = ["This peer's key."])
    lateinit var id: String

    @Option(names = ["--peer"], required = true, description = ["The other peer's key."])
    lateinit var peer: String

    @Option(
        names = ["--once"],
        description = ["End (exit 1) when the relay or the peer goes away instead of waiting for them to come back."],
    )
    var once: Boolean = false

    /** The relay manager's timers (tests shorten the guard's). */
    internal var managerConfig: ManagerConfig = ManagerConfig.DEFAULT

    private val outbox = Outbox()

    override fun call(): Int {
        try {
            RelayClient.toWebSocketUrl(url)
        } catch (e: IllegalArgumentException) {
            say(e.message ?: "bad --url")
            return 2
        }
        val manager = Manager(listOf(url), id, TokenStore(AuthToken.generate(secret)), managerConfig)
        var reader: Thread? = null
        try {
            return runBlocking {
                val reconnected = Channel<Unit>(Channel.CONFLATED)
                manager.onEvent { if (it is ConnectionEvent.Connected) reconnected.trySend(Unit) }
                try {
                    manager.connect()
                } catch (e: RelayException) {
                    say(e.message ?: e.toString())
                    return@runBlocking 1
                }
                // it may have dropped already
                val instance = runCatching { manager.relayInstanceAddress() }.getOrDefault(url)
                stderr.println("connected to $instance as ${PeerId.of(id)}; waiting for $peer")
                reader = startReader()
                // Tokens live 12 h; a reconnect after that needs a fresh one (management pushes one every 9 h).
                val refresher = launch {
                    while (true) {
                        delay(TOKEN_REFRESH)
                        manager.updateToken(AuthToken.generate(secret))
                    }
                }
                try {
                    pipeUntilDone(manager, reconnected)
                } finally {
                    refresher.cancel()
                }
            }
        } finally {
            outbox.close()
            reader?.interrupt() // ends a read of a piped stream (a terminal read ends with the process)
            outbox.held.takeIf { it > 0 }?.let { say("${describe(it, outbox.heldLines)} of input were not sent") }
            manager.close()
        }
    }

    /** Pipes through one peer connection after another; the exit code. */
    private suspend fun pipeUntilDone(manager: Manager, reconnected: Channel<Unit>): Int {
        var first = true
        while (true) {
            val next: Any = coroutineScope {
                val opening = async { openPeer(manager, reconnected) ?: GAVE_UP }
                select {
                    opening.onAwait { it }
                    outbox.drained.onAwait {
                        opening.cancel()
                        DRAINED
                    } // input ended while the peer was away
                }
            }
            val conn = when (next) {
                DRAINED -> return 0
                GAVE_UP -> return 1
                else -> next as RelayConn
            }
            outbox.isPeerUp = true
            val held = outbox.held
            val sending = if (held > 0) "; sending the ${describe(held, outbox.heldLines)} held" else ""
            stderr.println(
                if (first) {
                    "connected to $peer; type away (Ctrl-D ends)$sending"
                } else {
                    "tether relay: connected to $peer again$sending"
                },
            )
            first = false
            val lost = pipe(conn)
            outbox.isPeerUp = false
            conn.close()
            if (lost == null) return 0
            if (once) {
                say(lost.message ?: lost.toString())
                return 1
            }
            say(
                "lost $peer (${lost.message}); waiting for the relay and $peer to come back (--once ends instead). " +
                    "Input is held until then (up to ${outbox.capacity} bytes).",
            )
        }
    }

    /** Waits for the home relay, then opens the connection to the peer; null when `--once` gives up. */
    private suspend fun openPeer(manager: Manager, reconnected: Channel<Unit>): RelayConn? {
        while (true) {
            awaitRelay(manager, reconnected)
            try {
                return manager.openConn(manager.relayInstanceAddress(), peer)
            } catch (e: PeerNotOnlineException) {
                if (once) return null.also { say(e.message ?: e.toString()) }
                say("$peer is not online yet; still waiting")
            } catch (e: RelayException) {
                if (once) return null.also { say(e.message ?: e.toString()) }
                // The session ended during the wait: wait for the guard. Otherwise pause before trying again.
                if (manager.isConnected) delay(RETRY_PAUSE)
            }
        }
    }

    private suspend fun awaitRelay(manager: Manager, reconnected: Channel<Unit>) {
        var waited = false
        while (!manager.isConnected) {
            if (!waited) say("waiting for the relay $url to come back (redialling with backoff)")
            waited = true
            reconnected.receive()
        }
        if (waited) say("relay $url is back; waiting for $peer")
    }

    /** Pipes both ways until the connection ends (its cause) or input ended and was all sent (null). */
    private suspend fun pipe(conn: RelayConn): RelayException? = coroutineScope {
        val outcome = CompletableDeferred<RelayException?>()
        val printer = launch(Dispatchers.IO) {
            while (true) {
                val message = try {
                    conn.read()
                } catch (e: RelayException) {
                    outcome.complete(e)
                    break
                }
                stdout.write(message)
                stdout.flush()
            }
        }
        val writer = launch {
            while (true) {
                val data = outbox.next() ?: break
                try {
                    conn.write(data) // a failed write stays held for the next connection
                } catch (e: RelayException) {
                    outcome.complete(e)
                    return@launch
                }
                outbox.sent(data.size)
            }
            outcome.complete(null)
        }
        val result = outcome.await()
        printer.cancel()
        writer.cancel()
        result
    }

    /** Reads standard input on a daemon thread (a blocking read cannot be cancelled) into the outbox. */
    private fun startReader(): Thread = thread(isDaemon = true, name = "tether-relay-stdin") {
        val buffer = ByteArray(RelayProtocol.MAX_PAYLOAD_SIZE)
        try {
            while (true) {
                val n = stdin.read(buffer)
                if (n < 0) break
                if (n == 0) continue
                val accepted = outbox.put(buffer.copyOf(n)) {
                    val held = describe(outbox.held, outbox.heldLines)
                    say("the hold is full ($held); further input waits unread until $peer is back")
                }
                if (!accepted) return@thread
                if (!outbox.isPeerUp) {
                    say("$peer is not connected; holding ${describe(outbox.held, outbox.heldLines)} until it is")
                }
            }
        } catch (e: InterruptedIOException) {
            return@thread
        } catch (e: IOException) {
            say("reading standard input failed: ${e.message}; no more input is sent")
        }
        outbox.end()
        if (!outbox.isPeerUp && outbox.held > 0) {
            val held = describe(outbox.held, outbox.heldLines)
            say("end of input; the $held held go to $peer when it is back (Ctrl-C gives up)")
        }
    }

    private fun say(text: String) = stderr.println("tether relay: $text")

    private fun describe(bytes: Int, lines: Int): String =
        "$bytes byte${if (bytes == 1) "" else "s"} ($lines line${if (lines == 1) "" else "s"})"

    private companion object {
        val TOKEN_REFRESH = 1.hours
        val RETRY_PAUSE = 1.seconds
        val DRAINED = Any()
        val GAVE_UP = Any()
    }
}
