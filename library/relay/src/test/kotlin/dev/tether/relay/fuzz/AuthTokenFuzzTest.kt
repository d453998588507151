@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.relay.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.relay.Auth
import dev.tether.relay.AuthToken
import dev.tether.relay.InvalidTokenException
import dev.tether.relay.PeerId
import dev.tether.relay.RelayProtocol
import org.junit.jupiter.api.Timeout
import java.security.MessageDigest
import java.time.Instant
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/**
 * Fuzzes the relay auth token paths (docs/fuzzing.md): the server-side check of the token bytes an Auth message
 * carries ([AuthToken.verify], used by the testkit relay) and the token management hands to the client
 * ([AuthToken.fromManagement]). Bad input gives a [AuthToken.Verdict] or [InvalidTokenException]; nothing throws
 * anything else, and a token never shows its signature in `toString`.
 *
 * Inputs are raw bytes split by fixed rules (below), so that the spec vectors of specs/relay-test-vectors.txt are
 * seeds as they are.
 */
class AuthTokenFuzzTest {
    /**
     * The wire token (`01 || HMAC || expiry`) checked against the spec's secret "testsecret" at a time before its
     * expiry.
     */
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun verifyWire(wire: ByteArray) {
        val verdict = AuthToken.verify(wire, SPEC_SECRET, SPEC_NOW)
        if (verdict == AuthToken.Verdict.VALID) {
            val expiry = wire.copyOfRange(1 + RelayProtocol.TOKEN_SIGNATURE_SIZE, wire.size).decodeToString().toLong()
            check(expiry >= SPEC_NOW.epochSecond) { "an expired token was accepted" }
        }
    }

    /**
     * A correctly signed token with a fuzzed payload, secret and clock, so that the fuzzer reaches what follows the
     * signature check. Input: 8 bytes of Unix seconds (big-endian), one byte n, n bytes of secret, then the payload.
     */
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun verifySigned(input: ByteArray) {
        if (input.size < 9) return
        val now = Instant.ofEpochSecond(readLong(input, 0).coerceIn(-MAX_SECONDS, MAX_SECONDS))
        val secretLength = minOf(input[8].toInt() and 0xff, input.size - 9)
        val secret = String(input, 9, secretLength, Charsets.UTF_8)
        val payload = input.copyOfRange(9 + secretLength, input.size)
        val wire = byteArrayOf(RelayProtocol.TOKEN_ALGO_HMAC_SHA256) + hmac(secret, payload) + payload
        val verdict = AuthToken.verify(wire, secret, now)
        val expiry = payload.decodeToString().toLongOrNull()
        val expected = when {
            payload.size < RelayProtocol.TOKEN_MIN_PAYLOAD_SIZE -> AuthToken.Verdict.MALFORMED
            expiry == null -> AuthToken.Verdict.INVALID_PAYLOAD
            now.epochSecond > expiry -> AuthToken.Verdict.EXPIRED
            else -> AuthToken.Verdict.VALID
        }
        check(verdict == expected) { "verdict $verdict, expected $expected" }
        if (payload.size >= RelayProtocol.TOKEN_MIN_PAYLOAD_SIZE) {
            val flipped = 1 + payload.size % RelayProtocol.TOKEN_SIGNATURE_SIZE
            wire[flipped] = (wire[flipped].toInt() xor 1).toByte()
            check(AuthToken.verify(wire, secret, now) == AuthToken.Verdict.INVALID_SIGNATURE) {
                "a tampered signature was accepted"
            }
        }
    }

    /**
     * The token management sends: one byte n, n bytes of payload (UTF-8), then the base64 signature text. It is
     * accepted (and then fits an Auth message or fails with [InvalidTokenException]) or refused with
     * [InvalidTokenException].
     */
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun fromManagement(input: ByteArray) {
        if (input.isEmpty()) return
        val payloadLength = minOf(input[0].toInt() and 0xff, input.size - 1)
        val payload = String(input, 1, payloadLength, Charsets.UTF_8)
        val signature = String(input, 1 + payloadLength, input.size - 1 - payloadLength, Charsets.UTF_8)
        val token = try {
            AuthToken.fromManagement(payload, signature)
        } catch (e: InvalidTokenException) {
            return
        }
        check(token.signature.size == RelayProtocol.TOKEN_SIGNATURE_SIZE)
        token.expiresAt // readable for any payload: null when it is not a time
        val wire = token.toWire()
        check(wire.size == 1 + RelayProtocol.TOKEN_SIGNATURE_SIZE + payload.encodeToByteArray().size)
        val shown = token.toString()
        val signatureText = AuthToken.signatureBase64(token)
        // (a payload may itself hold the signature's text: then toString shows it as part of the payload)
        check(!shown.contains(signatureText) || payload.contains(signatureText)) {
            "toString shows the signature: $shown"
        }
        try {
            val auth = Auth(PEER_A, wire).encode()
            check(auth.size <= RelayProtocol.MAX_AUTH_SIZE)
        } catch (e: InvalidTokenException) {
            check(wire.size > RelayProtocol.MAX_TOKEN_SIZE) { "a ${wire.size}-byte token was refused" }
        }
    }

    private companion object {
        const val SPEC_SECRET = "testsecret"

        /** Before the spec token's expiry (2000000000). */
        val SPEC_NOW: Instant = Instant.ofEpochSecond(1_900_000_000)

        /** Within what [Instant] can hold. */
        const val MAX_SECONDS = 31_556_889_864_403_199L
        val PEER_A: PeerId = PeerId.of("peerA")

        fun readLong(b: ByteArray, at: Int): Long {
            var v = 0L
            for (i in at until at + 8) v = (v shl 8) or (b[i].toLong() and 0xff)
            return v
        }

        /** HMAC-SHA256 under SHA-256(secret), written here from the spec rather than taken from the code under test. */
        fun hmac(secret: String, data: ByteArray): ByteArray {
            val key = MessageDigest.getInstance("SHA-256").digest(secret.encodeToByteArray())
            return Mac.getInstance("HmacSHA256").apply { init(SecretKeySpec(key, "HmacSHA256")) }.doFinal(data)
        }
    }
}
