package dev.tether.cli

import dev.tether.core.TetherException
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.auth.CryptosignKey
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.WampErrorException
import dev.tether.wamp.serializer.Serialization
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.async
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import picocli.CommandLine.Command
import picocli.CommandLine.Mixin
import picocli.CommandLine.Model.CommandSpec
import picocli.CommandLine.Option
import picocli.CommandLine.ParentCommand
import picocli.CommandLine.Spec
import java.io.InputStream
import java.io.PrintWriter
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.Callable
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/**
 * `tether wamp <command>`: a WAMP client on the command line, against any router. Each subcommand connects, joins
 * the realm, does one thing and leaves; results go to standard output as JSON lines, status and errors to standard
 * error. Exit codes: 0 done, 1 the router or the connection failed (refused join, error reply, timeout), 2 bad
 * input (options, JSON arguments, URL scheme), 130 interrupted.
 */
@Command(
    name = "wamp",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = [
        "A WAMP client for any router: call, publish, subscribe, register, list sessions.",
        "Arguments are JSON values (1, true, '\"x\"', '{\"a\":1}'); a bare word that is not JSON is a string.",
        "Results are JSON lines on standard output; status and errors go to standard error.",
        "Exit codes: 0 done, 1 router or connection failure, 2 bad input, 130 interrupted.",
    ],
    subcommands = [WampCall::class, WampPublish::class, WampSubscribe::class, WampRegister::class, WampSessions::class],
)
class WampCommand : Runnable {
    @Spec
    lateinit var spec: CommandSpec

    /**
     * What `subscribe` and `register` watch for end of input; tests replace it (reading System.in would steal
     * surefire's channel).
     */
    internal var stdin: InputStream = System.`in`

    override fun run() {
        spec.commandLine().usage(spec.commandLine().out)
    }
}

/**
 * The options every `tether wamp` command shares: the router, the realm, the serializer, the credentials and the
 * response timeout. Secrets can come from the environment so that they stay out of the process list.
 */
class WampConnectionOptions {
    @Option(
        names = ["--url"],
        required = true,
        paramLabel = "URL",
        description = ["Router URL: ws://, wss://, http://, https://, tcp://, tcps:// or unix:///path."],
    )
    lateinit var url: String

    @Option(names = ["--realm"], paramLabel = "REALM", description = ["Realm to join; default: realm1."])
    var realm: String = "realm1"

    @Option(
        names = ["--serializer"],
        paramLabel = "json|msgpack|cbor",
        converter = [SerializationConverter::class],
        description = ["Serialization; default: json."],
    )
    var serialization: Serialization = Serialization.JSON

    @Option(names = ["--authid"], paramLabel = "AUTHID", description = ["The authid to announce in HELLO."])
    var authId: String? = null

    @Option(
        names = ["--ticket"],
        paramLabel = "TICKET",
        defaultValue = "\${env:TETHER_WAMP_TICKET}",
        description = ["Ticket authentication; default: \$TETHER_WAMP_TICKET."],
    )
    var ticket: String? = null

    @Option(
        names = ["--secret"],
        paramLabel = "SECRET",
        defaultValue = "\${env:TETHER_WAMP_SECRET}",
        description = ["WAMP-CRA secret (salted or not: the router's challenge says); default: \$TETHER_WAMP_SECRET."],
    )
    var secret: String? = null

    @Option(
        names = ["--cryptosign-seed"],
        paramLabel = "HEX",
        defaultValue = "\${env:TETHER_WAMP_CRYPTOSIGN_SEED}",
        description = ["Cryptosign: the 64-hex-digit seed of the Ed25519 key; default: \$TETHER_WAMP_CRYPTOSIGN_SEED."],
    )
    var cryptosignSeed: String? = null

    @Option(
        names = ["--ca-cert"],
        paramLabel = "PEM",
        description = [
            "For wss:// and tcps://: trust the certificates in this PEM file (a private CA) instead of " +
                "the JVM's.",
        ],
    )
    var caCert: Path? = null

    @Option(
        names = ["--response-timeout"],
        paramLabel = "DURATION",
        converter = [DurationConverter::class],
        description = [
            "How long to wait for the router's replies (join, register, subscribe, acknowledged publish); " +
                "default: 5s.",
        ],
    )
    var responseTimeout: Duration = Duration.ofSeconds(5)

    /** The session configuration these options describe, with [customize] applied; throws [UsageException]. */
    internal fun config(customize: SessionConfig.Builder.() -> Unit = {}): SessionConfig {
        val key = cryptosignSeed?.let { seed ->
            try {
                CryptosignKey.fromSeedHex(seed.trim())
            } catch (e: IllegalArgumentException) {
                // The exception may quote the seed: say what is wrong without it.
                throw UsageException("--cryptosign-seed must be 64 hex digits (a 32-byte Ed25519 seed)")
            }
        }
        val trust = caCert?.let(::trustManagerFromPem)
        if (realm.isBlank()) throw UsageException("--realm must not be blank")
        return try {
            SessionConfig(realm) {
                val o = this@WampConnectionOptions
                serialization(o.serialization)
                responseTimeout(o.responseTimeout)
                o.authId?.let { authId(it) }
                // The router picks one of the offered methods; several may be given.
                o.ticket?.let { authHandler("ticket", AuthHandler.ticket(it)) }
                o.secret?.let { authHandler("wampcra", AuthHandler.wampCra(it)) }
                key?.let { authHandler("cryptosign", AuthHandler.cryptosign(it)) }
                trust?.let { trustManager(it) }
                customize()
            }
        } catch (e: IllegalArgumentException) {
            throw UsageException(e.message ?: "invalid session settings")
        }
    }
}

/**
 * What every `tether wamp` subcommand does around its own work: check the input before connecting, connect and
 * join, run, leave (GOODBYE) however the work ended, and turn failures into one line on standard error and an exit
 * code. Ctrl-C cancels the work and still leaves the realm, within twice the response timeout.
 */
abstract class WampSubcommand : Callable<Int> {
    @Mixin
    lateinit var connection: WampConnectionOptions

    @Spec
    lateinit var spec: CommandSpec

    @ParentCommand
    lateinit var wamp: WampCommand

    /** Standard output of the command line (tests replace it). */
    protected val out: PrintWriter get() = spec.commandLine().out

    /** Checks and converts arguments before anything is sent; throws [UsageException]. */
    protected open fun prepare() {}

    /** Adds this command's settings to the session configuration. */
    protected open fun SessionConfig.Builder.configure() {}

    /**
     * The command's work on a joined session; returns the exit code. Failures are thrown and reported by the caller.
     */
    protected abstract suspend fun run(session: WampSession): Int

    /** How a [WampErrorException] reads for this command, e.g. `call com.example.add failed`. */
    protected abstract fun failed(): String

    /** Prints one line on standard output and flushes it, so that a pipe sees it at once. */
    protected fun emit(line: String) = synchronized(out) {
        out.println(line)
        out.flush()
    }

    /** Prints a status or error line on standard error. */
    protected fun say(text: String) = with(spec.commandLine().err) {
        println("tether wamp ${spec.name()}: $text")
        flush()
    }

    final override fun call(): Int {
        val config = try {
            prepare()
            connection.config { configure() }
        } catch (e: UsageException) {
            say(e.message ?: "bad input")
            return 2
        }
        val interrupted = CompletableDeferred<Unit>()
        val finished = CountDownLatch(1)
        val grace = connection.responseTimeout.multipliedBy(2).plusSeconds(1)
        val hook = Thread({
            interrupted.complete(Unit)
            finished.await(grace.toMillis(), TimeUnit.MILLISECONDS) // let the session say GOODBYE
        }, "tether-wamp-interrupt")
        Runtime.getRuntime().addShutdownHook(hook)
        try {
            return runBlocking {
                val work = async { connectAndRun(config) }
                val watcher = launch {
                    interrupted.await()
                    work.cancel()
                }
                try {
                    work.await()
                } catch (e: CancellationException) {
                    if (!interrupted.isCompleted) throw e
                    130
                } finally {
                    watcher.cancel()
                }
            }
        } finally {
            finished.countDown()
            try {
                Runtime.getRuntime().removeShutdownHook(hook)
            } catch (e: IllegalStateException) {
                // The JVM is already shutting down: the hook is running.
            }
        }
    }

    private suspend fun connectAndRun(config: SessionConfig): Int {
        val session = try {
            WampSession.connect(connection.url, config)
        } catch (e: AbortException) {
            say("could not join realm ${config.realm}: ${e.message}")
            return 1
        } catch (e: Exception) {
            return report(e)
        }
        return try {
            run(session)
        } catch (e: Exception) {
            report(e)
        } finally {
            withContext(NonCancellable) { runCatching { session.leave() } }
        }
    }

    private fun report(e: Exception): Int = when (e) {
        is CancellationException -> throw e

        is WampErrorException -> {
            val args = e.args.takeIf { it.isNotEmpty() }?.let { " ${WampJson.text(it)}" } ?: ""
            val kwargs = e.kwargs.takeIf { it.isNotEmpty() }?.let { " ${WampJson.text(it)}" } ?: ""
            say("${failed()}: ${e.error}$args$kwargs")
            1
        }

        is TetherException -> {
            val tls = generateSequence<Throwable>(e) { it.cause }.any { it is javax.net.ssl.SSLException }
            val hint = if (tls && connection.caCert == null) {
                " (a router with a private CA or a self-signed " +
                    "certificate: give it with --ca-cert PEM)"
            } else {
                ""
            }
            say((e.message ?: e.toString()) + hint)
            1
        }

        is IllegalArgumentException -> { // e.g. a URL scheme WampSession.connect does not know
            say(e.message ?: e.toString())
            2
        }

        else -> {
            say("unexpected failure: $e")
            1
        }
    }
}
