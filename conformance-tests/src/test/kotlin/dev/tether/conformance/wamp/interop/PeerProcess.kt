package dev.tether.conformance.wamp.interop

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.DelicateCoroutinesApi
import kotlinx.coroutines.GlobalScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.future.future
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.longOrNull
import java.io.File
import java.util.Base64
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlinx.serialization.json.Json as KJson

/**
 * A peer program nobody here wrote, run as a child process that speaks JSON lines: commands in on its standard
 * input, one JSON object per line out on its standard output (replies carry the command's `id`, everything else is
 * a notification). Standard error is kept, and every failure this class raises carries the peer's exit status and
 * the tails of both streams. Every wait is bounded; [close] always ends the process (input closed, then destroy).
 */
class PeerProcess(val name: String, command: List<String>, dir: File) : AutoCloseable {
    private val process: Process = ProcessBuilder(command).directory(dir).start()
    private val input = process.outputStream.bufferedWriter()
    private val stderr = Tail(16_384)
    private val stdout = Tail(8_192)
    private val replies = ConcurrentHashMap<Long, CompletableDeferred<JsonObject>>()
    private val ids = AtomicLong()

    /** Every notification (a line without `id`) so far, in arrival order. */
    val notifications = MutableStateFlow<List<JsonObject>>(emptyList())

    init {
        daemon("$name-stdout") {
            process.inputStream.bufferedReader().forEachLine { line ->
                stdout.add(line)
                val obj = runCatching {
                    KJson.parseToJsonElement(line) as? JsonObject
                }.getOrNull() ?: return@forEachLine
                val id = (obj["id"] as? JsonPrimitive)?.longOrNull
                if (id != null) replies.remove(id)?.complete(obj) else notifications.value = notifications.value + obj
            }
        }
        daemon("$name-stderr") { process.errorStream.bufferedReader().forEachLine { stderr.add(it) } }
    }

    /** Sends command [op] with [fields] and returns the peer's reply (bounded by [timeout]). */
    suspend fun command(op: String, vararg fields: Pair<String, Any?>, timeout: Duration = 10.seconds): JsonObject {
        val id = ids.incrementAndGet()
        val reply = CompletableDeferred<JsonObject>()
        replies[id] = reply
        val line = JsonValues.toJson(mapOf("id" to id, "op" to op) + fields).toString()
        send(line)
        return withTimeoutOrNull(timeout) { reply.await() } ?: throw failure("no reply to $line within $timeout")
    }

    /** [command], requiring `ok: true`. */
    suspend fun ok(op: String, vararg fields: Pair<String, Any?>, timeout: Duration = 10.seconds): JsonObject {
        val reply = command(op, *fields, timeout = timeout)
        if (reply["ok"] != JsonPrimitive(true)) throw failure("command $op ${fields.toMap()} failed: $reply")
        return reply
    }

    /** Waits (bounded) until [count] notifications match [predicate] and returns them in arrival order. */
    suspend fun awaitNotifications(
        what: String,
        count: Int = 1,
        timeout: Duration = 10.seconds,
        predicate: (JsonObject) -> Boolean,
    ): List<JsonObject> =
        withTimeoutOrNull(timeout) { notifications.first { all -> all.count(predicate) >= count }.filter(predicate) }
            ?: throw failure("waited $timeout for $count x $what; saw ${notifications.value.filter(predicate).size}")

    /** Java face of [ok]. */
    @OptIn(DelicateCoroutinesApi::class)
    fun okAsync(op: String, fields: Map<String, Any?>): CompletableFuture<JsonObject> =
        GlobalScope.future { ok(op, *fields.toList().toTypedArray()) }

    /** The notifications matching [predicate] so far. */
    fun seen(predicate: (JsonObject) -> Boolean): List<JsonObject> = notifications.value.filter(predicate)

    private fun send(line: String) {
        try {
            synchronized(input) {
                input.write(line)
                input.write("\n")
                input.flush()
            }
        } catch (e: java.io.IOException) {
            throw failure("could not send $line: ${e.message}")
        }
    }

    /** An AssertionError saying [what] went wrong, with the peer's state and output attached. */
    fun failure(what: String): AssertionError {
        val status = if (process.isAlive) "running" else "exited with ${process.exitValue()}"
        return AssertionError(
            "$name: $what\n-- $name is $status\n-- stdout (tail):\n${stdout.text()}\n-- stderr " +
                "(tail):\n${stderr.text()}",
        )
    }

    /** Closes the peer's input (it exits on its own), then destroys it if it has not exited within 2 s. */
    override fun close() {
        runCatching { synchronized(input) { input.close() } }
        if (!process.waitFor(2, TimeUnit.SECONDS)) {
            process.descendants().forEach { it.destroyForcibly() }
            process.destroyForcibly()
            process.waitFor(5, TimeUnit.SECONDS)
        }
    }

    private fun daemon(name: String, body: () -> Unit) {
        Thread({ runCatching(body) }, name).apply { isDaemon = true }.start()
    }

    /** The last [limit] characters of a stream, whole lines. */
    private class Tail(private val limit: Int) {
        private val lines = ArrayDeque<String>()
        private var size = 0

        @Synchronized
        fun add(line: String) {
            lines.addLast(line)
            size += line.length + 1
            while (size > limit && lines.size > 1) size -= lines.removeFirst().length + 1
        }

        @Synchronized
        fun text(): String = lines.joinToString("\n")
    }
}

/** Plain values (what the WAMP client's args hold) to and from the peers' JSON lines, bytes as `{"$bytes": BASE64}`. */
object JsonValues {
    fun toJson(v: Any?): JsonElement = when (v) {
        null -> JsonNull
        is JsonElement -> v
        is String -> JsonPrimitive(v)
        is Boolean -> JsonPrimitive(v)
        is Number -> JsonPrimitive(v)
        is ByteArray -> JsonObject(mapOf("\$bytes" to JsonPrimitive(Base64.getEncoder().encodeToString(v))))
        is Map<*, *> -> JsonObject(v.entries.associate { (k, x) -> k.toString() to toJson(x) })
        is Iterable<*> -> JsonArray(v.map { toJson(it) })
        is Array<*> -> JsonArray(v.map { toJson(it) })
        else -> throw IllegalArgumentException("no JSON form for ${v::class.java.name}")
    }

    /** Integers become Long, other numbers Double, `{"$bytes"}` a ByteArray. */
    fun toValue(e: JsonElement?): Any? = when (e) {
        null, JsonNull -> null

        is JsonObject -> {
            val bytes = e["\$bytes"]
            if (e.size == 1 && bytes is JsonPrimitive && bytes.isString) {
                Base64.getDecoder().decode(bytes.content)
            } else {
                e.mapValues { toValue(it.value) }
            }
        }

        is JsonArray -> e.map { toValue(it) }

        is JsonPrimitive -> when {
            e.isString -> e.content
            e.booleanOrNull != null -> e.booleanOrNull
            e.longOrNull != null -> e.longOrNull
            else -> e.doubleOrNull
        }
    }

    fun list(o: JsonObject, key: String): List<Any?> = toValue(o[key]) as? List<Any?> ?: emptyList()

    @Suppress("UNCHECKED_CAST")
    fun map(o: JsonObject, key: String): Map<String, Any?> = toValue(o[key]) as? Map<String, Any?> ?: emptyMap()

    fun string(o: JsonObject, key: String): String? = (o[key] as? JsonPrimitive)?.takeIf { it.isString }?.content

    fun long(o: JsonObject, key: String): Long? = (o[key] as? JsonPrimitive)?.longOrNull

    fun details(o: JsonObject): Map<String, Any?> = map(o, "details")
}
