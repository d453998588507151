package dev.tether.tunnel

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.longOrNull
import org.jose4j.jws.AlgorithmIdentifiers
import org.jose4j.jws.JsonWebSignature
import org.jose4j.jwt.JwtClaims
import org.jose4j.jwt.NumericDate
import org.jose4j.keys.HmacKey
import java.time.Clock
import java.time.Duration
import java.time.Instant
import java.util.Base64

/**
 * Makes the registration token for a tunnel id. Called before a dial whenever the current token is missing,
 * expired or not yet valid (see [TunnelTokens.isUsable]), including inside the retry loop.
 */
public fun interface TunnelTokenGenerator {
    /** A signed JWT that lets the tunnel [id] register. Throwing fails the registration with [BadTokenException]. */
    public fun token(id: String): String
}

/**
 * JWTs as the webhooktunnel proxy accepts them (specs/webhooktunnel.md §11): HS256, claim `tid` equal to the tunnel
 * id, and both `nbf` and `exp` present.
 */
public object TunnelTokens {
    /** The secret of upstream's `TestTokenGenerator`. */
    public const val TEST_SECRET: String = "test-secret"

    /** How far back `nbf` is set, so that a proxy whose clock is a little behind accepts a fresh token. */
    public val NOT_BEFORE_SKEW: Duration = Duration.ofMinutes(5)

    /** Lifetime of upstream's test tokens. */
    public val TEST_LIFETIME: Duration = Duration.ofDays(30)

    /**
     * Upstream `TestTokenGenerator`: HS256 with secret "test-secret", `tid` = [id], `nbf` = now - 5 min,
     * `exp` = now + 30 days. For tests against a proxy configured with that secret only.
     */
    @JvmStatic
    @JvmOverloads
    public fun testToken(id: String, clock: Clock = Clock.systemUTC()): String =
        sign(id, TEST_SECRET, TEST_LIFETIME, clock)

    /**
     * A signed token for [id]: HS256 with [secret], `nbf` = now - 5 min and `exp` = now + [lifetime].
     * @throws IllegalArgumentException if [id] or [secret] is empty or [lifetime] is not positive.
     */
    @JvmStatic
    @JvmOverloads
    public fun sign(id: String, secret: String, lifetime: Duration, clock: Clock = Clock.systemUTC()): String {
        require(id.isNotEmpty()) { "tunnel id must not be empty" }
        require(secret.isNotEmpty()) { "secret must not be empty" }
        require(!lifetime.isNegative && !lifetime.isZero) { "lifetime must be positive but was $lifetime" }
        val now = clock.instant().epochSecond
        val claims = JwtClaims().apply {
            setClaim("tid", id)
            notBefore = NumericDate.fromSeconds(now - NOT_BEFORE_SKEW.seconds)
            expirationTime = NumericDate.fromSeconds(now + lifetime.seconds)
        }
        return JsonWebSignature().apply {
            payload = claims.toJson()
            algorithmHeaderValue = AlgorithmIdentifiers.HMAC_SHA256
            key = HmacKey(secret.toByteArray(Charsets.UTF_8))
            // Upstream secrets (like "test-secret") are shorter than the 256 bits jose4j insists on by default.
            isDoKeyValidation = false
        }.compactSerialization
    }

    /** A generator that signs with [secret] for [lifetime] (see [sign]). */
    @JvmStatic
    @JvmOverloads
    public fun generator(
        secret: String,
        lifetime: Duration = TEST_LIFETIME,
        clock: Clock = Clock.systemUTC(),
    ): TunnelTokenGenerator {
        require(secret.isNotEmpty()) { "secret must not be empty" }
        return TunnelTokenGenerator { id -> sign(id, secret, lifetime, clock) }
    }

    /**
     * Whether [token] is worth sending as it is: its claims (read without checking the signature, as upstream
     * does) have `exp` at or after now and `nbf` at or before now. A token that cannot be read is not usable.
     */
    @JvmStatic
    @JvmOverloads
    public fun isUsable(token: String?, now: Instant = Instant.now()): Boolean {
        if (token.isNullOrEmpty()) return false
        val claims = readClaims(token) ?: return false
        val exp = claims.numericClaim("exp") ?: return false
        val nbf = claims.numericClaim("nbf") ?: return false
        val t = now.epochSecond
        return exp != 0L && nbf != 0L && t <= exp && t >= nbf
    }

    /** The claims of a compact JWS without verifying it, or null when it is not one. */
    internal fun readClaims(token: String): JsonObject? {
        val parts = token.split('.')
        if (parts.size != 3) return null
        return try {
            val json = String(Base64.getUrlDecoder().decode(parts[1]), Charsets.UTF_8)
            // kotlinx.serialization reads nested arrays by recursion: deep nesting would overflow the stack.
            if (nestingDepth(json) > MAX_CLAIMS_DEPTH) return null
            Json.parseToJsonElement(json) as? JsonObject
        } catch (e: IllegalArgumentException) {
            null
        }
    }

    /** Claims are a flat object in practice; anything nested deeper than this is not a token we send. */
    private const val MAX_CLAIMS_DEPTH = 32

    /** The deepest bracket nesting in [json], outside strings (the text need not be valid JSON). */
    private fun nestingDepth(json: String): Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var i = 0
        while (i < json.length) {
            val c = json[i]
            if (inString) {
                if (c == '\\') {
                    i++
                } else if (c == '"') {
                    inString = false
                }
            } else {
                when (c) {
                    '"' -> inString = true
                    '[', '{' -> deepest = maxOf(deepest, ++depth)
                    ']', '}' -> depth--
                }
            }
            i++
        }
        return deepest
    }

    private fun JsonObject.numericClaim(name: String): Long? {
        val value = this[name] as? JsonPrimitive ?: return null
        if (value.isString) return null
        return value.longOrNull ?: value.doubleOrNull?.toLong()
    }
}
