package dev.tether.core

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
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
})
