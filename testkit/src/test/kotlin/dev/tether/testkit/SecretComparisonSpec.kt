package dev.tether.testkit

import dev.tether.core.AuthenticationFailedException
import dev.tether.core.DialerConfig
import dev.tether.core.TetherException
import dev.tether.core.WebSocketDialer
import dev.tether.relay.AuthToken
import dev.tether.relay.RelayClient
import dev.tether.relay.RelayHandshakeException
import dev.tether.relay.TokenStore
import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.RouterUser
import dev.tether.tunnel.TunnelFlavour
import dev.tether.tunnel.TunnelTokens
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import dev.tether.wamp.auth.AuthHandler
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldNotContain
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.withTimeout
import java.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * Every fake that checks a secret refuses a wrong one of the secret's length and of another length alike (the
 * comparison is constant-time, MessageDigest.isEqual or a MAC check), and no testkit type prints one.
 */
class SecretComparisonSpec : FunSpec({
    // The right secret, a wrong one of the same length, a shorter one, a longer one starting with the right one.
    val right = "s3cret-token"
    val wrong = listOf("s3cret-tokeN", "s3cret", "s3cret-token-and-more")

    test("secretMatches: only the very same value matches, whatever the length of a wrong one") {
        secretMatches(right, right) shouldBe true
        for (w in wrong) secretMatches(w, right) shouldBe false
        secretMatches(null, right) shouldBe false
        secretMatches("", right) shouldBe false
        secretMatchesAny("b", listOf("a", "b", "c")) shouldBe true
        secretMatchesAny("d", listOf("a", "b", "c")) shouldBe false
        secretMatchesAny("a", emptyList()) shouldBe false
    }

    test("the broker refuses a wrong bearer token of the same and of another length with 401") {
        FakeBroker.start { tokens(right) }.use { broker ->
            for (w in wrong) {
                WebSocketDialer(DialerConfig(broker.url) { token(w) }).use { d ->
                    shouldThrow<AuthenticationFailedException> { d.dial() }.status shouldBe 401
                }
            }
            WebSocketDialer(DialerConfig(broker.url) { token(right) }).use { d -> d.dial().close() }
            broker.refusedUpgrades() shouldBe wrong.size.toLong()
        }
    }

    test("the WAMP router refuses a wrong ticket of the same and of another length; a ticket user prints no ticket") {
        FakeWampRouter.start {
            realm("closed", anonymous = false)
            ticketUser("tick", right)
        }.use { router ->
            withTimeout(20.seconds) {
                fun ticket(t: String) = SessionConfig("closed") {
                    responseTimeout(5.seconds)
                    authId("tick")
                    authHandler("ticket", AuthHandler.ticket(t))
                }
                for (w in wrong) {
                    // AbortException (named by its message: its package is being moved).
                    shouldThrow<TetherException> { WampSession.connect(router.wsUrl, ticket(w)) }
                        .message shouldStartWith "router aborted the session: wamp.error.authentication_failed"
                }
                WampSession.connect(router.wsUrl, ticket(right)).leave()
            }
        }
        val user = RouterUser.Ticket("tick", right)
        user.toString() shouldNotContain right
        user.toString() shouldBe "Ticket(authId=tick, authRole=user)"
        RouterUser.Cra("cra", right).toString() shouldNotContain right
    }

    test("the tunnel proxy refuses a token signed with a wrong secret of the same and of another length with 401") {
        FakeTunnelProxy.start { secrets(right, "$right-b") }.use { proxy ->
            fun register(secret: String) = WebSocketDialer(
                DialerConfig(proxy.url) {
                    header(TunnelFlavour.WEBHOOKTUNNEL.idHeader, "client-1")
                    token(TunnelTokens.sign("client-1", secret, Duration.ofMinutes(5)))
                },
            )
            for (w in wrong) {
                register(w).use { d -> shouldThrow<AuthenticationFailedException> { d.dial() }.status shouldBe 401 }
            }
            register(right).use { d -> d.dial().close() }
        }
    }

    test("the relay refuses a token made with a wrong secret of the same and of another length") {
        FakeRelayServer.start { secret(right) }.use { relay ->
            for (w in wrong) {
                RelayClient(relay.url, TokenStore(AuthToken.generate(w)), "peer").use { c ->
                    shouldThrow<RelayHandshakeException> { withTimeout(10.seconds) { c.connect() } }
                }
            }
            relay.rejectedLogins() shouldBe wrong.size.toLong()
        }
    }
})
