package dev.tether.wamp.serializer

import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.SerializationException
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.WireId
import kotlinx.serialization.json.JsonElement
import org.msgpack.core.MessageFormat
import org.msgpack.core.MessagePack
import org.msgpack.core.MessagePackException
import org.msgpack.core.MessagePacker
import org.msgpack.core.MessageUnpacker
import org.msgpack.value.ValueType
import java.io.IOException
import java.math.BigInteger

/**
 * The `wamp.2.msgpack` serializer (msgpack-core). Strings are `str`, byte arrays `bin`; a `bin` on the wire always
 * decodes to a ByteArray and a `str` to a String.
 *
 * Integers follow nexus byte for byte: ids (request, session, subscription, ...) are written unsigned in their
 * shortest form (`cc`/`cd`/`ce`/`cf`), every other integer signed in its shortest form (`d0`..`d3`); values in
 * -32..127 are fixints. 32-bit floats stay `float 32`.
 */
internal class MsgPackSerializer : Serializer {
    override val serialization: Serialization get() = Serialization.MSGPACK

    override fun encodeValue(value: Any?): ByteArray {
        val packer = PACKER.newBufferPacker()
        write(packer, value, 0)
        return packer.toByteArray()
    }

    private fun write(p: MessagePacker, v: Any?, depth: Int) {
        if (depth > MAX_DEPTH) throw SerializationException("value nested deeper than $MAX_DEPTH levels")
        when (v) {
            null -> p.packNil()

            is Boolean -> p.packBoolean(v)

            is String -> p.packString(v)

            is Char -> p.packString(v.toString())

            is Long, is Int, is Short, is Byte -> writeSigned(p, (v as Number).toLong())

            is WireId -> writeUnsigned(p, v.value)

            is BigInteger -> when (val n = WampValues.normalize(v)) {
                is Long -> writeSigned(p, n)
                else -> p.packBigInteger(n as BigInteger) // above Long.MAX_VALUE: uint64 (cf)
            }

            is Double -> p.packDouble(v)

            is Float -> p.packFloat(v)

            is ByteArray -> {
                p.packBinaryHeader(v.size)
                p.writePayload(v)
            }

            is Map<*, *> -> {
                p.packMapHeader(v.size)
                for ((k, x) in v) {
                    if (k !is String) {
                        throw SerializationException(
                            "dictionary key ${k?.let {
                                it::class.java.name
                            }} is not a String",
                        )
                    }
                    p.packString(k)
                    write(p, x, depth + 1)
                }
            }

            is Collection<*> -> {
                p.packArrayHeader(v.size)
                for (x in v) write(p, x, depth + 1)
            }

            is Array<*> -> write(p, v.asList(), depth)

            is JsonElement -> write(p, WampValues.fromJsonElement(v), depth)

            else -> throw SerializationException("${v::class.java.name} is not a WAMP value")
        }
    }

    private fun writeSigned(p: MessagePacker, v: Long) {
        when (v) {
            in -32L..127L -> p.writePayload(byteArrayOf(v.toByte()))
            in -128L..127L -> p.writePayload(byteArrayOf(0xd0.toByte(), v.toByte()))
            in -32768L..32767L -> p.writePayload(bigEndian(0xd1, v, 2))
            in Int.MIN_VALUE.toLong()..Int.MAX_VALUE.toLong() -> p.writePayload(bigEndian(0xd2, v, 4))
            else -> p.writePayload(bigEndian(0xd3, v, 8))
        }
    }

    private fun writeUnsigned(p: MessagePacker, v: Long) {
        when {
            v < 0 -> writeSigned(p, v)
            v <= 127 -> p.writePayload(byteArrayOf(v.toByte()))
            v <= 0xff -> p.writePayload(bigEndian(0xcc, v, 1))
            v <= 0xffff -> p.writePayload(bigEndian(0xcd, v, 2))
            v <= 0xffffffffL -> p.writePayload(bigEndian(0xce, v, 4))
            else -> p.writePayload(bigEndian(0xcf, v, 8))
        }
    }

    private fun bigEndian(head: Int, v: Long, size: Int): ByteArray {
        val out = ByteArray(size + 1)
        out[0] = head.toByte()
        for (i in 0 until size) out[size - i] = (v ushr (8 * i)).toByte()
        return out
    }

    override fun decodeValue(bytes: ByteArray): Any? {
        try {
            MessagePack.newDefaultUnpacker(bytes).use { u ->
                if (!u.hasNext()) throw ProtocolViolationException("empty MessagePack input")
                val value = read(u, bytes.size.toLong(), 0)
                if (u.hasNext()) throw ProtocolViolationException("trailing bytes after the MessagePack value")
                return value
            }
        } catch (e: MessagePackException) {
            throw ProtocolViolationException("malformed MessagePack: ${e.message}", e)
        } catch (e: IOException) {
            throw ProtocolViolationException("truncated MessagePack: ${e.message}", e)
        }
    }

    private companion object {
        // The default packer starts with an 8 KiB buffer per message; WAMP messages are mostly far smaller, and the
        // buffer grows by chunks when one is not.
        val PACKER: MessagePack.PackerConfig = MessagePack.PackerConfig().withBufferSize(256)
    }

    private fun read(u: MessageUnpacker, total: Long, depth: Int): Any? {
        if (depth > MAX_DEPTH) tooDeep()
        val format = u.nextFormat
        return when (format.valueType) {
            ValueType.NIL -> u.unpackNil().let { null }

            ValueType.BOOLEAN -> u.unpackBoolean()

            ValueType.INTEGER -> if (format == MessageFormat.UINT64) {
                val n = u.unpackBigInteger()
                if (n.bitLength() < 64) n.toLong() else n
            } else {
                u.unpackLong()
            }

            ValueType.FLOAT -> if (format == MessageFormat.FLOAT32) u.unpackFloat() else u.unpackDouble()

            ValueType.STRING -> {
                val len = u.unpackRawStringHeader()
                String(payload(u, len, total), Charsets.UTF_8)
            }

            ValueType.BINARY -> payload(u, u.unpackBinaryHeader(), total)

            ValueType.ARRAY -> {
                val n = u.unpackArrayHeader()
                checkCount(u, n, total)
                val list = ArrayList<Any?>(minOf(n, 64))
                repeat(n) { list.add(read(u, total, depth + 1)) }
                list
            }

            ValueType.MAP -> {
                val n = u.unpackMapHeader()
                checkCount(u, n, total)
                val map = LinkedHashMap<String, Any?>(minOf(n, 64))
                repeat(n) {
                    val key = read(u, total, depth + 1) as? String
                        ?: throw ProtocolViolationException("MessagePack map key is not a string")
                    map[key] = read(u, total, depth + 1)
                }
                map
            }

            ValueType.EXTENSION -> throw ProtocolViolationException("MessagePack extension types are not WAMP values")

            null -> throw ProtocolViolationException("invalid MessagePack format byte")
        }
    }

    // A declared length larger than what is left would make msgpack-core allocate it before failing.
    private fun payload(u: MessageUnpacker, len: Int, total: Long): ByteArray {
        if (len < 0 || len > total - u.totalReadBytes) {
            throw ProtocolViolationException(
                "MessagePack length $len exceeds the input",
            )
        }
        return u.readPayload(len)
    }

    private fun checkCount(u: MessageUnpacker, n: Int, total: Long) {
        if (n < 0 || n > total - u.totalReadBytes) {
            throw ProtocolViolationException(
                "MessagePack element count $n exceeds the input",
            )
        }
    }
}
