package dev.tether.testkit.wamp

import dev.tether.wamp.InvokeResult
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import io.kotest.core.spec.style.FunSpec
import io.kotest.engine.spec.tempdir
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotStartWith
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import org.slf4j.Marker
import org.slf4j.event.Level
import org.slf4j.helpers.LegacyAbstractLogger
import org.slf4j.helpers.MessageFormatter
import java.io.File
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.seconds

/** Keeps each logged line with the name of the thread that logged it. */
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
}

/**
 * Where a client session's work runs, over every transport of the router, `wss` and `tcps` with a client certificate
 * from the caller's SSLContext included (wss goes through tether-core's Netty dialer): the session dispatches inbound
 * messages on Tether's I/O threads (`tether-io-*`); callee and subscriber handlers never run there.
 */
class SessionDispatchThreadSpec : FunSpec({
    val socket = File(tempdir(), "router.sock").path
    val router = FakeWampRouter.start(
        FakeWampRouterConfig {
            tlsClientAuth()
            unixSocket(socket)
        },
    )
    afterSpec { router.close() }

    test("dispatch on the I/O thread, handlers off it: ws, wss and tcps with a client certificate, tcp, unix") {
        withTimeout(30.seconds) {
            for (transport in listOf("wss", "tcps", "ws", "tcp", "unix")) {
                val logger = ThreadLogger()
                val config =
                    SessionConfig("realm1") {
                        sslContext(FakeWampRouterTls.clientSslContext())
                        logger(logger)
                    }
                val s = WampSession.connect(router.url(transport), config)
                val handlerThread = CompletableDeferred<String>()
                val subscriberThread = CompletableDeferred<String>()
                s.register("com.thread.$transport") {
                    handlerThread.complete(Thread.currentThread().name)
                    InvokeResult.of("ok")
                }
                s.subscribe("com.thread.$transport") { subscriberThread.complete(Thread.currentThread().name) }
                WampSession.connect(router.wsUrl, SessionConfig("realm1")).use { other ->
                    other.call("com.thread.$transport").args shouldBe listOf("ok")
                    other.publish("com.thread.$transport", listOf(1), options = mapOf("acknowledge" to true))
                    handlerThread.await() shouldNotStartWith "tether-io"
                    subscriberThread.await() shouldNotStartWith "tether-io"
                    // The router's GOODBYE is handled (and logged) where the session dispatches.
                    other.call("wamp.session.kill", listOf(s.id))
                }
                s.awaitClosed().message shouldContain "wamp.close.killed"
                logger.lines.first { "router said GOODBYE" in it }.substringBefore(" | ") shouldStartWith "tether-io"
            }
        }
    }
})
