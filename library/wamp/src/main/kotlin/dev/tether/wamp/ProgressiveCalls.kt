package dev.tether.wamp

import dev.tether.wamp.error.ChunkBufferOverflowException
import dev.tether.wamp.message.InvocationMessage
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.FlowCollector
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReference
import java.util.function.Consumer
import java.util.concurrent.Flow as JavaFlow

/**
 * One piece of a call's arguments in a progressive call (WAMP progressive call invocations): the [args] and
 * [kwargs] of one CALL on the caller's side ([WampSession.callStreaming]) and of one INVOCATION on the callee's side
 * ([WampSession.registerStreaming]), each with its own payload passthru options ([payloadPassthru]).
 */
public data class CallChunk @JvmOverloads constructor(
    /** Positional arguments of this chunk. */
    val args: List<Any?> = emptyList(),
    /** Keyword arguments of this chunk. */
    val kwargs: Map<String, Any?> = emptyMap(),
    /**
     * The payload passthru options of this chunk's CALL (caller) or INVOCATION (callee, copied by the router); null:
     * on the caller's side the call's own ([CallOptions.payloadPassthru]) go with it, on the callee's side it
     * carried none. [passthru] builds a chunk with them.
     */
    val payloadPassthru: PayloadPassthru? = null,
) {
    /** The single binary argument of a non-native passthru chunk ([PayloadPassthru.payloadOf]), else null. */
    val passthruPayload: ByteArray? get() = payloadPassthru?.let { PayloadPassthru.payloadOf(args, it.toMap()) }

    /** Common chunks and the Java reader of a chunk publisher. */
    public companion object {
        /** A chunk with no arguments. */
        @JvmField
        public val EMPTY: CallChunk = CallChunk()

        /** A chunk with positional arguments only. */
        @JvmStatic
        public fun of(vararg args: Any?): CallChunk = CallChunk(args.toList())

        /**
         * A passthru chunk whose payload is one opaque binary value, already encoded as [options]' serializer says
         * (CALL options `ppt_*`, copied by the router into that chunk's INVOCATION details). Throws
         * IllegalArgumentException when [options] use the [PayloadPassthru.NATIVE] serializer: use the overload with
         * args then.
         */
        @JvmStatic
        public fun passthru(options: PayloadPassthru, payload: ByteArray): CallChunk {
            require(!options.isNative) { "a binary passthru payload needs a non-native ppt_serializer" }
            return CallChunk(listOf(payload), emptyMap(), options)
        }

        /**
         * A passthru chunk with a native payload ([args], [kwargs]); throws IllegalArgumentException when [options]
         * name a non-native serializer and the payload is not one [ByteArray] argument without kwargs.
         */
        @JvmStatic
        @JvmOverloads
        public fun passthru(
            options: PayloadPassthru,
            args: List<Any?>,
            kwargs: Map<String, Any?> = emptyMap(),
        ): CallChunk {
            PayloadPassthru.checkPayload(options.toMap(), args, kwargs)
            return CallChunk(args, kwargs, options)
        }

        /** The chunk an INVOCATION carries: its arguments and the passthru options of its details. */
        internal fun fromInvocation(m: InvocationMessage): CallChunk =
            CallChunk(m.args, m.kwargs, PayloadPassthru.fromDetails(m.details))

        /**
         * Java: runs [action] for each chunk [chunks] publishes, one at a time and in order, asking for the next only
         * once [action] has returned. The future completes when the stream ends, fails with the stream's error (for
         * example [ChunkBufferOverflowException]) or with the exception [action] threw, which also cancels the
         * subscription; cancelling the future cancels the subscription. [action] runs on the publisher's thread (for
         * the chunks of an invocation: the session's handler executor).
         */
        @JvmStatic
        public fun consume(
            chunks: JavaFlow.Publisher<CallChunk>,
            action: Consumer<CallChunk>,
        ): CompletableFuture<Void?> {
            val done = CompletableFuture<Void?>()
            chunks.subscribe(object : JavaFlow.Subscriber<CallChunk> {
                @Volatile
                private var subscription: JavaFlow.Subscription? = null

                override fun onSubscribe(s: JavaFlow.Subscription) {
                    if (subscription != null) return s.cancel()
                    subscription = s
                    done.whenComplete { _, _ -> if (done.isCancelled) s.cancel() }
                    s.request(1)
                }

                override fun onNext(item: CallChunk) {
                    if (done.isDone) return
                    try {
                        action.accept(item)
                    } catch (e: Throwable) {
                        subscription?.cancel()
                        done.completeExceptionally(e)
                        return
                    }
                    subscription?.request(1)
                }

                override fun onError(t: Throwable) {
                    done.completeExceptionally(t)
                }

                override fun onComplete() {
                    done.complete(null)
                }
            })
            return done
        }
    }
}

/**
 * A Java publisher as a flow that asks for one element at a time: the next is requested only once the previous
 * has been emitted, so at most one waits here. It subscribes when collected; cancelling the collection cancels
 * the subscription.
 */
internal fun <T : Any> JavaFlow.Publisher<T>.asOneByOneFlow(): Flow<T> = flow {
    val subscriber = OneByOneSubscriber<T>()
    subscribe(subscriber)
    subscriber.emitTo(this)
}

/**
 * Subscribes to a Java publisher now, asking for one element at a time; [emitTo] hands the elements to a flow
 * collector. Subscribing early matters for hot publishers (a `SubmissionPublisher` drops what it gets before it
 * has a subscriber). [cancel] ends the subscription, also when it is never read.
 */
internal class OneByOneSubscriber<T : Any> : JavaFlow.Subscriber<T> {
    private val items = Channel<T>(1)
    private val subscription = CompletableDeferred<JavaFlow.Subscription>()

    override fun onSubscribe(s: JavaFlow.Subscription) {
        if (subscription.complete(s)) s.request(1) else s.cancel()
    }

    override fun onNext(item: T) {
        // Capacity 1 holds the one element requested; anything beyond it breaks the publisher's contract.
        if (items.trySend(item).isFailure) {
            items.close(IllegalStateException("the publisher sent more elements than were requested"))
            cancel()
        }
    }

    override fun onError(t: Throwable) {
        items.close(t)
    }

    override fun onComplete() {
        items.close()
    }

    /** Emits every element to [collector], then ends the subscription; the publisher's error is rethrown. */
    suspend fun emitTo(collector: FlowCollector<T>) {
        try {
            for (item in items) {
                collector.emit(item)
                subscription.await().request(1)
            }
        } finally {
            cancel()
        }
    }

    /** Ends the subscription; one that arrives later is cancelled at once. */
    fun cancel() {
        if (!subscription.completeExceptionally(CancellationException("subscription ended"))) {
            runCatching { subscription.getCompleted() }.getOrNull()?.cancel()
        }
    }
}

/**
 * The chunks of one invocation as a Java publisher for a single subscriber: chunks go out on demand, in order, from
 * a coroutine of [scope] (the handler's, so the invocation's end stops it, and a subscriber still reading gets
 * onError with a CancellationException). Cancelling the subscription stops the stream: chunks that arrive later are
 * dropped.
 */
internal class ChunkPublisher(
    private val chunks: ReceiveChannel<CallChunk>,
    private val scope: CoroutineScope,
) : JavaFlow.Publisher<CallChunk> {
    private val taken = AtomicBoolean(false)

    override fun subscribe(subscriber: JavaFlow.Subscriber<in CallChunk>) {
        if (!taken.compareAndSet(false, true) || !scope.isActive) {
            subscriber.onSubscribe(NoSubscription)
            val why =
                if (scope.isActive) "the chunks of an invocation have one subscriber" else "the invocation has ended"
            subscriber.onError(IllegalStateException(why))
            return
        }
        val demand = AtomicLong()
        val invalid = AtomicReference<Long?>(null)
        val wake = Channel<Unit>(Channel.CONFLATED)
        val cancelled = AtomicBoolean(false)
        val job = scope.launch(start = CoroutineStart.LAZY) {
            try {
                deliver(subscriber, demand, invalid, wake)
            } catch (e: CancellationException) {
                // The invocation ended (answered, interrupted, timed out) under a subscriber that still reads.
                if (!cancelled.get()) {
                    subscriber.onError(
                        CancellationException("the invocation ended before its chunks were read"),
                    )
                }
                throw e
            }
        }
        subscriber.onSubscribe(object : JavaFlow.Subscription {
            override fun request(n: Long) {
                if (n <= 0) {
                    invalid.compareAndSet(null, n)
                } else {
                    demand.getAndUpdate { if (Long.MAX_VALUE - it < n) Long.MAX_VALUE else it + n }
                }
                wake.trySend(Unit)
            }

            override fun cancel() {
                cancelled.set(true)
                job.cancel()
                chunks.cancel()
            }
        })
        job.start()
    }

    /** Sends chunks as demand allows until the stream ends; every signal comes from this one coroutine. */
    private suspend fun deliver(
        subscriber: JavaFlow.Subscriber<in CallChunk>,
        demand: AtomicLong,
        invalid: AtomicReference<Long?>,
        wake: Channel<Unit>,
    ) {
        while (true) {
            while (demand.get() == 0L && invalid.get() == null) wake.receive()
            invalid.get()?.let { n ->
                chunks.cancel()
                subscriber.onError(
                    IllegalArgumentException("request($n): demand must be positive (Reactive Streams rule 3.9)"),
                )
                return
            }
            val next = chunks.receiveCatching()
            if (next.isClosed) {
                val cause = next.exceptionOrNull()
                if (cause == null) subscriber.onComplete() else subscriber.onError(cause)
                return
            }
            demand.getAndUpdate { if (it == Long.MAX_VALUE) it else it - 1 }
            subscriber.onNext(next.getOrThrow())
        }
    }

    private object NoSubscription : JavaFlow.Subscription {
        override fun request(n: Long) {}
        override fun cancel() {}
    }
}
