package dev.tether.wamp

import dev.tether.core.ConnectionClosedException
import dev.tether.wamp.error.ResponseTimeoutException
import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.ResultMessage
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.transport.WampTransport
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** WampSession.join over a transport the caller built (nexus's NewClient), and the per-session logger. */
class JoinSpec : FunSpec({
    /** A transport written against the public interface only: the test reads what the session sends. */
    class ScriptedTransport : WampTransport {
        val toRouter = Channel<Message>(Channel.UNLIMITED)
        val toClient = Channel<Message>(Channel.UNLIMITED)
        val closed = CompletableDeferred<Unit>()
        var failWith: Exception? = null

        override suspend fun send(message: Message) {
            if (closed.isCompleted) throw ConnectionClosedException(null, "closed")
            toRouter.send(message)
        }

        override suspend fun receive(): Message {
            failWith?.let { throw it }
            return toClient.receiveCatching().getOrNull() ?: (
                failWith ?: ConnectionClosedException(
                    null,
                    "closed",
                )
                ).let {
                throw it
            }
        }

        override suspend fun close() {
            closed.complete(Unit)
            toClient.close()
        }

        override val description: String = "scripted"
    }

    test("join: a public WampTransport carries HELLO and WELCOME; id and realm details come from WELCOME") {
        withTimeout(5.seconds) {
            val t = ScriptedTransport()
            t.toClient.send(Welcome(77, mapOf("authid" to "a", "authrole" to "r", "authmethod" to "anonymous")))
            val s = WampSession.join(t, SessionConfig("realm1"))
            t.toRouter.receive().shouldBeInstanceOf<Hello>().realm shouldBe "realm1"
            s.id shouldBe 77L
            s.realmDetails["authmethod"] shouldBe "anonymous"
            s.authRole shouldBe "r"
            s.toString() shouldContain "scripted"
        }
    }

    test("join: no WELCOME within the response timeout closes the caller's transport") {
        withTimeout(5.seconds) {
            val t = ScriptedTransport()
            shouldThrow<ResponseTimeoutException> {
                WampSession.join(t, SessionConfig("realm1") { responseTimeout(200.milliseconds) })
            }
            t.closed.isCompleted shouldBe true
        }
    }

    test("join: any exception from a caller's transport ends the session as a lost connection") {
        withTimeout(5.seconds) {
            val t = ScriptedTransport()
            t.toClient.send(Welcome(5, emptyMap()))
            val s = WampSession.join(t, SessionConfig("realm1"))
            t.failWith = IllegalStateException("socket exploded")
            t.toClient.close()
            s.awaitClosed().message shouldContain "socket exploded"
            s.isOpen shouldBe false
            t.closed.await() // the session closes the transport it owns
        }
    }

    test("logger: the session logs to the configured SLF4J logger") {
        withTimeout(5.seconds) {
            val logger = CapturingLogger()
            val t = ScriptedTransport()
            t.toClient.send(Welcome(9, emptyMap()))
            val s = WampSession.join(t, SessionConfig("realm1") { logger(logger) })
            t.toClient.send(ResultMessage(12345, emptyMap(), listOf("nobody asked")))
            t.toClient.send(dev.tether.wamp.message.Goodbye(emptyMap(), "wamp.close.system_shutdown"))
            s.awaitClosed()
            logger.lines.any {
                it.startsWith("DEBUG") && "late or unknown reply RESULT for request 12345" in it
            } shouldBe true
            logger.lines.any {
                it.startsWith("INFO") && "router said GOODBYE wamp.close.system_shutdown" in it
            } shouldBe true
        }
    }
})
