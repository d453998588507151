package dev.tether.tunnel.fuzz

/**
 * Fuzz input for a reader of a byte stream: the first byte is the most a single read returns (0: no limit), the rest
 * is the stream. Cutting the stream at fuzzed places exercises every buffer boundary of the reader.
 */
internal class Chunks(input: ByteArray) {
    val readSize: Int = if (input.isEmpty() || input[0].toInt() == 0) Int.MAX_VALUE else input[0].toInt() and 0xff
    val bytes: ByteArray = if (input.isEmpty()) input else input.copyOfRange(1, input.size)
    private var at = 0

    /** Like a stream read: at least one byte, or -1 at the end. */
    fun read(buffer: ByteArray, offset: Int, length: Int): Int {
        if (at >= bytes.size) return -1
        val n = minOf(length, readSize, bytes.size - at)
        System.arraycopy(bytes, at, buffer, offset, n)
        at += n
        return n
    }

    /** The stream as the successive reads of at most [readSize] bytes. */
    fun pieces(): List<ByteArray> = bytes.indices.step(readSize.coerceAtMost(bytes.size.coerceAtLeast(1)))
        .map { bytes.copyOfRange(it, minOf(bytes.size, it + readSize)) }
}
