package dev.tether.core.netty

import io.netty.channel.ChannelHandlerContext
import io.netty.channel.ChannelOutboundHandlerAdapter
import io.netty.channel.ChannelPromise
import java.lang.invoke.MethodHandles
import java.lang.invoke.VarHandle
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
        val payload = msg.payload
        val length = payload.size
        val lengthBytes = when {
            length < 126 -> 0
            length <= 0xFFFF -> 2
            else -> 8
        }
        val headerSize = 2 + lengthBytes + 4
        val out = ctx.alloc().buffer(headerSize + length)
        out.writeByte(0x80 or msg.opcode)
        when (lengthBytes) {
            0 -> out.writeByte(0x80 or length)

            2 -> {
                out.writeByte(0x80 or 126)
                out.writeShort(length)
            }

            else -> {
                out.writeByte(0x80 or 127)
                out.writeLong(length.toLong())
            }
        }
        // RFC 6455 §10.3: a fresh, unpredictable key per frame.
        val key = ThreadLocalRandom.current().nextInt()
        out.writeInt(key)
        val start = out.writerIndex()
        out.writerIndex(start + length)
        mask(payload, key, out.nioBuffer(start, length))
        ctx.write(out, promise)
    }

    private companion object {
        private val LONGS: VarHandle = MethodHandles.byteArrayViewVarHandle(
            LongArray::class.java,
            ByteOrder.LITTLE_ENDIAN,
        )

        /**
         * Writes [payload] xor the repeating big-endian [key] into [target] (its position and limit frame the output).
         */
        fun mask(payload: ByteArray, key: Int, target: java.nio.ByteBuffer) {
            val base = target.position()
            target.order(ByteOrder.LITTLE_ENDIAN)
            // The key's first wire byte is its most significant: read little-endian, it is the lowest.
            val k = Integer.reverseBytes(key).toLong() and 0xFFFF_FFFFL
            val wide = k or (k shl 32)
            val n = payload.size
            var i = 0
            while (i + 8 <= n) {
                target.putLong(base + i, (LONGS.get(payload, i) as Long) xor wide)
                i += 8
            }
            while (i < n) {
                target.put(base + i, (payload[i].toInt() xor (key ushr (24 - 8 * (i and 3)))).toByte())
                i++
            }
        }
    }
}
