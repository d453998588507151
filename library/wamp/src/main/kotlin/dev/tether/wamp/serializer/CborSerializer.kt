package dev.tether.wamp.serializer

import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.error.SerializationException
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.message.WireId
import kotlinx.serialization.json.JsonElement
import java.io.ByteArrayOutputStream
import java.math.BigInteger

/**
 * The `wamp.2.cbor` serializer (RFC 8949). Writes definite lengths and shortest integer heads, 64-bit floats as
 * `fb` and 32-bit floats as `fa`, as nexus does. Reads indefinite lengths, half floats, and tags (bignum tags 2/3
 * within the int64/uint64 range; other tags are skipped and their content kept).
 */
internal class CborSerializer : Serializer {
    override val serialization: Serialization get() = Serialization.CBOR

    override fun encodeValue(value: Any?): ByteArray {
        val out = ByteArrayOutputStream(64)
        write(out, value, 0)
        return out.toByteArray()
    }

    private fun head(out: ByteArrayOutputStream, major: Int, arg: Long) {
        val m = major shl 5
        when {
            arg in 0..23 -> out.write(m or arg.toInt())

            arg in 0..0xff -> {
                out.write(m or 24)
                out.write(arg.toInt())
            }

            arg in 0..0xffff -> {
                out.write(m or 25)
                be(out, arg, 2)
            }

            arg in 0..0xffffffffL -> {
                out.write(m or 26)
                be(out, arg, 4)
            }

            else -> {
                out.write(m or 27)
                be(out, arg, 8)
            } // also unsigned args above Long.MAX_VALUE
        }
    }

    private fun be(out: ByteArrayOutputStream, v: Long, size: Int) {
        for (i in size - 1 downTo 0) out.write((v ushr (8 * i)).toInt() and 0xff)
    }

    private fun writeInt(out: ByteArrayOutputStream, v: Long) {
        if (v >= 0) head(out, 0, v) else head(out, 1, -1 - v)
    }

    private fun write(out: ByteArrayOutputStream, v: Any?, depth: Int) {
        if (depth > MAX_DEPTH) throw SerializationException("value nested deeper than $MAX_DEPTH levels")
        when (v) {
            null -> out.write(0xf6)

            is Boolean -> out.write(if (v) 0xf5 else 0xf4)

            is String -> text(out, v)

            is Char -> text(out, v.toString())

            is Long, is Int, is Short, is Byte -> writeInt(out, (v as Number).toLong())

            is WireId -> writeInt(out, v.value)

            is BigInteger -> when (val n = WampValues.normalize(v)) {
                is Long -> writeInt(out, n)
                else -> head(out, 0, (n as BigInteger).toLong()) // uint64 above Long.MAX_VALUE: same 64 bits
            }

            is Double -> {
                out.write(0xfb)
                be(out, v.toRawBits(), 8)
            }

            is Float -> {
                out.write(0xfa)
                be(out, v.toRawBits().toLong() and 0xffffffffL, 4)
            }

            is ByteArray -> {
                head(out, 2, v.size.toLong())
                out.write(v)
            }

            is Map<*, *> -> {
                head(out, 5, v.size.toLong())
                for ((k, x) in v) {
                    if (k !is String) {
                        throw SerializationException(
                            "dictionary key ${k?.let {
                                it::class.java.name
                            }} is not a String",
                        )
                    }
                    text(out, k)
                    write(out, x, depth + 1)
                }
            }

            is Collection<*> -> {
                head(out, 4, v.size.toLong())
                for (x in v) write(out, x, depth + 1)
            }

            is Array<*> -> write(out, v.asList(), depth)

            is JsonElement -> write(out, WampValues.fromJsonElement(v), depth)

            else -> throw SerializationException("${v::class.java.name} is not a WAMP value")
        }
    }

    private fun text(out: ByteArrayOutputStream, s: String) {
        val b = s.toByteArray(Charsets.UTF_8)
        head(out, 3, b.size.toLong())
        out.write(b)
    }

    override fun decodeValue(bytes: ByteArray): Any? {
        val r = Reader(bytes)
        if (bytes.isEmpty()) throw ProtocolViolationException("empty CBOR input")
        val v = r.value(0)
        if (v === BREAK) throw ProtocolViolationException("unexpected CBOR break")
        if (r.pos != bytes.size) throw ProtocolViolationException("trailing bytes after the CBOR value")
        return v
    }

    private object BREAK

    private class Reader(val b: ByteArray) {
        var pos = 0

        fun byte(): Int {
            if (pos >= b.size) throw ProtocolViolationException("truncated CBOR input")
            return b[pos++].toInt() and 0xff
        }

        fun bytes(n: Long): ByteArray {
            if (n < 0 || n > b.size - pos) throw ProtocolViolationException("CBOR length $n exceeds the input")
            val out = b.copyOfRange(pos, pos + n.toInt())
            pos += n.toInt()
            return out
        }

        // The argument of a head; returns -1 for "indefinite" (info 31), raw 64 bits otherwise.
        fun arg(info: Int): Long = when (info) {
            in 0..23 -> info.toLong()
            24 -> byte().toLong()
            25 -> be(2)
            26 -> be(4)
            27 -> be(8)
            31 -> -1
            else -> throw ProtocolViolationException("reserved CBOR additional info $info")
        }

        fun be(n: Int): Long {
            var v = 0L
            repeat(n) { v = (v shl 8) or byte().toLong() }
            return v
        }

        fun length(info: Int): Long {
            val n = arg(info)
            if (info == 27 && n < 0) throw ProtocolViolationException("CBOR length exceeds the input")
            return n
        }

        fun value(depth: Int): Any? {
            if (depth > MAX_DEPTH) tooDeep()
            val ib = byte()
            val major = ib ushr 5
            val info = ib and 0x1f
            return when (major) {
                0 -> {
                    if (info == 31) throw ProtocolViolationException("indefinite CBOR integer")
                    val n = arg(info)
                    if (n >= 0) n else BigInteger(java.lang.Long.toUnsignedString(n))
                }

                1 -> {
                    if (info == 31) throw ProtocolViolationException("indefinite CBOR integer")
                    val n = arg(info)
                    if (n < 0) throw ProtocolViolationException("CBOR negative integer below the int64 range")
                    -1 - n
                }

                2 -> if (info == 31) chunks(2) else bytes(length(info))

                3 -> String(if (info == 31) chunks(3) else bytes(length(info)), Charsets.UTF_8)

                4 -> {
                    val n = length(info)
                    val list = ArrayList<Any?>()
                    if (n == -1L) {
                        while (true) {
                            val v = value(depth + 1)
                            if (v === BREAK) break
                            list.add(v)
                        }
                    } else {
                        if (n > b.size - pos) {
                            throw ProtocolViolationException(
                                "CBOR element count $n exceeds the input",
                            )
                        }
                        repeat(n.toInt()) { list.add(element(depth)) }
                    }
                    list
                }

                5 -> {
                    val n = length(info)
                    val map = LinkedHashMap<String, Any?>()
                    if (n == -1L) {
                        while (true) {
                            val k = value(depth + 1)
                            if (k === BREAK) break
                            map[key(k)] = element(depth)
                        }
                    } else {
                        if (n > b.size - pos) {
                            throw ProtocolViolationException(
                                "CBOR element count $n exceeds the input",
                            )
                        }
                        repeat(n.toInt()) { map[key(element(depth))] = element(depth) }
                    }
                    map
                }

                6 -> {
                    val tag = arg(info)
                    val inner = element(depth)
                    when {
                        tag == 2L && inner is ByteArray -> bignum(BigInteger(1, inner))

                        tag == 3L && inner is ByteArray -> bignum(
                            BigInteger.ONE.negate().subtract(BigInteger(1, inner)),
                        )

                        else -> inner
                    }
                }

                else -> when (info) {
                    20 -> false
                    21 -> true
                    22, 23 -> null
                    25 -> halfToFloat(be(2).toInt())
                    26 -> Float.fromBits(be(4).toInt())
                    27 -> Double.fromBits(be(8))
                    31 -> BREAK
                    else -> throw ProtocolViolationException("unsupported CBOR simple value $info")
                }
            }
        }

        fun element(depth: Int): Any? {
            val v = value(depth + 1)
            if (v === BREAK) throw ProtocolViolationException("unexpected CBOR break")
            return v
        }

        fun key(k: Any?): String = k as? String ?: throw ProtocolViolationException("CBOR map key is not a text string")

        fun chunks(major: Int): ByteArray {
            val out = ByteArrayOutputStream()
            while (true) {
                val ib = byte()
                if (ib == 0xff) break
                if (ib ushr 5 != major || ib and 0x1f == 31) {
                    throw ProtocolViolationException(
                        "bad chunk in indefinite CBOR string",
                    )
                }
                out.write(bytes(length(ib and 0x1f)))
            }
            return out.toByteArray()
        }

        fun bignum(n: BigInteger): Any {
            if (n.bitLength() < 64) return n.toLong()
            if (n.signum() > 0 && n.bitLength() <= 64) return n
            throw ProtocolViolationException("CBOR bignum $n is outside the int64/uint64 range")
        }

        fun halfToFloat(h: Int): Float {
            val sign = if (h and 0x8000 != 0) -1f else 1f
            val exp = (h ushr 10) and 0x1f
            val mant = h and 0x3ff
            return sign * when (exp) {
                0 -> mant * Math.pow(2.0, -24.0).toFloat()
                31 -> if (mant == 0) Float.POSITIVE_INFINITY else Float.NaN
                else -> (1f + mant / 1024f) * Math.pow(2.0, (exp - 15).toDouble()).toFloat()
            }
        }
    }
}
