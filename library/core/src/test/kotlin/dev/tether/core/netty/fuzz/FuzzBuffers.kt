package dev.tether.core.netty.fuzz

import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufAllocator
import io.netty.buffer.CompositeByteBuf
import io.netty.buffer.PooledByteBufAllocator
import io.netty.buffer.Unpooled

/** Reads a fuzz input one byte at a time; past its end, zeros. */
internal class FuzzInput(private val input: ByteArray) {
    private var at = 0

    fun hasMore(): Boolean = at < input.size

    fun next(): Int = if (at < input.size) input[at++].toInt() and 0xff else 0

    fun take(n: Int): ByteArray = input.copyOfRange(at, minOf(input.size, at + n)).also { at += it.size }
}

/**
 * The pooled allocator, remembering every buffer it hands out: set on the channel, it also sees what the frame
 * decoder allocates (its cumulation, each frame's payload), so [checkAllReleased] covers the whole receive path.
 */
internal class TrackingAllocator(private val pool: ByteBufAllocator = PooledByteBufAllocator.DEFAULT) :
    ByteBufAllocator {
    private val handedOut = ArrayList<ByteBuf>()

    /** Tracks [buffer] (one not made here) too. */
    fun <T : ByteBuf> track(buffer: T): T = buffer.also { handedOut += it }

    /** Every buffer is released (count 0): nothing leaked, and an over-release would have thrown where it happened. */
    fun checkAllReleased() {
        val held = handedOut.filter { it.refCnt() != 0 }
        check(held.isEmpty()) { "${held.size} of ${handedOut.size} buffers not released: $held" }
    }

    override fun buffer(): ByteBuf = track(pool.buffer())

    override fun buffer(initialCapacity: Int): ByteBuf = track(pool.buffer(initialCapacity))

    override fun buffer(initialCapacity: Int, maxCapacity: Int): ByteBuf =
        track(pool.buffer(initialCapacity, maxCapacity))

    override fun ioBuffer(): ByteBuf = track(pool.ioBuffer())

    override fun ioBuffer(initialCapacity: Int): ByteBuf = track(pool.ioBuffer(initialCapacity))

    override fun ioBuffer(initialCapacity: Int, maxCapacity: Int): ByteBuf =
        track(pool.ioBuffer(initialCapacity, maxCapacity))

    override fun heapBuffer(): ByteBuf = track(pool.heapBuffer())

    override fun heapBuffer(initialCapacity: Int): ByteBuf = track(pool.heapBuffer(initialCapacity))

    override fun heapBuffer(initialCapacity: Int, maxCapacity: Int): ByteBuf =
        track(pool.heapBuffer(initialCapacity, maxCapacity))

    override fun directBuffer(): ByteBuf = track(pool.directBuffer())

    override fun directBuffer(initialCapacity: Int): ByteBuf = track(pool.directBuffer(initialCapacity))

    override fun directBuffer(initialCapacity: Int, maxCapacity: Int): ByteBuf =
        track(pool.directBuffer(initialCapacity, maxCapacity))

    override fun compositeBuffer(): CompositeByteBuf = track(pool.compositeBuffer())

    override fun compositeBuffer(maxNumComponents: Int): CompositeByteBuf =
        track(pool.compositeBuffer(maxNumComponents))

    override fun compositeHeapBuffer(): CompositeByteBuf = track(pool.compositeHeapBuffer())

    override fun compositeHeapBuffer(maxNumComponents: Int): CompositeByteBuf =
        track(pool.compositeHeapBuffer(maxNumComponents))

    override fun compositeDirectBuffer(): CompositeByteBuf = track(pool.compositeDirectBuffer())

    override fun compositeDirectBuffer(maxNumComponents: Int): CompositeByteBuf =
        track(pool.compositeDirectBuffer(maxNumComponents))

    override fun isDirectBufferPooled(): Boolean = pool.isDirectBufferPooled

    override fun calculateNewCapacity(minNewCapacity: Int, maxCapacity: Int): Int =
        pool.calculateNewCapacity(minNewCapacity, maxCapacity)
}

/**
 * [bytes] in a new buffer of kind `kind & 7`: 0 unpooled heap, 1 unpooled direct, 2 and 3 pooled heap and direct
 * with junk before (a non-zero reader index) and after, 4 a retained slice of a pooled buffer, 5 a slice sharing
 * its pooled parent's count, 6 and 7 composites of two parts (pooled and unpooled, heap and direct); `kind >> 3`
 * moves the cut between parts and the junk. Every buffer made is tracked.
 */
internal fun TrackingAllocator.wrap(bytes: ByteArray, kind: Int): ByteBuf {
    val cut = if (bytes.isEmpty()) 0 else (kind shr 3) % (bytes.size + 1)
    return when (kind and 7) {
        0 -> track(Unpooled.buffer(bytes.size)).writeBytes(bytes)

        1 -> track(Unpooled.directBuffer(bytes.size)).writeBytes(bytes)

        2 -> padded(heapBuffer(), bytes, cut)

        3 -> padded(directBuffer(), bytes, cut)

        4 -> {
            val parent = padded(buffer(), bytes, cut)
            track(parent.retainedSlice()).also { parent.release() }
        }

        5 -> padded(directBuffer(), bytes, cut).slice()

        6 -> compositeBuffer().addComponents(
            true,
            directBuffer().writeBytes(bytes, 0, cut),
            track(Unpooled.buffer()).writeBytes(bytes, cut, bytes.size - cut),
        )

        else -> track(Unpooled.compositeBuffer()).addComponents(
            true,
            track(Unpooled.directBuffer()).writeBytes(bytes, 0, cut),
            heapBuffer().writeBytes(bytes, cut, bytes.size - cut),
        )
    }
}

/** [bytes] between junk bytes in [buffer], whose readable bytes are exactly [bytes]. */
private fun padded(buffer: ByteBuf, bytes: ByteArray, junk: Int): ByteBuf {
    val start = 1 + junk % 7
    buffer.writeBytes(JUNK, 0, start).writeBytes(bytes).writeBytes(JUNK)
    return buffer.setIndex(start, start + bytes.size)
}

private val JUNK = ByteArray(8) { 0x5a }
