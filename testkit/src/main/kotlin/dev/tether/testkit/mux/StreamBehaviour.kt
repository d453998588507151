package dev.tether.testkit.mux

/** What [FakeMuxServer] does with a stream. */
public enum class StreamBehaviour {
    /** Writes back everything it reads; FINs after the peer's FIN. */
    ECHO,

    /** Reads and discards everything (counted in [FakeMuxServer.bytesSunk]); FINs after the peer's FIN. */
    SINK,

    /** Writes [FakeMuxServerConfig.sourceBytes] bytes (byte i = i % 251), then FINs; ignores input. */
    SOURCE,

    /** Accepts and then neither reads nor writes: the peer's window runs dry (write deadline tests). */
    STALL,
}
