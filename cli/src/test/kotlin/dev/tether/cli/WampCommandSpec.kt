package dev.tether.cli

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import dev.tether.testkit.wamp.FakeWampRouterTls
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.auth.CryptosignKey
import dev.tether.wamp.error.RpcException
import io.kotest.assertions.fail
import io.kotest.assertions.withClue
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactlyInAnyOrder
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldMatch
import io.kotest.matchers.string.shouldNotContain
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import picocli.CommandLine
import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.io.OutputStream
import java.io.PipedInputStream
import java.io.PipedOutputStream
import java.io.PrintWriter
import java.net.ServerSocket
import java.nio.file.Files
import java.nio.file.Path
import java.util.Base64
import kotlin.time.Duration.Companion.seconds

/** Output that publishes everything written so far, so that a test can await a part of it. */
private class Transcript : OutputStream() {
    private val bytes = ByteArrayOutputStream()
    val text = MutableStateFlow("")

    @Synchronized override fun write(b: Int) {
        bytes.write(b)
        text.value = bytes.toString(Charsets.UTF_8)
    }

    @Synchronized override fun write(b: ByteArray, off: Int, len: Int) {
        bytes.write(b, off, len)
        text.value = bytes.toString(Charsets.UTF_8)
    }
}

/** `tether wamp ARGS` run in-process, its standard output and error captured, [stdin] as its input. */
private class WampRun(private val args: List<String>, stdin: InputStream? = null) {
    val out = Transcript()
    val err = Transcript()
    private val line = CommandLine(
        TetherCommand(),
    ).setOut(PrintWriter(out, true)).setErr(PrintWriter(err, true)).also { line ->
        stdin?.let { line.subcommands.getValue("wamp").getCommand<WampCommand>().stdin = it }
    }

    fun start(scope: CoroutineScope): Deferred<Int> = scope.async(Dispatchers.IO) {
        line.execute("wamp", *args.toTypedArray())
    }

    /** Awaits [part] on standard error (where the commands say they are ready). */
    suspend fun awaitErr(part: String) {
        withTimeoutOrNull(20.seconds) { err.text.first { it.contains(part) } }
            ?: fail(
                "waited 20 s for \"$part\" on standard error; got:\n${err.text.value}\nstandard " +
                    "output:\n${out.text.value}",
            )
    }

    suspend fun awaitOut(part: String) {
        withTimeoutOrNull(20.seconds) { out.text.first { it.contains(part) } }
            ?: fail(
                "waited 20 s for \"$part\" on standard output; got:\n${out.text.value}\nstandard " +
                    "error:\n${err.text.value}",
            )
    }

    suspend fun awaitExit(running: Deferred<Int>): Int = withTimeoutOrNull(30.seconds) { running.await() }
        ?: fail("tether wamp ${args.joinToString(" ")} did not end within 30 s; standard error:\n${err.text.value}")
}

private class Finished(val exit: Int, val out: String, val err: String)

/** Runs `tether wamp ARGS` to its end (bounded). */
private suspend fun CoroutineScope.wamp(vararg args: String): Finished {
    val run = WampRun(args.toList())
    val exit = run.awaitExit(run.start(this))
    return Finished(exit, run.out.text.value, run.err.text.value)
}

private fun json(line: String): JsonObject = Json.parseToJsonElement(line).jsonObject

private suspend fun <T> Channel<T>.next(): T = withTimeout(10.seconds) { receive() }

/** A port nothing listens on: one the OS just handed out and took back. */
private fun closedPort(): Int = ServerSocket(0).use { it.localPort }

private const val SEED = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

class WampCommandSpec : FunSpec({
    val carol = CryptosignKey.fromSeedHex(SEED)
    val router = FakeWampRouter.start(
        FakeWampRouterConfig {
            realm("realm1")
            realm("private", anonymous = false)
            ticketUser("alice", "alice-ticket")
            saltedCraUser("dave", "dave-secret", "dave-salt")
            cryptosignUser("carol", carol.publicKeyHex)
            tls()
        },
    )
    afterSpec { router.close() }

    suspend fun peer(realm: String = "realm1", block: SessionConfig.Builder.() -> Unit = {}): WampSession =
        WampSession.connect(router.tcpUrl, SessionConfig(realm, block))

    test("call prints the result of a registered procedure as one JSON line") {
        peer().use { callee ->
            callee.register("cli.add") { inv -> InvokeResult.of((inv.args[0] as Long) + (inv.args[1] as Long)) }
            val r = wamp("call", "--url", router.wsUrl, "cli.add", "2", "40")
            withClue(r.err) { r.exit shouldBe 0 }
            r.out shouldBe "{\"args\":[42],\"kwargs\":{}}\n"
            r.err shouldBe ""
        }
    }

    test(
        "call sends JSON values, bare words as strings and --kwargs, with every serializer over WebSocket and " +
            "RawSocket",
    ) {
        peer().use { callee ->
            callee.register("cli.echo") { inv -> InvokeResult(inv.args, inv.kwargs) }
            for ((url, serializer) in listOf(
                router.wsUrl to "json",
                router.tcpUrl to "msgpack",
                router.wsUrl to "cbor",
                router.tcpUrl to "json",
            )) {
                val r = wamp(
                    "call", "--url", url, "--serializer", serializer, "cli.echo",
                    "1", "hello", "{\"a\":[1,2.5,null]}", "\"quoted\"", "-5", "true", "two words",
                    "--kwargs", "{\"k\":\"v\"}",
                )
                withClue("$url $serializer: ${r.err}") {
                    r.exit shouldBe 0
                    r.out shouldBe "{\"args\":[1,\"hello\",{\"a\":[1,2.5,null]},\"quoted\",-5,true,\"two " +
                        "words\"],\"kwargs\":{\"k\":\"v\"}}\n"
                }
            }
        }
    }

    test("call: an error reply exits with 1 and prints the error URI and its arguments on one line, no stack trace") {
        peer().use { callee ->
            callee.register("cli.fail") {
                throw RpcException("com.example.not_today", listOf("try tomorrow"), mapOf("retry" to 1))
            }
            val r = wamp("call", "--url", router.wsUrl, "cli.fail")
            r.exit shouldBe 1
            r.out shouldBe ""
            r.err shouldBe "tether wamp call: call cli.fail failed: com.example.not_today [\"try tomorrow\"] " +
                "{\"retry\":1}\n"

            val nobody = wamp("call", "--url", router.wsUrl, "cli.nobody")
            nobody.exit shouldBe 1
            nobody.err shouldStartWith "tether wamp call: call cli.nobody failed: wamp.error.no_such_procedure"
            nobody.err.trim().lines() shouldHaveSize 1
        }
    }

    test("call --timeout has the router cancel a slow call; --disclose-me tells the callee who calls") {
        peer().use { callee ->
            callee.register("cli.slow") { CompletableDeferred<InvokeResult>().await() } // answers only when interrupted
            callee.register("cli.whoami") { inv -> InvokeResult.of(inv.caller) }
            val slow = wamp("call", "--url", router.tcpUrl, "--timeout", "200ms", "cli.slow")
            slow.exit shouldBe 1
            slow.err shouldStartWith "tether wamp call: call cli.slow failed: wamp.error.timeout"

            wamp("call", "--url", router.wsUrl, "cli.whoami").out shouldBe "{\"args\":[null],\"kwargs\":{}}\n"
            val disclosed = wamp("call", "--url", router.wsUrl, "--disclose-me", "cli.whoami")
            withClue(disclosed.err) { disclosed.exit shouldBe 0 }
            json(disclosed.out)["args"].toString() shouldMatch Regex("\\[[1-9][0-9]*]")
        }
    }

    test(
        "publish reaches the subscribers; --acknowledge prints the publication id; --eligible and --exclude pick " +
            "sessions",
    ) {
        peer().use { a ->
            peer().use { b ->
                val toA = Channel<Event>(Channel.UNLIMITED)
                val toB = Channel<Event>(Channel.UNLIMITED)
                a.subscribe("cli.news") { toA.send(it) }
                b.subscribe("cli.news") { toB.send(it) }

                val r =
                    wamp(
                        "publish",
                        "--url",
                        router.wsUrl,
                        "--acknowledge",
                        "cli.news",
                        "hello",
                        "--kwargs",
                        "{\"n\":1}",
                    )
                withClue(r.err) { r.exit shouldBe 0 }
                r.out shouldMatch Regex("\\{\"publication\":[1-9][0-9]*}\n")
                val publication = json(r.out.trim())["publication"]!!.jsonPrimitive.long
                for (events in listOf(toA, toB)) {
                    val e = events.next()
                    e.args shouldBe listOf("hello")
                    e.kwargs shouldBe mapOf("n" to 1L)
                    e.publication shouldBe publication
                }

                // Unacknowledged: nothing printed. Each subscription's events arrive in order, so the next event
                // each session sees shows which publications skipped it.
                wamp("publish", "--url", router.tcpUrl, "--eligible", "${a.id}", "cli.news", "only-a").out shouldBe ""
                wamp(
                    "publish",
                    "--url",
                    router.tcpUrl,
                    "--exclude",
                    "${a.id}",
                    "--acknowledge",
                    "cli.news",
                    "not-a",
                ).exit shouldBe 0
                wamp("publish", "--url", router.tcpUrl, "--acknowledge", "cli.news", "all").exit shouldBe 0
                listOf(toA.next(), toA.next()).map { it.args[0] } shouldBe listOf("only-a", "all")
                listOf(toB.next(), toB.next()).map { it.args[0] } shouldBe listOf("not-a", "all")
            }
        }
    }

    test("subscribe --count prints each event as a JSON line as it comes, then leaves") {
        peer().use { publisher ->
            val run =
                WampRun(
                    listOf("subscribe", "--url", router.tcpUrl, "--serializer", "cbor", "cli.ticks", "--count", "2"),
                )
            val running = run.start(this)
            run.awaitErr("subscribed to cli.ticks")
            val first = publisher.publish(
                "cli.ticks",
                listOf(1),
                mapOf("k" to "v"),
                PublishOptions {
                    acknowledge()
                    discloseMe()
                },
            )
            run.awaitOut("\n") // printed before the next event is published
            val second = publisher.publish("cli.ticks", listOf(2), options = PublishOptions { acknowledge() })
            withClue(run.err.text.value) { run.awaitExit(running) shouldBe 0 }

            val lines = run.out.text.value.trim().lines().map(::json)
            lines shouldHaveSize 2
            lines[0]["topic"]!!.jsonPrimitive.content shouldBe "cli.ticks"
            lines[0]["publication"]!!.jsonPrimitive.long shouldBe first
            lines[0]["args"].toString() shouldBe "[1]"
            lines[0]["kwargs"].toString() shouldBe "{\"k\":\"v\"}"
            lines[0]["details"]!!.jsonObject["publisher"]!!.jsonPrimitive.long shouldBe publisher.id
            lines[1]["publication"]!!.jsonPrimitive.long shouldBe second
            lines[1]["args"].toString() shouldBe "[2]"
            run.err.text.value shouldContain "until 2 events or Ctrl-C"
        }
    }

    test("subscribe --match prefix prints the topic each event was published to") {
        peer().use { publisher ->
            val run =
                WampRun(listOf("subscribe", "--url", router.wsUrl, "--match", "prefix", "--count", "1", "cli.sport."))
            val running = run.start(this)
            run.awaitErr("subscribed to cli.sport. (match prefix)")
            publisher.publish("cli.sport.tennis", listOf("ace"), options = PublishOptions { acknowledge() })
            withClue(run.err.text.value) { run.awaitExit(running) shouldBe 0 }
            json(run.out.text.value.trim())["topic"]!!.jsonPrimitive.content shouldBe "cli.sport.tennis"
        }
    }

    test("subscribe without --count runs until the end of standard input") {
        peer().use { publisher ->
            val input = PipedOutputStream()
            val run = WampRun(listOf("subscribe", "--url", router.wsUrl, "cli.until-eof"), PipedInputStream(input))
            val running = run.start(this)
            run.awaitErr("subscribed to cli.until-eof")
            run.err.text.value shouldContain "until Ctrl-C or end of input"
            publisher.publish("cli.until-eof", listOf("one"), options = PublishOptions { acknowledge() })
            run.awaitOut("\"args\":[\"one\"]")
            input.write("typed lines are ignored\n".toByteArray())
            input.close() // end of input
            withClue(run.err.text.value) { run.awaitExit(running) shouldBe 0 }
            run.out.text.value.trim().lines() shouldHaveSize 1

            // Already ended input ends it right after subscribing.
            val empty =
                WampRun(listOf("subscribe", "--url", router.wsUrl, "cli.until-eof"), InputStream.nullInputStream())
            empty.awaitExit(empty.start(this)) shouldBe 0
        }
    }

    test("subscribe and register end with exit 1 when the router ends the session") {
        FakeWampRouter.start().use { doomed ->
            val sub = WampRun(listOf("subscribe", "--url", doomed.wsUrl, "cli.doomed", "--ignore-stdin"))
            val reg = WampRun(listOf("register", "--url", doomed.tcpUrl, "cli.doomed", "--count", "5"))
            val runs = listOf(sub to sub.start(this), reg to reg.start(this))
            sub.awaitErr("subscribed to cli.doomed")
            reg.awaitErr("registered cli.doomed")
            doomed.close() // GOODBYE wamp.close.system_shutdown to every session
            for ((run, running) in runs) {
                run.awaitExit(running) shouldBe 1
                run.err.text.value shouldContain "the session ended"
            }
        }
    }

    test("register --count answers a call by echoing its arguments, prints the invocation, then leaves") {
        peer().use { caller ->
            val run =
                WampRun(
                    listOf("register", "--url", router.tcpUrl, "--serializer", "msgpack", "cli.echo2", "--count", "1"),
                )
            val running = run.start(this)
            run.awaitErr("registered cli.echo2")
            val result = caller.call("cli.echo2", listOf(1, "x"), mapOf("a" to true))
            result.args shouldBe listOf(1L, "x")
            result.kwargs shouldBe mapOf("a" to true)
            withClue(run.err.text.value) { run.awaitExit(running) shouldBe 0 }
            val line = json(run.out.text.value.trim())
            line["procedure"]!!.jsonPrimitive.content shouldBe "cli.echo2"
            line["args"].toString() shouldBe "[1,\"x\"]"
            line["kwargs"].toString() shouldBe "{\"a\":true}"
            line["details"] shouldNotBe null
        }
    }

    test("register --match prefix --reply answers every call with the fixed result, one line per invocation") {
        peer().use { caller ->
            val run = WampRun(
                listOf(
                    "register", "--url", router.wsUrl, "cli.jobs.", "--match", "prefix", "--invoke", "roundrobin",
                    "--reply", "\"done\"", "--reply", "7", "--reply-kwargs", "{\"ok\":true}", "--count", "2",
                ),
            )
            val running = run.start(this)
            run.awaitErr("registered cli.jobs. (match prefix, invoke roundrobin)")
            for (job in listOf("cli.jobs.resize", "cli.jobs.crop")) {
                val result = caller.call(job, listOf("ignored"))
                result.args shouldBe listOf("done", 7L)
                result.kwargs shouldBe mapOf("ok" to true)
            }
            withClue(run.err.text.value) { run.awaitExit(running) shouldBe 0 }
            run.out.text.value.trim().lines().map {
                json(it)["procedure"]!!.jsonPrimitive.content
            } shouldBe listOf("cli.jobs.resize", "cli.jobs.crop")
        }
    }

    test(
        "sessions lists the realm's sessions through the meta API, without its own; salted WAMP-CRA and cryptosign " +
            "join",
    ) {
        peer("private") {
            authId("alice")
            authHandler("ticket", AuthHandler.ticket("alice-ticket"))
        }.use { alice ->
            peer("private") {
                authId("carol")
                authHandler("cryptosign", AuthHandler.cryptosign(carol))
            }.use { carolSession ->
                val r =
                    wamp(
                        "sessions", "--url", router.wsUrl, "--realm", "private", "--authid", "dave", "--secret",
                        "dave-secret",
                    )
                withClue(r.err) { r.exit shouldBe 0 }
                val sessions = r.out.trim().lines().map(::json)
                sessions.map {
                    it["session"]!!.jsonPrimitive.long
                } shouldContainExactlyInAnyOrder listOf(alice.id, carolSession.id)
                sessions.map {
                    it["authid"]!!.jsonPrimitive.content
                } shouldContainExactlyInAnyOrder listOf("alice", "carol")

                val signed =
                    wamp(
                        "call", "--url", router.tcpUrl, "--realm", "private", "--authid", "carol",
                        "--cryptosign-see" +
                            "d",
                        SEED, "wamp.session.count",
                    )
                withClue(signed.err) { signed.exit shouldBe 0 }
                signed.out shouldMatch Regex("\\{\"args\":\\[[0-9]+],\"kwargs\":\\{}}\n")
            }
        }
    }

    test(
        "ticket authentication: the right ticket joins; a wrong one exits 1 with the router's reason and never shows " +
            "the ticket",
    ) {
        val ok =
            wamp(
                "call", "--url", router.wsUrl, "--realm", "private", "--authid", "alice", "--ticket", "alice-ticket",
                "wamp.session.count",
            )
        withClue(ok.err) { ok.exit shouldBe 0 }
        ok.out shouldMatch Regex("\\{\"args\":\\[[0-9]+],\"kwargs\":\\{}}\n")

        val wrong =
            wamp(
                "call", "--url", router.wsUrl, "--realm", "private", "--authid", "alice", "--ticket",
                "s3cret-but-wr" +
                    "ong",
                "wamp.session.count",
            )
        wrong.exit shouldBe 1
        wrong.out shouldBe ""
        wrong.err shouldStartWith "tether wamp call: could not join realm private: router aborted the session: " +
            "wamp.error.authentication_failed"
        wrong.err.trim().lines() shouldHaveSize 1
        wrong.err shouldNotContain "s3cret-but-wrong"

        val anonymous = wamp("sessions", "--url", router.tcpUrl, "--realm", "private")
        anonymous.exit shouldBe 1
        anonymous.err shouldStartWith "tether wamp sessions: could not join realm private"

        val badSeed = wamp("call", "--url", router.tcpUrl, "--cryptosign-seed", "not-hex-s3cret", "wamp.session.count")
        badSeed.exit shouldBe 2
        badSeed.err shouldBe "tether wamp call: --cryptosign-seed must be 64 hex digits (a 32-byte Ed25519 seed)\n"
    }

    test("a JSON argument that is not valid JSON is refused with exit 2 before connecting") {
        val nowhere = "tcp://127.0.0.1:${closedPort()}"
        val r = wamp("call", "--url", nowhere, "cli.add", "1", "{\"a\":")
        r.exit shouldBe 2
        r.err shouldStartWith "tether wamp call: argument 2 is not valid JSON: "
        r.err shouldContain "(in {\"a\":)"
        r.err.trim().lines() shouldHaveSize 1

        wamp(
            "call",
            "--url",
            nowhere,
            "cli.add",
            "[1, 2",
        ).err shouldStartWith "tether wamp call: argument 1 is not valid JSON"
        wamp("publish", "--url", nowhere, "cli.news", "{\"a\": oops}").exit shouldBe 2
        val kwargs = wamp("publish", "--url", nowhere, "cli.news", "--kwargs", "[1]")
        kwargs.exit shouldBe 2
        kwargs.err shouldBe "tether wamp publish: --kwargs must be a JSON object, e.g. '{\"key\": 1}'\n"
        wamp("register", "--url", nowhere, "cli.p", "--reply", "[1,").exit shouldBe 2
        wamp("subscribe", "--url", nowhere, "cli.t", "--count", "0").exit shouldBe 2
        wamp("publish", "--url", nowhere, "cli.news", "--exclude", "0").err shouldContain "session ids lie in [1, 2^53]"
    }

    test("a router that is not there and an unknown URL scheme are one line each, exit 1 and 2") {
        val port = closedPort()
        val down = wamp("call", "--url", "tcp://127.0.0.1:$port", "cli.add")
        down.exit shouldBe 1
        down.err shouldStartWith "tether wamp call: "
        down.err shouldContain "127.0.0.1:$port"
        down.err.trim().lines() shouldHaveSize 1

        val scheme = wamp("sessions", "--url", "ftp://127.0.0.1:$port")
        scheme.exit shouldBe 2
        scheme.err shouldContain "unsupported WAMP URL scheme 'ftp'"

        val badTimeout = wamp("call", "--url", router.wsUrl, "--timeout", "soon", "cli.add")
        badTimeout.exit shouldBe 2
        badTimeout.err shouldContain "'soon' is not a duration"
    }

    test("--ca-cert trusts a private certificate for wss and tcps; without it the dial fails with exit 1") {
        val pem: Path = Files.createTempFile("tether-router", ".pem")
        try {
            val store = FakeWampRouterTls.keyStore()
            val certificate = store.getCertificate(store.aliases().toList().first { store.getCertificate(it) != null })
            Files.writeString(
                pem,
                "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(
                    64,
                    "\n".toByteArray(),
                ).encodeToString(certificate.encoded) +
                    "\n-----END CERTIFICATE-----\n",
            )
            for ((url, serializer) in listOf(router.wssUrl!! to "json", router.tcpsUrl!! to "cbor")) {
                val r =
                    wamp(
                        "call",
                        "--url",
                        url,
                        "--serializer",
                        serializer,
                        "--ca-cert",
                        pem.toString(),
                        "wamp.session.count",
                    )
                withClue("$url: ${r.err}") { r.exit shouldBe 0 }
            }
            val untrusted = wamp("call", "--url", router.wssUrl!!, "wamp.session.count")
            untrusted.exit shouldBe 1
            untrusted.err.trim().lines() shouldHaveSize 1
            untrusted.err shouldContain "give it with --ca-cert PEM"

            val missing = wamp("call", "--url", router.wssUrl!!, "--ca-cert", "$pem.missing", "wamp.session.count")
            missing.exit shouldBe 2
            missing.err shouldContain "--ca-cert: no such file"
        } finally {
            Files.deleteIfExists(pem)
        }
    }
})

class WampInputSpec : FunSpec({
    test("arguments are JSON values; a bare word that is not JSON is a string") {
        WampJson.argument("1", "a") shouldBe 1L
        WampJson.argument("-5", "a") shouldBe -5L
        WampJson.argument("2.5", "a") shouldBe 2.5
        WampJson.argument("true", "a") shouldBe true
        WampJson.argument("null", "a") shouldBe null
        WampJson.argument("\"x y\"", "a") shouldBe "x y"
        WampJson.argument("{\"a\":[1,\"b\"]}", "a") shouldBe mapOf("a" to listOf(1L, "b"))
        WampJson.argument("hello", "a") shouldBe "hello"
        WampJson.argument("tru", "a") shouldBe "tru"
        WampJson.argument("1.2.3", "a") shouldBe "1.2.3"
        WampJson.argument("NaN", "a") shouldBe "NaN"
        WampJson.argument("", "a") shouldBe ""
    }

    test("text that starts like a JSON string, array or object must be valid JSON") {
        for (bad in listOf("{\"a\":", "[1,", "\"open", "{a:1}", "{\"a\": oops}", "[1] 2")) {
            val e = io.kotest.assertions.throwables.shouldThrow<UsageException> { WampJson.argument(bad, "argument 3") }
            e.message!! shouldStartWith "argument 3 is not valid JSON: "
            e.message!!.lines() shouldHaveSize 1
        }
    }

    test("durations are seconds or carry a unit, and must be positive") {
        val c = DurationConverter()
        c.convert("5") shouldBe java.time.Duration.ofSeconds(5)
        c.convert("0.25") shouldBe java.time.Duration.ofMillis(250)
        c.convert("500ms") shouldBe java.time.Duration.ofMillis(500)
        c.convert("2m") shouldBe java.time.Duration.ofMinutes(2)
        for (bad in listOf("0", "-1", "soon", "0s")) {
            io.kotest.assertions.throwables.shouldThrow<CommandLine.TypeConversionException> { c.convert(bad) }
        }
    }

    test("publish flags map to the PUBLISH options") {
        fun parse(vararg args: String): WampPublish =
            WampPublish().also { CommandLine(it).parseArgs("--url", "ws://x/", "t", *args) }
        parse().options().toMap() shouldBe emptyMap()
        parse(
            "--acknowledge", "--no-exclude-me", "--exclude", "1,2", "--eligible", "3", "--eligible", "4",
            "--exclude-authid", "bob", "--eligible-authrole", "ops", "--disclose-me",
        ).options().toMap() shouldBe mapOf(
            "acknowledge" to true,
            "exclude_me" to false,
            "exclude" to listOf(1L, 2L),
            "eligible" to listOf(3L, 4L),
            "exclude_authid" to listOf("bob"),
            "eligible_authrole" to listOf("ops"),
            "disclose_me" to true,
        )
        parse("--exclude-me").options().toMap() shouldBe emptyMap() // the router's default, not sent
    }
})
