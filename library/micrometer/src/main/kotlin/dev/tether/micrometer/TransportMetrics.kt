package dev.tether.micrometer

import dev.tether.core.AuthenticationFailedException
import dev.tether.core.ConnectionClosedException
import dev.tether.core.ConnectionException
import dev.tether.core.DialFailedException
import dev.tether.core.DialTimeoutException
import dev.tether.core.HandshakeRejectedException
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.MessageTooLargeException
import dev.tether.core.TransportObserver
import io.micrometer.core.instrument.Counter
import io.micrometer.core.instrument.FunctionCounter
import io.micrometer.core.instrument.Gauge
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Tag
import io.micrometer.core.instrument.Tags
import io.micrometer.core.instrument.Timer
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicLong

/**
 * Meters of one client's WebSocket connections, fed by the transport as a [TransportObserver]. Give it to the
 * client's configuration (`DialerConfig.Builder.observer`, `WsClientConfig.Builder.dialer { observer(…) }`,
 * `RelayClientConfig.Builder.observer`, `TunnelConfig.Builder.observer`); every meter carries the tag
 * `client=<client>` and the [tags] given here.
 *
 * | meter | type | what it counts |
 * |---|---|---|
 * | `tether.connections.opened` | counter | connections that opened (dial, TLS and upgrade succeeded) |
 * | `tether.reconnects` | counter | connections opened after the first one |
 * | `tether.connections.active` | gauge | connections open now |
 * | `tether.connections.closed` | counter, tag `cause` | connections that ended, by [causeOf] |
 * | `tether.dial.failures` | counter, tag `cause` | dials that failed, by [causeOf] |
 * | `tether.messages` | counter, tag `direction` (`in`, `out`) | whole data messages received and accepted for sending |
 * | `tether.bytes` | counter, tag `direction` | their payload bytes (text in UTF-8) |
 * | `tether.ping.rtt` | timer | round trip of the client's keepalive pings |
 *
 * Counting costs an atomic add per message on the thread that handles it; nothing blocks.
 */
public class TransportMetrics @JvmOverloads constructor(
    private val registry: MeterRegistry,
    /** The `client` tag: which client these connections belong to (e.g. "broker", "relay-eu"). */
    client: String,
    tags: Iterable<Tag> = emptyList(),
) : TransportObserver {
    private val tags: Tags = Tags.of(tags).and(CLIENT_TAG, client)
    private val active = AtomicLong()
    private val opened: Counter = Counter.builder("tether.connections.opened").tags(this.tags)
        .description("WebSocket connections that opened").register(registry)
    private val messagesIn = counter("tether.messages", "in", "whole data messages")
    private val messagesOut = counter("tether.messages", "out", "whole data messages")
    private val bytesIn = counter("tether.bytes", "in", "data message payload bytes", "bytes")
    private val bytesOut = counter("tether.bytes", "out", "data message payload bytes", "bytes")
    private val rtt: Timer = Timer.builder("tether.ping.rtt").tags(this.tags)
        .description("round trip of the client's keepalive pings").register(registry)
    private val closedBy = ConcurrentHashMap<String, Counter>()
    private val failedBy = ConcurrentHashMap<String, Counter>()

    init {
        // Derived from the opened count, so connecting needs no check of its own and two racing opens cannot miscount.
        FunctionCounter.builder("tether.reconnects", opened) { (it.count() - 1).coerceAtLeast(0.0) }.tags(this.tags)
            .description("WebSocket connections opened after the first one").register(registry)
        Gauge.builder("tether.connections.active", active) { it.get().toDouble() }.tags(this.tags)
            .description("WebSocket connections open now").register(registry)
    }

    override fun connected() {
        opened.increment()
        active.incrementAndGet()
    }

    override fun closed(cause: ConnectionException) {
        active.decrementAndGet()
        byCause(closedBy, "tether.connections.closed", "WebSocket connections that ended", cause).increment()
    }

    override fun dialFailed(cause: ConnectionException) {
        byCause(failedBy, "tether.dial.failures", "dials that failed", cause).increment()
    }

    override fun messageReceived(bytes: Int) {
        messagesIn.increment()
        bytesIn.increment(bytes.toDouble())
    }

    override fun messageSent(bytes: Int) {
        messagesOut.increment()
        bytesOut.increment(bytes.toDouble())
    }

    override fun pongReceived(roundTripNanos: Long) {
        rtt.record(roundTripNanos, TimeUnit.NANOSECONDS)
    }

    private fun counter(name: String, direction: String, description: String, unit: String? = null): Counter =
        Counter.builder(name).tags(tags).tag(DIRECTION_TAG, direction).description(description)
            .apply { if (unit != null) baseUnit(unit) }.register(registry)

    private fun byCause(
        cache: ConcurrentHashMap<String, Counter>,
        name: String,
        description: String,
        cause: ConnectionException,
    ): Counter = causeOf(cause).let { key ->
        cache.computeIfAbsent(key) {
            Counter.builder(name).tags(tags).tag(CAUSE_TAG, it).description(description).register(registry)
        }
    }

    public companion object {
        /** Tag naming the client. */
        public const val CLIENT_TAG: String = "client"

        /** Tag of message and byte counters: `in` or `out`. */
        public const val DIRECTION_TAG: String = "direction"

        /** Tag of the closed and dial-failure counters (see [causeOf]). */
        public const val CAUSE_TAG: String = "cause"

        /**
         * The `cause` tag of a connection's end or a failed dial, from a small fixed set so that dashboards can rely
         * on it: `closed` (a close frame or the socket's normal end), `keepalive` (no pong in time), `too_large`,
         * `timeout` (dial timeout), `auth` (401/403), `rejected_<status>` (another non-101 answer), `io` (socket
         * or TLS error), `other`.
         */
        @JvmStatic
        public fun causeOf(cause: ConnectionException): String = when (cause) {
            is ConnectionClosedException -> "closed"
            is KeepAliveExpiredException -> "keepalive"
            is MessageTooLargeException -> "too_large"
            is DialTimeoutException -> "timeout"
            is AuthenticationFailedException -> "auth"
            is HandshakeRejectedException -> "rejected_${cause.status}"
            is DialFailedException -> "io"
            else -> "other"
        }
    }
}
