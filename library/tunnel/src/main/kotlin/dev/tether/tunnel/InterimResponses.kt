package dev.tether.tunnel

import java.io.ByteArrayOutputStream

/**
 * Keeps interim (1xx) HTTP responses out of a tunnel stream. The proxy takes the first response it reads on a stream
 * as *the* response (spec §10, the `Expect: 100-continue` pitfall): a `100 Continue` written into the stream gives
 * the viewer an empty 200 and loses the real answer. So the request loses its `Expect: 100-continue` before the
 * origin sees it ([RequestHeadFilter]), and any interim response the origin sends anyway (a 103, say) is dropped
 * before it reaches the stream ([ResponseHeadFilter]). `101 Switching Protocols` is a final answer and passes.
 *
 * Both filters look at the first head only and pass everything after it through untouched; a head longer than
 * [MAX_HEAD] bytes passes unchanged (the origin judges it).
 */
internal object InterimResponses {
    /** Longest head the filters hold back while looking for its end. */
    const val MAX_HEAD: Int = 64 * 1024

    /** True for a status the proxy must never read first: 1xx other than 101. */
    fun isInterim(status: Int): Boolean = status in 100..199 && status != 101

    /** True for an `Expect` header line asking for 100-continue (the only expectation HTTP/1.1 defines). */
    fun isExpectContinue(name: String, value: String): Boolean =
        name.trim().equals("Expect", ignoreCase = true) && value.trim().equals("100-continue", ignoreCase = true)

    /**
     * Index just past the blank line that ends a head in [bytes] (CRLF CRLF, or bare LFs), looking from [from]; or -1.
     */
    fun headEnd(bytes: ByteArray, length: Int, from: Int = 0): Int {
        var i = from
        while (i < length) {
            if (bytes[i] == LF) {
                if (i + 1 < length && bytes[i + 1] == LF) return i + 2
                if (i + 2 < length && bytes[i + 1] == CR && bytes[i + 2] == LF) return i + 3
            }
            i++
        }
        return -1
    }

    private const val CR = '\r'.code.toByte()
    private const val LF = '\n'.code.toByte()
}

/**
 * Collects bytes until a whole head is in hand, then hands on the head (rewritten by [rewrite], or null to drop it
 * and look at the next head) and whatever followed it; after that, bytes pass through as they come. A head longer
 * than [maxHead] bytes passes unchanged.
 */
internal abstract class HeadFilter(private val maxHead: Int) {
    private var pending: ByteArrayOutputStream? = ByteArrayOutputStream()
    private var scanned = 0

    /** True once the first head has gone by: bytes may then skip [filter]. */
    val passing: Boolean get() = pending == null

    /** What to send for [head] (ISO-8859-1 text including its blank line), or null to drop it and wait for another. */
    protected abstract fun rewrite(head: String): String?

    /** Bytes to send for [length] bytes read from [bytes]; empty while a head is still incomplete. */
    fun filter(bytes: ByteArray, offset: Int, length: Int): ByteArray {
        val held = pending ?: return bytes.copyOfRange(offset, offset + length)
        held.write(bytes, offset, length)
        val out = ByteArrayOutputStream()
        while (true) {
            val all = held.toByteArray()
            // Resume the search a few bytes back: the blank line may straddle two reads.
            val end = InterimResponses.headEnd(all, all.size, (scanned - 3).coerceAtLeast(0))
            scanned = all.size
            if (end < 0 && all.size <= maxHead) return out.toByteArray()
            if (end < 0 || end > maxHead) {
                out.write(all) // not a head we can read: hand it on as it is
                pending = null
                return out.toByteArray()
            }
            val head = rewrite(String(all, 0, end, Charsets.ISO_8859_1))
            held.reset()
            held.write(all, end, all.size - end)
            scanned = 0
            if (head != null) {
                out.write(head.toByteArray(Charsets.ISO_8859_1))
                out.write(held.toByteArray())
                pending = null
                return out.toByteArray()
            }
        }
    }

    /** What is still held back when the input ends (an incomplete head goes on as it is). */
    fun finish(): ByteArray = pending?.toByteArray().also { pending = null } ?: ByteArray(0)
}

/** The viewer's request on its way to the origin: drops `Expect: 100-continue`, so no `100 Continue` comes back. */
internal class RequestHeadFilter(maxHead: Int = InterimResponses.MAX_HEAD) : HeadFilter(maxHead) {
    override fun rewrite(head: String): String {
        val lines = head.split("\n")
        return lines.filterIndexed { i, line ->
            val colon = line.indexOf(':')
            !(
                i > 0 && colon > 0 &&
                    InterimResponses.isExpectContinue(line.substring(0, colon), line.substring(colon + 1))
                )
        }.joinToString("\n")
    }
}

/**
 * The origin's answer on its way to the stream: interim 1xx heads are dropped; the first final head passes, and so
 * does anything that is not an HTTP/1.x status line (the proxy judges it).
 */
internal class ResponseHeadFilter(maxHead: Int = InterimResponses.MAX_HEAD) : HeadFilter(maxHead) {
    override fun rewrite(head: String): String? {
        if (!head.startsWith("HTTP/1.")) return head
        val status = head.substringBefore('\n').split(' ').getOrNull(1)?.trim()?.toIntOrNull()
        return if (status != null && InterimResponses.isInterim(status)) null else head
    }
}
