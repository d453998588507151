package dev.tether.tunnel

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import java.io.ByteArrayOutputStream

/** Feeds [input] to a fresh filter in pieces of [piece] bytes and returns everything it passed on. */
private fun HeadFilter.run(input: String, piece: Int): String {
    val bytes = input.toByteArray(Charsets.ISO_8859_1)
    val out = ByteArrayOutputStream()
    for (from in bytes.indices step piece) out.write(filter(bytes, from, minOf(piece, bytes.size - from)))
    out.write(finish())
    return String(out.toByteArray(), Charsets.ISO_8859_1)
}

class InterimResponsesSpec : FunSpec({
    val request = "POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"
    val pieces = listOf(1, 2, 3, 7, 64, 4096)

    test("the request loses Expect: 100-continue, however the head is split, and nothing else") {
        for (piece in pieces) {
            RequestHeadFilter().run(request, piece) shouldBe
                "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        }
        val spaced = "POST / HTTP/1.1\nexpect :  100-Continue \nX: 1\n\nbody"
        RequestHeadFilter().run(spaced, 3) shouldBe "POST / HTTP/1.1\nX: 1\n\nbody"
    }

    test("other expectations and a second head (the body) are left alone") {
        val other = "POST / HTTP/1.1\r\nExpect: something-else\r\n\r\nPOST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"
        RequestHeadFilter().run(other, 5) shouldBe other
    }

    test("interim responses are dropped until the final one; everything after it passes as is") {
        val origin = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
            "HTTP/1.1 200 OK\r\nContent-Length: 29\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nxyz"
        for (piece in pieces) {
            ResponseHeadFilter().run(origin, piece) shouldBe
                "HTTP/1.1 200 OK\r\nContent-Length: 29\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nxyz"
        }
    }

    test("101 Switching Protocols is a final answer: it and the frames after it pass") {
        val upgrade = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u0081\u0002hi"
        ResponseHeadFilter().run(upgrade, 4) shouldBe upgrade
    }

    test("a head without an end within the bound, or cut short by EOF, is handed on unchanged") {
        val long = "HTTP/1.1 100 Continue\r\nX: " + "a".repeat(InterimResponses.MAX_HEAD) + "\r\n\r\n"
        ResponseHeadFilter().run(long, 8192) shouldBe long
        ResponseHeadFilter().run("HTTP/1.1 100 Cont", 3) shouldBe "HTTP/1.1 100 Cont"
    }

    test("isInterim: 1xx other than 101") {
        (100..199).filter { InterimResponses.isInterim(it) }.size shouldBe 99
        InterimResponses.isInterim(101) shouldBe false
        InterimResponses.isInterim(200) shouldBe false
    }
})
