package dev.tether.core

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import java.net.InetAddress
import java.net.ServerSocket
import java.time.Duration

@OptIn(InternalTetherApi::class)
class RedactedUrlSpec : FunSpec({
    test("user info and query values are masked; scheme, host, port, path, keys and fragment stay") {
        redactUrl("wss://user:s3cret@example.com:8443/ws?token=s3cret&v=2&flag#frag") shouldBe
            "wss://***@example.com:8443/ws?token=***&v=***&flag#frag"
        redactUrl("ws://127.0.0.1:9/path") shouldBe "ws://127.0.0.1:9/path"
        redactUrl("ws://host?token=a@b") shouldBe "ws://host?token=***"
        redactUrl("not a url?x=1") shouldBe "not a url?x=***"
        redactUrl("") shouldBe ""
    }

    test("a failed dial never shows the credentials of its URL, in the message, the url property or an event") {
        // A port that was just free: the dial is refused at once.
        val port = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }
        val url = "ws://alice:s3cret@127.0.0.1:$port/ws?token=s3cret"
        val e = WebSocketDialer(DialerConfig(url) { dialTimeout(Duration.ofSeconds(10)) }).use { d ->
            shouldThrow<ConnectionException> { d.dial() }
        }
        e.message!! shouldNotContain "s3cret"
        e.message!! shouldContain "127.0.0.1:$port/ws?token=***"
        (e as? DialFailedException)?.url?.shouldNotContain("s3cret")
        HandshakeRejectedException(url, 503).message!! shouldNotContain "s3cret"
        AuthenticationFailedException(url, 401).url shouldNotContain "s3cret"
        DialTimeoutException(url, 1).message!! shouldNotContain "s3cret"
        ConnectionEvent.Connected(url).toString() shouldNotContain "s3cret"
        ConnectionEvent.Connected(url) shouldBe ConnectionEvent.Connected(url)
    }
})
