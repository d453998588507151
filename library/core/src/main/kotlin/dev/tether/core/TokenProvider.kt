package dev.tether.core

import kotlinx.coroutines.future.await
import java.util.concurrent.CompletableFuture
import java.util.function.Supplier

/**
 * Supplies the bearer token for the next dial. It is called before every dial, so a provider that fetches or
 * refreshes a JWT keeps reconnects authenticated. When it fails, the client falls back to the last token that
 * worked (see [TokenSource]).
 */
public fun interface TokenProvider {
    /** Returns the token for the next dial. May suspend (for example to call an identity service). */
    public suspend fun token(): String

    public companion object {
        /** A provider that always returns [token]. */
        @JvmStatic
        public fun fixed(token: String): TokenProvider = TokenProvider { token }

        /** The Java face: a provider backed by an asynchronous supplier. */
        @JvmStatic
        public fun fromFuture(supplier: Supplier<CompletableFuture<String>>): TokenProvider =
            TokenProvider { supplier.get().await() }
    }
}

/**
 * Picks the token for each dial: the provider's answer when it succeeds, else the last token a dial succeeded
 * with, else the static token. (Upstream fell back to the static token, which is often long expired.)
 */
@InternalTetherApi
public class TokenSource(private val provider: TokenProvider?, private val staticToken: String?) {
    @Volatile private var lastGood: String? = null

    /** The token for the next dial, or null for none. [onProviderFailure] is told when the provider threw. */
    public suspend fun next(onProviderFailure: (Throwable) -> Unit = {}): String? {
        if (provider != null) {
            try {
                return provider.token()
            } catch (e: kotlinx.coroutines.CancellationException) {
                throw e
            } catch (e: Exception) {
                onProviderFailure(e)
            }
        }
        return lastGood ?: staticToken
    }

    /** Records that a dial with [token] was accepted by the server. */
    public fun accepted(token: String?) {
        if (token != null) lastGood = token
    }
}
