package dev.tether.tunnel

import kotlinx.coroutines.future.await
import java.util.Collections
import java.util.TreeMap
import java.util.concurrent.CompletableFuture

/** A viewer's HTTP request as the proxy forwarded it through the tunnel. */
public class TunnelRequest(
    /** The HTTP method. */
    public val method: String,
    /** The forwarded target: path and query, with the tunnel id stripped (`/some/path?q=1`). */
    public val target: String,
    /** Header names in their original spelling mapped to their values; look up names with [header]. */
    public val headers: Map<String, List<String>>,
    /** The request body (empty when there is none). */
    public val body: ByteArray,
    /** The viewer's original path (`/<id>/some/path`), from the proxy's original-path header, or null. */
    public val originalPath: String?,
) {
    private val byLowerName: Map<String, List<String>> =
        TreeMap<String, List<String>>(String.CASE_INSENSITIVE_ORDER).apply { putAll(headers) }

    /** The path part of [target]. */
    public val path: String get() = target.substringBefore('?')

    /** The query part of [target] without `?`, or null. */
    public val query: String? get() = target.indexOf('?').let { if (it < 0) null else target.substring(it + 1) }

    /** The first value of header [name] (case-insensitive), or null. */
    public fun header(name: String): String? = byLowerName[name]?.firstOrNull()

    /** The body as UTF-8 text. */
    public fun bodyText(): String = String(body, Charsets.UTF_8)
}

/** The answer to a [TunnelRequest]. The client adds `Content-Length`; do not set framing headers yourself. */
public class TunnelResponse @JvmOverloads constructor(
    /** The HTTP status code. */
    public val status: Int,
    /** The body. */
    public val body: ByteArray = ByteArray(0),
    /** Response headers. */
    public val headers: Map<String, String> = emptyMap(),
) {
    init {
        require(status in 100..999) { "status must be a three-digit code, was $status" }
    }

    /** Ready-made responses. */
    public companion object {
        /** A 200 response with a UTF-8 text body. */
        @JvmStatic
        @JvmOverloads
        public fun text(body: String, status: Int = 200): TunnelResponse = TunnelResponse(
            status,
            body.toByteArray(Charsets.UTF_8),
            Collections.singletonMap("Content-Type", "text/plain; charset=utf-8"),
        )
    }
}

/**
 * Answers viewer requests in process (see [TunnelClient.serve]). Kotlin: `TunnelHandler { request -> ... }` with a
 * suspending body. Java: [of] for a synchronous function, [async] for one returning a future.
 */
public fun interface TunnelHandler {
    /**
     * Answers [request]. Runs where [TunnelConfig.handlerExecutor] (or the executor given to [TunnelClient.serve])
     * says: by default a library thread where it may block. Throwing answers 500.
     */
    public suspend fun handle(request: TunnelRequest): TunnelResponse

    /** Adapters from Java functions. */
    public companion object {
        /** A handler from a synchronous function. */
        @JvmStatic
        public fun of(handler: java.util.function.Function<TunnelRequest, TunnelResponse>): TunnelHandler =
            TunnelHandler { handler.apply(it) }

        /** A handler from a function that answers later; a failed future answers 500. */
        @JvmStatic
        public fun async(
            handler: java.util.function.Function<TunnelRequest, CompletableFuture<TunnelResponse>>,
        ): TunnelHandler = TunnelHandler { handler.apply(it).await() }
    }
}
