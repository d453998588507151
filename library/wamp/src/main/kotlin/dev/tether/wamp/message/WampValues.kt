package dev.tether.wamp.message

import dev.tether.wamp.error.SerializationException
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import java.math.BigInteger
import java.util.Base64

/**
 * The neutral value model shared by every serializer. A WAMP value is one of:
 *
 * | WAMP      | what decoders produce                        | also accepted when encoding            |
 * |-----------|----------------------------------------------|----------------------------------------|
 * | null      | `null`                                       |                                        |
 * | boolean   | [Boolean]                                    |                                        |
 * | integer   | [Long]; [BigInteger] above Long.MAX_VALUE (uint64 ids) | Int, Short, Byte, BigInteger to 2^64-1 |
 * | float     | [Double]; [Float] for 32-bit floats on the wire | Float                               |
 * | string    | [String]                                     | Char                                   |
 * | bytes     | [ByteArray]                                  |                                        |
 * | list      | `List<Any?>` (Java: `List<Object>`)          | any Collection, Array                  |
 * | dict      | `Map<String, Any?>` (Java: `Map<String,Object>`) | any Map with String keys           |
 * |           |                                              | kotlinx-serialization [JsonElement]    |
 *
 * Because [ByteArray] has identity equality, compare values with [deepEquals].
 */
public object WampValues {
    private val MAX_UINT64: BigInteger = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE)
    private val LONG_MAX: BigInteger = BigInteger.valueOf(Long.MAX_VALUE)

    /** The largest id WAMP allows (2^53); session, request and publication ids lie in [1, 2^53]. */
    public const val MAX_ID: Long = 1L shl 53

    /**
     * Converts [value] to its canonical form (the one decoders produce), or throws [SerializationException] if the
     * value is outside the model. Small integer types become Long, collections become lists, JSON elements become
     * plain values.
     */
    @JvmStatic
    public fun normalize(value: Any?): Any? = when (value) {
        null, is Boolean, is String, is Long, is Double, is Float, is ByteArray -> value

        is Int -> value.toLong()

        is Short -> value.toLong()

        is Byte -> value.toLong()

        is Char -> value.toString()

        is BigInteger -> {
            require(value.signum() >= 0 || value.bitLength() < 64, value)
            require(value <= MAX_UINT64, value)
            if (value.bitLength() < 64) value.toLong() else value
        }

        is JsonElement -> fromJsonElement(value)

        is Map<*, *> -> normalizeMap(value)

        is Collection<*> -> value.map { normalize(it) }

        is Array<*> -> value.map { normalize(it) }

        else -> throw SerializationException(
            "${value::class.java.name} is not a WAMP value (use lists, maps, strings, numbers, booleans, byte arrays " +
                "or null)",
        )
    }

    /** Normalizes a dictionary; every key must be a String. */
    @JvmStatic
    public fun normalizeMap(map: Map<*, *>): Map<String, Any?> {
        val out = LinkedHashMap<String, Any?>(map.size)
        for ((k, v) in map) {
            if (k !is String) {
                throw SerializationException(
                    "dictionary key ${k?.let {
                        it::class.java.name
                    }} is not a String",
                )
            }
            out[k] = normalize(v)
        }
        return out
    }

    private fun require(ok: Boolean, value: BigInteger) {
        if (!ok) throw SerializationException("integer $value is outside the WAMP range (int64 or uint64)")
    }

    /**
     * True if [a] and [b] are the same WAMP value: numbers compare by value within their kind (integer or float),
     * byte arrays by content, lists and maps element by element.
     */
    @JvmStatic
    public fun deepEquals(a: Any?, b: Any?): Boolean {
        if (a === b) return true
        if (a == null || b == null) return false
        if (isInteger(a) && isInteger(b)) return toBigInteger(a) == toBigInteger(b)
        if ((a is Double || a is Float) && (b is Double || b is Float)) {
            return (a as Number).toDouble() == (b as Number).toDouble()
        }
        if (a is ByteArray && b is ByteArray) return a.contentEquals(b)
        if (a is Map<*, *> && b is Map<*, *>) {
            if (a.size != b.size) return false
            return a.all { (k, v) -> b.containsKey(k) && deepEquals(v, b[k]) }
        }
        if (a is List<*> && b is List<*>) {
            if (a.size != b.size) return false
            return a.indices.all { deepEquals(a[it], b[it]) }
        }
        return a == b
    }

    private fun isInteger(v: Any): Boolean = v is Long || v is Int || v is Short || v is Byte || v is BigInteger

    private fun toBigInteger(v: Any): BigInteger =
        if (v is BigInteger) v else BigInteger.valueOf((v as Number).toLong())

    /**
     * Reads [value] as bytes: a [ByteArray], a WAMP JSON binary string (`"\u0000"` + base64), or, when
     * [acceptPlainBase64] is set, a plain base64 string as nexus sends them. Returns null for anything else.
     */
    @JvmStatic
    @JvmOverloads
    public fun asBytes(value: Any?, acceptPlainBase64: Boolean = false): ByteArray? = when {
        value is ByteArray -> value

        value is String && value.startsWith('\u0000') -> runCatching {
            Base64.getDecoder().decode(value.substring(1))
        }.getOrNull()

        value is String && acceptPlainBase64 -> runCatching { Base64.getDecoder().decode(value) }.getOrNull()

        else -> null
    }

    /**
     * Reads [value] as a whole number that fits a Long: integers, and floats with no fractional part (some JSON
     * peers write `9.0`). Returns null otherwise.
     */
    @JvmStatic
    public fun asLong(value: Any?): Long? = when (value) {
        is Long -> value

        is Int -> value.toLong()

        is Short -> value.toLong()

        is Byte -> value.toLong()

        is BigInteger -> if (value.bitLength() < 64) value.toLong() else null

        is Double -> if (value == Math.rint(
                value,
            ) && value >= Long.MIN_VALUE.toDouble() && value < Long.MAX_VALUE.toDouble()
        ) {
            value.toLong()
        } else {
            null
        }

        is Float -> asLong(value.toDouble())

        else -> null
    }

    /** Converts a kotlinx-serialization JSON element to a plain value (numbers as Long, BigInteger or Double). */
    @JvmStatic
    public fun fromJsonElement(element: JsonElement): Any? = when (element) {
        is JsonNull -> null

        is JsonPrimitive -> when {
            element.isString -> element.content
            element.content == "true" -> true
            element.content == "false" -> false
            else -> parseJsonNumber(element.content)
        }

        is JsonArray -> element.map { fromJsonElement(it) }

        is JsonObject -> element.mapValuesTo(LinkedHashMap()) { fromJsonElement(it.value) }
    }

    /**
     * Converts a plain value to a JSON element; bytes become the WAMP binary string form (`"\u0000"` + base64).
     */
    @JvmStatic
    public fun toJsonElement(value: Any?): JsonElement = when (val v = normalize(value)) {
        null -> JsonNull
        is Boolean -> JsonPrimitive(v)
        is String -> JsonPrimitive(v)
        is Long -> JsonPrimitive(v)
        is BigInteger -> JsonPrimitive(v)
        is Double -> JsonPrimitive(v)
        is Float -> JsonPrimitive(v)
        is ByteArray -> JsonPrimitive("\u0000" + Base64.getEncoder().encodeToString(v))
        is Map<*, *> -> JsonObject(v.entries.associate { (k, x) -> k as String to toJsonElement(x) })
        is List<*> -> JsonArray(v.map { toJsonElement(it) })
        else -> throw SerializationException("unexpected value ${v::class.java.name}")
    }

    internal fun parseJsonNumber(text: String): Any {
        val integral = text.none { it == '.' || it == 'e' || it == 'E' }
        if (integral) {
            text.toLongOrNull()?.let { return it }
            val big = BigInteger(text)
            if (big.signum() > 0 && big <= MAX_UINT64) return big
            return big.toDouble()
        }
        return text.toDouble()
    }

    internal fun isLongRange(v: BigInteger): Boolean = v.bitLength() < 64 && v <= LONG_MAX
}
