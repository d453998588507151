package dev.tether.cli

import dev.tether.wamp.InvokePolicy
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.message.WampValues
import dev.tether.wamp.serializer.Serialization
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import picocli.CommandLine.ITypeConverter
import picocli.CommandLine.TypeConversionException
import java.io.IOException
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.security.KeyStore
import java.security.cert.CertificateException
import java.security.cert.CertificateFactory
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509TrustManager
import kotlin.time.toJavaDuration

/** Bad input on the command line, found before connecting: the command reports it and exits with 2. */
internal class UsageException(message: String) : Exception(message)

/** JSON arguments in and JSON lines out, for the `tether wamp` commands. */
internal object WampJson {
    // kotlinx reads unquoted primitives leniently even in strict mode (`abc` parses), so literals are checked here.
    private val NUMBER = Regex("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")

    /** The JSON value [text] holds, or null when it is not strictly valid JSON (a JSON `null` is [JsonNull]). */
    fun parseOrNull(text: String): JsonElement? {
        val element = try {
            Json.parseToJsonElement(text)
        } catch (e: IllegalArgumentException) { // kotlinx's SerializationException
            return null
        }
        return element.takeIf { strict(it) }
    }

    private fun strict(e: JsonElement): Boolean = when (e) {
        is JsonNull -> true
        is JsonPrimitive -> e.isString || e.content == "true" || e.content == "false" || NUMBER.matches(e.content)
        is JsonArray -> e.all(::strict)
        is JsonObject -> e.values.all(::strict)
    }

    /**
     * A positional argument: a JSON value (`1`, `true`, `"x"`, `{"a":1}`), or a bare word that is not JSON, taken
     * as a string. Text that starts like a JSON string, array or object must be valid JSON: a typo there should
     * not be sent as a string.
     */
    fun argument(text: String, what: String): Any? {
        parseOrNull(text)?.let { return WampValues.fromJsonElement(it) }
        if (text.trimStart().firstOrNull() in JSON_OPENERS) {
            throw UsageException(
                "$what is not valid JSON: ${reason(text)}",
            )
        }
        return text
    }

    /** A JSON object for keyword arguments ([option] names the flag in the error). */
    fun kwargs(text: String, option: String): Map<String, Any?> {
        val element = parseOrNull(text) ?: throw UsageException("$option is not valid JSON: ${reason(text)}")
        if (element !is JsonObject) throw UsageException("$option must be a JSON object, e.g. '{\"key\": 1}'")
        @Suppress("UNCHECKED_CAST")
        return WampValues.fromJsonElement(element) as Map<String, Any?>
    }

    // kotlinx's messages run over several lines and quote the whole input; the first line says what is wrong.
    private fun reason(text: String): String {
        val message = try {
            Json.parseToJsonElement(text)
            null
        } catch (e: IllegalArgumentException) {
            e.message?.lineSequence()?.firstOrNull()?.trim()
        }
        return "${message ?: "a literal is not true, false, null or a number"} (in $text)"
    }

    /** One output line: a JSON object of [fields] (WAMP values; byte arrays as `"\u0000"` + base64). */
    fun line(vararg fields: Pair<String, Any?>): String =
        JsonObject(fields.associate { (key, value) -> key to WampValues.toJsonElement(value) }).toString()

    /** [value] as compact JSON. */
    fun text(value: Any?): String = WampValues.toJsonElement(value).toString()

    private val JSON_OPENERS = setOf('{', '[', '"')
}

/** A duration: seconds (`5`, `0.5`) or with a unit (`500ms`, `2s`, `1m`); positive. */
internal class DurationConverter : ITypeConverter<java.time.Duration> {
    override fun convert(value: String): java.time.Duration {
        val duration = value.toDoubleOrNull()?.let { seconds -> java.time.Duration.ofNanos((seconds * 1e9).toLong()) }
            ?: kotlin.time.Duration.parseOrNull(value)?.toJavaDuration()
            ?: throw TypeConversionException("'$value' is not a duration: give seconds (2.5) or a unit (500ms, 2s, 1m)")
        if (duration.isNegative || duration.isZero) throw TypeConversionException("'$value' is not a positive duration")
        return duration
    }
}

/** `exact`, `prefix` or `wildcard`. */
internal class MatchConverter : ITypeConverter<MatchPolicy> {
    override fun convert(value: String): MatchPolicy = MatchPolicy.entries.firstOrNull { it.wire == value.lowercase() }
        ?: throw TypeConversionException("'$value' is not a match policy: exact, prefix or wildcard")
}

/** `single`, `roundrobin`, `random`, `first` or `last`. */
internal class InvokeConverter : ITypeConverter<InvokePolicy> {
    override fun convert(value: String): InvokePolicy =
        InvokePolicy.entries.firstOrNull { it.wire == value.lowercase() }
            ?: throw TypeConversionException(
                "'$value' is not an invoke policy: single, roundrobin, random, first or last",
            )
}

/** `json`, `msgpack` or `cbor`. */
internal class SerializationConverter : ITypeConverter<Serialization> {
    override fun convert(value: String): Serialization =
        Serialization.entries.firstOrNull { it.name.equals(value, ignoreCase = true) }
            ?: throw TypeConversionException("'$value' is not a serializer: json, msgpack or cbor")
}

/**
 * A trust manager that trusts exactly the certificates of the PEM file at [path] (a private CA, a self-signed router).
 */
internal fun trustManagerFromPem(path: Path): X509TrustManager {
    val certificates = try {
        Files.newInputStream(path).use { CertificateFactory.getInstance("X.509").generateCertificates(it) }
    } catch (e: NoSuchFileException) {
        throw UsageException("--ca-cert: no such file: $path")
    } catch (e: IOException) {
        throw UsageException("--ca-cert: cannot read $path: ${e.message}")
    } catch (e: CertificateException) {
        throw UsageException("--ca-cert: $path holds no readable PEM certificate: ${e.message}")
    }
    if (certificates.isEmpty()) throw UsageException("--ca-cert: no certificate in $path")
    val store = KeyStore.getInstance(KeyStore.getDefaultType()).apply { load(null, null) }
    certificates.forEachIndexed { i, certificate -> store.setCertificateEntry("ca-$i", certificate) }
    return TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(store) }
        .trustManagers.filterIsInstance<X509TrustManager>().first()
}
