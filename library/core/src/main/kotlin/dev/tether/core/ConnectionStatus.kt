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
import java.util.function.Consumer

/**
 * The state of one reconnecting client and the stream of its transitions.
 *
 * [state] is a conflated view (a slow collector may skip states); [events] and the Java listeners see every
 * transition in order, because each subscriber gets its own unbounded queue. Listeners run on a library
 * dispatcher, never on a socket thread, one event at a time per listener.
 */
public class ConnectionStatus @InternalTetherApi constructor(private val scope: CoroutineScope) {
    private val mutableState = MutableStateFlow(ConnectionState.IDLE)
    private val subscribers = CopyOnWriteArrayList<Channel<ConnectionEvent>>()
    private val lock = Any()
    private var completed = false

    /** The current state (Kotlin). */
    public val state: StateFlow<ConnectionState> = mutableState.asStateFlow()

    /** The current state (Java). */
    public fun current(): ConnectionState = mutableState.value

    /** Every event from the moment collection starts, in order, none dropped. */
    public val events: Flow<ConnectionEvent> = flow {
        val queue = subscribe()
        try {
            for (event in queue) emit(event)
        } finally {
            unsubscribe(queue)
        }
    }

    /**
     * Calls [listener] for every event from now on, in order. Close the returned handle to stop. The listener runs
     * on a library dispatcher; an exception it throws is logged and does not stop later events.
     */
    public fun onEvent(listener: Consumer<ConnectionEvent>): AutoCloseable {
        val queue = subscribe()
        val job = scope.launch {
            for (event in queue) {
                try {
                    listener.accept(event)
                } catch (e: Exception) {
                    log.warn("connection event listener threw", e)
                }
            }
        }
        return AutoCloseable {
            unsubscribe(queue)
            job.cancel()
        }
    }

    /** Calls [listener] with the state after every transition, in order, none skipped. */
    public fun onState(listener: Consumer<ConnectionState>): AutoCloseable = onEvent { listener.accept(it.state) }

    /** Records a transition and hands it to every subscriber. */
    @InternalTetherApi
    public fun emit(event: ConnectionEvent) {
        // One lock so every subscriber sees the same order as the state flow.
        synchronized(lock) {
            mutableState.value = event.state
            for (s in subscribers) s.trySend(event)
        }
    }

    /** Ends every subscription after the events already emitted (call once, after the terminal event). */
    @InternalTetherApi
    public fun complete() {
        synchronized(lock) {
            completed = true
            for (s in subscribers) s.close()
            subscribers.clear()
        }
    }

    private fun subscribe(): Channel<ConnectionEvent> {
        val queue = Channel<ConnectionEvent>(Channel.UNLIMITED)
        synchronized(lock) { if (completed) queue.close() else subscribers.add(queue) }
        return queue
    }

    private fun unsubscribe(queue: Channel<ConnectionEvent>) {
        subscribers.remove(queue)
        queue.close()
    }

    private companion object {
        private val log = LoggerFactory.getLogger(ConnectionStatus::class.java)
    }
}
