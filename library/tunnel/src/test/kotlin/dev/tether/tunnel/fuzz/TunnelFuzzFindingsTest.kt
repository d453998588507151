package dev.tether.tunnel.fuzz

import dev.tether.core.InternalTetherApi
import dev.tether.tunnel.BadRequestException
import dev.tether.tunnel.HttpRequestReader
import dev.tether.tunnel.ResponseHeadFilter
import dev.tether.tunnel.StreamReader
import dev.tether.tunnel.TunnelFlavour
import dev.tether.tunnel.TunnelTokens
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.time.Instant
import java.util.Base64

/** What fuzzing found in the tunnel decoders, pinned as plain unit tests (the inputs are also in the seed corpus). */
@OptIn(InternalTetherApi::class)
class TunnelFuzzFindingsTest {
    private val now = Instant.ofEpochSecond(1_800_000_000)

    private fun token(claims: String): String {
        val encoder = Base64.getUrlEncoder().withoutPadding()
        val header = encoder.encodeToString("""{"alg":"HS256"}""".toByteArray())
        return header + "." + encoder.encodeToString(claims.toByteArray()) + ".sig"
    }

    @Test
    fun `deeply nested claims make a token unusable instead of overflowing the stack`() {
        // TunnelTokensFuzzTestInputs/isUsable/claims-deep: StackOverflowError in kotlinx.serialization before the fix
        val deep = """{"exp":1900000000,"nbf":1,"a":""" + "[".repeat(5000) + "]".repeat(5000) + "}"
        assertFalse(TunnelTokens.isUsable(token(deep), now))
    }

    @Test
    fun `claims with ordinary nesting and brackets inside strings are still read`() {
        val claims = """{"exp":1900000000,"nbf":1,"tid":"[[[{{{\"]]]","aud":["a",{"b":[1]}]}"""
        assertTrue(TunnelTokens.isUsable(token(claims), now))
        assertNotNull(TunnelTokens.readClaims(token(claims)))
    }

    private fun read(request: String, maxHead: Int = HttpRequestReader.MAX_HEAD) = runBlocking {
        val bytes = request.toByteArray(Charsets.ISO_8859_1)
        var at = 0
        val reader = StreamReader { buffer, offset, length ->
            if (at == bytes.size) {
                -1
            } else {
                minOf(length, bytes.size - at).also {
                    bytes.copyInto(buffer, offset, at, at + it)
                    at += it
                }
            }
        }
        HttpRequestReader(reader, TunnelFlavour.WEBHOOKTUNNEL, 1 shl 20, maxHead = maxHead).read()
    }

    @Test
    fun `a request line without a method or target is a bad request`() {
        assertEquals(400, assertThrows(BadRequestException::class.java) { read(" / HTTP/1.1\r\n\r\n") }.status)
        assertEquals(400, assertThrows(BadRequestException::class.java) { read("GET  HTTP/1.1\r\n\r\n") }.status)
    }

    @Test
    fun `trailers of a chunked body are bounded like headers`() {
        val trailers = "T: " + "v".repeat(200) + "\r\n"
        val request =
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n" + trailers.repeat(6) + "\r\n"
        assertEquals(431, assertThrows(BadRequestException::class.java) { read(request, maxHead = 1024) }.status)
        assertEquals("hi", String(read(request, maxHead = 2048)!!.body))
    }

    @Test
    fun `only an HTTP status line makes a head interim`() {
        // HeadFilterFuzzTestInputs/responseHead/finding-garbage-before-interim-status: dropped as a 100 before the fix
        val garbage =
            "\u0001\u0000\u0005HTTP/1.1 100 Continue\r\nT\r\nHTTP/1.1 200 OK\r\n\r\n".toByteArray(Charsets.ISO_8859_1)
        val filter = ResponseHeadFilter()
        val out = filter.filter(garbage, 0, garbage.size) + filter.finish()
        assertEquals(String(garbage, Charsets.ISO_8859_1), String(out, Charsets.ISO_8859_1))
        val interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n".toByteArray(Charsets.ISO_8859_1)
        val second = ResponseHeadFilter()
        val passed = second.filter(interim, 0, interim.size) + second.finish()
        assertEquals("HTTP/1.1 200 OK\r\n\r\n", String(passed, Charsets.ISO_8859_1))
    }
}
