@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.ConnectionException
import dev.tether.core.DialFailedException
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.error.RawSocketHandshakeException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.Abort
import dev.tether.wamp.message.Call
import dev.tether.wamp.message.EventMessage
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.InvocationMessage
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.Register
import dev.tether.wamp.message.Registered
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Subscribe
import dev.tether.wamp.message.Subscribed
import dev.tether.wamp.message.Yield
import dev.tether.wamp.rawsocket.Handshake
import dev.tether.wamp.rawsocket.RawSocketProtocol
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withTimeout
import org.slf4j.Marker
import org.slf4j.event.Level
import org.slf4j.helpers.LegacyAbstractLogger
import org.slf4j.helpers.MessageFormatter
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** A logger that keeps each line with the name of the thread that logged it. */
private class ThreadLogger : LegacyAbstractLogger() {
    val lines: MutableList<String> = CopyOnWriteArrayList()
    override fun getName(): String = "thread-capture"
    override fun isTraceEnabled(): Boolean = true
    override fun isDebugEnabled(): Boolean = true
    override fun isInfoEnabled(): Boolean = true
    override fun isWarnEnabled(): Boolean = true
    override fun isErrorEnabled(): Boolean = true
    override fun getFullyQualifiedCallerName(): String? = null
    override fun handleNormalizedLoggingCall(
        level: Level,
        marker: Marker?,
        pattern: String?,
        args: Array<out Any?>?,
        throwable: Throwable?,
    ) {
        lines += Thread.currentThread().name + " | " + MessageFormatter.basicArrayFormat(pattern, args)
    }

    /** The thread that logged the first line containing [text]. */
    fun threadOf(text: String): String = lines.first { text in it }.substringBefore(" | ")
}

/**
 * The RawSocket client against a router played by the test over real sockets (127.0.0.1, ephemeral ports, or a Unix
 * socket in a temporary directory): tcp, tcps with a client certificate and unix on Netty's event loops, framing
 * across reads, the receive limit, PING and PONG, keepalive expiry, and where the session's work runs.
 */
class RawSocketTransportSpec : FunSpec({
    val ioThread = "tether-io"

    /**
     * Plays [script] against the next client of [router], on an I/O thread, interruptibly (the test's timeout ends it).
     */
    fun <T> CoroutineScope.serve(
        router: ScriptedRawSocketRouter,
        script: (ScriptedRawSocketRouter.Conn) -> T,
    ): Deferred<T> = async { runInterruptible(Dispatchers.IO) { router.accept().use(script) } }

    /** [serve] for a client expected to fail: the router's own failure (a refused TLS handshake) is the result. */
    fun CoroutineScope.serveFailing(
        router: ScriptedRawSocketRouter,
        script: (ScriptedRawSocketRouter.Conn) -> Unit,
    ): Deferred<kotlin.Result<Unit>> =
        async { runCatching { runInterruptible(Dispatchers.IO) { router.accept().use(script) } } }

    fun ScriptedRawSocketRouter.Conn.answerGoodbye() {
        (readMessage() as Goodbye).reason shouldBe "wamp.close.close_realm"
        send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
        awaitEof() shouldBe true
    }

    test(
        "tcp, tcps with a client certificate from the caller's SSLContext, and unix: join, call and leave, " +
            "dispatched on the Netty event loop",
    ) {
        for (kind in listOf("tcp", "tcps", "unix")) {
            ScriptedRawSocketRouter.start(kind).use { router ->
                withTimeout(20.seconds) {
                    coroutineScope {
                        val script = serve(router) { c ->
                            c.handshake() shouldBe Handshake(RawSocketProtocol.MAX_LENGTH_EXPONENT, 1)
                            c.readMessage().shouldBeInstanceOf<Hello>()
                            c.send(
                                dev.tether.wamp.message.Welcome(
                                    7,
                                    mapOf("roles" to mapOf("dealer" to emptyMap<String, Any?>())),
                                ),
                            )
                            val call = c.readMessage() as Call
                            // A reply nobody waits for first: the session logs it where it dispatches.
                            c.send(ResultMessage(999, emptyMap()))
                            c.send(ResultMessage(call.request, emptyMap(), listOf("pong", kind)))
                            c.answerGoodbye()
                            c.peerCertificates
                        }
                        val logger = ThreadLogger()
                        val config = SessionConfig("realm1") {
                            logger(logger)
                            if (kind == "tcps") sslContext(TestTls.clientContext())
                        }
                        val s = WampSession.connect(router.url, config)
                        s.id shouldBe 7
                        s.toString() shouldContain kind
                        s.call("ping").args shouldBe listOf("pong", kind)
                        s.leave()
                        val certificates = script.await()
                        if (kind == "tcps") certificates!!.shouldHaveSize(1) else certificates shouldBe null
                        logger.threadOf("request 999 dropped") shouldStartWith ioThread
                    }
                }
            }
        }
    }

    test("frames split across reads and several frames in one read arrive whole and in order") {
        ScriptedRawSocketRouter.start("tcp").use { router ->
            withTimeout(20.seconds) {
                coroutineScope {
                    val script = serve(router) { c ->
                        c.join()
                        val subscribe = c.readMessage() as Subscribe
                        c.send(Subscribed(subscribe.request, 5))
                        val calls = (1..4).map { c.readMessage() as Call }.associateBy { it.args[0] as Long }
                        val results = (1L..4L).map { n ->
                            c.messageFrame(
                                ResultMessage(
                                    calls.getValue(n).request,
                                    emptyMap(),
                                    listOf("r$n", "x".repeat(100 * n.toInt())),
                                ),
                            )
                        }
                        fun ping(payload: String) =
                            ScriptedRawSocketRouter.Conn.frame(RawSocketProtocol.TYPE_PING, payload.toByteArray())
                        fun awaitPong(payload: String) {
                            val (type, echoed) = c.readFrame()
                            type shouldBe RawSocketProtocol.TYPE_PONG
                            String(echoed) shouldBe payload
                        }
                        // A PING and two bytes of a header in one write; once the PONG is back, the client has read
                        // them, so the rest of the header arrives in a later read.
                        c.write(ping("abc") + results[0].copyOfRange(0, 2))
                        awaitPong("abc")
                        // The rest of the first, the whole second and part of the third frame in one write.
                        c.write(results[0].copyOfRange(2, results[0].size) + results[1] + results[2].copyOfRange(0, 50))
                        c.write(results[2].copyOfRange(50, results[2].size) + ping("") + results[3].copyOfRange(0, 150))
                        awaitPong("")
                        c.write(results[3].copyOfRange(150, results[3].size))
                        // Three events in a single write.
                        c.write(
                            (1L..3L).map {
                                c.messageFrame(EventMessage(5, it, emptyMap(), listOf(it)))
                            }.reduce(ByteArray::plus),
                        )
                        c.answerGoodbye()
                    }
                    val s = WampSession.connect(router.url, SessionConfig("realm1"))
                    val events = CopyOnWriteArrayList<Any?>()
                    val allEvents = CompletableDeferred<Unit>()
                    s.subscribe("t") { e: Event ->
                        events += e.args[0]
                        if (events.size == 3) allEvents.complete(Unit)
                    }
                    val calls = (1L..4L).map { n -> async { s.call("n", listOf(n)) } }
                    calls.map { it.await().args[0] } shouldBe listOf("r1", "r2", "r3", "r4")
                    calls.map { (it.await().args[1] as String).length } shouldBe listOf(100, 200, 300, 400)
                    allEvents.await()
                    events shouldBe listOf(1L, 2L, 3L)
                    s.leave()
                    script.await()
                }
            }
        }
    }

    test("a router's PING is answered with a PONG echoing its payload, also when empty") {
        ScriptedRawSocketRouter.start("unix").use { router ->
            withTimeout(20.seconds) {
                coroutineScope {
                    val ponged = CompletableDeferred<Unit>()
                    val script = serve(router) { c ->
                        c.join()
                        for (payload in listOf("keepalive-1", "")) {
                            c.write(
                                ScriptedRawSocketRouter.Conn.frame(RawSocketProtocol.TYPE_PING, payload.toByteArray()),
                            )
                            val (type, echoed) = c.readFrame()
                            type shouldBe RawSocketProtocol.TYPE_PONG
                            String(echoed) shouldBe payload
                        }
                        ponged.complete(Unit)
                        c.answerGoodbye()
                    }
                    val s = WampSession.connect(router.url, SessionConfig("realm1"))
                    ponged.await()
                    s.isOpen shouldBe true
                    s.leave()
                    script.await()
                }
            }
        }
    }

    test(
        "an inbound frame over the receive limit: the session ends with MessageTooLongException and the socket closes",
    ) {
        ScriptedRawSocketRouter.start("tcp").use { router ->
            withTimeout(20.seconds) {
                coroutineScope {
                    val script = serve(router) { c ->
                        c.handshake() shouldBe Handshake(1, 1) // 1000 bytes round up to 1024
                        c.readMessage().shouldBeInstanceOf<Hello>()
                        c.send(dev.tether.wamp.message.Welcome(1, emptyMap()))
                        c.readMessage().shouldBeInstanceOf<Call>()
                        c.write(byteArrayOf(0, 0, 4, 1)) // a 1025-byte message announced; the header is enough
                        c.awaitEof()
                    }
                    val s = WampSession.connect(router.url, SessionConfig("realm1") { recvLimit(1000) })
                    val e = shouldThrow<WampSessionClosedException> { s.call("big") }
                    // The typed cause (the chain may hold copies the coroutines debug mode makes of the exception).
                    val cause = generateSequence<Throwable>(e) {
                        it.cause
                    }.firstNotNullOf { it as? MessageTooLongException }
                    cause.length shouldBe 1025
                    cause.limit shouldBe 1024
                    s.awaitClosed().message shouldContain "over this side's limit of 1024 bytes"
                    script.await() shouldBe true
                }
            }
        }
    }

    test(
        "keepalive: PINGs every pingInterval while PONGs come; a missing PONG ends the session and closes the socket",
    ) {
        ScriptedRawSocketRouter.start("tcp").use { router ->
            withTimeout(20.seconds) {
                coroutineScope {
                    val script = serve(router) { c ->
                        c.join()
                        val payloads = (1..3).map {
                            val (type, payload) = c.readFrame()
                            type shouldBe RawSocketProtocol.TYPE_PING
                            c.write(ScriptedRawSocketRouter.Conn.frame(RawSocketProtocol.TYPE_PONG, payload))
                            String(payload).toLong()
                        }
                        c.readFrame().first shouldBe RawSocketProtocol.TYPE_PING // not answered
                        payloads to c.awaitEof()
                    }
                    val s = WampSession.connect(
                        router.url,
                        SessionConfig("realm1") {
                            pingInterval(100.milliseconds)
                            pongTimeout(300.milliseconds)
                        },
                    )
                    s.awaitClosed().message shouldContain "no pong within 300 ms"
                    val (payloads, closed) = script.await()
                    // Each PING carries the next counter value (the first may have been answered while joining).
                    payloads shouldBe (payloads[0]..payloads[0] + 2).toList()
                    closed shouldBe true
                    shouldThrow<WampSessionClosedException> { s.call("x") }
                }
            }
        }
    }

    test("a caller's socketDialer keeps the JDK socket path: read by a coroutine, keepalive included") {
        ScriptedRawSocketRouter.start("tcp").use { router ->
            withTimeout(20.seconds) {
                coroutineScope {
                    val script = serve(router) { c ->
                        c.join()
                        val call = c.readMessage() as Call
                        c.send(ResultMessage(999, emptyMap()))
                        c.send(ResultMessage(call.request, emptyMap(), listOf("ok")))
                        // From here on PINGs go unanswered (those before the CALL were answered while reading).
                        while (c.readFrame().first != RawSocketProtocol.TYPE_PING) Unit
                        c.awaitEof()
                    }
                    val logger = ThreadLogger()
                    val dialer =
                        SocketDialer { host, port, timeout ->
                            Socket().apply { connect(InetSocketAddress(host, port), timeout.toMillis().toInt()) }
                        }
                    val s = WampSession.connect(
                        router.url,
                        SessionConfig("realm1") {
                            socketDialer(dialer)
                            logger(logger)
                            pingInterval(200.milliseconds)
                            pongTimeout(200.milliseconds)
                        },
                    )
                    s.call("x").args shouldBe listOf("ok")
                    logger.threadOf("request 999 dropped").startsWith(ioThread) shouldBe false
                    s.awaitClosed().message shouldContain "no pong"
                    script.await() shouldBe true
                }
            }
        }
    }

    /**
     * A session configured by [configure] registers `p` and subscribes `t`; the router sends an unknown RESULT, an
     * INVOCATION and an EVENT. Returns the threads the handler and the subscriber ran on, after the YIELD arrived.
     */
    suspend fun handlerThreads(
        logger: ThreadLogger,
        configure: SessionConfig.Builder.() -> Unit,
    ): Pair<String, String> = ScriptedRawSocketRouter.start("tcp").use { router ->
        withTimeout(20.seconds) {
            coroutineScope {
                val answered = CompletableDeferred<Message>()
                val script = serve(router) { c ->
                    c.join()
                    val register = c.readMessage() as Register
                    c.send(Registered(register.request, 11))
                    val subscribe = c.readMessage() as Subscribe
                    c.send(Subscribed(subscribe.request, 12))
                    c.send(ResultMessage(999, emptyMap()))
                    c.send(InvocationMessage(1, 11, emptyMap(), listOf("in")))
                    c.send(EventMessage(12, 1, emptyMap(), listOf("ev")))
                    answered.complete(c.readMessage())
                    c.answerGoodbye()
                }
                val s = WampSession.connect(
                    router.url,
                    SessionConfig("realm1") {
                        logger(logger)
                        configure()
                    },
                )
                val handlerThread = CompletableDeferred<String>()
                val subscriberThread = CompletableDeferred<String>()
                s.register("p") {
                    handlerThread.complete(Thread.currentThread().name)
                    InvokeResult.of("out")
                }
                s.subscribe("t") { subscriberThread.complete(Thread.currentThread().name) }
                val threads = handlerThread.await() to subscriberThread.await()
                // The YIELD is sent after the handler returns: leave only once the router has it.
                answered.await().shouldBeInstanceOf<Yield>().args shouldBe listOf("out")
                s.leave()
                script.await()
                threads
            }
        }
    }

    test("dispatch runs on the I/O thread; invocation handlers and event handlers never do") {
        val logger = ThreadLogger()
        val (handler, subscriber) = handlerThreads(logger) { }
        handler.startsWith(ioThread) shouldBe false
        subscriber.startsWith(ioThread) shouldBe false
        logger.threadOf("request 999 dropped") shouldStartWith ioThread
    }

    test("with a direct handler executor, invocation and event handlers run inline on the I/O thread") {
        val (handler, subscriber) = handlerThreads(ThreadLogger()) { handlerExecutor(Runnable::run) }
        handler shouldStartWith ioThread
        subscriber shouldStartWith ioThread
    }

    test("an EVENT or INVOCATION right behind its SUBSCRIBED or REGISTERED, in the same read, reaches the handler") {
        ScriptedRawSocketRouter.start("tcp").use { router ->
            withTimeout(20.seconds) {
                coroutineScope {
                    val answered = CompletableDeferred<Message>()
                    val script = serve(router) { c ->
                        c.join()
                        val subscribe = c.readMessage() as Subscribe
                        c.write(
                            c.messageFrame(
                                Subscribed(subscribe.request, 12),
                            ) + c.messageFrame(EventMessage(12, 1, emptyMap(), listOf("first"))),
                        )
                        val register = c.readMessage() as Register
                        c.write(
                            c.messageFrame(
                                Registered(register.request, 11),
                            ) + c.messageFrame(InvocationMessage(5, 11, emptyMap(), listOf("in"))),
                        )
                        answered.complete(c.readMessage())
                        c.answerGoodbye()
                    }
                    val s = WampSession.connect(router.url, SessionConfig("realm1"))
                    val event = CompletableDeferred<List<Any?>>()
                    s.subscribe("t") { event.complete(it.args) }
                    s.register("p") { InvokeResult.of("out", it.args[0]) }
                    event.await() shouldBe listOf("first")
                    answered.await().shouldBeInstanceOf<Yield>().args shouldBe listOf("out", "in")
                    s.leave()
                    script.await()
                }
            }
        }
    }

    test("a router's GOODBYE is answered and ends the session; an undecodable message is answered with ABORT") {
        ScriptedRawSocketRouter.start("tcp").use { router ->
            withTimeout(20.seconds) {
                coroutineScope {
                    val bye = serve(router) { c ->
                        c.join()
                        c.send(Goodbye(emptyMap(), "wamp.close.system_shutdown"))
                        (c.readMessage() as Goodbye).reason shouldBe "wamp.close.goodbye_and_out"
                        c.awaitEof()
                    }
                    val s = WampSession.connect(router.url, SessionConfig("realm1"))
                    s.awaitClosed().message shouldContain "wamp.close.system_shutdown"
                    bye.await() shouldBe true

                    val garbage = serve(router) { c ->
                        c.join()
                        c.write(
                            ScriptedRawSocketRouter.Conn.frame(RawSocketProtocol.TYPE_MESSAGE, "[8, {".toByteArray()),
                        )
                        (c.readMessage() as Abort).reason shouldBe "wamp.error.protocol_violation"
                        c.awaitEof()
                    }
                    val s2 = WampSession.connect(router.url, SessionConfig("realm1"))
                    s2.awaitClosed().message shouldContain "protocol error"
                    garbage.await() shouldBe true
                }
            }
        }
    }

    test(
        "dial failures are typed: refused port, missing Unix socket, refused handshake, untrusted or missing " +
            "certificates",
    ) {
        withTimeout(30.seconds) {
            coroutineScope {
                val closedPort = ServerSocket(0, 1, InetAddress.getByName("127.0.0.1")).use { it.localPort }
                shouldThrow<DialFailedException> {
                    WampSession.connect("tcp://127.0.0.1:$closedPort", SessionConfig("realm1"))
                }
                shouldThrow<DialFailedException> {
                    WampSession.connect("unix:///nonexistent/tether-${System.nanoTime()}.sock", SessionConfig("realm1"))
                }
                ScriptedRawSocketRouter.start("tcp").use { router ->
                    val refusing =
                        serveFailing(router) { c ->
                            c.write(Handshake.errorReply(RawSocketProtocol.ERROR_MAX_CONNECTIONS))
                            c.awaitEof()
                        }
                    shouldThrow<RawSocketHandshakeException> {
                        WampSession.connect(router.url, SessionConfig("realm1"))
                    }.errorCode shouldBe 4
                    refusing.await()
                }
                ScriptedRawSocketRouter.start("tcps").use { router ->
                    // Not trusted: the JVM's trust store does not know the test certificate.
                    val untrusted = serveFailing(router) { c -> c.awaitEof() }
                    shouldThrow<DialFailedException> { WampSession.connect(router.url, SessionConfig("realm1")) }
                    untrusted.await()
                    // Trusted, but without the client certificate the router requires.
                    val trustOnly = javax.net.ssl.TrustManagerFactory.getInstance(
                        javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm(),
                    )
                        .apply {
                            init(TestTls.keyStore)
                        }.trustManagers.filterIsInstance<javax.net.ssl.X509TrustManager>().first()
                    val noCertificate = serveFailing(router) { c -> c.awaitEof() }
                    shouldThrow<ConnectionException> {
                        WampSession.connect(
                            router.url,
                            SessionConfig("realm1") {
                                trustManager(trustOnly)
                                dialTimeout(5.seconds)
                            },
                        )
                    }
                    noCertificate.await().isFailure shouldBe true // the router refused the handshake
                }
            }
        }
    }
})
