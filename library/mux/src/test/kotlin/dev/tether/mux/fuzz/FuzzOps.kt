package dev.tether.mux.fuzz

/** Reads a fuzz input one byte at a time; past its end, zeros. */
internal class FuzzOps(private val input: ByteArray) {
    private var at = 0

    fun hasMore(): Boolean = at < input.size

    fun next(): Int = if (at < input.size) input[at++].toInt() and 0xff else 0

    fun take(n: Int): ByteArray = input.copyOfRange(at, minOf(input.size, at + n)).also { at += it.size }
}

/** The element [index] picks (modulo the size), or null when there is none. */
internal fun <T> List<T>.pick(index: Int): T? = if (isEmpty()) null else this[index % size]
