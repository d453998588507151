package dev.tether.testkit.wamp

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import java.io.ByteArrayOutputStream
import java.net.InetSocketAddress
import java.net.Socket

/**
 * The router's WebSocket subprotocol choice, with the exact offers of wamp-test-vectors.txt §5: the first of
 * its own list [wamp.2.json, wamp.2.msgpack, wamp.2.cbor] that the client offered; an offer with none of them is
 * upgraded (101 without Sec-WebSocket-Protocol) and then the TCP connection is closed with no close frame.
 */
class WampRouterSubprotocolSpec : FunSpec({
    val router = FakeWampRouter.start()
    afterSpec { router.close() }

    class Upgrade(val status: String, val headers: Map<String, String>, val after: ByteArray)

    /** Sends the nexus client's upgrade request (vector header order) offering [offer]; reads until EOF or 5 s. */
    fun upgrade(offer: String, readToEnd: Boolean): Upgrade = Socket().use { s ->
        s.connect(InetSocketAddress("127.0.0.1", router.webSocketPort), 5_000)
        s.soTimeout = 5_000
        val request = listOf(
            "GET / HTTP/1.1",
            "Host: 127.0.0.1:${router.webSocketPort}",
            "User-Agent: Go-http-client/1.1",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Protocol: $offer",
            "Sec-WebSocket-Version: 13",
            "Upgrade: websocket",
        ).joinToString("") { "$it\r\n" } + "\r\n"
        s.getOutputStream().apply {
            write(request.toByteArray())
            flush()
        }
        val input = s.getInputStream()
        val head = StringBuilder()
        while (!head.endsWith("\r\n\r\n")) {
            val b = input.read()
            if (b < 0) break
            head.append(b.toChar())
        }
        val lines = head.split("\r\n").filter { it.isNotEmpty() }
        val headers =
            lines.drop(1).associate { it.substringBefore(':').trim().lowercase() to it.substringAfter(':').trim() }
        val rest = ByteArrayOutputStream()
        if (readToEnd) {
            val buf = ByteArray(1024)
            while (true) {
                val n = input.read(buf)
                if (n < 0) break
                rest.write(buf, 0, n)
            }
        }
        Upgrade(lines.first(), headers, rest.toByteArray())
    }

    val vectors = listOf(
        "wamp.2.json, wamp.2.cbor, wamp.2.msgpack" to "wamp.2.json", // WS.offer AUTO
        "wamp.2.json" to "wamp.2.json",
        "wamp.2.msgpack" to "wamp.2.msgpack",
        "wamp.2.cbor" to "wamp.2.cbor",
        "wamp.2.cbor, wamp.2.msgpack" to "wamp.2.msgpack",
        "wamp.2.msgpack, wamp.2.json" to "wamp.2.json",
        "wamp.2.cbor, wamp.2.json" to "wamp.2.json",
        "wamp.2.msgpack.batched, wamp.2.cbor" to "wamp.2.cbor",
    )
    for ((offer, chosen) in vectors) {
        test("offered \"$offer\" -> the router selects $chosen") {
            val r = upgrade(offer, readToEnd = false)
            r.status shouldBe "HTTP/1.1 101 Switching Protocols"
            r.headers["sec-websocket-protocol"] shouldBe chosen
        }
    }

    for (offer in listOf("foo", "")) {
        test("offered \"$offer\" -> 101 without Sec-WebSocket-Protocol, then TCP closed with no close frame") {
            val r = upgrade(offer, readToEnd = true)
            r.status shouldBe "HTTP/1.1 101 Switching Protocols"
            r.headers.containsKey("sec-websocket-protocol") shouldBe false
            r.after.size shouldBe 0
        }
    }
})
