package dev.tether.testkit.mux

import dev.tether.mux.MuxFrame

/**
 * The malformed or unexpected inputs of specs/webhooktunnel.md §1-2, each as the exact message a misbehaving peer
 * sends. A conforming receiver drops every one of them and keeps the session up.
 */
public enum class MalformedFrame(public val description: String) {
    /** 3 bytes: shorter than the 5-byte header (crashes Go version A). */
    SHORT_MESSAGE("message shorter than the header"),

    /** Type 4 (the never-sent CLS of version A). */
    UNKNOWN_TYPE("frame type 4"),

    /** An ACK with a 2-byte credit (crashes every Go version). */
    SHORT_ACK("ACK with a 2-byte credit"),

    /** A SYN carrying a payload (the payload must be ignored, the SYN honoured). */
    SYN_WITH_PAYLOAD("SYN with a payload"),

    /** A FIN carrying a payload for a stream id nobody opened. */
    FIN_WITH_PAYLOAD("FIN with a payload"),

    /** A DAT for a stream id nobody opened. */
    UNKNOWN_STREAM("DAT for an unknown stream"),

    /** A zero-length DAT (corrupts Go's buffer). */
    EMPTY_DAT("zero-length DAT"),

    /** A text WebSocket message (ignored by receivers). */
    TEXT_MESSAGE("text message"),
    ;

    /**
     * The bytes of this case ([TEXT_MESSAGE] is sent as text, its bytes UTF-8). [streamId] is used by the cases
     * that name a stream; pick one the receiver does not use, except for [SYN_WITH_PAYLOAD] which opens it.
     */
    public fun bytes(streamId: Int): ByteArray = when (this) {
        SHORT_MESSAGE -> byteArrayOf(2, 0, 0)
        UNKNOWN_TYPE -> byteArrayOf(4) + le(streamId)
        SHORT_ACK -> byteArrayOf(2) + le(streamId) + byteArrayOf(0, 0x10)
        SYN_WITH_PAYLOAD -> byteArrayOf(1) + le(streamId) + byteArrayOf(9, 9, 9)
        FIN_WITH_PAYLOAD -> byteArrayOf(3) + le(streamId) + byteArrayOf(9)
        UNKNOWN_STREAM -> MuxFrame.Data(streamId, byteArrayOf(42)).encode()
        EMPTY_DAT -> byteArrayOf(0) + le(streamId)
        TEXT_MESSAGE -> "not a wsmux frame".encodeToByteArray()
    }

    private fun le(v: Int) = byteArrayOf(v.toByte(), (v ushr 8).toByte(), (v ushr 16).toByte(), (v ushr 24).toByte())
}
