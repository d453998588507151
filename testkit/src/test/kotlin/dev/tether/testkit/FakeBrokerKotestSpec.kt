package dev.tether.testkit

import dev.tether.testkit.kotest.FakeBrokerListener
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.extensions.install
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeGreaterThanOrEqual
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeSameInstanceAs
import io.kotest.matchers.types.shouldNotBeSameInstanceAs
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import java.net.ConnectException
import java.net.InetSocketAddress
import java.net.Socket
import java.time.Duration
import kotlin.time.Duration.Companion.seconds

/** The Kotest extensions of the testkit: a broker per spec (install returns it) and a broker per test (a handle). */
class FakeBrokerKotestSpec : FunSpec({
    val spec = this
    val shared = install(FakeBrokerListener()) { tokens("spec-token") }
    val fresh by install(FakeBrokerListener.perTest { tokens("per-test-token") })
    var previous: FakeBroker? = null

    test("install returns a running per-spec broker, configured by the install block, that a client can use") {
        shared.token shouldBe "spec-token"
        echoThrough(shared) shouldBe """{"n":1}"""
    }

    test("the per-spec broker is the same in every test and keeps its state") {
        shared.token shouldBe "spec-token"
        shared.acceptedUpgrades() shouldBeGreaterThanOrEqual 1L
        echoThrough(shared) shouldBe """{"n":1}"""
    }

    test("a per-test broker is running, configured and serves") {
        fresh.token shouldBe "per-test-token"
        fresh shouldNotBeSameInstanceAs shared
        echoThrough(fresh) shouldBe """{"n":1}"""
        fresh.acceptedUpgrades() shouldBe 1L
        previous = fresh
    }

    test("each test gets a new per-test broker, and the last one was stopped") {
        val last = previous!!
        fresh shouldNotBeSameInstanceAs last
        fresh.acceptedUpgrades() shouldBe 0L
        refusesConnections(last.port)
        previous = fresh
    }

    context("a container") {
        test("gives each of its leaf tests a broker of their own") {
            fresh shouldNotBeSameInstanceAs previous
            echoThrough(fresh) shouldBe """{"n":1}"""
        }
    }

    test("a per-spec listener started by the spec lifecycle stops its broker after the spec") {
        // What `extension(FakeBrokerListener())` does: beforeSpec starts, afterSpec stops.
        val listener = FakeBrokerListener { pingInterval(Duration.ZERO) }
        shouldThrow<IllegalStateException> { listener.server }
        listener.beforeSpec(spec)
        val broker = listener.server
        broker.config.pingInterval shouldBe Duration.ZERO
        listener.server shouldBeSameInstanceAs broker
        echoThrough(broker) shouldBe """{"n":1}"""
        listener.afterSpec(spec)
        refusesConnections(broker.port)
        shouldThrow<IllegalStateException> { listener.server }
    }

    test("one per-spec listener runs one broker") {
        val listener = FakeBrokerListener()
        val broker = listener.mount {}
        try {
            shouldThrow<IllegalStateException> { listener.mount {} }
            listener.server shouldBeSameInstanceAs broker
        } finally {
            listener.afterSpec(spec)
        }
    }
})

/** Connects a real client to [broker] and returns the payload of its `echo` reply. */
private suspend fun echoThrough(broker: FakeBroker): String? =
    WsClient(WsClientConfig(broker.url, EnvelopeHandler { }) { authToken(broker.token) }).use { client ->
        client.start()
        withTimeout(10.seconds) { client.request(Envelope.request("echo", """{"n":1}""")).payload }
    }

/** Asserts nothing listens on [port] any more. */
private suspend fun refusesConnections(port: Int) {
    withContext(Dispatchers.IO) {
        shouldThrow<ConnectException> { Socket().use { it.connect(InetSocketAddress("127.0.0.1", port), 5_000) } }
    }
}
