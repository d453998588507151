package dev.tether.testkit.kotest

import dev.tether.testkit.FakeServer
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.extensions.install
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.shouldNotBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.types.shouldNotBeSameInstanceAs
import java.net.ConnectException
import java.net.InetSocketAddress
import java.net.Socket
import java.time.Duration

private fun FakeServer<*>.shouldListen() {
    host shouldBe "127.0.0.1"
    url shouldContain "127.0.0.1:$port"
    Socket().use { it.connect(InetSocketAddress(host, port), 5_000) }
}

private fun FakeServer<*>.shouldBeStopped() {
    shouldThrow<ConnectException> { Socket().use { it.connect(InetSocketAddress(host, port), 5_000) } }
}

/** Every fake through the one Kotest shape: `install(Fake*Listener()) { config }` and `Fake*Listener.perTest()`. */
class FakeServerListenersSpec : FunSpec({
    val broker = install(FakeBrokerListener()) { tokens("spec-token") }
    val mux = install(FakeMuxServerListener()) { streamBufferSize(8192) }
    val proxy = install(FakeTunnelProxyListener()) { secrets("spec-a", "spec-b") }
    val relay = install(FakeRelayServerListener()) { secret("spec-secret") }
    val router = install(FakeWampRouterListener()) { realm("spec-realm") }

    test("install starts each fake at once, with the block's config") {
        listOf(broker, mux, proxy, relay, router).forEach { it.shouldListen() }
        broker.token shouldBe "spec-token"
        mux.config.streamBufferSize shouldBe 8192
        proxy.currentSecrets shouldBe ("spec-a" to "spec-b")
        relay.secret shouldBe "spec-secret"
        router.config.realms.keys shouldBe setOf("spec-realm")
    }

    val perTest = listOf<FakeServerHandle<FakeServer<*>>>(
        install(FakeBrokerListener.perTest()) { pingInterval(Duration.ZERO) },
        install(FakeMuxServerListener.perTest()),
        install(FakeTunnelProxyListener.perTest()),
        install(FakeRelayServerListener.perTest()),
        install(FakeWampRouterListener.perTest()),
    )
    var previous: List<FakeServer<*>> = emptyList()

    test("perTest: a running fake of each kind inside the test") {
        val servers = perTest.map { it.server }
        servers.forEach { it.shouldListen() }
        servers.map { it.port }.toSet().size shouldBe servers.size
        previous = servers
    }

    test("perTest: the next test gets fresh fakes, and the last test's are stopped") {
        previous.size shouldBe 5
        perTest.zip(previous).forEach { (handle, old) ->
            handle.server shouldNotBeSameInstanceAs old
            old.shouldBeStopped()
        }
        perTest.first().server.port shouldNotBe 0
    }
})
