package dev.tether.core.netty

import io.netty.buffer.ByteBuf
import io.netty.buffer.ByteBufAllocator
import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelOutboundHandlerAdapter
import io.netty.channel.ChannelPromise
import java.lang.invoke.MethodHandles
import java.lang.invoke.VarHandle
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.concurrent.ThreadLocalRandom

/** One whole data message on its way out, as one WebSocket frame: [OPCODE_TEXT] or [OPCODE_BINARY]. */
internal class OutData(val opcode: Int, val payload: ByteArray) {
    companion object {
        const val OPCODE_TEXT = 0x1
        const val OPCODE_BINARY = 0x2
    }
}

/**
 * Encodes [OutData] as a masked client frame straight into one pooled buffer, masking eight bytes at a time. Netty's
 * frame encoder masks through bounds-checked buffer calls, which made it the event loop's largest cost when one big
 * message fills a credit window (docs/performance.md); control frames still go through Netty's encoder behind this
 * one.
 *
 * ```
 *  byte 0: FIN | opcode        byte 1: MASK | length (<126), or 126 + 2-byte length, or 127 + 8-byte length
 *  then the 4-byte masking key, then payload[i] xor key[i % 4]   (RFC 6455 §5.2, §5.3)
 * ```
 */
internal class DataFrameEncoder : ChannelOutboundHandlerAdapter() {
    override fun write(ctx: ChannelHandlerContext, msg: Any, promise: ChannelPromise) {
        if (msg !is OutData) {
            ctx.write(msg, promise)
            return
        }
        ctx.write(encode(ctx.alloc(), msg.opcode, EMPTY, msg.payload, 0, msg.payload.size), promise)
    }

    companion object {
        private val EMPTY = ByteArray(0)

        private val LONGS: VarHandle = MethodHandles.byteArrayViewVarHandle(
            LongArray::class.java,
            ByteOrder.LITTLE_ENDIAN,
        )

        /**
         * One masked client frame with [opcode] whose payload is [head] followed by [length] bytes of [body] from
         * [offset], in a buffer from [alloc]; callable from any thread (the masking key comes from the caller's
         * ThreadLocalRandom).
         */
        fun encode(
            alloc: ByteBufAllocator,
            opcode: Int,
            head: ByteArray,
            body: ByteArray,
            offset: Int,
            length: Int,
        ): ByteBuf {
            val payloadLength = head.size + length
            val lengthBytes = when {
                payloadLength < 126 -> 0
                payloadLength <= 0xFFFF -> 2
                else -> 8
            }
            val out = alloc.buffer(2 + lengthBytes + 4 + payloadLength)
            out.writeByte(0x80 or opcode)
            when (lengthBytes) {
                0 -> out.writeByte(0x80 or payloadLength)

                2 -> {
                    out.writeByte(0x80 or 126)
                    out.writeShort(payloadLength)
                }

                else -> {
                    out.writeByte(0x80 or 127)
                    out.writeLong(payloadLength.toLong())
                }
            }
            // RFC 6455 §10.3: a fresh, unpredictable key per frame.
            val key = ThreadLocalRandom.current().nextInt()
            out.writeInt(key)
            val start = out.writerIndex()
            out.writerIndex(start + payloadLength)
            val target = out.nioBuffer(start, payloadLength)
            mask(head, 0, head.size, key, target, 0)
            // The body continues the key where the head left off: byte i of the payload takes key byte i % 4.
            mask(body, offset, length, Integer.rotateLeft(key, 8 * (head.size and 3)), target, head.size)
            return out
        }

        /**
         * Writes [length] bytes of [src] from [from], xor the repeating big-endian [key], into [target] at [at]
         * (relative to its position).
         */
        private fun mask(src: ByteArray, from: Int, length: Int, key: Int, target: ByteBuffer, at: Int) {
            val base = target.position() + at
            target.order(ByteOrder.LITTLE_ENDIAN)
            // The key's first wire byte is its most significant: read little-endian, it is the lowest.
            val k = Integer.reverseBytes(key).toLong() and 0xFFFF_FFFFL
            val wide = k or (k shl 32)
            var i = 0
            while (i + 8 <= length) {
                target.putLong(base + i, (LONGS.get(src, from + i) as Long) xor wide)
                i += 8
            }
            while (i < length) {
                target.put(base + i, (src[from + i].toInt() xor (key ushr (24 - 8 * (i and 3)))).toByte())
                i++
            }
        }
    }
}
