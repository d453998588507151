package dev.tether.conformance.wamp

import dev.tether.core.ConnectionState
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampClient
import dev.tether.wamp.error.AbortException
import dev.tether.wamp.error.WampSessionClosedException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.future.await
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.seconds

/** The lifecycle every Tether client shares (docs/lifecycle.md), on WampClient against the testkit router. */
class WampClientLifecycleSpec : FunSpec({
    val router = FakeWampRouter.start()
    afterSpec { router.close() }

    test("connect returns once joined; closeAndJoin leaves the realm, and awaitClosed says the client was closed") {
        withTimeout(20.seconds) {
            val client = WampClient(router.wsUrl, SessionConfig("realm1"))
            client.connect()
            client.state.value shouldBe ConnectionState.CONNECTED
            val id = client.session!!.id
            (id in router.sessionIds()) shouldBe true
            coroutineScope {
                val first = async { client.closeAndJoin() }
                val second = async { client.closeAndJoin() }
                first.await()
                second.await()
            }
            client.state.value shouldBe ConnectionState.CLOSED
            val why = client.awaitClosed()
            why.shouldBeInstanceOf<WampSessionClosedException>()
            why.message shouldContain "closed"
            client.closedFuture().await() shouldBe why
            shouldThrow<WampSessionClosedException> { client.call("com.example.any") } shouldBe why
        }
    }

    test("start returns at once; awaitConnected returns once joined, and fails with the end after a close") {
        withTimeout(20.seconds) {
            val client = WampClient(router.tcpUrl, SessionConfig("realm1"))
            client.start()
            client.awaitConnected()
            client.session!!.isOpen shouldBe true
            client.closeAndJoin()
            shouldThrow<WampSessionClosedException> { client.awaitConnected() } shouldBe client.awaitClosed()
        }
    }

    test("a failed first connect ends the client with that failure") {
        withTimeout(20.seconds) {
            val client = WampClient(router.wsUrl, SessionConfig("no.such.realm"))
            val failure = shouldThrow<AbortException> { client.connect() }
            client.awaitClosed().shouldBeInstanceOf<AbortException>().reason shouldBe failure.reason
            client.state.value shouldBe ConnectionState.CLOSED
            client.closeAndJoin() // after the end: returns at once
        }
    }
})
