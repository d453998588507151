package dev.tether.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.launch
import org.slf4j.LoggerFactory
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicLong
import java.util.function.Consumer

/**
 * The state of one reconnecting client and the stream of its transitions.
 *
 * [state] is a conflated view (a slow collector may skip states); [events] and the Java listeners see every
 * transition in order, because each subscriber gets its own queue of [EVENT_BUFFER] events. A subscriber that falls
 * further behind (a stuck listener, a collector that stopped collecting while a server flaps) loses the oldest
 * events, never the latest: each loss is counted in [droppedEvents] and the first of each subscriber logged at WARN.
 * Listeners run on a library dispatcher, never on a socket thread, one event at a time per listener.
 */
public class ConnectionStatus @InternalTetherApi constructor(private val scope: CoroutineScope) {
    private val mutableState = MutableStateFlow(ConnectionState.IDLE)
    private val subscribers = CopyOnWriteArrayList<Subscriber>()
    private val dropped = AtomicLong()
    private val lock = Any()
    private var completed = false

    /** The current state (Kotlin). */
    public val state: StateFlow<ConnectionState> = mutableState.asStateFlow()

    /** The current state (Java). */
    public fun current(): ConnectionState = mutableState.value

    /**
     * Events dropped so far because a subscriber was [EVENT_BUFFER] events behind, over all subscribers of this
     * status.
     */
    public val droppedEvents: Long get() = dropped.get()

    /**
     * Every event from the moment collection starts, in order; a collector [EVENT_BUFFER] events behind loses the
     * oldest (see [droppedEvents]).
     */
    public val events: Flow<ConnectionEvent> = flow {
        val subscriber = subscribe()
        try {
            for (event in subscriber.queue) emit(event)
        } finally {
            unsubscribe(subscriber)
        }
    }

    /**
     * Calls [listener] for every event from now on, in order (a listener [EVENT_BUFFER] events behind loses the
     * oldest). Close the returned handle to stop. The listener runs on a library dispatcher; an exception it throws
     * is logged and does not stop later events.
     */
    public fun onEvent(listener: Consumer<ConnectionEvent>): AutoCloseable {
        val subscriber = subscribe()
        val job = scope.launch {
            for (event in subscriber.queue) {
                try {
                    listener.accept(event)
                } catch (e: Exception) {
                    log.warn("connection event listener threw", e)
                }
            }
        }
        return AutoCloseable {
            unsubscribe(subscriber)
            job.cancel()
        }
    }

    /** Calls [listener] with the state after every transition, in order, bounded as [onEvent]. */
    public fun onState(listener: Consumer<ConnectionState>): AutoCloseable = onEvent { listener.accept(it.state) }

    /** Records a transition and hands it to every subscriber. */
    @InternalTetherApi
    public fun emit(event: ConnectionEvent) {
        // One lock so every subscriber sees the same order as the state flow.
        synchronized(lock) {
            mutableState.value = event.state
            for (s in subscribers) s.offer(event)
        }
    }

    /** Ends every subscription after the events already emitted (call once, after the terminal event). */
    @InternalTetherApi
    public fun complete() {
        synchronized(lock) {
            completed = true
            for (s in subscribers) s.queue.close()
            subscribers.clear()
        }
    }

    private fun subscribe(): Subscriber {
        val subscriber = Subscriber()
        synchronized(lock) { if (completed) subscriber.queue.close() else subscribers.add(subscriber) }
        return subscriber
    }

    private fun unsubscribe(subscriber: Subscriber) {
        subscribers.remove(subscriber)
        subscriber.queue.close()
    }

    /** One subscriber's queue; [offer] is called under [lock] only, so it is the queue's only sender. */
    private inner class Subscriber {
        val queue = Channel<ConnectionEvent>(EVENT_BUFFER)
        private var dropping = false

        fun offer(event: ConnectionEvent) {
            if (!queue.trySend(event).isFailure || queue.isClosedForSend) return
            // Full: make room by dropping the oldest event. The subscriber may have taken one meanwhile; then
            // the receive finds nothing to drop and the event still fits.
            if (queue.tryReceive().isSuccess) {
                dropped.incrementAndGet()
                if (!dropping) {
                    dropping = true
                    log.warn("a connection event subscriber is {} events behind; dropping its oldest", EVENT_BUFFER)
                }
            }
            queue.trySend(event)
        }
    }

    /** Bounds of [ConnectionStatus]. */
    public companion object {
        private val log = LoggerFactory.getLogger(ConnectionStatus::class.java)

        /** Events one subscriber ([events] collector or listener) may be behind before its oldest are dropped. */
        public const val EVENT_BUFFER: Int = 256
    }
}
