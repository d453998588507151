package dev.tether.tunnel.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.core.InternalTetherApi
import dev.tether.tunnel.BadRequestException
import dev.tether.tunnel.HttpRequestReader
import dev.tether.tunnel.LineTooLongException
import dev.tether.tunnel.StreamReader
import dev.tether.tunnel.TunnelFlavour
import dev.tether.tunnel.TunnelRequest
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Timeout

/**
 * Fuzzes [HttpRequestReader], which reads each viewer request the proxy writes onto a tunnel stream
 * (docs/fuzzing.md). A stream gives a request, nothing (it ended before its first byte), a [BadRequestException]
 * with the 4xx status the viewer gets, or [LineTooLongException] (431); any other exception is a finding. Small limits
 * (a 256-byte line, 1 KiB of headers, 2 KiB of body) let short inputs reach every bound, and each bound must hold.
 *
 * Input: one byte of read size (see [Chunks]), then the stream. Seeds: the request of specs/webhooktunnel.md §10 and
 * malformed requests, in `HttpRequestFuzzTestInputs/`.
 */
@OptIn(InternalTetherApi::class)
class HttpRequestFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun readRequest(input: ByteArray) {
        val stream = Chunks(input)
        val reader = StreamReader { buffer, offset, length -> stream.read(buffer, offset, length) }
        val request = try {
            runBlocking { HttpRequestReader(reader, TunnelFlavour.WEBHOOKTUNNEL, MAX_BODY, MAX_LINE, MAX_HEAD).read() }
        } catch (e: BadRequestException) {
            check(e.status == 400 || e.status == 413 || e.status == 431) { "status ${e.status} for a bad request" }
            return
        } catch (e: LineTooLongException) {
            return
        }
        if (request == null) {
            check(stream.bytes.isEmpty()) { "no request from a stream of ${stream.bytes.size} bytes" }
            return
        }
        checkBounded(request)
    }

    private fun checkBounded(request: TunnelRequest) {
        check(request.method.isNotEmpty() && ' ' !in request.method) { "method \"${request.method}\"" }
        check(request.target.isNotEmpty() && ' ' !in request.target) { "target \"${request.target}\"" }
        check(request.body.size <= MAX_BODY) { "a ${request.body.size}-byte body passed the $MAX_BODY-byte limit" }
        val headerChars = request.headers.entries.sumOf { (name, values) -> values.sumOf { name.length + it.length } }
        check(headerChars <= MAX_HEAD) { "$headerChars characters of headers passed the $MAX_HEAD limit" }
        val expectsContinue = request.headers.any { (name, values) ->
            name.equals("Expect", true) && values.any { it.equals("100-continue", true) }
        }
        check(!expectsContinue) {
            "Expect: 100-continue reached the handler"
        }
    }

    private companion object {
        const val MAX_LINE = 256
        const val MAX_HEAD = 1024
        const val MAX_BODY = 2048
    }
}
