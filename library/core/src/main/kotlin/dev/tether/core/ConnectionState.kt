@file:OptIn(InternalTetherApi::class)

package dev.tether.core

/** Where a reconnecting client is in its life. The [ConnectionEvent] stream says why it got there. */
public enum class ConnectionState {
    /** Created, not started. */
    IDLE,

    /** Dialling (the first time or again after a drop). */
    CONNECTING,

    /** A WebSocket is open and usable. */
    CONNECTED,

    /** Waiting before the next dial after a failure or a drop. */
    BACKING_OFF,

    /** Closed for good; it will not connect again. */
    CLOSED,
}

/**
 * One transition of a reconnecting client. Subscribers see every event, in order; a slow subscriber misses none
 * until it is [ConnectionStatus.EVENT_BUFFER] events behind (upstream dropped at 4), and then loses the oldest.
 */
public sealed class ConnectionEvent {
    /** The state this event leaves the client in. */
    public abstract val state: ConnectionState

    /** A dial is starting; [attempt] counts dials since the last established connection, from 1. */
    public data class Connecting(val attempt: Int) : ConnectionEvent() {
        override val state: ConnectionState get() = ConnectionState.CONNECTING
    }

    /** A WebSocket opened to [url] (user info and query values masked: events end up in logs). */
    public class Connected(url: String) : ConnectionEvent() {
        /** The address connected to, credentials masked. */
        public val url: String = redactUrl(url)

        override val state: ConnectionState get() = ConnectionState.CONNECTED

        override fun equals(other: Any?): Boolean = other is Connected && other.url == url

        override fun hashCode(): Int = url.hashCode()

        override fun toString(): String = "Connected(url=$url)"
    }

    /** A dial failed; the next one starts after [retryInMillis]. */
    public data class DialFailed(val cause: Throwable, val retryInMillis: Long) : ConnectionEvent() {
        override val state: ConnectionState get() = ConnectionState.BACKING_OFF
    }

    /**
     * The server rejected the credentials (HTTP [status]). The client backs off ([retryInMillis]) and asks the
     * token provider again; fix the credentials if this repeats.
     */
    public data class AuthenticationFailed(val status: Int, val retryInMillis: Long) : ConnectionEvent() {
        override val state: ConnectionState get() = ConnectionState.BACKING_OFF
    }

    /** An established connection dropped; the next dial starts after [retryInMillis]. */
    public data class Disconnected(val cause: Throwable, val retryInMillis: Long) : ConnectionEvent() {
        override val state: ConnectionState get() = ConnectionState.BACKING_OFF
    }

    /** The client closed for good; [cause] is null after a normal close. */
    public data class Closed(val cause: Throwable?) : ConnectionEvent() {
        override val state: ConnectionState get() = ConnectionState.CLOSED
    }
}
