@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.relay.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.relay.Auth
import dev.tether.relay.AuthResponse
import dev.tether.relay.MalformedRelayMessageException
import dev.tether.relay.PeerStateMessage
import dev.tether.relay.RelayMessage
import dev.tether.relay.RelayProtocol
import dev.tether.relay.Transport
import org.junit.jupiter.api.Timeout

/**
 * Fuzzes [RelayMessage.decode], which reads every binary message from the relay server (docs/fuzzing.md). A message
 * decodes or fails with [MalformedRelayMessageException] (the client skips it); any other exception is a finding.
 * What is decoded must match the declared limits: a message the transport lets through (at most
 * [RelayProtocol.MAX_MESSAGE_SIZE] bytes) holds at most 244 peer ids and re-encodes to exactly its own bytes.
 *
 * Seeds: every message of specs/relay-test-vectors.txt and malformed cases, in `RelayMessageFuzzTestInputs/`.
 */
class RelayMessageFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun decode(bytes: ByteArray) {
        val message = try {
            RelayMessage.decode(bytes)
        } catch (e: MalformedRelayMessageException) {
            return
        }
        val fitsTransport = bytes.size <= RelayProtocol.MAX_MESSAGE_SIZE
        when (message) {
            is Transport -> {
                check(message.payload.size == bytes.size - RelayProtocol.HEADER_SIZE - RelayProtocol.PEER_ID_SIZE)
                if (fitsTransport) checkReencodes(message, bytes)
            }

            is Auth -> {
                check(bytes.size <= RelayProtocol.MAX_AUTH_SIZE) { "accepted an Auth of ${bytes.size} bytes" }
                checkReencodes(message, bytes)
            }

            is AuthResponse -> {
                check(bytes.size <= RelayProtocol.MAX_AUTH_RESPONSE_SIZE) {
                    "accepted an AuthResponse of ${bytes.size} bytes"
                }
                check(message.instanceUrl.isNotEmpty()) { "an AuthResponse without an instance URL" }
            }

            is PeerStateMessage -> {
                check(RelayProtocol.HEADER_SIZE + message.peerIds.size * RelayProtocol.PEER_ID_SIZE == bytes.size)
                if (fitsTransport) {
                    check(message.peerIds.size <= RelayProtocol.MAX_PEERS_PER_MESSAGE)
                    checkReencodes(message, bytes)
                }
            }

            RelayMessage.Close, RelayMessage.HealthCheck -> check(message.type == (bytes[1].toInt() and 0xff))
        }
    }

    private fun checkReencodes(message: RelayMessage, bytes: ByteArray) {
        check(message.encode().contentEquals(bytes)) {
            "$message does not re-encode to the ${bytes.size} bytes it came from"
        }
    }
}
