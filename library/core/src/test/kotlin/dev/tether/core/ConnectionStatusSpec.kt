package dev.tether.core

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

@OptIn(InternalTetherApi::class)
class ConnectionStatusSpec : FunSpec({
    val sequence = listOf(
        ConnectionEvent.Connecting(1),
        ConnectionEvent.DialFailed(RuntimeException("refused"), 1000),
        ConnectionEvent.Connecting(2),
        ConnectionEvent.Connected("ws://x"),
        ConnectionEvent.Disconnected(RuntimeException("drop"), 0),
        ConnectionEvent.Closed(null),
    )

    test("a slow listener sees every transition in order, none skipped") {
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val status = ConnectionStatus(scope)
        val gate = CountDownLatch(1)
        val states = java.util.concurrent.CopyOnWriteArrayList<ConnectionState>()
        val done = CountDownLatch(sequence.size)
        status.onState {
            gate.await(10, TimeUnit.SECONDS)
            states.add(it)
            done.countDown()
        }
        sequence.forEach(status::emit)
        status.state.value shouldBe ConnectionState.CLOSED
        gate.countDown()
        done.await(10, TimeUnit.SECONDS) shouldBe true
        states shouldContainExactly sequence.map { it.state }
        scope.cancel()
    }

    test("every Flow subscriber gets the full sequence and the flow ends on complete") {
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val status = ConnectionStatus(scope)
        val a = scope.async(start = kotlinx.coroutines.CoroutineStart.UNDISPATCHED) { status.events.toList() }
        val b = scope.async(start = kotlinx.coroutines.CoroutineStart.UNDISPATCHED) { status.events.toList() }
        sequence.forEach(status::emit)
        status.complete()
        withTimeout(10.seconds) { a.await() } shouldContainExactly sequence
        withTimeout(10.seconds) { b.await() } shouldContainExactly sequence
        withTimeout(10.seconds) { status.events.toList() } shouldBe emptyList()
        scope.cancel()
    }

    test("a closed listener handle stops delivery; a throwing listener does not stop later events") {
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val status = ConnectionStatus(scope)
        val got = java.util.concurrent.CopyOnWriteArrayList<ConnectionEvent>()
        val latch = CountDownLatch(2)
        status.onEvent {
            got.add(it)
            latch.countDown()
            if (got.size == 1) throw IllegalStateException("listener bug")
        }
        val stopped = status.onEvent { error("must not be called") }
        stopped.close()
        status.emit(sequence[0])
        status.emit(sequence[1])
        latch.await(10, TimeUnit.SECONDS) shouldBe true
        got shouldContainExactly sequence.take(2)
        scope.cancel()
    }

    test("a collector that stops collecting keeps the newest EVENT_BUFFER events; the older ones are counted drops") {
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val status = ConnectionStatus(scope)
        val extra = 10
        val total = ConnectionStatus.EVENT_BUFFER + extra
        // Subscribed, then stalled on its first event until every event has been emitted.
        val firstSeen = CompletableDeferred<Unit>()
        val resume = CompletableDeferred<Unit>()
        val collected = scope.async(start = kotlinx.coroutines.CoroutineStart.UNDISPATCHED) {
            status.events.onEach {
                if (!firstSeen.isCompleted) {
                    firstSeen.complete(Unit)
                    resume.await()
                }
            }.toList()
        }
        status.emit(ConnectionEvent.Connecting(0))
        withTimeout(10.seconds) { firstSeen.await() }
        for (attempt in 1..total) status.emit(ConnectionEvent.Connecting(attempt))
        status.droppedEvents shouldBe extra.toLong()
        status.complete()
        resume.complete(Unit)
        val attempts = withTimeout(10.seconds) { collected.await() }.map { (it as ConnectionEvent.Connecting).attempt }
        attempts shouldContainExactly listOf(0) + ((extra + 1)..total).toList()
        scope.cancel()
    }

    test("a stuck listener holds at most EVENT_BUFFER events and gets the newest once it is unstuck") {
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val status = ConnectionStatus(scope)
        val entered = CountDownLatch(1)
        val gate = CountDownLatch(1)
        val got = java.util.concurrent.CopyOnWriteArrayList<Int>()
        val total = 3 * ConnectionStatus.EVENT_BUFFER
        val last = CountDownLatch(1)
        status.onEvent {
            val attempt = (it as ConnectionEvent.Connecting).attempt
            if (attempt == 0) {
                entered.countDown()
                gate.await(10, TimeUnit.SECONDS)
            }
            got.add(attempt)
            if (attempt == total) last.countDown()
        }
        status.emit(ConnectionEvent.Connecting(0))
        entered.await(10, TimeUnit.SECONDS) shouldBe true
        for (attempt in 1..total) status.emit(ConnectionEvent.Connecting(attempt))
        status.droppedEvents shouldBe (total - ConnectionStatus.EVENT_BUFFER).toLong()
        gate.countDown()
        last.await(10, TimeUnit.SECONDS) shouldBe true
        got shouldContainExactly listOf(0) + ((total - ConnectionStatus.EVENT_BUFFER + 1)..total).toList()
        scope.cancel()
    }
})
