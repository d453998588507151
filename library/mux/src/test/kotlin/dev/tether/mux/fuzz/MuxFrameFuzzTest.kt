package dev.tether.mux.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import dev.tether.mux.MalformedFrameException
import dev.tether.mux.MuxFrame
import dev.tether.mux.MuxProtocol
import org.junit.jupiter.api.Timeout

/**
 * Fuzzes [MuxFrame.decode], which reads every binary message of a wsmux session (docs/fuzzing.md). A message is a
 * frame or a [MalformedFrameException] (the session drops it); anything else is a finding. A frame re-encodes to
 * the bytes it was read from, less what the spec says a receiver ignores (payload after an ACK's credit, any payload
 * on SYN and FIN).
 *
 * Seeds: the wire examples of specs/webhooktunnel.md §2 and the malformed messages that crash Go peers.
 */
class MuxFrameFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun decode(message: ByteArray) {
        val frame = try {
            MuxFrame.decode(message)
        } catch (e: MalformedFrameException) {
            return
        }
        val kept = when (frame) {
            is MuxFrame.Data -> {
                check(frame.length == message.size - MuxProtocol.HEADER_SIZE && frame.length >= 1) {
                    "DAT of ${frame.length} bytes"
                }
                message.size
            }

            is MuxFrame.Ack -> MuxProtocol.HEADER_SIZE + MuxProtocol.ACK_PAYLOAD_SIZE

            is MuxFrame.Syn, is MuxFrame.Fin -> MuxProtocol.HEADER_SIZE
        }
        check(frame.encode().contentEquals(message.copyOf(kept))) {
            "$frame does not re-encode to the bytes it came from"
        }
        check(frame.unsignedId in 0..0xFFFF_FFFFL)
    }
}
