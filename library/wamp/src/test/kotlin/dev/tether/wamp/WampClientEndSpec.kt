@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp

import dev.tether.core.ConnectionState
import dev.tether.wamp.error.WampConnectionLostException
import dev.tether.wamp.error.WampSessionClosedException
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.transport.ScriptedRawSocketRouter
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.future.await
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withTimeout
import java.net.InetAddress
import java.net.ServerSocket
import kotlin.time.Duration.Companion.seconds

/** WampClient's shared lifecycle (docs/lifecycle.md) against a router the test plays over RawSocket. */
class WampClientEndSpec : FunSpec({
    test("connect returns once joined; closeAndJoin leaves once for two callers; awaitClosed then says closed") {
        withTimeout(20.seconds) {
            ScriptedRawSocketRouter.start("tcp").use { router ->
                coroutineScope {
                    val goodbyes = async {
                        runInterruptible(Dispatchers.IO) {
                            router.accept().use { conn ->
                                conn.join(7)
                                val goodbye = conn.readMessage().shouldBeInstanceOf<Goodbye>()
                                conn.send(Goodbye(emptyMap(), "wamp.close.goodbye_and_out"))
                                // Nothing else arrives, only the end: one GOODBYE for both closes.
                                val end = shouldThrow<java.io.IOException> { conn.readMessage() }
                                (end is java.net.SocketTimeoutException) shouldBe false
                                goodbye.reason
                            }
                        }
                    }
                    val client = WampClient(router.url, SessionConfig("realm1"))
                    client.connect()
                    client.state.value shouldBe ConnectionState.CONNECTED
                    client.isConnected shouldBe true
                    client.session!!.id shouldBe 7L
                    client.awaitConnected() // joined already: returns at once
                    val first = async { client.closeAndJoin() }
                    val second = async { client.closeAndJoin() }
                    first.await()
                    second.await()
                    goodbyes.await() shouldBe WampSession.CLOSE_REALM
                    client.state.value shouldBe ConnectionState.CLOSED
                    client.isConnected shouldBe false
                    val why = client.awaitClosed()
                    why.shouldBeInstanceOf<WampSessionClosedException>().message shouldContain "closed"
                    client.closedFuture().await() shouldBe why
                    shouldThrow<WampSessionClosedException> { client.call("com.example.any") } shouldBe why
                    shouldThrow<WampSessionClosedException> { client.awaitConnected() } shouldBe why
                }
            }
        }
    }

    test("a first connect that fails ends the client: awaitClosed says the connection was lost, and why") {
        withTimeout(20.seconds) {
            val port = ServerSocket(0, 1, InetAddress.getByName("127.0.0.1")).use { it.localPort }
            val client = WampClient("tcp://127.0.0.1:$port", SessionConfig("realm1"))
            val failure = shouldThrow<Exception> { client.connect() }
            val why = client.awaitClosed().shouldBeInstanceOf<WampConnectionLostException>()
            why.cause!!::class shouldBe failure::class
            client.state.value shouldBe ConnectionState.CLOSED
            client.closeAndJoin() // after the end: returns at once
            shouldThrow<WampConnectionLostException> { client.publish("t") } shouldBe why
        }
    }
})
