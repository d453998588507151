package dev.tether.core

/**
 * Watches the connections of one [DialerConfig] as they live: dials, ends, messages, and the round trip of the
 * client's pings. Metrics are its purpose (the `tether-micrometer` artifact implements it); set it with
 * [DialerConfig.Builder.observer], or with the `observer` setting of a client's configuration.
 *
 * The transport calls it inline: inbound events and pongs on the connection's I/O thread, sends on the sender's
 * thread, dial results on the dialing coroutine's thread. Keep every call short, non-blocking and thread-safe (an
 * atomic counter, not a lock or a log line): while it runs the socket is not read. An exception it throws is caught
 * and logged at debug level. Every method does nothing unless overridden.
 */
public interface TransportObserver {
    /** A connection opened: TCP, TLS and the upgrade succeeded. */
    public fun connected() {}

    /** A dial failed; [cause] says how (timeout, refused upgrade with its status, socket or TLS error). */
    public fun dialFailed(cause: ConnectionException) {}

    /** A connection that [connected] ended; [cause] is the one recorded reason (a normal close included). */
    public fun closed(cause: ConnectionException) {}

    /** One whole inbound data message of [bytes] bytes (text counted in UTF-8) reached the protocol. */
    public fun messageReceived(bytes: Int) {}

    /** One data message of [bytes] bytes (text counted in UTF-8) was accepted for sending. */
    public fun messageSent(bytes: Int) {}

    /** The pong to one of the client's keepalive pings came back after [roundTripNanos]. */
    public fun pongReceived(roundTripNanos: Long) {}
}
