package dev.tether.tunnel.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.tunnel.HeadFilter
import dev.tether.tunnel.RequestHeadFilter
import dev.tether.tunnel.ResponseHeadFilter
import org.junit.jupiter.api.Timeout
import java.io.ByteArrayOutputStream

/**
 * Fuzzes the head filters of forwarded connections (docs/fuzzing.md): [RequestHeadFilter] on the viewer's bytes on
 * their way to the origin, [ResponseHeadFilter] on the origin's answer on its way to the proxy. Neither may throw,
 * hold back more than its limit, or change anything but what it exists to remove: the request loses only its
 * `Expect: 100-continue` lines, and the response loses only whole interim heads at its start (so what comes out is
 * a suffix of what went in).
 *
 * Input: one byte of read size (see [Chunks]), then the bytes. A 512-byte head limit lets short inputs pass it.
 */
class HeadFilterFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun requestHead(input: ByteArray) {
        val chunks = Chunks(input)
        val out = run(RequestHeadFilter(MAX_HEAD), chunks)
        val bytes = chunks.bytes
        // Walk the input line by line: each line comes out unchanged, or is an Expect: 100-continue line.
        var j = 0
        var i = 0
        while (i < bytes.size) {
            var end = i
            while (end < bytes.size && bytes[end] != LF) end++
            if (end < bytes.size) end++
            val length = end - i
            if (j + length <= out.size && (0 until length).all { out[j + it] == bytes[i + it] }) {
                j += length
            } else {
                val line = String(bytes, i, length, Charsets.ISO_8859_1)
                check(isExpectContinue(line)) { "the request lost a line that is not Expect: 100-continue: $line" }
            }
            i = end
        }
        check(j == out.size) { "the request gained bytes" }
    }

    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun responseHead(input: ByteArray) {
        val chunks = Chunks(input)
        val out = run(ResponseHeadFilter(MAX_HEAD), chunks)
        val bytes = chunks.bytes
        check(isSuffix(out, bytes, bytes.size - out.size)) { "the response is not a suffix of what the origin sent" }
        if (!(bytes.size >= 2 && bytes[0] == 'H'.code.toByte())) {
            check(out.contentEquals(bytes)) { "a response that does not start like a status line was changed" }
        }
    }

    private fun run(filter: HeadFilter, chunks: Chunks): ByteArray {
        val out = ByteArrayOutputStream()
        var fed = 0
        for (piece in chunks.pieces()) {
            out.write(filter.filter(piece, 0, piece.size))
            fed += piece.size
            check(filter.passing || out.size() <= fed) { "emitted more than was fed" }
        }
        out.write(filter.finish())
        check(filter.passing) { "still holding bytes after finish()" }
        return out.toByteArray()
    }

    private fun isExpectContinue(line: String): Boolean {
        val colon = line.indexOf(':')
        return colon > 0 && line.substring(0, colon).trim().equals("Expect", ignoreCase = true) &&
            line.substring(colon + 1).trim().equals("100-continue", ignoreCase = true)
    }

    private fun isSuffix(suffix: ByteArray, of: ByteArray, from: Int): Boolean =
        from >= 0 && suffix.indices.all { suffix[it] == of[from + it] }

    private companion object {
        const val MAX_HEAD = 512
        const val LF = '\n'.code.toByte()
    }
}
