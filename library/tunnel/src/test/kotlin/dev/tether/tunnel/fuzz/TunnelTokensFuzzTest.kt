package dev.tether.tunnel.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.tunnel.TunnelTokens
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.longOrNull
import org.junit.jupiter.api.Timeout
import java.time.Instant

/**
 * Fuzzes the client's JWT path (docs/fuzzing.md): [TunnelTokens.isUsable] reads the claims of whatever token the
 * configuration or a generator supplies, before every dial, without checking the signature. Any text gives true or
 * false; nothing throws. A usable token has numeric `exp` and `nbf` claims around the time of the check.
 *
 * Input: the token as UTF-8. Seeds: HS256 tokens of the shape specs/webhooktunnel.md §11 describes and malformed ones.
 */
class TunnelTokensFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun isUsable(bytes: ByteArray) {
        val token = String(bytes, Charsets.UTF_8)
        if (!TunnelTokens.isUsable(token, NOW)) return
        val claims = checkNotNull(TunnelTokens.readClaims(token)) { "usable without readable claims: $token" }
        fun claim(name: String): Long {
            val value = claims[name] as JsonPrimitive
            check(!value.isString) { "$name is a string in a usable token" }
            return value.longOrNull ?: value.doubleOrNull!!.toLong()
        }
        check(claim("nbf") <= NOW.epochSecond && NOW.epochSecond <= claim("exp")) { "usable outside nbf..exp: $token" }
    }

    private companion object {
        val NOW: Instant = Instant.ofEpochSecond(1_800_000_000)
    }
}
