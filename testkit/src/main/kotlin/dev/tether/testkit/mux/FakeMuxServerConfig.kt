package dev.tether.testkit.mux

import dev.tether.mux.MuxProtocol
import java.time.Duration

/**
 * Settings of a [FakeMuxServer]. Defaults are the webhooktunnel proxy's: 4096-byte streams, 20 s keepalive, 30 s
 * accept deadline, echo; [sourceBytes] 64 KiB; clients opening streams are assumed to hold Go's default 1024 bytes
 * ([peerCapacity]); an ephemeral port. Build one with [builder] (Java) or `FakeMuxServerConfig { ... }` (Kotlin).
 */
public class FakeMuxServerConfig private constructor(b: Builder) {
    /** What every stream does unless [FakeMuxServer.behaviourFor] says otherwise. */
    public val behaviour: StreamBehaviour = b.behaviour

    /** Receive capacity per stream (announced in the ACK). */
    public val streamBufferSize: Int = b.streamBufferSize

    /** The fake's first send window on a stream the client opens. */
    public val peerCapacity: Int = b.peerCapacity

    /** The server session's ping interval; zero: none. */
    public val keepAliveInterval: Duration = b.keepAliveInterval

    /** How long the server's own opens wait for the client's ACK. */
    public val streamAcceptDeadline: Duration = b.streamAcceptDeadline

    /** Bytes a [StreamBehaviour.SOURCE] stream writes. */
    public val sourceBytes: Long = b.sourceBytes

    /** The port to listen on; 0: one the system picks. */
    public val port: Int = b.port

    /** Builder of [FakeMuxServerConfig]; every setter returns it. */
    public class Builder internal constructor() {
        internal var behaviour = StreamBehaviour.ECHO
        internal var streamBufferSize = 4096
        internal var peerCapacity = MuxProtocol.DEFAULT_CAPACITY
        internal var keepAliveInterval: Duration = Duration.ofSeconds(20)
        internal var streamAcceptDeadline: Duration = Duration.ofSeconds(30)
        internal var sourceBytes = 64L * 1024
        internal var port = 0

        /** What every stream does unless [FakeMuxServer.behaviourFor] says otherwise. */
        public fun behaviour(b: StreamBehaviour): Builder = apply { behaviour = b }

        /** Receive capacity per stream (announced in the ACK). */
        public fun streamBufferSize(bytes: Int): Builder = apply { streamBufferSize = bytes }

        /**
         * What a client opening a stream is assumed to hold: the fake's first send window on it
         * (MuxConfig.peerCapacity).
         */
        public fun peerCapacity(bytes: Int): Builder = apply {
            require(bytes >= 1) { "the capacity must be positive" }
            peerCapacity = bytes
        }

        /** The server session's ping interval; zero disables it. */
        public fun keepAliveInterval(interval: Duration): Builder = apply { keepAliveInterval = interval }

        /** How long the server's own opens wait for the client's ACK. */
        public fun streamAcceptDeadline(deadline: Duration): Builder = apply { streamAcceptDeadline = deadline }

        /** Bytes a [StreamBehaviour.SOURCE] stream writes. */
        public fun sourceBytes(bytes: Long): Builder = apply {
            require(bytes >= 0) { "the byte count must not be negative" }
            sourceBytes = bytes
        }

        /** The port to listen on (default 0: one the system picks; tests should keep that). */
        public fun port(value: Int): Builder = apply {
            require(value in 0..65535) { "not a port: $value" }
            port = value
        }

        /** The config. */
        public fun build(): FakeMuxServerConfig = FakeMuxServerConfig(this)
    }

    /** Builder and defaults. */
    public companion object {
        /** The proxy's defaults. */
        @JvmField
        public val DEFAULT: FakeMuxServerConfig = Builder().build()

        /** A builder starting from the defaults. */
        @JvmStatic
        public fun builder(): Builder = Builder()

        /** Kotlin: `FakeMuxServerConfig { behaviour(StreamBehaviour.SINK) }`. */
        @JvmSynthetic
        public operator fun invoke(block: Builder.() -> Unit): FakeMuxServerConfig = Builder().apply(block).build()
    }
}
