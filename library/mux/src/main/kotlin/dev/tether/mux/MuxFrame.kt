package dev.tether.mux

import dev.tether.mux.MuxProtocol.ACK_PAYLOAD_SIZE
import dev.tether.mux.MuxProtocol.HEADER_SIZE

/**
 * One wsmux frame (see [MuxProtocol] for the layout). [encode] is a strict sender: it never produces an empty DAT
 * or an ACK shorter than 4 bytes. [decode] is a tolerant receiver: it reads what real peers send and rejects, with
 * [MalformedFrameException], only what the session must drop.
 *
 * [streamId] is the raw 32-bit id; read it unsigned ([unsignedId]).
 */
public sealed class MuxFrame(public val streamId: Int) {
    /** The id as the unsigned number on the wire. */
    public val unsignedId: Long get() = streamId.toLong() and 0xFFFF_FFFFL

    /** The frame as one binary WebSocket message. */
    public abstract fun encode(): ByteArray

    /**
     * Stream data: [length] bytes of [bytes] from [offset]. A decoded DAT shares the message array (no copy);
     * [length] is at least 1.
     */
    public class Data(
        streamId: Int,
        /** The array holding the payload. */
        public val bytes: ByteArray,
        /** Where the payload starts in [bytes]. */
        public val offset: Int,
        /** The payload length. */
        public val length: Int,
    ) : MuxFrame(streamId) {
        /** Data frame carrying all of [payload]. */
        public constructor(streamId: Int, payload: ByteArray) : this(streamId, payload, 0, payload.size)

        init {
            require(length >= 1) { "a DAT carries at least one byte (an empty DAT corrupts Go receivers)" }
            require(offset >= 0 && offset + length <= bytes.size) { "payload range out of bounds" }
        }

        /** A copy of the payload. */
        public fun payload(): ByteArray = bytes.copyOfRange(offset, offset + length)

        override fun encode(): ByteArray = header(MuxProtocol.TYPE_DAT, streamId, length).also {
            System.arraycopy(bytes, offset, it, HEADER_SIZE, length)
        }

        override fun toString(): String = "DAT($unsignedId, $length bytes)"
    }

    /** Opens stream [streamId]. */
    public class Syn(streamId: Int) : MuxFrame(streamId) {
        override fun encode(): ByteArray = header(MuxProtocol.TYPE_SYN, streamId, 0)
        override fun toString(): String = "SYN($unsignedId)"
    }

    /** Grants [credit] bytes of send window (unsigned 32-bit). */
    public class Ack(streamId: Int, public val credit: Long) : MuxFrame(streamId) {
        init {
            require(credit in 0..0xFFFF_FFFFL) { "credit must fit in an unsigned 32-bit field: $credit" }
        }

        override fun encode(): ByteArray = header(MuxProtocol.TYPE_ACK, streamId, ACK_PAYLOAD_SIZE).also {
            putIntLe(it, HEADER_SIZE, credit.toInt())
        }

        override fun toString(): String = "ACK($unsignedId, $credit)"
    }

    /** Half-closes stream [streamId]. */
    public class Fin(streamId: Int) : MuxFrame(streamId) {
        override fun encode(): ByteArray = header(MuxProtocol.TYPE_FIN, streamId, 0)
        override fun toString(): String = "FIN($unsignedId)"
    }

    /** Decoding. */
    public companion object {
        /**
         * Parses one binary message. Throws [MalformedFrameException] for a message shorter than the header, a type
         * above 3, an ACK with fewer than 4 payload bytes and an empty DAT. Extra bytes after an ACK's 4 are ignored,
         * as is any payload on SYN and FIN.
         */
        @JvmStatic
        public fun decode(message: ByteArray): MuxFrame {
            if (message.size < HEADER_SIZE) {
                throw MalformedFrameException(
                    "message of ${message.size} bytes is shorter than the $HEADER_SIZE-byte header",
                )
            }
            val type = message[0].toInt() and 0xFF
            val id = getIntLe(message, 1)
            val payload = message.size - HEADER_SIZE
            return when (type) {
                MuxProtocol.TYPE_DAT -> {
                    if (payload == 0) {
                        throw MalformedFrameException("empty DAT for stream ${id.toLong() and 0xFFFF_FFFFL}")
                    }
                    Data(id, message, HEADER_SIZE, payload)
                }

                MuxProtocol.TYPE_SYN -> Syn(id)

                MuxProtocol.TYPE_ACK -> {
                    if (payload < ACK_PAYLOAD_SIZE) {
                        throw MalformedFrameException("ACK with a $payload-byte credit (4 required)")
                    }
                    Ack(id, getIntLe(message, HEADER_SIZE).toLong() and 0xFFFF_FFFFL)
                }

                MuxProtocol.TYPE_FIN -> Fin(id)

                else -> throw MalformedFrameException("unknown frame type $type")
            }
        }

        /** The 5-byte header of a DAT for stream [id]: sent in front of the payload, which is never copied into it. */
        internal fun dataHeader(id: Int): ByteArray = header(MuxProtocol.TYPE_DAT, id, 0)

        private fun header(type: Int, id: Int, payload: Int): ByteArray {
            val out = ByteArray(HEADER_SIZE + payload)
            out[0] = type.toByte()
            putIntLe(out, 1, id)
            return out
        }

        private fun putIntLe(b: ByteArray, at: Int, v: Int) {
            b[at] = v.toByte()
            b[at + 1] = (v ushr 8).toByte()
            b[at + 2] = (v ushr 16).toByte()
            b[at + 3] = (v ushr 24).toByte()
        }

        private fun getIntLe(b: ByteArray, at: Int): Int =
            (b[at].toInt() and 0xFF) or ((b[at + 1].toInt() and 0xFF) shl 8) or
                ((b[at + 2].toInt() and 0xFF) shl 16) or ((b[at + 3].toInt() and 0xFF) shl 24)
    }
}
