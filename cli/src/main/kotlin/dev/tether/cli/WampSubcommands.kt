package dev.tether.cli

import dev.tether.wamp.CallOptions
import dev.tether.wamp.InvokePolicy
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.SubscribeOptions
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import dev.tether.wamp.message.WampValues
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Job
import kotlinx.coroutines.cancelChildren
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import picocli.CommandLine.Command
import picocli.CommandLine.Option
import picocli.CommandLine.Parameters
import java.io.IOException
import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread

/** Positional JSON arguments and `--kwargs`, shared by `call` and `publish`. */
abstract class WampPayloadCommand : WampSubcommand() {
    @Parameters(
        index = "1..*",
        paramLabel = "ARG",
        description = ["Positional arguments, each a JSON value or a bare word (a string)."],
    )
    var rawArgs: List<String> = emptyList()

    @Option(names = ["--kwargs"], paramLabel = "JSON", description = ["Keyword arguments as a JSON object."])
    var rawKwargs: String? = null

    protected var args: List<Any?> = emptyList()
    protected var kwargs: Map<String, Any?> = emptyMap()

    override fun prepare() {
        args = rawArgs.mapIndexed { i, text -> WampJson.argument(text, "argument ${i + 1}") }
        kwargs = rawKwargs?.let { WampJson.kwargs(it, "--kwargs") } ?: emptyMap()
    }
}

/** `tether wamp call`: calls a procedure and prints its result; an ERROR reply exits with 1. */
@Command(
    name = "call",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = [
        "Call a procedure and print its result.",
        "The result is one JSON line: {\"args\":[...],\"kwargs\":{...}}. An error reply exits with 1 and prints its " +
            "URI (and args, kwargs) on standard error.",
    ],
)
class WampCall : WampPayloadCommand() {
    @Parameters(index = "0", paramLabel = "PROCEDURE", description = ["The procedure URI."])
    lateinit var procedure: String

    @Option(
        names = ["--timeout"],
        paramLabel = "DURATION",
        converter = [DurationConverter::class],
        description = [
            "Ask the router to cancel the call after this long (wamp.error.timeout); the command itself gives up one " +
                "response timeout later. Default: wait for the result (Ctrl-C cancels).",
        ],
    )
    var timeout: Duration? = null

    @Option(names = ["--disclose-me"], description = ["Ask the router to tell the callee who is calling."])
    var discloseMe: Boolean = false

    override fun SessionConfig.Builder.configure() {
        // A router that ignores the timeout option still cannot hold the command forever.
        this@WampCall.timeout?.let { callTimeout(it.plus(connection.responseTimeout)) }
    }

    override fun failed(): String = "call $procedure failed"

    override suspend fun run(session: WampSession): Int {
        val options = CallOptions {
            this@WampCall.timeout?.let { timeout(it) }
            if (this@WampCall.discloseMe) discloseMe()
        }
        val result = session.call(procedure, args, kwargs, options)
        emit(WampJson.line("args" to result.args, "kwargs" to result.kwargs))
        return 0
    }
}

/** `tether wamp publish`: publishes one event, with the PUBLISH options as flags. */
@Command(
    name = "publish",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = [
        "Publish an event to a topic.",
        "With --acknowledge the router confirms it and the command prints {\"publication\":ID}; without, nothing is " +
            "printed and a refusal by the router goes unnoticed (the WAMP rule).",
    ],
)
class WampPublish : WampPayloadCommand() {
    @Parameters(index = "0", paramLabel = "TOPIC", description = ["The topic URI."])
    lateinit var topic: String

    @Option(names = ["--acknowledge"], description = ["Wait for the router's PUBLISHED and print the publication id."])
    var acknowledge: Boolean = false

    @Option(
        names = ["--exclude-me"],
        negatable = true,
        description = ["Whether this session is left out of the event (the router's default: yes)."],
    )
    var excludeMe: Boolean? = null

    @Option(
        names = ["--exclude"],
        paramLabel = "SESSION",
        split = ",",
        description = ["Session ids that must not receive the event (repeatable or comma-separated)."],
    )
    var exclude: List<Long>? = null

    @Option(
        names = ["--eligible"],
        paramLabel = "SESSION",
        split = ",",
        description = ["Only these session ids may receive the event (repeatable or comma-separated)."],
    )
    var eligible: List<Long>? = null

    @Option(
        names = ["--exclude-authid"],
        paramLabel = "AUTHID",
        split = ",",
        description = ["Authids that must not receive the event."],
    )
    var excludeAuthId: List<String>? = null

    @Option(
        names = ["--eligible-authid"],
        paramLabel = "AUTHID",
        split = ",",
        description = ["Only sessions with these authids may receive the event."],
    )
    var eligibleAuthId: List<String>? = null

    @Option(
        names = ["--exclude-authrole"],
        paramLabel = "ROLE",
        split = ",",
        description = ["Authroles that must not receive the event."],
    )
    var excludeAuthRole: List<String>? = null

    @Option(
        names = ["--eligible-authrole"],
        paramLabel = "ROLE",
        split = ",",
        description = ["Only sessions with these authroles may receive the event."],
    )
    var eligibleAuthRole: List<String>? = null

    @Option(names = ["--disclose-me"], description = ["Ask the router to tell subscribers who published."])
    var discloseMe: Boolean = false

    /** The PUBLISH options the flags describe. */
    internal fun options(): PublishOptions = PublishOptions {
        if (this@WampPublish.acknowledge) acknowledge()
        this@WampPublish.excludeMe?.let { excludeMe(it) }
        exclude(this@WampPublish.exclude)
        eligible(this@WampPublish.eligible)
        excludeAuthId(this@WampPublish.excludeAuthId)
        eligibleAuthId(this@WampPublish.eligibleAuthId)
        excludeAuthRole(this@WampPublish.excludeAuthRole)
        eligibleAuthRole(this@WampPublish.eligibleAuthRole)
        if (this@WampPublish.discloseMe) discloseMe()
    }

    private lateinit var options: PublishOptions

    override fun prepare() {
        super.prepare()
        options = try {
            options()
        } catch (e: IllegalArgumentException) { // a session id out of range
            throw UsageException(e.message ?: "invalid publish options")
        }
    }

    override fun failed(): String = "publish to $topic failed"

    override suspend fun run(session: WampSession): Int {
        val publication = session.publish(topic, args, kwargs, options)
        publication?.let { emit(WampJson.line("publication" to it)) }
        return 0
    }
}

/**
 * `subscribe` and `register` run until `--count` items were handled, or else until Ctrl-C or the end of standard
 * input. With `--count` standard input is not read, so the command can run in the background (a background read
 * of a terminal would stop the process) or with input from /dev/null.
 */
abstract class WampListeningCommand : WampSubcommand() {
    @Option(
        names = ["--count"],
        paramLabel = "N",
        description = [
            "Stop after N items (standard input is then not read); default: run until Ctrl-C or end of " +
                "input.",
        ],
    )
    var count: Int? = null

    @Option(
        names = ["--ignore-stdin"],
        description = [
            "Do not stop at the end of standard input (for running in the background); only Ctrl-C or " +
                "--count stop.",
        ],
    )
    var ignoreStdin: Boolean = false

    override fun prepare() {
        count?.let { if (it < 1) throw UsageException("--count must be at least 1") }
    }

    /** How the command ends, in words, for the status line. */
    protected fun untilWhat(item: String): String = when (val n = count) {
        null -> if (ignoreStdin) "until Ctrl-C" else "until Ctrl-C or end of input"
        1 -> "until 1 $item or Ctrl-C"
        else -> "until $n ${item}s or Ctrl-C"
    }

    /**
     * Waits until [enough] completes (the `--count`-th item was handled), standard input ends (without `--count`
     * and `--ignore-stdin`) or the session ends (an error: exit 1). Ctrl-C cancels the wait.
     */
    protected suspend fun awaitEnd(session: WampSession, enough: CompletableDeferred<Unit>): Int = coroutineScope {
        val end = CompletableDeferred<String?>() // null: a normal end
        launch {
            enough.await()
            end.complete(null)
        }
        launch { end.complete("the session ended: ${session.awaitClosed().message}") }
        val reader = if (count == null && !ignoreStdin) watchStdin { end.complete(null) } else null
        try {
            val problem = end.await()
            coroutineContext.cancelChildren()
            if (problem == null) 0 else 1.also { say(problem) }
        } finally {
            reader?.interrupt() // ends a read of a test's stream; a terminal read ends with the process
        }
    }

    // A blocking read cannot be cancelled, so it runs on its own daemon thread; input is read and discarded.
    private fun watchStdin(onEnd: () -> Unit): Thread = thread(isDaemon = true, name = "tether-wamp-stdin") {
        val buffer = ByteArray(4096)
        try {
            while (wamp.stdin.read(buffer) >= 0) Unit
        } catch (e: IOException) {
            // An unreadable input counts as ended, as for a closed pipe.
        }
        onEnd()
    }
}

/** `tether wamp subscribe`: prints the events of one subscription as JSON lines. */
@Command(
    name = "subscribe",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = [
        "Subscribe to a topic and print each event as it comes.",
        "One JSON line per event: {\"topic\":...,\"publication\":...,\"args\":[...],\"kwargs\":{...},\"details\":{..." +
            "}}. Runs until --count events, or else until Ctrl-C or the end of standard input.",
    ],
)
class WampSubscribe : WampListeningCommand() {
    @Parameters(
        index = "0",
        paramLabel = "TOPIC",
        description = ["The topic URI (a prefix or a pattern with --match)."],
    )
    lateinit var topic: String

    @Option(
        names = ["--match"],
        paramLabel = "exact|prefix|wildcard",
        converter = [MatchConverter::class],
        description = ["How the router matches topics; default: exact."],
    )
    var match: MatchPolicy? = null

    override fun failed(): String = "subscribe to $topic failed"

    override suspend fun run(session: WampSession): Int {
        val enough = CompletableDeferred<Unit>()
        val seen = AtomicInteger()
        // Events of one subscription arrive one at a time, so the count is exact.
        session.subscribe(topic, SubscribeOptions { match(this@WampSubscribe.match) }) { event ->
            val n = seen.incrementAndGet()
            val limit = count
            if (limit != null && n > limit) return@subscribe // arrived before the router took note of the leave
            emit(
                WampJson.line(
                    "topic" to event.topic,
                    "publication" to event.publication,
                    "args" to event.args,
                    "kwargs" to event.kwargs,
                    "details" to event.details,
                ),
            )
            if (n == limit) enough.complete(Unit)
        }
        val how = match?.let { " (match ${it.wire})" } ?: ""
        say("subscribed to $topic$how as session ${session.id}; printing events ${untilWhat("event")}")
        return awaitEnd(session, enough)
    }
}

/** `tether wamp register`: answers the calls of one registration (an echo or a fixed reply), one JSON line each. */
@Command(
    name = "register",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = [
        "Register a procedure and answer each call (an echo of its arguments, or --reply).",
        "One JSON line per invocation: {\"procedure\":...,\"args\":[...],\"kwargs\":{...},\"details\":{...}}. Runs " +
            "until --count calls were answered, or else until Ctrl-C or the end of standard input.",
    ],
)
class WampRegister : WampListeningCommand() {
    @Parameters(
        index = "0",
        paramLabel = "PROCEDURE",
        description = ["The procedure URI (a prefix or a pattern with --match)."],
    )
    lateinit var procedure: String

    @Option(
        names = ["--match"],
        paramLabel = "exact|prefix|wildcard",
        converter = [MatchConverter::class],
        description = ["How the router matches procedures; default: exact."],
    )
    var match: MatchPolicy? = null

    @Option(
        names = ["--invoke"],
        paramLabel = "POLICY",
        converter = [InvokeConverter::class],
        description = [
            "Shared registration: single (the default), roundrobin, random, first or last; every callee of the " +
                "procedure must use the same.",
        ],
    )
    var invoke: InvokePolicy? = null

    @Option(
        names = ["--reply"],
        paramLabel = "JSON",
        description = [
            "Answer every call with this positional result instead of the echo (repeatable: one per " +
                "result argument).",
        ],
    )
    var rawReply: List<String>? = null

    @Option(
        names = ["--reply-kwargs"],
        paramLabel = "JSON",
        description = ["Answer every call with these keyword results (a JSON object) instead of the echo."],
    )
    var rawReplyKwargs: String? = null

    private var reply: InvokeResult? = null

    override fun prepare() {
        super.prepare()
        if (rawReply != null || rawReplyKwargs != null) {
            val args = rawReply.orEmpty().mapIndexed { i, text -> WampJson.argument(text, "--reply ${i + 1}") }
            val kwargs = rawReplyKwargs?.let { WampJson.kwargs(it, "--reply-kwargs") } ?: emptyMap()
            reply = InvokeResult(args, kwargs)
        }
    }

    override fun failed(): String = "register $procedure failed"

    override suspend fun run(session: WampSession): Int {
        val enough = CompletableDeferred<Unit>()
        val seen = AtomicInteger()
        session.register(
            procedure,
            RegisterOptions {
                match(this@WampRegister.match)
                invoke(this@WampRegister.invoke)
            },
        ) { inv ->
            val n = seen.incrementAndGet()
            val limit = count
            if (limit != null && n > limit) {
                // Arrived before the router took note of the leave: a shared registration retries another callee.
                throw RpcException("wamp.error.unavailable", listOf("this callee is leaving (--count $limit reached)"))
            }
            emit(
                WampJson.line(
                    "procedure" to inv.procedure,
                    "args" to inv.args,
                    "kwargs" to inv.kwargs,
                    "details" to inv.details,
                ),
            )
            if (n == limit) {
                // The session sends the YIELD in the coroutine that runs this handler, after it returns; leaving only
                // once that coroutine completes keeps GOODBYE from overtaking the last answer.
                val handlerJob = kotlin.coroutines.coroutineContext[Job]
                if (handlerJob == null) {
                    enough.complete(Unit)
                } else {
                    handlerJob.invokeOnCompletion {
                        enough.complete(Unit)
                    }
                }
            }
            reply ?: InvokeResult(inv.args, inv.kwargs)
        }
        val how = listOfNotNull(
            match?.let {
                "match ${it.wire}"
            },
            invoke?.let { "invoke ${it.wire}" },
        ).joinToString(", ").let { if (it.isEmpty()) "" else " ($it)" }
        val fixed = reply
        val answer = if (fixed == null) {
            "echoing the arguments"
        } else {
            "answering ${WampJson.line(
                "args" to fixed.args,
                "kwargs" to fixed.kwargs,
            )}"
        }
        say("registered $procedure$how as session ${session.id}, $answer ${untilWhat("call")}")
        return awaitEnd(session, enough)
    }
}

/** `tether wamp sessions`: the realm's other sessions from the meta API, one JSON line each. */
@Command(
    name = "sessions",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = [
        "List the sessions of the realm (the meta API).",
        "Calls wamp.session.list, then wamp.session.get for each session, and prints one JSON line per session as " +
            "the router describes it (session, authid, authrole, authmethod, ...). This command's own session is " +
            "left out. The router must offer the meta API to this session.",
    ],
)
class WampSessions : WampSubcommand() {
    override fun failed(): String = "listing sessions failed"

    override suspend fun run(session: WampSession): Int {
        val listed = session.call("wamp.session.list").args.firstOrNull()
        if (listed !is List<*>) {
            say("unexpected answer to wamp.session.list: ${WampJson.text(listed)} (expected a list of session ids)")
            return 1
        }
        for (id in listed) {
            if (WampValues.asLong(id) == session.id) continue
            val info = try {
                session.call("wamp.session.get", listOf(id)).args.firstOrNull()
            } catch (e: RpcException) {
                if (e.error == "wamp.error.no_such_session") continue // it left meanwhile
                throw e
            }
            emit(WampJson.text(info))
        }
        return 0
    }
}
