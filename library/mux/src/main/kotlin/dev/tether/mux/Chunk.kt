package dev.tether.mux

import io.netty.buffer.ByteBuf

/**
 * The bytes of one received DAT while they wait for a [Stream.read]: a slice of an array, or of the Netty buffer
 * the frame was read into (a reference the chunk holds, so reads copy straight out of it and no message array is
 * made first). The owning stream guards it with its lock. A buffer is released once read, dropped or [detach]ed;
 * a stream that outlives its session detaches its chunks, so it never pins pooled memory.
 */
internal class Chunk private constructor(
    private var array: ByteArray?,
    private var buffer: ByteBuf?,
    private var position: Int,
    private var end: Int,
) {
    /** Bytes not read yet. */
    val remaining: Int get() = end - position

    /** Copies up to [length] bytes into [dst] at [offset]; the chunk lets go of its buffer once it is all read. */
    fun read(dst: ByteArray, offset: Int, length: Int): Int {
        val n = minOf(length, end - position)
        val a = array
        if (a != null) System.arraycopy(a, position, dst, offset, n) else buffer!!.getBytes(position, dst, offset, n)
        position += n
        if (position == end) drop()
        return n
    }

    /** Forgets the bytes (the stream drops them): releases the buffer. */
    fun drop() {
        buffer?.release()
        buffer = null
        array = null
        position = end
    }

    /** Moves what is left into an array of its own and releases the buffer. */
    fun detach() {
        val b = buffer ?: return
        val copy = ByteArray(end - position)
        b.getBytes(position, copy)
        b.release()
        buffer = null
        array = copy
        position = 0
        end = copy.size
    }

    companion object {
        /** The payload of a decoded DAT (its array is the session's own). */
        fun of(frame: MuxFrame.Data): Chunk = Chunk(frame.bytes, null, frame.offset, frame.offset + frame.length)

        /** [length] bytes of [content] from index [at]: takes a reference to [content] (the caller's stays its own). */
        fun retained(content: ByteBuf, at: Int, length: Int): Chunk = Chunk(null, content.retain(), at, at + length)
    }
}
